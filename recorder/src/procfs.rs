//! Small, failure-tolerant readers of /proc: process names, parents, owners, the
//! TCP peer of an sshd connection, and a scan of the sshd process trees that are
//! already running when sshlogd starts. A process may vanish at any moment, so
//! every reader returns `Option`.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The fields of /proc/PID/stat the recorder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    /// The session id (`setsid`): equal to the pid for a session leader.
    pub session: u32,
    /// Start time in clock ticks since boot (tells a reused pid apart).
    pub start: u64,
}

/// Reads [`Stat`] of `pid`.
pub fn stat(pid: u32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may hold spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub fn uid(pid: u32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The process title: sshd rewrites it to e.g. `sshd: alice@pts/0`.
pub fn cmdline(pid: u32) -> Option<String> {
    let b = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s: Vec<String> = b
        .split(|&c| c == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(s.join(" "))
}

/// The process's argv (NUL-separated /proc/PID/cmdline).
pub fn cmdline_argv(pid: u32) -> Option<Vec<String>> {
    let b = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut v: Vec<String> = b
        .split(|&c| c == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if b.last() == Some(&0) {
        v.pop();
    }
    Some(v)
}

/// The local and peer address of the first connected TCP socket `pid` holds.
pub fn tcp_endpoints(pid: u32) -> Option<(SocketAddr, SocketAddr)> {
    let mut inodes = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if let Ok(target) = fs::read_link(entry.path()) {
            let t = target.to_string_lossy();
            if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                if let Ok(n) = n.parse::<u64>() {
                    inodes.push(n);
                }
            }
        }
    }
    for table in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let Ok(inode) = f[9].parse::<u64>() else {
                continue;
            };
            if inode != 0 && inodes.contains(&inode) {
                // Skip listening sockets (a fresh fork still holds the listener's).
                if let (Some(l), Some(r)) = (parse_addr(f[1]), parse_addr(f[2])) {
                    if r.port() != 0 {
                        return Some((l, r));
                    }
                }
            }
        }
    }
    None
}

/// Parses `0100007F:0016` (or the 32-hex-digit IPv6 form) from /proc/net/tcp*.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_be(
            u32::from_str_radix(ip, 16).ok()?,
        ))),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A process found under an sshd listener at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub pid: u32,
    pub conn: u32,
    pub comm: String,
}

fn is_sshd(comm: &str) -> bool {
    comm == "sshd" || comm.starts_with("sshd-")
}

/// Every process rooted in a running sshd connection: children of a listener (an
/// `sshd` whose parent is not sshd) are connection roots; their descendants belong
/// to them.
pub fn scan_sshd_trees() -> Vec<Existing> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut comms: HashMap<u32, String> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let (Some(Stat { ppid, .. }), Some(c)) = (stat(pid), comm(pid)) {
                parent.insert(pid, ppid);
                comms.insert(pid, c);
            }
        }
    }
    let is_listener = |pid: u32| {
        comms.get(&pid).is_some_and(|c| c == "sshd")
            && !parent
                .get(&pid)
                .and_then(|pp| comms.get(pp))
                .is_some_and(|c| is_sshd(c))
    };
    let mut out = Vec::new();
    for (&pid, c) in &comms {
        // Walk up until a child of a listener is found.
        let mut cur = pid;
        for _ in 0..64 {
            let Some(&pp) = parent.get(&cur) else { break };
            if pp <= 1 {
                break;
            }
            if is_listener(pp) {
                out.push(Existing {
                    pid,
                    conn: cur,
                    comm: c.clone(),
                });
                break;
            }
            cur = pp;
        }
    }
    out.sort_by_key(|e| e.pid);
    out
}

/// The window size of a terminal device (for sessions adopted at start-up, whose
/// last resize happened before sshlogd ran). Opened without becoming its
/// controlling terminal.
pub fn tty_size(path: &str) -> Option<(u16, u16)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one struct winsize into `ws`, which outlives the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_tcp_addresses() {
        assert_eq!(
            parse_addr("0100007F:0016"),
            Some("127.0.0.1:22".parse().unwrap())
        );
        assert_eq!(
            parse_addr("0000000000000000FFFF00000100007F:D431"),
            Some("127.0.0.1:54321".parse().unwrap())
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000:0016"),
            Some("[::1]:22".parse().unwrap())
        );
        assert_eq!(parse_addr("zz"), None);
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(stat(me).is_some());
        assert_eq!(uid(me), Some(nix::unistd::getuid().as_raw()));
        assert!(comm(me).is_some());
    }
}
