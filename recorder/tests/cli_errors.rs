//! sshlogd's start-up errors: one clear line and a non-zero exit, no panic.

use std::process::Command;

fn sshlogd(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = dir.path().join("s.yaml");
    std::fs::write(&settings, "").expect("settings");
    let out = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--config")
        .arg(&settings)
        .arg("--socket")
        .arg(dir.path().join("sock"))
        .args(args)
        .output()
        .expect("run sshlogd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn unwritable_log_dir_is_one_clear_line() {
    if !is_root() {
        // Without root the privilege check comes first; covered below.
        return;
    }
    let (code, err) = sshlogd(&["--log-dir", "/proc/sshlog-test/x"]);
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("sshlogd: log directory /proc/sshlog-test/x cannot be created"),
        "{err}"
    );
}

#[test]
fn bad_settings_file_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = dir.path().join("bad.yaml");
    std::fs::write(&settings, "log_dir: /tmp\nring_buffer_mb: lots\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--config")
        .arg(&settings)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(&format!("{}: line 2", settings.display())),
        "{err}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .args(["--config", "/nonexistent/sshlogd.yaml"])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/sshlogd.yaml")
    );
}

#[test]
fn not_root_is_one_clear_line() {
    if !is_root() {
        let (code, err) = sshlogd(&["--log-dir", "/tmp/x"]);
        assert_ne!(code, 0);
        assert!(err.contains("needs root"), "{err}");
        return;
    }
    // As root: drop to nobody for the child.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_sshlogd"))
        .args(["--config", "/dev/null", "--log-dir"])
        .arg(dir.path())
        .args(["--socket", "/tmp/sshlog-test-nobody.sock"])
        .output()
        .expect("setpriv (util-linux) runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("sshlogd needs root (or CAP_BPF and CAP_PERFMON)"),
        "{err}"
    );
}
