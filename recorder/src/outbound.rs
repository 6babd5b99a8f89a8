//! Outbound SSH connections made from this host: who connected where, through
//! which chain of processes, and the destination as written on the command line.

use crate::procfs;
use sshlog_format::sidecar::Ancestor;
use uuid::Uuid;

/// One outbound connection being tracked (from connect(2) to the process's exit).
#[derive(Debug, Clone)]
pub struct OutConn {
    pub id: Uuid,
    pub pid: u32,
    pub start_ns: u64,
    pub sk: u64,
    /// The start event, held back until the TCP handshake's outcome is known.
    pub pending_start: Option<crate::tracker::PendingStart>,
    pub user: Option<String>,
    pub inbound_session: Option<Uuid>,
}

/// The destination host of an `ssh` command line: `ssh -p 2222 bob@db1 uptime`
/// gives `db1`. `None` when argv is not ssh's or has no destination.
pub fn ssh_destination(argv: &[String]) -> Option<String> {
    let prog = argv.first()?.rsplit('/').next()?;
    if prog != "ssh" {
        return None;
    }
    // Options of ssh(1) that take a value.
    const WITH_VALUE: &str = "BbcDEeFIiJLlmOoPpQRSWw";
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            return it.next().map(|d| host_of(d));
        }
        if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
            for (i, c) in flags.char_indices() {
                if WITH_VALUE.contains(c) {
                    if i + c.len_utf8() == flags.len() {
                        it.next(); // the value is the next argument
                    }
                    break;
                }
            }
            continue;
        }
        return Some(host_of(a));
    }
    None
}

/// `user@host`, `ssh://user@host:port`, `[v6]:port` → the host.
fn host_of(dest: &str) -> String {
    let d = dest.strip_prefix("ssh://").unwrap_or(dest);
    let d = d.rsplit_once('@').map(|(_, h)| h).unwrap_or(d);
    if let Some(rest) = d.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    if dest.starts_with("ssh://") {
        return d.split(':').next().unwrap_or(d).to_string();
    }
    d.to_string()
}

/// The process (from the kernel event) and its ancestors: the kernel gives the
/// first levels (pid, comm) even if they exit meanwhile; /proc adds argv and the
/// rest of the chain up to init.
pub fn ancestry(
    pid: u32,
    comm: &str,
    argv: &[String],
    kernel_ancestors: &[(u32, String)],
) -> Vec<Ancestor> {
    let mut out = vec![Ancestor {
        pid,
        comm: comm.to_string(),
        argv: argv.to_vec(),
    }];
    let argv_of = |p: u32, c: &str| -> Vec<String> {
        // Only trust /proc if the pid still names the same program.
        match procfs::comm(p) {
            Some(now) if now == c => procfs::cmdline_argv(p).unwrap_or_default(),
            _ => Vec::new(),
        }
    };
    for (p, c) in kernel_ancestors.iter().filter(|(p, _)| *p != 0) {
        out.push(Ancestor {
            pid: *p,
            comm: c.clone(),
            argv: argv_of(*p, c),
        });
    }
    // Beyond what the kernel reported: walk /proc up to init.
    let mut cur = out.last().map(|a| a.pid).unwrap_or(0);
    for _ in 0..64 {
        if cur <= 1 {
            break;
        }
        let Some(procfs::Stat { ppid, .. }) = procfs::stat(cur) else {
            break;
        };
        if ppid == 0 {
            break;
        }
        let c = procfs::comm(ppid).unwrap_or_default();
        out.push(Ancestor {
            pid: ppid,
            comm: c.clone(),
            argv: argv_of(ppid, &c),
        });
        cur = ppid;
    }
    out
}

/// `connect(2)`'s negative errno as words.
pub fn connect_error(errno: i32) -> String {
    match errno {
        libc::ECONNREFUSED => "connection refused".into(),
        libc::ETIMEDOUT => "timed out".into(),
        libc::ENETUNREACH => "network unreachable".into(),
        libc::EHOSTUNREACH => "host unreachable".into(),
        e => std::io::Error::from_raw_os_error(e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn finds_the_destination_in_ssh_command_lines() {
        assert_eq!(ssh_destination(&v("ssh db1")), Some("db1".into()));
        assert_eq!(
            ssh_destination(&v("/usr/bin/ssh -p 2222 bob@db1 uptime")),
            Some("db1".into())
        );
        assert_eq!(
            ssh_destination(&v(
                "ssh -tt -o StrictHostKeyChecking=no -i key alice@10.0.0.5"
            )),
            Some("10.0.0.5".into())
        );
        assert_eq!(
            ssh_destination(&v("ssh -p2222 -lbob web")),
            Some("web".into())
        );
        assert_eq!(
            ssh_destination(&v("ssh -x -oForwardAgent=no -- git.example scp -t x")),
            Some("git.example".into())
        );
        assert_eq!(
            ssh_destination(&v("ssh ssh://bob@h.example:2200")),
            Some("h.example".into())
        );
        assert_eq!(ssh_destination(&v("ssh bob@[::1]")), Some("::1".into()));
        assert_eq!(ssh_destination(&v("ssh -V")), None);
        assert_eq!(ssh_destination(&v("curl host")), None);
    }

    #[test]
    fn ancestry_reaches_init_through_proc() {
        let me = std::process::id();
        let a = ancestry(me, "test", &v("test --x"), &[]);
        assert_eq!(a[0].pid, me);
        assert_eq!(a.last().map(|x| x.pid), Some(1), "{a:?}");
    }

    #[test]
    fn connect_errors_read_well() {
        assert_eq!(connect_error(libc::ECONNREFUSED), "connection refused");
    }
}
