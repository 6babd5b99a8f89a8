//! The records the eBPF programs share with user space, defined once for Rust:
//! `#[repr(C)]` mirrors of the structs and enums of `bpf/sshlog.h`.
//!
//! The C header is the kernel's definition; this module is user space's. They
//! cannot drift apart unnoticed: [`FIELDS`], [`SIZES`] and [`ENUMS`] list every
//! field's offset and size, every struct's size and every enum value as Rust
//! computes them, and the test `tests/layout.rs` compiles a C program against
//! the header that prints the same facts, and compares. User space reads
//! records through [`read`] (no offset is written by hand anywhere).
//!
//! Records whose tail is only partly sent (the exec payload, terminal data, log
//! text) are mirrored up to that tail; [`TAILS`] pins where each tail starts.

/// Bytes of terminal data per ring-buffer record (`DATA_CHUNK`).
pub const DATA_CHUNK: usize = 16384;
/// Bytes of argv kept per exec (`ARGV_MAX`).
pub const ARGV_MAX: usize = 4096;
/// Path components of the cwd walked in the kernel (`CWD_DEPTH`).
pub const CWD_DEPTH: usize = 32;
/// Bytes of one sshd log message (`LOG_MAX`).
pub const LOG_MAX: usize = 1024;
/// Bytes of a path opened by an uploader (`PATH_MAX_LEN`).
pub const PATH_MAX_LEN: usize = 256;
/// Ancestors reported with an outbound connect (`ANCESTORS`).
pub const ANCESTORS: usize = 8;
/// Bytes of argv kept per outbound connect (`OUT_ARGV_MAX`).
pub const OUT_ARGV_MAX: usize = 1024;
/// `ev_file.size` of anything but a regular file (`FILE_NOT_REGULAR`).
pub const FILE_NOT_REGULAR: i64 = -1;
/// `ev_file.size` when it could not be read (`FILE_SIZE_UNKNOWN`).
pub const FILE_SIZE_UNKNOWN: i64 = -2;
const TASK_COMM_LEN: usize = 16;
const FILENAME_MAX_LEN: usize = 256;

/// A plain-old-data record of the ring buffer or a map: any byte pattern is a
/// valid value (integers and byte arrays only).
///
/// # Safety
/// Implemented only by the `records!` macro below, for `#[repr(C)]` structs
/// whose fields are all integers or arrays of integers.
pub unsafe trait Record: Copy {}

/// Reads a `T` from the start of `b`; `None` when `b` is shorter than `T`.
pub fn read<T: Record>(b: &[u8]) -> Option<T> {
    if b.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `T: Record` is plain old data valid for any bytes, and `b` holds
    // at least size_of::<T>() bytes; read_unaligned has no alignment needs.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

/// The bytes of a record, as the kernel would put them in the ring buffer
/// (for tests and fuzz seeds).
pub fn to_bytes<T: Record>(r: &T) -> Vec<u8> {
    // SAFETY: `T: Record` is repr(C) plain old data; every byte is readable.
    let bytes = unsafe {
        std::slice::from_raw_parts((r as *const T).cast::<u8>(), std::mem::size_of::<T>())
    };
    bytes.to_vec()
}

/// An all-zero record (every `Record` is valid as zeros).
pub fn zeroed<T: Record>() -> T {
    // SAFETY: `T: Record` is plain old data: all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

macro_rules! records {
    ($( $(#[$m:meta])* $name:ident = $c:literal { $( $(#[$fm:meta])* $f:ident : $t:ty ),* $(,)? } )*) => {
        $(
            $(#[$m])*
            #[repr(C)]
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct $name { $( $(#[$fm])* pub $f: $t ),* }
            // SAFETY: repr(C), integer and integer-array fields only.
            unsafe impl Record for $name {}
        )*
        /// Every field: (C struct, field, offset, size) as Rust lays it out.
        pub const FIELDS: &[(&str, &str, usize, usize)] = &[
            $( $( ($c, stringify!($f), std::mem::offset_of!($name, $f), std::mem::size_of::<$t>()), )* )*
        ];
        /// Every struct's size: (C struct, size). For records with a tail (see
        /// [`TAILS`]) this is the size up to the tail.
        pub const SIZES: &[(&str, usize)] = &[ $( ($c, std::mem::size_of::<$name>()), )* ];
    };
}

records! {
    /// `struct ev_hdr`: the start of every ring-buffer record.
    EvHdr = "ev_hdr" {
        /// [`EvType`].
        r#type: u32,
        /// The process (tgid).
        pid: u32,
        /// pid of the per-connection sshd that roots this process.
        conn: u32,
        ppid: u32,
        /// CLOCK_MONOTONIC nanoseconds.
        ts_ns: u64,
    }
    /// `struct ev_data` up to its data (`len` bytes follow).
    EvData = "ev_data" {
        h: EvHdr,
        fd: u32,
        /// 0: sshd read it (output towards the client), 1: sshd wrote it (input).
        dir: u8,
        /// [`FdClass`].
        cls: u8,
        chunk: u16,
        /// pts number of a pty master, -1 otherwise.
        pts: i32,
        len: u32,
        /// CLOCK_MONOTONIC when sshd's read/write began (`h.ts_ns`: when
        /// it returned; the ring's order follows that).
        start_ns: u64,
    }
    /// `struct ev_resize`.
    EvResize = "ev_resize" {
        h: EvHdr,
        fd: u32,
        pts: i32,
        cols: u16,
        rows: u16,
        /// uid of the sshd process that set the size (the session's user).
        uid: u32,
    }
    /// `struct ev_exec` up to its payload: argv (`argv_len` bytes, NUL
    /// separated), then the cwd components, leaf first (`cwd_len` bytes).
    EvExec = "ev_exec" {
        h: EvHdr,
        uid: u32,
        gid: u32,
        argv_len: u32,
        cwd_depth: u16,
        /// Bit 0: the path is deeper than the kernel walks.
        cwd_flags: u16,
        comm: [u8; TASK_COMM_LEN],
        filename: [u8; FILENAME_MAX_LEN],
        cwd_len: u32,
        /// 1: a session leader (setsid), as sshd makes the user's program.
        leader: u32,
    }
    /// `struct ev_exit`.
    EvExit = "ev_exit" {
        h: EvHdr,
        /// wait(2) status: code << 8 | signal.
        exit_code: i32,
        _pad: u32,
    }
    /// `struct ev_log` up to its text (`len` bytes follow).
    EvLog = "ev_log" {
        h: EvHdr,
        len: u32,
        cls: u32,
    }
    /// `struct ev_file`.
    EvFile = "ev_file" {
        h: EvHdr,
        fd: i32,
        flags: u32,
        /// Close: the file's size then; [`FILE_NOT_REGULAR`] or
        /// [`FILE_SIZE_UNKNOWN`].
        size: i64,
        path: [u8; PATH_MAX_LEN],
    }
    /// `struct ev_out_connect`.
    EvOutConnect = "ev_out_connect" {
        h: EvHdr,
        uid: u32,
        /// connect(2) result: 0 or a negative errno.
        ret: i32,
        fd: i32,
        family: u16,
        /// Host byte order.
        dport: u16,
        daddr: [u8; 16],
        /// struct sock address: matches [`EvOutState::sk`].
        sk: u64,
        comm: [u8; TASK_COMM_LEN],
        /// Parent, grandparent, ... (0 = none).
        anc_pid: [u32; ANCESTORS],
        anc_comm: [[u8; TASK_COMM_LEN]; ANCESTORS],
        argv_len: u32,
        _pad: u32,
        argv: [u8; OUT_ARGV_MAX],
    }
    /// `struct ev_out_state`.
    EvOutState = "ev_out_state" {
        h: EvHdr,
        sk: u64,
        oldstate: i32,
        /// TCP_ESTABLISHED = 1, TCP_CLOSE = 7.
        newstate: i32,
    }
    /// `struct ev_conn_addr`: the connection's TCP endpoints.
    EvConnAddr = "ev_conn_addr" {
        h: EvHdr,
        /// AF_INET or AF_INET6.
        family: u16,
        /// Host byte order.
        lport: u16,
        rport: u16,
        _pad: u16,
        /// Network byte order; 4 bytes used for AF_INET.
        laddr: [u8; 16],
        raddr: [u8; 16],
    }
    /// `struct conn_stats`: the per-connection counters (map `conn_stats`).
    #[derive(Default)]
    ConnStats = "conn_stats" {
        net_in: u64,
        net_out: u64,
        captured_bytes: u64,
        dropped_bytes: u64,
        dropped_events: u64,
    }
    /// `struct proc`: a tracked process (map `procs`).
    Proc = "proc" {
        conn: u32,
        /// [`ProcKind`].
        kind: u8,
        _pad: [u8; 3],
    }
}

/// Where each partly-sent tail starts: (C struct, C field, Rust prefix size).
pub const TAILS: &[(&str, &str, usize)] = &[
    ("ev_data", "data", std::mem::size_of::<EvData>()),
    ("ev_exec", "payload", std::mem::size_of::<EvExec>()),
    ("ev_log", "text", std::mem::size_of::<EvLog>()),
];

macro_rules! c_enum {
    ($(#[$m:meta])* $name:ident : $($(#[$vm:meta])* $v:ident = $c:ident = $n:literal),* $(,)?) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $name { $( $(#[$vm])* $v = $n ),* }
        impl $name {
            /// The variant with this C value.
            pub fn from_raw(v: u32) -> Option<Self> {
                match v { $( $n => Some($name::$v), )* _ => None }
            }
            /// (C name, value) of every variant.
            pub const C_VALUES: &'static [(&'static str, u32)] = &[ $( (stringify!($c), $n) ),* ];
        }
    };
}

c_enum! {
    /// `enum ev_type`: what a ring-buffer record is.
    EvType:
    /// The sshd listener forked a per-connection process.
    ConnNew = EV_CONN_NEW = 1,
    Exec = EV_EXEC = 2,
    Exit = EV_EXIT = 3,
    /// Bytes through a pty master or session pipe.
    Data = EV_DATA = 4,
    Resize = EV_RESIZE = 5,
    /// A message sshd logged.
    Log = EV_LOG = 6,
    FileOpen = EV_FILE_OPEN = 7,
    FileClose = EV_FILE_CLOSE = 8,
    Fork = EV_FORK = 9,
    OutConnect = EV_OUT_CONNECT = 10,
    OutState = EV_OUT_STATE = 11,
    ConnAddr = EV_CONN_ADDR = 12,
}

c_enum! {
    /// `enum proc_kind`: what a tracked process is.
    ProcKind:
    /// sshd / sshd-session / sshd-auth of a connection.
    Sshd = KIND_SSHD = 1,
    /// A program started inside a session.
    Session = KIND_SESSION = 2,
    /// scp -t or sftp-server inside a session.
    Uploader = KIND_UPLOADER = 3,
}

c_enum! {
    /// `enum fd_class`: what a file descriptor of sshd is.
    FdClass:
    Other = CLS_OTHER = 0,
    /// The /dev/ptmx master.
    Pty = CLS_PTY = 1,
    /// A pipe (sessions without a pty).
    Pipe = CLS_PIPE = 2,
    /// The network connection.
    Inet = CLS_INET = 3,
    /// AF_UNIX: syslog, the monitor socketpair.
    Unix = CLS_UNIX = 4,
    /// fd 0-2 that is not a pty (sshd -e).
    Stdio = CLS_STDIO = 5,
    /// A pipe the connection's monitor made: its children's log messages.
    LogPipe = CLS_LOGPIPE = 6,
}

/// Every enum of the header: (C name, value).
pub const ENUMS: &[&[(&str, u32)]] = &[EvType::C_VALUES, ProcKind::C_VALUES, FdClass::C_VALUES];

/// The NUL-terminated string in a fixed-size field.
pub fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_needs_the_whole_record() {
        let mut b = vec![0u8; std::mem::size_of::<EvExit>()];
        b[0..4].copy_from_slice(&3u32.to_ne_bytes());
        b[24..28].copy_from_slice(&(7i32 << 8).to_ne_bytes());
        let e: EvExit = read(&b).expect("long enough");
        assert_eq!(EvType::from_raw(e.h.r#type), Some(EvType::Exit));
        assert_eq!(e.exit_code >> 8, 7);
        assert_eq!(read::<EvExit>(&b[..b.len() - 1]), None);
        assert_eq!(EvType::from_raw(99), None);
    }

    #[test]
    fn c_strings_end_at_the_first_nul() {
        assert_eq!(c_str(b"bash\0\0xx"), "bash");
        assert_eq!(c_str(b"full"), "full");
    }
}
