//! Sessions on sshd as distributions ship it: the system's own
//! `/etc/ssh/sshd_config` and PAM stack (pam_motd runs `run-parts
//! /etc/update-motd.d` as root before the shell), only port, listen address,
//! host key and pid file overridden; in each of three logging set-ups
//! (syslog(3) with no socket, syslog(3) to a socket the test listens on, `-e`
//! to stderr); on this host's OpenSSH (Debian 12: 9.2) and on Debian 13's
//! OpenSSH 10 (`sshd-session`/`sshd-auth`) in a chroot made with debootstrap.
//!
//! Each test logs in through a real terminal (tmux) and types four commands as
//! a person does, runs `ssh host CMD`, and uploads with scp (SFTP and the
//! legacy protocol) and sftp; then checks what sshlogd recorded: the user, the
//! tty, one marker per typed command and none for PAM's helpers, LAST COMMAND
//! in `sshlog sessions`, the web console's recording header, client address and
//! ports, connection_close, and who uploaded each file. In the chroot the user
//! has the uid of a different host user, so a host-side name lookup would show.

mod common;

use common::*;
use serde_json::Value;
use sshlog_harness::{debian_root, require_root_or_skip, RecordedSession, Sshd, SshdLog, TestUser};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The four commands typed in the interactive login, and the marker each
/// must get (bash's Debian profile aliases `ls` to `ls --color=auto`).
const TYPED: [(&str, &str); 4] = [
    ("uname -r", "uname -r"),
    ("ls /usr", "ls --color=auto /usr"),
    ("id -un", "id -un"),
    ("date +%s", "date +%s"),
];

/// Where the sshd under test comes from.
#[derive(Clone, Copy, PartialEq)]
enum System {
    /// This machine's own openssh-server.
    Host,
    /// Debian 13's (OpenSSH 10) in a cached debootstrap root.
    Debian13,
}

/// A stock sshd, the user to log in as, and what the test compares with.
struct Stock {
    sshd: Sshd,
    user: TestUser,
    /// For Debian13: the host user whose uid the chroot user shares.
    _host_twin: Option<TestUser>,
    root: Option<PathBuf>,
    log: SshdLog,
}

fn stock(system: System, log: SshdLog, name: &str) -> Option<Stock> {
    if !require_root_or_skip(name) {
        return None;
    }
    let (sshd, user, twin, root) = match system {
        System::Host => {
            let sshd = Sshd::builder()
                .distribution_default()
                .log(log)
                .start()
                .expect("stock sshd");
            (sshd, TestUser::create().expect("user"), None, None)
        }
        System::Debian13 => {
            let root = debian_root("trixie").expect("Debian 13 root (tools/debian-root trixie)");
            let twin = TestUser::create().expect("host user");
            let user = TestUser::builder()
                .root(&root)
                .uid(twin.uid())
                .create()
                .expect("user in the Debian 13 root");
            let sshd = Sshd::builder()
                .root(&root)
                .log(log)
                .start()
                .expect("Debian 13 sshd in a chroot");
            assert!(
                sshd.version().is_some_and(|v| v >= (9, 8)),
                "expected OpenSSH >= 9.8 in {}, got {:?}",
                root.display(),
                sshd.version()
            );
            (sshd, user, Some(twin), Some(root))
        }
    };
    Some(Stock {
        sshd,
        user,
        _host_twin: twin,
        root,
        log,
    })
}

/// Runs every check on one set-up.
fn check_all(system: System, log: SshdLog, name: &str) {
    let Some(s) = stock(system, log, name) else {
        return;
    };
    let rec = Recorder::start();
    interactive_login(&s, &rec);
    command_without_pty(&s, &rec);
    uploads(&s, &rec);
    check_sshd_log(&s);
    let logs = rec.logs();
    assert!(!logs.contains('\x1b'), "colour codes in a log file: {logs}");
}

/// The sessions of the test user, the newest last, once `n` are closed.
fn closed(rec: &Recorder, s: &Stock, n: usize) -> Vec<RecordedSession> {
    rec.wait_closed(s.user.name(), n, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// What every session of the user must say about who and where.
fn check_identity(s: &Stock, session: &RecordedSession) {
    let est = session.established();
    assert_eq!(est["user"], s.user.name(), "{est}");
    assert_eq!(est["client_ip"], "127.0.0.1", "{est}");
    assert!(est["client_port"].as_u64().is_some_and(|p| p > 0), "{est}");
    assert_eq!(est["server_port"], s.sshd.port(), "{est}");
    let want_root = s.root.as_ref().map(|r| r.display().to_string());
    assert_eq!(est["root"].as_str().map(str::to_string), want_root, "{est}");
    let close: Vec<&Value> = session.of_type("connection_close").collect();
    assert_eq!(
        close.len(),
        1,
        "one connection_close: {:?}",
        session.records
    );
    assert_eq!(close[0]["user"], s.user.name());
    assert!(close[0]["duration_ms"].as_u64().is_some(), "{}", close[0]);
    // PAM's session helpers ran (the distribution's stack is in use) and
    // are recorded with their real uid, root.
    let helpers: Vec<&Value> = session
        .of_type("command_start")
        .filter(|c| c["argv"].to_string().contains("update-motd.d"))
        .collect();
    assert!(
        !helpers.is_empty() && helpers.iter().all(|c| c["uid"] == 0 && c["user"] == "root"),
        "pam_motd's run-parts, as root: {helpers:?}"
    );
    assert!(
        !session
            .markers()
            .iter()
            .any(|m| m.contains("update-motd") || m.contains("unix_chkpwd")),
        "no marker for PAM's helpers: {:?}",
        session.markers()
    );
}

fn interactive_login(s: &Stock, rec: &Recorder) {
    let term = s
        .sshd
        .ssh(&s.user)
        .terminal(None, 100, 30)
        .expect("ssh in tmux");
    let prompt = ":~$ ";
    term.wait_for(prompt, 1, WAIT).expect("login prompt");
    for (i, (cmd, _)) in TYPED.iter().enumerate() {
        term.type_line(cmd).expect("type");
        term.wait_for(prompt, i + 2, WAIT)
            .expect("prompt after command");
    }
    // While the session is live: `sshlog sessions` names the user, the tty
    // and the last command typed.
    let deadline = Instant::now() + WAIT;
    let live = loop {
        let row = wait_for_session(rec, s.user.name());
        if row["last_command"] == "date +%s" {
            break row;
        }
        assert!(Instant::now() < deadline, "LAST COMMAND: {row}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let tty = live["tty"].as_str().expect("tty").to_string();
    assert!(tty.starts_with("/dev/pts/"), "{live}");
    let mut table = sshlog(rec);
    table.arg("sessions");
    let text = run_ok(table);
    let line = text
        .lines()
        .find(|l| l.starts_with(s.user.name()))
        .unwrap_or_else(|| panic!("no row for the user: {text}"));
    assert!(line.contains("date +%s") && line.contains(&tty), "{text}");
    term.type_line("exit").expect("type exit");
    term.wait_exit(WAIT).expect("ssh exits");

    let sessions = closed(rec, s, 1);
    assert_eq!(sessions.len(), 1, "one session so far");
    let session = &sessions[0];
    check_identity(s, session);
    assert_eq!(session.established()["tty"], tty.as_str());
    let want: Vec<&str> = TYPED.iter().map(|(_, m)| *m).collect();
    let markers = session.markers();
    let typed_markers: Vec<&str> = markers
        .iter()
        .map(String::as_str)
        .filter(|m| want.contains(m))
        .collect();
    assert_eq!(
        typed_markers, want,
        "one marker per typed command: {markers:?}"
    );
    for (_, argv) in TYPED {
        let starts: Vec<&Value> = session
            .of_type("command_start")
            .filter(|c| {
                c["argv"].as_array().is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                        == argv
                })
            })
            .collect();
        assert_eq!(starts.len(), 1, "{argv}: {:?}", session.records);
        let c = starts[0];
        assert_eq!(c["user"], s.user.name(), "{c}");
        assert_eq!(c["uid"], s.user.uid(), "{c}");
        let home = s.user.home_inside().display().to_string();
        assert_eq!(
            c["cwd"],
            home.as_str(),
            "cwd as the user's system sees it: {c}"
        );
    }
    let (header, _) = session.cast_events();
    let meta = header.sshlog_meta().expect("sshlog metadata");
    assert_eq!(meta.user.as_deref(), Some(s.user.name()));
    assert_eq!(meta.tty.as_deref(), Some(tty.as_str()));
    assert_eq!(
        header.env.get("SHELL").map(String::as_str),
        Some("/bin/bash"),
        "the user's login shell"
    );
    // The web console's recording page header: "USER from CLIENT on TTY".
    let id: uuid::Uuid = session.id().parse().expect("session id");
    let paths = sshlog_format::layout::SessionPaths {
        dir: session.events.parent().expect("dir").to_path_buf(),
        cast: session.cast.clone(),
        events: session.events.clone(),
    };
    let page = sshlog_player::web::recordings::load(&paths, id).expect("recording page");
    assert_eq!(page.user.as_deref(), Some(s.user.name()));
    assert_eq!(page.tty.as_deref(), Some(tty.as_str()));
    assert!(page
        .client
        .as_deref()
        .is_some_and(|c| c.starts_with("127.0.0.1:") && !c.ends_with(":0")));
    let event_log = rec.event_log();
    assert!(
        event_log.contains(s.user.name()),
        "the event log names the user: {event_log}"
    );
}

fn command_without_pty(s: &Stock, rec: &Recorder) {
    let out = s
        .sshd
        .ssh(&s.user)
        .no_tty()
        .run("echo out-$((6*7)); id -un")
        .expect("ssh host CMD");
    assert_eq!(out.code(), Some(0), "{}", out.stderr_text());
    assert_eq!(out.stdout_text(), format!("out-42\n{}\n", s.user.name()));
    let sessions = closed(rec, s, 2);
    let session = sessions.last().expect("the no-pty session");
    check_identity(s, session);
    assert_eq!(session.established()["tty"], Value::Null);
    assert!(
        contains(&session.output(), b"out-42\n"),
        "output recorded: {:?}",
        String::from_utf8_lossy(&session.output())
    );
    let id = session
        .of_type("command_start")
        .find(|c| c["argv"] == serde_json::json!(["id", "-un"]))
        .unwrap_or_else(|| panic!("id -un: {:?}", session.records));
    assert_eq!(id["user"], s.user.name());
    assert_eq!(id["uid"], s.user.uid());
}

fn uploads(s: &Stock, rec: &Recorder) {
    let src = s.user.scratch_dir().join("upload.bin");
    std::fs::write(&src, vec![7u8; 3000]).expect("write upload");
    let home = s.user.home_inside().display().to_string();
    let mut expected = Vec::new();
    for (legacy, name) in [(false, "via-sftp-proto.bin"), (true, "via-scp-proto.bin")] {
        let out = s
            .sshd
            .scp(&s.user)
            .legacy(legacy)
            .upload(&src, name)
            .expect("scp");
        assert!(out.success(), "scp -O={legacy}: {}", out.stderr_text());
        expected.push(format!("{home}/{name}"));
    }
    let batch = s.user.scratch_dir().join("sftp.batch");
    std::fs::write(&batch, format!("put {} via-sftp.bin\n", src.display())).expect("batch");
    let out = sshlog_harness::run_with_timeout(
        std::process::Command::new("sftp")
            .args(["-F", "/dev/null", "-b"])
            .arg(&batch)
            .args(["-i"])
            .arg(s.user.key_path())
            .args(["-P", &s.sshd.port().to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
            ])
            .arg(format!("{}@127.0.0.1", s.user.name())),
        "sftp",
        b"",
        WAIT,
    )
    .expect("sftp");
    assert!(out.success(), "sftp: {}", out.stderr_text());
    expected.push(format!("{home}/via-sftp.bin"));

    let sessions = closed(rec, s, 5);
    let upload_sessions = &sessions[sessions.len() - 3..];
    for (session, path) in upload_sessions.iter().zip(&expected) {
        check_identity(s, session);
        let ups: Vec<&Value> = session.of_type("file_upload").collect();
        assert_eq!(ups.len(), 1, "{path}: {:?}", session.records);
        assert_eq!(ups[0]["path"], path.as_str(), "{}", ups[0]);
        assert_eq!(ups[0]["user"], s.user.name(), "the uploader: {}", ups[0]);
        assert_eq!(ups[0]["size"], 3000, "{}", ups[0]);
    }
}

/// The set-up really is what it claims: the sshd log reaches the test (and
/// names the same user as the recording) exactly when it should.
fn check_sshd_log(s: &Stock) {
    let log = s.sshd.log_text().expect("sshd log");
    let accepted = format!("Accepted publickey for {}", s.user.name());
    match s.log {
        SshdLog::SyslogNoSocket => assert!(!log.contains("Accepted"), "{log}"),
        SshdLog::SyslogSocket | SshdLog::Stderr => {
            assert!(log.contains(&accepted), "{log}")
        }
    }
}

#[test]
fn openssh_host_syslog_without_socket() {
    check_all(
        System::Host,
        SshdLog::SyslogNoSocket,
        "openssh_host_syslog_without_socket",
    );
}

#[test]
fn openssh_host_syslog_socket() {
    check_all(
        System::Host,
        SshdLog::SyslogSocket,
        "openssh_host_syslog_socket",
    );
}

#[test]
fn openssh_host_stderr() {
    check_all(System::Host, SshdLog::Stderr, "openssh_host_stderr");
}

#[test]
fn openssh10_chroot_syslog_without_socket() {
    check_all(
        System::Debian13,
        SshdLog::SyslogNoSocket,
        "openssh10_chroot_syslog_without_socket",
    );
}

#[test]
fn openssh10_chroot_syslog_socket() {
    check_all(
        System::Debian13,
        SshdLog::SyslogSocket,
        "openssh10_chroot_syslog_socket",
    );
}

#[test]
fn openssh10_chroot_stderr() {
    check_all(System::Debian13, SshdLog::Stderr, "openssh10_chroot_stderr");
}
