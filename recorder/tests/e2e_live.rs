//! End-to-end: following a live session over the control socket, and injecting
//! keystrokes, which is refused unless the settings allow it.

mod common;

use base64::Engine;
use common::{contains, Recorder};
use serde_json::{json, Value};
use sshlog_harness::{random_suffix, require_root_or_skip, SshSession, Sshd, TestUser};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Opens an interactive session and waits until sshlogd lists it; returns its tty.
fn live_session(rec: &Recorder, sshd: &Sshd, user: &TestUser) -> (SshSession, String) {
    let mut s = sshd
        .ssh(user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    s.send_line("echo ready").expect("type");
    s.wait_for_stdout(b"\rready\r\n", Duration::from_secs(10))
        .expect("shell up");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = rec.request(r#"{"cmd":"sessions"}"#).expect("sessions");
        let tty = v["sessions"]
            .as_array()
            // Not a login of the same user that was still closing when this
            // sshlogd started (adopted, without its pty known).
            .and_then(|a| {
                a.iter()
                    .find(|s| s["user"] == user.name() && s["existing_login"] != true)
            })
            .and_then(|s| s["tty"].as_str().map(String::from));
        if let Some(tty) = tty {
            return (s, tty);
        }
        assert!(Instant::now() < deadline, "session not listed: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(rec: &Recorder, req: &Value) -> (BufReader<UnixStream>, Value) {
    let mut sock = UnixStream::connect(&rec.socket).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    sock.write_all(format!("{req}\n").as_bytes()).expect("send");
    let mut r = BufReader::new(sock);
    let mut line = String::new();
    r.read_line(&mut line).expect("reply");
    let v = serde_json::from_str(&line).expect("json reply");
    (r, v)
}

#[test]
fn follow_gets_everything_before_from_the_file_and_the_rest_live() {
    if !require_root_or_skip("follow_live") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let (mut session, tty) = live_session(&rec, &sshd, &user);
    let one = format!("one-{}", random_suffix(6));
    session.send_line(&format!("echo {one}")).expect("type");
    session
        .wait_for_stdout(format!("\r{one}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("one");
    std::thread::sleep(Duration::from_millis(200));

    let (mut r, hello) = send(&rec, &json!({"cmd": "follow", "target": tty}));
    assert_eq!(hello["ok"], true, "{hello}");
    let offset = hello["offset"].as_u64().expect("offset");
    let cast = hello["cast"].as_str().expect("cast path");
    let (_, events) = sshlog_format::read_cast_file(cast).expect("cast readable while live");
    let before: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            sshlog_format::Event::Output { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        before.len() as u64,
        offset,
        "the file holds exactly the bytes before the offset"
    );
    assert!(contains(&before, one.as_bytes()));

    let two = format!("two-{}", random_suffix(6));
    session.send_line(&format!("echo {two}")).expect("type");
    let mut live = Vec::new();
    let mut next = offset;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !contains(&live, format!("\r{two}\r\n").as_bytes()) {
        assert!(
            Instant::now() < deadline,
            "live output missing: {:?}",
            String::from_utf8_lossy(&live)
        );
        let mut line = String::new();
        r.read_line(&mut line).expect("live line");
        let v: Value = serde_json::from_str(&line).expect("json");
        if let Some(o) = v["o"].as_str() {
            assert_eq!(v["offset"].as_u64(), Some(next), "chunks are contiguous");
            let data = B64.decode(o).expect("base64");
            next += data.len() as u64;
            live.extend(data);
        }
    }
    session.send_line("exit").expect("exit");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("until end");
        if line.contains("\"end\":true") {
            break;
        }
        assert!(
            Instant::now() < deadline && !line.is_empty(),
            "no end marker"
        );
    }
    // What was followed equals what the client saw, byte for byte.
    let out = session
        .wait_timeout(Duration::from_secs(10))
        .expect("client ends");
    let mut all = before.clone();
    all.extend(&live);
    assert!(
        contains(&out.stdout, &all),
        "followed bytes are a prefix-exact part of the client output"
    );
}

#[test]
fn injection_is_refused_by_default_and_logged_when_allowed() {
    if !require_root_or_skip("injection") {
        return;
    }
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    {
        let rec = Recorder::start();
        let (mut session, tty) = live_session(&rec, &sshd, &user);
        let (_, v) = send(
            &rec,
            &json!({"cmd": "inject", "target": tty, "data": B64.encode("echo no\n")}),
        );
        assert_eq!(v["ok"], false);
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("injection is disabled")),
            "{v}"
        );
        session.send_line("exit").expect("exit");
        session.wait_timeout(Duration::from_secs(10)).expect("ends");
    }
    let rec = Recorder::start_with("allow_injection: true\n");
    let (mut session, tty) = live_session(&rec, &sshd, &user);
    let word = format!("injected-{}", random_suffix(6));
    // The tty is known from the session's first resize; the pty master from
    // its first output the capture thread has handled, which may be a few
    // milliseconds later: "no pty (yet)" is worth a retry.
    let deadline = Instant::now() + Duration::from_secs(5);
    let v = loop {
        let (_, v) = send(
            &rec,
            &json!({"cmd": "inject", "target": tty, "data": B64.encode(format!("echo {word}\n"))}),
        );
        let pending = v["error"].as_str().is_some_and(|e| e.contains("(yet)"));
        if !pending || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(v["ok"], true, "{v}");
    session
        .wait_for_stdout(format!("\r{word}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("injected command ran");
    session.send_line("exit").expect("exit");
    session.wait_timeout(Duration::from_secs(10)).expect("ends");
    let sessions = rec.wait_closed(user.name(), 1, Duration::from_secs(30));
    let inj = sessions
        .iter()
        .find_map(|s| s.of_type("terminal_injection").next().cloned())
        .expect("terminal_injection recorded");
    assert_eq!(inj["by_uid"], 0);
    assert_eq!(inj["by_user"], "root");
    assert_eq!(inj["bytes"], word.len() + 6);
}

#[test]
fn components_may_report_web_logins_but_not_session_events() {
    if !require_root_or_skip("report") {
        return;
    }
    let rec = Recorder::start();
    let web = json!({"cmd": "report", "record": {"schema": 1, "ts": "2026-11-28T10:00:00Z",
        "type": "web_login", "user": "admin", "client_ip": "127.0.0.1", "success": false, "reason": "bad password"}});
    let (_, v) = send(&rec, &web);
    assert_eq!(v["ok"], true, "{v}");
    let forged = json!({"cmd": "report", "record": {"schema": 1, "ts": "2026-11-28T10:00:00Z",
        "type": "connection_close", "user": "x", "sshd_pid": 1, "duration_ms": 0, "bytes_in": 0, "bytes_out": 0}});
    let (_, v) = send(&rec, &forged);
    assert_eq!(v["ok"], false, "{v}");
    let log = rec.event_log();
    assert!(
        log.contains(
            "web_login admin failed to log in to the web console from 127.0.0.1: bad password"
        ),
        "{log}"
    );
    assert!(!log.contains("connection_close"), "{log}");
}
