//! Decodes the records the eBPF programs put in the ring buffer.
//!
//! The layouts are defined in `recorder-ebpf/bpf/sshlog.h`; the offsets used here are
//! pinned there with `_Static_assert`s, so a change on one side fails the build.
//! Decoding never trusts the record: short or unknown records become [`DecodeError`].

use thiserror::Error;

/// Bytes of terminal data per record, as `DATA_CHUNK` in sshlog.h.
pub const DATA_CHUNK: usize = 16384;
const CWD_DEPTH: usize = 32;
/// Offset of the exec payload (argv, then the packed cwd), see sshlog.h.
const EXEC_PAYLOAD: usize = 320;

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

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_ne_bytes(a)
}
/// A NUL-terminated C string inside a fixed-size field.
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
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
fn ip_at(family: u16, b: &[u8]) -> std::net::IpAddr {
    if family == 10 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        let v6 = std::net::Ipv6Addr::from(a);
        v6.to_ipv4_mapped().map(Into::into).unwrap_or(v6.into())
    } else {
        std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()
    }
}

fn pts(v: u32) -> Option<u32> {
    (v as i32 >= 0).then_some(v)
}

/// Decodes one ring-buffer record.
pub fn decode(b: &[u8]) -> Result<KernelEvent, DecodeError> {
    if b.len() < 24 {
        return Err(DecodeError::Short {
            ty: 0,
            len: b.len(),
        });
    }
    let ty = u32_at(b, 0);
    let need = |n: usize| {
        if b.len() < n {
            Err(DecodeError::Short { ty, len: b.len() })
        } else {
            Ok(())
        }
    };
    let h = Header {
        pid: u32_at(b, 4),
        conn: u32_at(b, 8),
        ppid: u32_at(b, 12),
        ts_ns: u64_at(b, 16),
    };
    Ok(match ty {
        1 => KernelEvent::ConnNew(h),
        9 => KernelEvent::Fork(h),
        2 => {
            need(EXEC_PAYLOAD)?;
            // Only the bytes in use are sent: argv, then the cwd components
            // (leaf first, NUL terminated).
            let payload = &b[EXEC_PAYLOAD..];
            let argv_len = (u32_at(b, 32) as usize).min(4096).min(payload.len());
            let depth = (u16_at(b, 36) as usize).min(CWD_DEPTH);
            let cwd_flags = u16_at(b, 38);
            let cwd_len = (u32_at(b, 312) as usize).min(payload.len() - argv_len);
            let raw = &payload[..argv_len];
            let argv_truncated = argv_len == 4096 && raw.last() != Some(&0);
            let argv = split_argv(raw);
            let cwd = if cwd_flags & 1 != 0 {
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
                uid: u32_at(b, 24),
                gid: u32_at(b, 28),
                comm: cstr(&b[40..56]),
                filename: cstr(&b[56..312]),
                argv,
                argv_truncated,
                cwd,
                session_leader: u32_at(b, 316) != 0,
            })
        }
        3 => {
            need(28)?;
            KernelEvent::Exit {
                h,
                status: u32_at(b, 24) as i32,
            }
        }
        4 => {
            need(40)?;
            let len = (u32_at(b, 36) as usize).min(DATA_CHUNK);
            need(40 + len)?;
            let stream = if b[29] == 1 {
                Stream::Pty
            } else {
                Stream::Pipe
            };
            KernelEvent::Data {
                h,
                fd: u32_at(b, 24),
                input: b[28] == 1,
                stream,
                pts: pts(u32_at(b, 32)),
                data: b[40..40 + len].to_vec(),
            }
        }
        5 => {
            need(40)?;
            KernelEvent::Resize {
                h,
                fd: u32_at(b, 24),
                pts: pts(u32_at(b, 28)),
                cols: u16_at(b, 32),
                rows: u16_at(b, 34),
                uid: u32_at(b, 36),
            }
        }
        12 => {
            need(64)?;
            let family = u16_at(b, 24);
            KernelEvent::ConnAddr {
                h,
                local: std::net::SocketAddr::new(ip_at(family, &b[32..48]), u16_at(b, 26)),
                peer: std::net::SocketAddr::new(ip_at(family, &b[48..64]), u16_at(b, 28)),
            }
        }
        6 => {
            need(32)?;
            let len = (u32_at(b, 24) as usize).min(b.len() - 32);
            KernelEvent::Log {
                h,
                text: String::from_utf8_lossy(&b[32..32 + len]).into_owned(),
            }
        }
        7 | 8 => {
            need(32 + 256)?;
            let fd = u32_at(b, 24) as i32;
            if ty == 7 {
                KernelEvent::FileOpen {
                    h,
                    fd,
                    flags: u32_at(b, 28),
                    path: cstr(&b[32..288]),
                }
            } else {
                KernelEvent::FileClose { h, fd }
            }
        }
        10 => {
            need(1272)?;
            let family = u16_at(b, 36);
            let port = u16_at(b, 38);
            let ip = ip_at(family, &b[40..56]);
            let ancestors = (0..8)
                .map(|i| (u32_at(b, 80 + i * 4), cstr(&b[112 + i * 16..128 + i * 16])))
                .take_while(|(p, _)| *p != 0)
                .collect();
            let argv_len = (u32_at(b, 240) as usize).min(1024);
            KernelEvent::OutConnect {
                h,
                uid: u32_at(b, 24),
                ret: u32_at(b, 28) as i32,
                dest: std::net::SocketAddr::new(ip, port),
                sk: u64_at(b, 56),
                comm: cstr(&b[64..80]),
                ancestors,
                argv: split_argv(&b[248..248 + argv_len]),
            }
        }
        11 => {
            need(40)?;
            KernelEvent::OutState {
                h,
                sk: u64_at(b, 24),
                oldstate: u32_at(b, 32) as i32,
                newstate: u32_at(b, 36) as i32,
            }
        }
        other => return Err(DecodeError::UnknownType(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(ty: u32, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[0..4].copy_from_slice(&ty.to_ne_bytes());
        b[4..8].copy_from_slice(&42u32.to_ne_bytes());
        b[8..12].copy_from_slice(&40u32.to_ne_bytes());
        b[16..24].copy_from_slice(&7u64.to_ne_bytes());
        b
    }

    #[test]
    fn decodes_exec_with_argv_and_cwd() {
        let argv = b"ls\0-l\0/tmp\0";
        let cwd = b"bob\0home\0"; // leaf first
        let mut b = hdr(2, 320 + argv.len() + cwd.len());
        b[24..28].copy_from_slice(&1000u32.to_ne_bytes());
        b[32..36].copy_from_slice(&(argv.len() as u32).to_ne_bytes());
        b[36..38].copy_from_slice(&2u16.to_ne_bytes());
        b[40..42].copy_from_slice(b"ls");
        b[56..63].copy_from_slice(b"/bin/ls");
        b[312..316].copy_from_slice(&(cwd.len() as u32).to_ne_bytes());
        b[316..320].copy_from_slice(&1u32.to_ne_bytes());
        b[320..320 + argv.len()].copy_from_slice(argv);
        b[320 + argv.len()..].copy_from_slice(cwd);
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
        let mut b = hdr(12, 64);
        b[24..26].copy_from_slice(&2u16.to_ne_bytes());
        b[26..28].copy_from_slice(&2222u16.to_ne_bytes());
        b[28..30].copy_from_slice(&40000u16.to_ne_bytes());
        b[32..36].copy_from_slice(&[127, 0, 0, 1]);
        b[48..52].copy_from_slice(&[127, 0, 0, 2]);
        match decode(&b).unwrap() {
            KernelEvent::ConnAddr { local, peer, .. } => {
                assert_eq!(local.to_string(), "127.0.0.1:2222");
                assert_eq!(peer.to_string(), "127.0.0.2:40000");
            }
            other => panic!("unexpected {other:?}"),
        }
        // IPv4-mapped IPv6 peers are shown as IPv4.
        b[24..26].copy_from_slice(&10u16.to_ne_bytes());
        b[48..64].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
        match decode(&b).unwrap() {
            KernelEvent::ConnAddr { peer, .. } => assert_eq!(peer.to_string(), "10.1.2.3:40000"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode(&b[..63]),
            Err(DecodeError::Short { ty: 12, .. })
        ));
    }

    #[test]
    fn decodes_data_and_rejects_short_records() {
        let mut b = hdr(4, 40 + 5);
        b[29] = 1;
        b[32..36].copy_from_slice(&3u32.to_ne_bytes());
        b[36..40].copy_from_slice(&5u32.to_ne_bytes());
        b[40..45].copy_from_slice(b"hello");
        let ev = decode(&b).unwrap();
        assert!(
            matches!(ev, KernelEvent::Data { ref data, stream: Stream::Pty, pts: Some(3), input: false, .. } if data == b"hello")
        );
        // a length that claims more than the record holds
        b[36..40].copy_from_slice(&50u32.to_ne_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Short { ty: 4, .. })));
        assert_eq!(decode(&[0u8; 3]), Err(DecodeError::Short { ty: 0, len: 3 }));
        assert_eq!(decode(&hdr(99, 24)), Err(DecodeError::UnknownType(99)));
    }
}
