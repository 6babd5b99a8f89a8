//! Live sessions: the stream `sshlog follow`/`attach` read (output chunks with
//! their byte offsets, resizes, the end), and keystroke injection into a session's
//! pty master, which sshlogd borrows from sshd with `pidfd_getfd(2)`.

use anyhow::{bail, Context, Result};
use sshlog_control::FollowHello;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use tokio::sync::broadcast;
use uuid::Uuid;

/// One item of a session's live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Output bytes; `offset` counts the session's output bytes before them.
    Output {
        offset: u64,
        data: Vec<u8>,
    },
    Resize {
        cols: u16,
        rows: u16,
    },
    End,
}

pub type LiveItem = Arc<(Uuid, Live)>;

/// What a follower needs to start: read the cast up to `offset` output bytes
/// (already flushed to disk), then apply live items.
pub struct FollowStart {
    /// The first answer line's body.
    pub hello: FollowHello,
    pub rx: broadcast::Receiver<LiveItem>,
}

/// Which session a `follow`/`attach` target names: a session id, a tty
/// (`/dev/pts/3`, `pts/3`, `3`) or the connection's sshd pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Session(Uuid),
    Tty(String),
    Pid(u32),
}

impl Target {
    pub fn parse(s: &str) -> Target {
        if let Ok(id) = Uuid::parse_str(s) {
            return Target::Session(id);
        }
        if let Some(n) = s.strip_prefix("pid:").and_then(|n| n.parse().ok()) {
            return Target::Pid(n);
        }
        let tty = if s.starts_with("/dev/") {
            s.to_string()
        } else if s.starts_with("pts/") {
            format!("/dev/{s}")
        } else if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
            format!("/dev/pts/{s}")
        } else {
            format!("/dev/{s}")
        };
        Target::Tty(tty)
    }
}

/// Writes `data` into the pty master `fd` of process `pid` (the sshd that owns the
/// session): to the shell it is as if the user typed it.
pub fn inject(pid: u32, fd: u32, data: &[u8]) -> Result<()> {
    // SAFETY: plain syscalls; the returned descriptors are owned right away.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("pidfd_open({pid})"));
    }
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    use std::os::fd::AsRawFd;
    let local = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd as libc::c_int,
            0,
        )
    };
    if local < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("pidfd_getfd({pid}, {fd}): cannot borrow the pty master"));
    }
    let master = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(local as i32) });
    use std::io::Write;
    let mut m = &master;
    if data.is_empty() {
        bail!("nothing to inject");
    }
    m.write_all(data).context("write to the pty master")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(Target::parse("3"), Target::Tty("/dev/pts/3".into()));
        assert_eq!(Target::parse("pts/3"), Target::Tty("/dev/pts/3".into()));
        assert_eq!(
            Target::parse("/dev/pts/12"),
            Target::Tty("/dev/pts/12".into())
        );
        assert_eq!(Target::parse("pid:1801"), Target::Pid(1801));
        let id = Uuid::now_v7();
        assert_eq!(Target::parse(&id.to_string()), Target::Session(id));
    }

    #[test]
    fn injects_into_a_pty_master_held_by_another_process() {
        // Our own pty: open a master, and read what arrives on the slave side.
        let pty = nix::pty::openpty(None, None).expect("openpty");
        use std::os::fd::AsRawFd;
        inject(std::process::id(), pty.master.as_raw_fd() as u32, b"hi\n").expect("inject");
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(pty.slave.as_raw_fd(), &mut buf).expect("read slave");
        assert_eq!(&buf[..n], b"hi\n");
        assert!(inject(u32::MAX - 1, 0, b"x").is_err());
    }
}
