//! End-to-end: a real sshd on 127.0.0.1, real `ssh -tt` clients, the real sshlogd
//! with its eBPF programs; assertions on the casts, sidecars and event log it wrote.

mod common;

use common::{contains, Recorder};
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn records_a_command_session_byte_exact_with_commands_and_connection() {
    if !require_root_or_skip("records_a_command_session") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let marker = format!("marker-{}", random_suffix(8));
    let script = format!("echo {marker}; ls /; exit 3");
    let out = sshd.ssh(&user).run(&script).expect("ssh runs");
    assert_eq!(out.code(), Some(3));
    assert!(contains(&out.stdout, marker.as_bytes()));

    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    assert_eq!(sessions.len(), 1, "one session for the user");
    let s = &sessions[0];
    // The cast holds exactly what the client printed.
    assert_eq!(
        String::from_utf8_lossy(&s.output()),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.output(), out.stdout);

    let est = s
        .of_type("connection_established")
        .next()
        .expect("established");
    assert_eq!(est["user"], user.name());
    assert_eq!(est["client_ip"], "127.0.0.1");
    assert_eq!(est["server_port"], sshd.port());
    let log = sshd.log_text().expect("sshd log");
    let port = est["client_port"].as_u64().expect("client port");
    assert!(
        log.contains(&format!("from 127.0.0.1 port {port}")),
        "client port {port} not in sshd log:\n{log}"
    );
    assert!(
        est["tty"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{est}"
    );

    let starts: Vec<_> = s.of_type("command_start").collect();
    let bash = starts
        .iter()
        .find(|r| r["argv"][0] == "bash")
        .expect("bash -c started");
    assert_eq!(bash["argv"], serde_json::json!(["bash", "-c", script]));
    assert_eq!(bash["uid"], user.uid());
    assert_eq!(bash["cwd"], user.home().to_string_lossy().as_ref());
    let ls = starts
        .iter()
        .find(|r| r["argv"][0] == "ls")
        .expect("ls started");
    assert_eq!(ls["argv"], serde_json::json!(["ls", "/"]));
    let finish = |pid: &serde_json::Value| {
        s.of_type("command_finish")
            .find(|r| &r["pid"] == pid)
            .unwrap_or_else(|| panic!("no finish for {pid}"))
            .clone()
    };
    assert_eq!(finish(&ls["pid"])["exit_code"], 0);
    assert_eq!(finish(&bash["pid"])["exit_code"], 3);
    // One exec, one marker: `ls /` is the only command `bash -c` ran
    // (echo is a builtin; the shell itself is not a command).
    assert_eq!(s.markers(), ["ls /"], "markers");

    let close = s.of_type("connection_close").next().expect("close");
    assert_eq!(close["user"], user.name());
    assert!(
        close["bytes_in"].as_u64() > Some(0) && close["bytes_out"].as_u64() > Some(0),
        "{close}"
    );

    // The global event log has the human lines.
    let elog = rec.event_log();
    assert!(
        elog.contains(&format!("{} executed ls /", user.name())),
        "{elog}"
    );
    assert!(s.of_type("data_loss").next().is_none());
}

#[test]
fn interactive_session_gets_command_markers_and_resize() {
    if !require_root_or_skip("interactive_session_gets_command_markers") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let marker = random_suffix(8);
    let out = sshd
        .ssh(&user)
        .line_delay(Duration::from_millis(300))
        .run_script(&[&format!("/bin/echo m-{marker}"), "exit 4"])
        .expect("script");
    assert_eq!(out.code(), Some(4));
    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    let s = &sessions[0];
    assert_eq!(s.output(), out.stdout);
    let (header, events) = s.cast_events();
    assert!(header.width > 0 && header.height > 0);
    let label = format!("/bin/echo m-{marker}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, sshlog_format::Event::Marker { label: l, .. } if *l == label)),
        "no marker for the command: {events:?}"
    );
}

#[test]
fn failed_login_is_recorded() {
    if !require_root_or_skip("failed_login_is_recorded") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let out = sshd
        .ssh_with_wrong_key(&user)
        .expect("wrong key")
        .run("true")
        .expect("ssh runs");
    assert!(!out.success());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = rec.event_log();
        if log.contains("connection_auth_failed") && log.contains(user.name()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no connection_auth_failed in:\n{log}\n{}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        rec.sessions_of(user.name()).is_empty(),
        "a failed login is not a session"
    );
}

#[test]
fn scp_upload_is_recorded() {
    if !require_root_or_skip("scp_upload_is_recorded") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let local = user.scratch_dir().join("payload.bin");
    let data: Vec<u8> = (0..123_457u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&local, &data).expect("payload");
    let remote = user.home().join("uploaded.bin");
    for legacy in [false, true] {
        let _ = std::fs::remove_file(&remote);
        sshd.scp(&user)
            .legacy(legacy)
            .upload(&local, &remote.to_string_lossy())
            .expect("scp");
        assert_eq!(std::fs::read(&remote).expect("uploaded"), data);
    }
    let sessions = rec.wait_closed(user.name(), 2, WAIT);
    for s in &sessions {
        let up = s
            .of_type("file_upload")
            .next()
            .unwrap_or_else(|| panic!("no file_upload in {:?}", s.records));
        assert_eq!(up["path"], remote.to_string_lossy().as_ref());
        assert_eq!(up["size"], data.len());
        assert_eq!(up["user"], user.name());
    }
}

#[test]
fn session_without_a_pty_records_stdout_and_stderr() {
    if !require_root_or_skip("session_without_a_pty") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let tag = random_suffix(8);
    let out = sshd
        .ssh(&user)
        .no_tty()
        .run(&format!("echo out-{tag}; echo err-{tag} >&2; exit 5"))
        .expect("ssh -T");
    assert_eq!(out.code(), Some(5));
    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    let s = &sessions[0];
    let recorded = s.output();
    assert!(
        contains(&recorded, format!("out-{tag}\n").as_bytes()),
        "{recorded:?}"
    );
    assert!(
        contains(&recorded, format!("err-{tag}\n").as_bytes()),
        "{recorded:?}"
    );
    let est = s
        .of_type("connection_established")
        .next()
        .expect("established");
    assert_eq!(est["tty"], serde_json::Value::Null);
    let bash = s
        .of_type("command_start")
        .find(|r| r["argv"][0] == "bash")
        .expect("bash");
    let fin = s
        .of_type("command_finish")
        .find(|r| r["pid"] == bash["pid"])
        .expect("finish");
    assert_eq!(fin["exit_code"], 5);
}
