//! Decodes the records the eBPF programs put in the ring buffer into typed events.
//!
//! The record layouts are `sshlog_recorder_ebpf::layout`, the Rust mirror of
//! `recorder-ebpf/bpf/sshlog.h` (checked field by field against the header by a
//! test): no offset is written here. Decoding never trusts the record: short or
//! unknown records become [`DecodeError`].

use sshlog_recorder_ebpf::layout::{
    self as l, c_str, read, EvType, FdClass, Record, ARGV_MAX, CWD_DEPTH, LOG_MAX, OUT_ARGV_MAX,
};
use thiserror::Error;

pub use sshlog_recorder_ebpf::layout::DATA_CHUNK;

/// What kind of file descriptor a data record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The pty master: an interactive session.
    Pty,
    /// A pipe: a session without a pty (`ssh host cmd`).
    Pipe,
}

/// Common header of every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub pid: u32,
    /// pid of the per-connection sshd this process belongs to.
    pub conn: u32,
    pub ppid: u32,
    /// CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
}

/// An exec by a process of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub h: Header,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub filename: String,
    pub argv: Vec<String>,
    pub argv_truncated: bool,
    /// None when the kernel walk did not reach the root. The path as the
    /// process sees it (inside its chroot or container).
    pub cwd: Option<String>,
    /// The process leads its session: sshd makes the user's program one
    /// (setsid before exec); no PAM helper is.
    pub session_leader: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// The sshd listener forked a per-connection process (`h.pid == h.conn`).
    ConnNew(Header),
    Fork(Header),
    Exec(Exec),
    Exit {
        h: Header,
        status: i32,
    },
    Data {
        h: Header,
        /// CLOCK_MONOTONIC when sshd's read/write began (`h.ts_ns`: when it
        /// returned, which is what orders the ring).
        start_ns: u64,
        fd: u32,
        input: bool,
        stream: Stream,
        pts: Option<u32>,
        data: Vec<u8>,
    },
    Resize {
        h: Header,
        fd: u32,
        pts: Option<u32>,
        cols: u16,
        rows: u16,
        /// uid of the sshd process that set the size: the session's user.
        uid: u32,
    },
    /// The endpoints of the connection's TCP socket (reported on its first I/O).
    ConnAddr {
        h: Header,
        local: std::net::SocketAddr,
        peer: std::net::SocketAddr,
    },
    Log {
        h: Header,
        text: String,
    },
    FileOpen {
        h: Header,
        fd: i32,
        flags: u32,
        path: String,
    },
    FileClose {
        h: Header,
        fd: i32,
        /// The file's size as it was closed.
        size: ClosedSize,
    },
    /// connect(2) to an SSH port (or by `ssh`), with the result and who did it.
    OutConnect {
        h: Header,
        uid: u32,
        /// 0, or a negative errno (`-EINPROGRESS` for non-blocking sockets).
        ret: i32,
        dest: std::net::SocketAddr,
        sk: u64,
        comm: String,
        /// (pid, comm) of the parent, grandparent, ... as the kernel saw them.
        ancestors: Vec<(u32, String)>,
        argv: Vec<String>,
    },
    /// The TCP state of an outbound socket changed to established (1) or closed (7).
    OutState {
        h: Header,
        sk: u64,
        oldstate: i32,
        newstate: i32,
    },
}

/// A file's size when an uploader closed it, read by the kernel then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedSize {
    Bytes(u64),
    /// Not a regular file (`/dev/null`…): not an upload.
    NotRegular,
    /// The kernel could not read it.
    Unknown,
}

impl KernelEvent {
    pub fn header(&self) -> &Header {
        match self {
            KernelEvent::ConnNew(h) | KernelEvent::Fork(h) => h,
            KernelEvent::Exec(Exec { h, .. })
            | KernelEvent::Exit { h, .. }
            | KernelEvent::Data { h, .. }
            | KernelEvent::Resize { h, .. }
            | KernelEvent::ConnAddr { h, .. }
            | KernelEvent::Log { h, .. }
            | KernelEvent::FileOpen { h, .. }
            | KernelEvent::FileClose { h, .. }
            | KernelEvent::OutConnect { h, .. }
            | KernelEvent::OutState { h, .. } => h,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {len} bytes is too short for type {ty}")]
    Short { ty: u32, len: usize },
    #[error("unknown record type {0}")]
    UnknownType(u32),
}

/// NUL-separated arguments (the kernel's `arg_start..arg_end`).
fn split_argv(raw: &[u8]) -> Vec<String> {
    let mut argv: Vec<String> = raw
        .split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    if raw.last() == Some(&0) || raw.is_empty() {
        argv.pop(); // the split after the final NUL
    }
    argv
}

/// An address of `family` (AF_INET6 = 10, else AF_INET) from 16 bytes in network
/// order; IPv4-mapped IPv6 addresses become IPv4.
fn ip_at(family: u16, b: &[u8; 16]) -> std::net::IpAddr {
    if family == 10 {
        let v6 = std::net::Ipv6Addr::from(*b);
        v6.to_ipv4_mapped().map(Into::into).unwrap_or(v6.into())
    } else {
        std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()
    }
}

fn pts(v: i32) -> Option<u32> {
    u32::try_from(v).ok()
}

/// The record as `T`, or [`DecodeError::Short`].
fn record<T: Record>(b: &[u8], ty: u32) -> Result<T, DecodeError> {
    read(b).ok_or(DecodeError::Short { ty, len: b.len() })
}

/// `n` bytes after the fixed part `T` of a record.
fn tail<T: Record>(b: &[u8], ty: u32, n: usize) -> Result<&[u8], DecodeError> {
    let start = std::mem::size_of::<T>();
    b.get(start..start + n)
        .ok_or(DecodeError::Short { ty, len: b.len() })
}

impl From<l::EvHdr> for Header {
    fn from(h: l::EvHdr) -> Self {
        Header {
            pid: h.pid,
            conn: h.conn,
            ppid: h.ppid,
            ts_ns: h.ts_ns,
        }
    }
}

/// Decodes one ring-buffer record.
pub fn decode(b: &[u8]) -> Result<KernelEvent, DecodeError> {
    let hdr: l::EvHdr = record(b, 0)?;
    let ty = hdr.r#type;
    let h = Header::from(hdr);
    let Some(kind) = EvType::from_raw(ty) else {
        return Err(DecodeError::UnknownType(ty));
    };
    Ok(match kind {
        EvType::ConnNew => KernelEvent::ConnNew(h),
        EvType::Fork => KernelEvent::Fork(h),
        EvType::Exec => {
            let e: l::EvExec = record(b, ty)?;
            // Only the bytes in use are sent: argv, then the cwd components
            // (leaf first, NUL terminated).
            let payload = &b[std::mem::size_of::<l::EvExec>()..];
            let argv_len = (e.argv_len as usize).min(ARGV_MAX).min(payload.len());
            let depth = (e.cwd_depth as usize).min(CWD_DEPTH);
            let cwd_len = (e.cwd_len as usize).min(payload.len() - argv_len);
            let raw = &payload[..argv_len];
            let argv_truncated = argv_len == ARGV_MAX && raw.last() != Some(&0);
            let cwd = if e.cwd_flags & 1 != 0 {
                None
            } else {
                let mut parts: Vec<String> = payload[argv_len..argv_len + cwd_len]
                    .split(|&c| c == 0)
                    .take(depth)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                parts.reverse();
                Some(format!("/{}", parts.join("/")))
            };
            KernelEvent::Exec(Exec {
                h,
                uid: e.uid,
                gid: e.gid,
                comm: c_str(&e.comm),
                filename: c_str(&e.filename),
                argv: split_argv(raw),
                argv_truncated,
                cwd,
                session_leader: e.leader != 0,
            })
        }
        EvType::Exit => {
            let e: l::EvExit = record(b, ty)?;
            KernelEvent::Exit {
                h,
                status: e.exit_code,
            }
        }
        EvType::Data => {
            let e: l::EvData = record(b, ty)?;
            let len = (e.len as usize).min(DATA_CHUNK);
            let data = tail::<l::EvData>(b, ty, len)?.to_vec();
            let stream = if e.cls == FdClass::Pty as u8 {
                Stream::Pty
            } else {
                Stream::Pipe
            };
            KernelEvent::Data {
                h,
                start_ns: e.start_ns,
                fd: e.fd,
                input: e.dir == 1,
                stream,
                pts: pts(e.pts),
                data,
            }
        }
        EvType::Resize => {
            let e: l::EvResize = record(b, ty)?;
            KernelEvent::Resize {
                h,
                fd: e.fd,
                pts: pts(e.pts),
                cols: e.cols,
                rows: e.rows,
                uid: e.uid,
            }
        }
        EvType::ConnAddr => {
            let e: l::EvConnAddr = record(b, ty)?;
            KernelEvent::ConnAddr {
                h,
                local: std::net::SocketAddr::new(ip_at(e.family, &e.laddr), e.lport),
                peer: std::net::SocketAddr::new(ip_at(e.family, &e.raddr), e.rport),
            }
        }
        EvType::Log => {
            let e: l::EvLog = record(b, ty)?;
            let room = b.len() - std::mem::size_of::<l::EvLog>();
            let len = (e.len as usize).min(LOG_MAX).min(room);
            KernelEvent::Log {
                h,
                text: String::from_utf8_lossy(tail::<l::EvLog>(b, ty, len)?).into_owned(),
            }
        }
        EvType::FileOpen => {
            let e: l::EvFile = record(b, ty)?;
            KernelEvent::FileOpen {
                h,
                fd: e.fd,
                flags: e.flags,
                path: c_str(&e.path),
            }
        }
        EvType::FileClose => {
            let e: l::EvFile = record(b, ty)?;
            let size = match e.size {
                l::FILE_NOT_REGULAR => ClosedSize::NotRegular,
                n => u64::try_from(n).map_or(ClosedSize::Unknown, ClosedSize::Bytes),
            };
            KernelEvent::FileClose { h, fd: e.fd, size }
        }
        EvType::OutConnect => {
            let e: l::EvOutConnect = record(b, ty)?;
            let ancestors = e
                .anc_pid
                .iter()
                .zip(e.anc_comm.iter())
                .map(|(p, c)| (*p, c_str(c)))
                .take_while(|(p, _)| *p != 0)
                .collect();
            let argv_len = (e.argv_len as usize).min(OUT_ARGV_MAX);
            KernelEvent::OutConnect {
                h,
                uid: e.uid,
                ret: e.ret,
                dest: std::net::SocketAddr::new(ip_at(e.family, &e.daddr), e.dport),
                sk: e.sk,
                comm: c_str(&e.comm),
                ancestors,
                argv: split_argv(&e.argv[..argv_len]),
            }
        }
        EvType::OutState => {
            let e: l::EvOutState = record(b, ty)?;
            KernelEvent::OutState {
                h,
                sk: e.sk,
                oldstate: e.oldstate,
                newstate: e.newstate,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshlog_recorder_ebpf::layout::{to_bytes, zeroed};

    fn hdr(ty: EvType) -> l::EvHdr {
        l::EvHdr {
            r#type: ty as u32,
            pid: 42,
            conn: 40,
            ppid: 0,
            ts_ns: 7,
        }
    }

    #[test]
    fn decodes_exec_with_argv_and_cwd() {
        let argv = b"ls\0-l\0/tmp\0";
        let cwd = b"bob\0home\0"; // leaf first
        let mut e: l::EvExec = zeroed();
        e.h = hdr(EvType::Exec);
        e.uid = 1000;
        e.argv_len = argv.len() as u32;
        e.cwd_depth = 2;
        e.cwd_len = cwd.len() as u32;
        e.leader = 1;
        e.comm[..2].copy_from_slice(b"ls");
        e.filename[..7].copy_from_slice(b"/bin/ls");
        let mut b = to_bytes(&e);
        b.extend_from_slice(argv);
        b.extend_from_slice(cwd);
        match decode(&b).unwrap() {
            KernelEvent::Exec(Exec {
                h,
                uid,
                argv,
                cwd,
                filename,
                comm,
                argv_truncated,
                session_leader,
                ..
            }) => {
                assert_eq!(h.pid, 42);
                assert!(session_leader);
                assert_eq!(h.conn, 40);
                assert_eq!(uid, 1000);
                assert_eq!(argv, vec!["ls", "-l", "/tmp"]);
                assert!(!argv_truncated);
                assert_eq!(cwd.as_deref(), Some("/home/bob"));
                assert_eq!(filename, "/bin/ls");
                assert_eq!(comm, "ls");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn decodes_connection_addresses() {
        let mut e: l::EvConnAddr = zeroed();
        e.h = hdr(EvType::ConnAddr);
        e.family = 2;
        e.lport = 2222;
        e.rport = 40000;
        e.laddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        e.raddr[..4].copy_from_slice(&[127, 0, 0, 2]);
        match decode(&to_bytes(&e)).unwrap() {
            KernelEvent::ConnAddr { local, peer, .. } => {
                assert_eq!(local.to_string(), "127.0.0.1:2222");
                assert_eq!(peer.to_string(), "127.0.0.2:40000");
            }
            other => panic!("unexpected {other:?}"),
        }
        // IPv4-mapped IPv6 peers are shown as IPv4.
        e.family = 10;
        e.raddr = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3];
        let b = to_bytes(&e);
        match decode(&b).unwrap() {
            KernelEvent::ConnAddr { peer, .. } => assert_eq!(peer.to_string(), "10.1.2.3:40000"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode(&b[..b.len() - 1]),
            Err(DecodeError::Short { ty: 12, .. })
        ));
    }

    #[test]
    fn decodes_the_size_of_a_closed_file() {
        for (raw, want) in [
            (123_457, ClosedSize::Bytes(123_457)),
            (0, ClosedSize::Bytes(0)),
            (l::FILE_NOT_REGULAR, ClosedSize::NotRegular),
            (l::FILE_SIZE_UNKNOWN, ClosedSize::Unknown),
        ] {
            let mut e: l::EvFile = zeroed();
            e.h = hdr(EvType::FileClose);
            e.fd = 5;
            e.size = raw;
            let ev = decode(&to_bytes(&e)).unwrap();
            assert!(
                matches!(ev, KernelEvent::FileClose { fd: 5, size, .. } if size == want),
                "{raw}: {ev:?}"
            );
        }
    }

    #[test]
    fn decodes_data_and_rejects_short_records() {
        let mut e: l::EvData = zeroed();
        e.h = hdr(EvType::Data);
        e.cls = FdClass::Pty as u8;
        e.pts = 3;
        e.len = 5;
        e.start_ns = 41;
        let mut b = to_bytes(&e);
        b.extend_from_slice(b"hello");
        let ev = decode(&b).unwrap();
        assert!(
            matches!(ev, KernelEvent::Data { ref data, stream: Stream::Pty, pts: Some(3), input: false, start_ns: 41, .. } if data == b"hello")
        );
        // a length that claims more than the record holds
        e.len = 50;
        let mut b = to_bytes(&e);
        b.extend_from_slice(b"hello");
        assert!(matches!(decode(&b), Err(DecodeError::Short { ty: 4, .. })));
        assert_eq!(decode(&[0u8; 3]), Err(DecodeError::Short { ty: 0, len: 3 }));
        let mut unknown = hdr(EvType::Exit);
        unknown.r#type = 99;
        assert_eq!(
            decode(&to_bytes(&unknown)),
            Err(DecodeError::UnknownType(99))
        );
    }
}
