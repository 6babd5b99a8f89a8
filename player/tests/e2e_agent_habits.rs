//! End-to-end: the sshlog agent's habits work: `sshlog kill TTY` (only when
//! allowed; audited), `sshlog attach -r`, a global `--json`, `sshlogd
//! --debug --logfile`, `SSHLOG_ENABLE_SESSION_INJECTION` and
//! `SSHLOG_ENABLE_DIAGNOSTIC_WEB` (refusing admin/admin).

mod common;

use common::*;
use sshlog_harness::{random_suffix, require_root_or_skip, Spawned, Sshd, TestUser};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn tty_of(rec: &Recorder, user: &TestUser) -> String {
    wait_for_session(rec, user.name())["tty"]
        .as_str()
        .expect("tty")
        .to_string()
}

#[test]
fn kill_ends_a_session_only_when_allowed_and_is_audited() {
    if !require_root_or_skip("sshlog_kill") {
        return;
    }
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    {
        let rec = Recorder::start();
        let mut session = open_session(&sshd, &user);
        let tty = tty_of(&rec, &user);
        let o = sshlog(&rec).args(["kill", &tty]).output().expect("run");
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("killing sessions is disabled; set `allow_kill: true`"),
            "{err}"
        );
        session.send_line("exit").expect("exit");
        session.wait_timeout(Duration::from_secs(10)).expect("ends");
    }
    let rec = Recorder::start_with("allow_kill: true\n");
    let mut session = open_session(&sshd, &user);
    let tty = tty_of(&rec, &user);
    let text = run_ok({
        let mut c = sshlog(&rec);
        c.args(["kill", &tty]);
        c
    });
    assert!(
        text.contains(&format!("ended the session on {tty}")),
        "{text}"
    );
    // The user's client is disconnected without typing anything.
    session
        .wait_timeout(Duration::from_secs(20))
        .expect("the session ended");
    let closed = rec
        .wait_closed(user.name(), 1, Duration::from_secs(20))
        .expect("closed");
    let killed: Vec<_> = closed[0].of_type("session_killed").collect();
    assert_eq!(killed.len(), 1, "{:?}", closed[0].events);
    assert_eq!(killed[0]["by_uid"], 0);
    assert_eq!(killed[0]["by_user"], "root");
    assert!(
        rec.event_log().contains("session_killed"),
        "{}",
        rec.event_log()
    );
}

#[test]
fn attach_readonly_never_types_even_when_allowed() {
    if !require_root_or_skip("attach_readonly") {
        return;
    }
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let rec = Recorder::start_with("allow_injection: true\n");
    let mut session = open_session(&sshd, &user);
    let tty = tty_of(&rec, &user);
    let mut cmd = sshlog(&rec);
    cmd.args(["attach", "-r", &tty])
        .stdin(std::process::Stdio::piped());
    let mut attach = Spawned::spawn(&mut cmd, "sshlog attach -r").expect("attach");
    let word = random_suffix(6);
    attach
        .write(format!("echo not-{word}\n\x11").into_bytes())
        .expect("keys");
    let out = attach
        .wait_timeout(Duration::from_secs(10))
        .expect("Ctrl+Q detaches");
    assert!(
        out.stderr_text().contains("read-only (--readonly)"),
        "{}",
        out.stderr_text()
    );
    session.send_line("exit").expect("exit");
    let client = session.wait_timeout(Duration::from_secs(10)).expect("ends");
    assert!(
        !contains(&client.stdout, format!("\rnot-{word}\r\n").as_bytes()),
        "typed"
    );
}

#[test]
fn global_json_debug_logfile_and_the_injection_switch() {
    if !require_root_or_skip("agent_switches") {
        return;
    }
    let mut rec = Recorder::start();
    rec.stop();
    let logfile = rec.dir.path().join("sshlogd.log");
    rec.args = vec![
        "--debug".into(),
        "--logfile".into(),
        logfile.display().to_string(),
    ];
    rec.env = vec![("SSHLOG_ENABLE_SESSION_INJECTION".into(), "1".into())];
    rec.spawn().expect("restart sshlogd");
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut session = open_session(&sshd, &user);
    let tty = tty_of(&rec, &user);
    // --json before or after the command.
    for args in [vec!["--json", "sessions"], vec!["sessions", "--json"]] {
        let out = run_ok({
            let mut c = sshlog(&rec);
            c.args(&args);
            c
        });
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert!(
            v.as_array().is_some_and(|a| !a.is_empty()),
            "{args:?}: {out}"
        );
    }
    let stats: serde_json::Value = serde_json::from_str(&run_ok({
        let mut c = sshlog(&rec);
        c.args(["--json", "stats"]);
        c
    }))
    .expect("JSON");
    assert!(stats["kernel_events"].as_u64().is_some(), "{stats}");
    // SSHLOG_ENABLE_SESSION_INJECTION=1 is allow_injection: true.
    let probe = format!(r#"{{"cmd":"inject","target":"{tty}","data":""}}"#);
    let answer = rec.request(&probe).expect("answer");
    assert_eq!(answer["ok"], true, "{answer}");
    session.send_line("exit").expect("exit");
    session.wait_timeout(Duration::from_secs(10)).expect("ends");
    let log = std::fs::read_to_string(&logfile).expect("log file");
    assert!(
        log.contains("DEBUG"),
        "no debug lines in {}",
        logfile.display()
    );
    assert!(log.contains("sshlogd recording under"), "{log}");
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn the_diagnostic_web_switch_starts_the_console_but_never_with_admin_admin() {
    if !require_root_or_skip("diagnostic_web") {
        return;
    }
    let mut rec = Recorder::start();
    rec.stop();
    let port = free_port();
    let web_yaml = rec.dir.path().join("web.yaml");
    std::fs::write(&web_yaml, format!("listen: 127.0.0.1:{port}\n")).expect("web.yaml");
    let env = |user: &str, pass: &str| {
        vec![
            ("SSHLOG_ENABLE_DIAGNOSTIC_WEB".to_string(), "1".to_string()),
            ("SSHLOG_WEB_USER".to_string(), user.to_string()),
            ("SSHLOG_WEB_PASS".to_string(), pass.to_string()),
            (
                "SSHLOG_WEB_CONFIG".to_string(),
                web_yaml.display().to_string(),
            ),
        ]
    };
    rec.env = env("admin", "admin");
    rec.spawn().expect("restart sshlogd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rec
        .logs()
        .contains("admin/admin, the sshlog agent's well-known default")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rec.ping(), "sshlogd must keep running");
    assert!(
        http_get(port, "/login").is_none(),
        "the console started with admin/admin"
    );
    rec.stop();

    rec.env = env("ops", "a long passphrase for ops");
    rec.spawn().expect("restart sshlogd");
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        if let Some(p) = http_get(port, "/login") {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the console never answered: {}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    // It is sshlogd's child `sshlog web` that answers.
    let child = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| contains(&c, b"web") && contains(&c, rec.socket.display().to_string().as_bytes()));
    assert!(child, "sshlogd did not start `sshlog web`");
    rec.stop();
    assert!(
        http_get(port, "/login").is_none(),
        "the console outlived sshlogd"
    );
}
