//! sshlogd's own log has colours on a terminal only, and never with
//! `NO_COLOR`: a file, a pipe or the journal gets plain text.

mod common;

use common::Recorder;
use sshlog_harness::{require_root_or_skip, run_with_timeout, TestBpfDir};
use std::process::Command;
use std::time::Duration;

/// sshlogd's output when started on a terminal (`script` gives it a pty) and
/// stopped by `timeout` after it has started.
fn on_a_terminal(no_color: bool) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let bpf = TestBpfDir::new();
    let d = dir.path().display();
    std::fs::write(dir.path().join("s.yaml"), "# defaults\n").expect("settings");
    std::fs::create_dir(dir.path().join("conf.d")).expect("conf.d");
    let daemon = format!(
        "timeout -s TERM 6 {} --log-dir {d}/logs --socket {d}/sock --config {d}/s.yaml --config-dir {d}/conf.d --bpf-dir {}",
        env!("CARGO_BIN_EXE_sshlogd"),
        bpf.path().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &daemon, "/dev/null"]);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = run_with_timeout(&mut cmd, "script sshlogd", b"", Duration::from_secs(30))
        .expect("sshlogd under script");
    let text = out.stdout_text();
    assert!(
        text.contains("recording under"),
        "sshlogd did not start: {text}"
    );
    text
}

#[test]
fn log_is_coloured_only_on_a_terminal_without_no_color() {
    if !require_root_or_skip("log_is_coloured_only_on_a_terminal_without_no_color") {
        return;
    }
    let mut rec = Recorder::start();
    rec.stop();
    let file = rec.daemon_logs();
    assert!(file.contains("recording under"), "{file}");
    assert!(
        !file.contains('\x1b'),
        "escape codes in a log file: {file:?}"
    );

    assert!(
        on_a_terminal(false).contains("\x1b["),
        "no colour on a terminal"
    );
    let plain = on_a_terminal(true);
    assert!(
        !plain.contains('\x1b'),
        "colour despite NO_COLOR: {plain:?}"
    );
}
