//! Runs sshd the way a real host or a chroot runs it, in a private mount
//! namespace of its own, so that a test can decide what `/dev/log` is (absent,
//! or a socket the test listens on) without touching the machine's `/dev`:
//!
//! - `/dev` becomes an overlay on the real one (device nodes and `/dev/pts`
//!   stay the real ones; entries made or removed only exist in the overlay);
//! - for a chroot, the root also gets `/proc`, a fresh `/run` (with
//!   `/run/sshd`) and the harness directory at [`HARNESS_DIR_IN_ROOT`].
//!
//! `unshare` and `sh` exec into sshd, so the pid the harness started is
//! sshd's; every mount ends with the namespace when sshd exits.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a chroot sees the harness's temp dir (host key, pid file, socket).
pub(crate) const HARNESS_DIR_IN_ROOT: &str = "/run/sshlog-harness";

/// What `/dev/log` is inside the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DevLog {
    /// No syslog socket: syslog(3) messages go nowhere.
    Absent,
    /// A symlink to this path (as seen inside the root).
    Socket(PathBuf),
}

/// The command that starts `sshd_argv` in its own mount namespace, inside
/// `root` (a chroot; `None` for the host's own root). `dir` is the harness's
/// temp dir: it holds the overlay's layers and, for a chroot, is bound at
/// [`HARNESS_DIR_IN_ROOT`].
pub(crate) fn command(
    root: Option<&Path>,
    dir: &Path,
    dev_log: &DevLog,
    sshd_argv: &[String],
) -> Command {
    let r = root.map(|p| p.display().to_string()).unwrap_or_default();
    let d = dir.display().to_string();
    let mut script = String::from("set -e\nmount --make-rprivate /\n");
    script += &format!(
        "mkdir -p '{d}/dev-layers' '{d}/host-dev'\n\
         mount -t tmpfs -o mode=755 sshlog-harness '{d}/dev-layers'\n\
         mkdir '{d}/dev-layers/upper' '{d}/dev-layers/work'\n\
         mount --rbind /dev '{d}/host-dev'\n\
         mount -t overlay sshlog-harness -o 'lowerdir=/dev,upperdir={d}/dev-layers/upper,workdir={d}/dev-layers/work' '{r}/dev'\n\
         mount --rbind '{d}/host-dev/pts' '{r}/dev/pts'\n\
         if [ -d '{d}/host-dev/shm' ]; then mkdir -p '{r}/dev/shm'; mount --rbind '{d}/host-dev/shm' '{r}/dev/shm'; fi\n\
         rm -f '{r}/dev/log'\n"
    );
    if let DevLog::Socket(p) = dev_log {
        script += &format!("ln -s '{}' '{r}/dev/log'\n", p.display());
    }
    if root.is_some() {
        script += &format!(
            "mount -t proc proc '{r}/proc'\n\
             mount -t tmpfs -o mode=755 sshlog-harness '{r}/run'\n\
             mkdir -p '{r}/run/sshd' '{r}{HARNESS_DIR_IN_ROOT}'\n\
             mount --bind '{d}' '{r}{HARNESS_DIR_IN_ROOT}'\n"
        );
        script += &format!("exec chroot '{r}'");
    } else {
        script += "exec";
    }
    for a in sshd_argv {
        script += &format!(" '{}'", a.replace('\'', r"'\''"));
    }
    script.push('\n');
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(script);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(cmd: &Command) -> String {
        cmd.get_args()
            .last()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn host_script_replaces_dev_log_only_in_the_namespace() {
        let argv = vec!["/usr/sbin/sshd".to_string(), "-D".to_string()];
        let sock = DevLog::Socket(PathBuf::from("/tmp/x/log.sock"));
        let s = script(&command(None, Path::new("/tmp/x"), &sock, &argv));
        assert!(s.starts_with("set -e\nmount --make-rprivate /\n"));
        assert!(s.contains("lowerdir=/dev,upperdir=/tmp/x/dev-layers/upper"));
        assert!(s.contains("ln -s '/tmp/x/log.sock' '/dev/log'"));
        assert!(s.ends_with("exec '/usr/sbin/sshd' '-D'\n"), "{s}");
        let absent = script(&command(None, Path::new("/tmp/x"), &DevLog::Absent, &argv));
        assert!(absent.contains("rm -f '/dev/log'") && !absent.contains("ln -s"));
    }

    #[test]
    fn chroot_script_mounts_proc_run_and_the_harness_dir() {
        let argv = vec!["/usr/sbin/sshd".to_string()];
        let s = script(&command(
            Some(Path::new("/srv/root")),
            Path::new("/tmp/x"),
            &DevLog::Absent,
            &argv,
        ));
        assert!(s.contains("mount -t proc proc '/srv/root/proc'"));
        assert!(s.contains("mount --bind '/tmp/x' '/srv/root/run/sshlog-harness'"));
        assert!(
            s.ends_with("exec chroot '/srv/root' '/usr/sbin/sshd'\n"),
            "{s}"
        );
    }
}
