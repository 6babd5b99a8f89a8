//! Actions delivering to real local endpoints: an HTTP server on 127.0.0.1
//! (webhook, slack), a UDP socket (statsd), files (eventlogfile,
//! sessionlog), programs (runcommand) and a pty (message_to_session). Also:
//! a hanging endpoint never stalls dispatch or other actions, full queues
//! drop and count, shutdown is bounded.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::net::UdpSocket;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::Value;
use sshlog_actions::{ActionEngine, EventContext};
use sshlog_format::{human_line, Record, SessionEvent};

mod common;
use common::*;

// ---------------------------------------------------------------- webhook

#[test]
fn webhook_posts_the_event_json() {
    let (url, rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: nmap\n    triggers: [command_start]\n    filters: {{command_name: nmap, username: [alice, bob]}}\n    actions:\n      - action: notify\n        plugin: webhook_action\n        url: {url}/hooks/abc\n"
    ));
    let id = session();
    e.dispatch(&command_start(id, &["ls"]), &ctx(id)); // filtered out
    e.dispatch(&command_start(id, &["nmap", "-sS", "10.0.0.1"]), &ctx(id));
    let req = rx.recv_timeout(Duration::from_secs(10)).expect("request");
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/abc");
    assert_eq!(req.headers["content-type"], "application/json");
    let v: Value = serde_json::from_str(&req.body).expect("json body");
    assert_eq!(v["type"], "command_start");
    assert_eq!(v["argv"][0], "nmap");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["session_id"], id.to_string());
    // Context fields the record lacks are added.
    assert_eq!(v["client_ip"], "192.0.2.10");
    assert_eq!(v["tty"], "/dev/pts/77");
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "ls must not be sent"
    );
    assert!(wait_for(Duration::from_secs(5), || stats(
        &e,
        "nmap/notify"
    )
    .sent
        == 1));
    let s = e.stats();
    assert_eq!(s["nmap/notify"]["plugin"], "webhook_action");
    assert_eq!(s["nmap/notify"]["sent"], 1);
    assert_eq!(s["nmap/notify"]["failed"], 0);
    e.shutdown();
}

#[test]
fn webhook_body_template_and_headers() {
    let (url, rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        r#"events:
  - event: cmds
    triggers: command_start
    actions:
      - action: templated
        plugin: webhook_action
        url: {url}/t
        method: put
        headers: {{X-Token: s3cret, Content-Type: application/json}}
        body_template: '{{"who": {{{{user|json}}}}, "cmd": "{{{{argv}}}}", "host": "{{{{hostname}}}}"}}'
"#
    ));
    let id = session();
    e.dispatch(&command_start(id, &["id", "-un"]), &ctx(id));
    let req = rx.recv_timeout(Duration::from_secs(10)).expect("request");
    assert_eq!(req.method, "PUT");
    assert_eq!(req.headers["x-token"], "s3cret");
    let v: Value = serde_json::from_str(&req.body).expect("json body");
    assert_eq!(v["who"], "alice");
    assert_eq!(v["cmd"], "id -un");
    e.shutdown();
}

#[test]
fn failing_endpoints_are_retried_then_given_up_and_counted() {
    let (bad_url, bad_rx) = http_server(Mode::Fail500);
    let (closing_url, closing_rx) = http_server(Mode::CloseAtOnce);
    let (good_url, good_rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: ev\n    triggers: [\"*\"]\n    actions:\n      - action: err500\n        plugin: webhook_action\n        url: {bad_url}/x\n        retries: 2\n        retry_delay_ms: 50\n        timeout_ms: 2000\n      - action: closes\n        plugin: webhook_action\n        url: {closing_url}/x\n        retries: 1\n        retry_delay_ms: 20\n        timeout_ms: 2000\n      - action: good\n        plugin: webhook_action\n        url: {good_url}/x\n"
    ));
    let id = session();
    let started = Instant::now();
    e.dispatch(&command_start(id, &["true"]), &ctx(id));
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "dispatch blocked"
    );
    // The good endpoint is served at once.
    good_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("good delivered");
    // 1 + 2 retries with a 500 each, then given up.
    for i in 0..3 {
        bad_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("attempt {i} to the 500 endpoint"));
    }
    for i in 0..2 {
        closing_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("attempt {i} to the closing endpoint"));
    }
    assert!(wait_for(Duration::from_secs(5), || stats(&e, "ev/err500")
        .failed
        == 1
        && stats(&e, "ev/closes").failed == 1));
    assert!(
        bad_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "no 4th attempt"
    );
    assert!(
        closing_rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "no 3rd attempt"
    );
    // Dispatch keeps going.
    e.dispatch(&command_start(id, &["true"]), &ctx(id));
    good_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("second event delivered");
    assert_eq!(stats(&e, "ev/good").failed, 0);
    e.shutdown_within(Duration::from_secs(3));
}

#[test]
fn a_hanging_endpoint_stalls_neither_dispatch_nor_other_actions() {
    let (hang_url, _listener) = black_hole();
    let (good_url, good_rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: slow\n    triggers: [command_start]\n    actions:\n      - action: hangs\n        plugin: webhook_action\n        url: {hang_url}\n        timeout_ms: 3000\n        retries: 0\n        queue_size: 2\n  - event: fast\n    triggers: [command_start]\n    actions:\n      - action: quick\n        plugin: webhook_action\n        url: {good_url}/q\n"
    ));
    let id = session();
    let started = Instant::now();
    for i in 0..10 {
        e.dispatch(&command_start(id, &["echo", &i.to_string()]), &ctx(id));
    }
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "dispatch took {:?}",
        started.elapsed()
    );
    let mut got = Vec::new();
    for _ in 0..10 {
        let r = good_rx
            .recv_timeout(Duration::from_secs(2))
            .expect("fast action delivered while the other hangs");
        let v: Value = serde_json::from_str(&r.body).expect("json");
        got.push(v["argv"][1].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(got, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    // One in flight, two queued, the other seven dropped and counted.
    // (8 when the worker had not yet taken the first event off the queue.)
    let slow = stats(&e, "slow/hangs");
    assert!((7..=8).contains(&slow.dropped), "{slow:?}");
    assert_eq!(slow.sent, 0);
    assert!(wait_for(Duration::from_secs(2), || stats(&e, "fast/quick")
        .sent
        == 10));
    // Shutdown is bounded although the slow action is still busy.
    let t = Instant::now();
    e.shutdown_within(Duration::from_secs(1));
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "shutdown took {:?}",
        t.elapsed()
    );
}

// ------------------------------------------------------------------ slack

#[test]
fn slack_posts_a_text_message() {
    let (url, rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: login\n    triggers: [connection_established]\n    filters: {{ignore_existing_logins: true}}\n    actions:\n      - action: slack\n        plugin: slack_action\n        url: {url}/services/T/B/X\n        message_template: \"{{{{user}}}} logged in from {{{{client_ip}}}}\"\n      - action: slack_default\n        plugin: slack_action\n        url: {url}/default\n"
    ));
    let id = session();
    let mut existing = ctx(id);
    existing.existing_login = true;
    e.dispatch(&established(id, None), &existing); // ignored
    e.dispatch(&established(id, Some("/dev/pts/9")), &ctx(id));
    let mut bodies = HashMap::new();
    for _ in 0..2 {
        let r = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("slack post");
        assert_eq!(r.headers["content-type"], "application/json");
        let v: Value = serde_json::from_str(&r.body).expect("json");
        bodies.insert(r.path, v["text"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(bodies["/services/T/B/X"], "alice logged in from 192.0.2.10");
    assert!(
        bodies["/default"]
            .ends_with("connection_established (4242) alice from 192.0.2.10:52144 on /dev/pts/9"),
        "{bodies:?}"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "existing login was posted"
    );
    e.shutdown();
}

// ----------------------------------------------------------------- statsd

#[test]
fn statsd_receives_well_formed_metrics() {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let port = sock.local_addr().expect("addr").port();
    let (e, _dir) = engine(&format!(
        "events:\n  - event: stats\n    triggers: all\n    actions:\n      - action: statsd\n        plugin: statsd_action\n        server: 127.0.0.1:{port}\n        prefix: pfx\n"
    ));
    let id = session();
    let c = ctx(id);
    let rec = |ev| Record::new(Utc::now(), Some(id), ev);
    e.dispatch(&established(id, Some("/dev/pts/1")), &c);
    e.dispatch(
        &rec(SessionEvent::ConnectionAuthFailed {
            user: Some("root".into()),
            client_ip: "198.51.100.7".into(),
            client_port: 4000,
            method: Some("password".into()),
            sshd_pid: 9,
        }),
        &EventContext::default(),
    );
    e.dispatch(&command_start(id, &["ls"]), &c);
    e.dispatch(
        &rec(SessionEvent::CommandFinish {
            pid: 1805,
            exit_code: Some(2),
            signal: None,
            duration_ms: 12,
            argv: vec!["ls".into()],
        }),
        &c,
    );
    e.dispatch(
        &rec(SessionEvent::FileUpload {
            path: "/tmp/f".into(),
            size: 1024,
            user: Some("alice".into()),
            pid: 3,
            program: "scp".into(),
        }),
        &c,
    );
    e.dispatch(
        &rec(SessionEvent::DataLoss {
            bytes_dropped: 100,
            events_dropped: 2,
            reason: "ring buffer full".into(),
        }),
        &c,
    );
    e.dispatch(
        &rec(SessionEvent::TerminalUpdate {
            text: "no metrics for this".into(),
        }),
        &c,
    );
    e.dispatch(
        &rec(SessionEvent::ConnectionClose {
            user: "alice".into(),
            sshd_pid: 4242,
            duration_ms: 301500,
            bytes_in: 812,
            bytes_out: 48213,
        }),
        &c,
    );
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..7 {
        let n = sock.recv(&mut buf).expect("datagram");
        let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
        lines.extend(text.lines().map(str::to_owned));
    }
    let metric = regex::Regex::new(r"^pfx\.[a-z_]+:\d+\|(c|ms|g)$").expect("regex");
    for l in &lines {
        assert!(metric.is_match(l), "malformed metric {l:?}");
    }
    for want in [
        "pfx.logins:1|c",
        "pfx.active_sessions:1|g",
        "pfx.auth_failures:1|c",
        "pfx.commands:1|c",
        "pfx.command_duration:12|ms",
        "pfx.command_failures:1|c",
        "pfx.uploads:1|c",
        "pfx.upload_bytes:1024|c",
        "pfx.data_loss:1|c",
        "pfx.data_loss_bytes:100|c",
        "pfx.logouts:1|c",
        "pfx.session_duration:301500|ms",
        "pfx.bytes_in:812|c",
        "pfx.bytes_out:48213|c",
        "pfx.active_sessions:0|g",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing {want} in {lines:?}"
        );
    }
    assert!(wait_for(Duration::from_secs(2), || stats(
        &e,
        "stats/statsd"
    )
    .skipped
        == 1));
    e.shutdown();
}

// ------------------------------------------------------------ log files

#[test]
fn eventlogfile_writes_human_lines_and_rotates() {
    let logs = tempfile::tempdir().expect("tempdir");
    let path = logs.path().join("sub/events.log");
    let (e, _dir) = engine(&format!(
        "events:\n  - event: all\n    triggers: \"*\"\n    actions:\n      - action: file\n        plugin: eventlogfile_action\n        log_file_path: {}\n        max_size_mb: 1\n        number_of_log_files: 2\n        queue_size: 10000\n",
        path.display()
    ));
    let id = session();
    let recs = [
        established(id, Some("/dev/pts/3")),
        command_start(id, &["id", "-un"]),
    ];
    for r in &recs {
        e.dispatch(r, &ctx(id));
    }
    assert!(wait_for(Duration::from_secs(5), || stats(&e, "all/file")
        .sent
        == 2));
    let text = fs::read_to_string(&path).expect("log");
    let want: Vec<String> = recs.iter().map(human_line).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
    // Push past 1 MiB: the file rotates to events.log.1.
    let big = "x".repeat(150);
    for _ in 0..8000 {
        e.dispatch(
            &Record::new(
                Utc::now(),
                Some(id),
                SessionEvent::TerminalUpdate { text: big.clone() },
            ),
            &ctx(id),
        );
    }
    assert!(
        wait_for(Duration::from_secs(20), || stats(&e, "all/file").sent
            == 8002),
        "{}",
        e.stats()
    );
    assert_eq!(stats(&e, "all/file").dropped, 0);
    e.shutdown();
    assert!(logs.path().join("sub/events.log.1").exists(), "not rotated");
    assert!(fs::metadata(&path).expect("log").len() <= 1024 * 1024);
}

#[test]
fn sessionlog_keeps_terminal_text_with_timestamps() {
    let logs = tempfile::tempdir().expect("tempdir");
    let (e, _dir) = engine(&format!(
        "events:\n  - event: sessions\n    triggers: [connection_established, terminal_update, connection_close]\n    actions:\n      - action: text\n        plugin: sessionlog_action\n        log_directory: {}\n        timestamp_frequency_seconds: 60\n        file_names: user_session\n",
        logs.path().display()
    ));
    let id = session();
    let t0 = Utc
        .with_ymd_and_hms(2024, 5, 1, 10, 0, 0)
        .single()
        .expect("time");
    let at = |s: i64, ev| Record::new(t0 + chrono::Duration::seconds(s), Some(id), ev);
    let upd = |t: &str| SessionEvent::TerminalUpdate { text: t.into() };
    let c = ctx(id);
    let mut est = established(id, Some("/dev/pts/3"));
    est.ts = t0;
    e.dispatch(&est, &c);
    e.dispatch(&at(1, upd("alice@host:~$ ls\n")), &c);
    e.dispatch(&at(2, upd("notes.txt\n")), &c);
    e.dispatch(&at(75, upd("alice@host:~$ exit\n")), &c);
    e.dispatch(
        &at(
            76,
            SessionEvent::ConnectionClose {
                user: "alice".into(),
                sshd_pid: 4242,
                duration_ms: 76_000,
                bytes_in: 1,
                bytes_out: 2,
            },
        ),
        &c,
    );
    assert!(wait_for(Duration::from_secs(5), || stats(
        &e,
        "sessions/text"
    )
    .sent
        == 5));
    e.shutdown();
    let text =
        fs::read_to_string(logs.path().join(format!("alice_{id}.log"))).expect("session log");
    assert_eq!(
        text,
        "=== session of alice from 192.0.2.10 on /dev/pts/3 started 2024-05-01T10:00:00Z ===\n\
         \n--- 2024-05-01T10:00:01Z ---\nalice@host:~$ ls\nnotes.txt\n\
         \n--- 2024-05-01T10:01:15Z ---\nalice@host:~$ exit\n\
         \n=== session ended 2024-05-01T10:01:16Z after 76s ===\n"
    );
}

// ------------------------------------------------------------- runcommand

#[test]
fn runcommand_gets_json_on_stdin_env_and_templated_args() {
    let out = tempfile::tempdir().expect("tempdir");
    let p = out.path();
    let (e, _dir) = engine(&format!(
        r#"events:
  - event: on_nmap
    triggers: [command_start]
    filters: {{command_name: "nmap"}}
    actions:
      - action: script
        plugin: runcommand_action
        command: ["/bin/sh", "-c", "cat > {p}/stdin.json; env > {p}/env.txt; printf '%s' \"$1\" > {p}/arg.txt", "sh", "{{{{user}}}} ran {{{{argv}}}}"]
      - action: shell
        plugin: runcommand_action
        shell: true
        command: echo "$SSHLOG_USER $SSHLOG_EVENT_TYPE" > {p}/shell.txt
"#,
        p = p.display()
    ));
    let id = session();
    e.dispatch(
        &command_start(id, &["nmap", "-sS", "10.0.0.0/24"]),
        &ctx(id),
    );
    assert!(
        wait_for(Duration::from_secs(10), || {
            stats(&e, "on_nmap/script").sent == 1 && stats(&e, "on_nmap/shell").sent == 1
        }),
        "{}",
        e.stats()
    );
    let v: Value = serde_json::from_str(&fs::read_to_string(p.join("stdin.json")).expect("stdin"))
        .expect("json");
    assert_eq!(v["type"], "command_start");
    assert_eq!(v["argv"][2], "10.0.0.0/24");
    assert_eq!(v["session_id"], id.to_string());
    let env = fs::read_to_string(p.join("env.txt")).expect("env");
    for want in [
        "SSHLOG_EVENT_TYPE=command_start".to_owned(),
        "SSHLOG_USER=alice".to_owned(),
        format!("SSHLOG_SESSION_ID={id}"),
        "SSHLOG_CLIENT_IP=192.0.2.10".to_owned(),
        "SSHLOG_TTY=/dev/pts/77".to_owned(),
        "SSHLOG_ARGV=nmap -sS 10.0.0.0/24".to_owned(),
        "SSHLOG_EVENT_NAME=on_nmap".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == want), "missing {want}");
    }
    assert_eq!(
        fs::read_to_string(p.join("arg.txt")).expect("arg"),
        "alice ran nmap -sS 10.0.0.0/24"
    );
    assert_eq!(
        fs::read_to_string(p.join("shell.txt")).expect("shell"),
        "alice command_start\n"
    );
    e.shutdown();
}

#[test]
fn runcommand_timeout_and_failure_are_counted() {
    let (e, _dir) = engine(
        "events:\n  - event: ev\n    triggers: [command_start]\n    actions:\n      - action: slow\n        plugin: runcommand_action\n        command: [/bin/sleep, \"30\"]\n        timeout_ms: 200\n      - action: fails\n        plugin: runcommand_action\n        command: [/bin/false]\n      - action: missing\n        plugin: runcommand_action\n        command: [/nonexistent/program]\n",
    );
    let id = session();
    let t = Instant::now();
    e.dispatch(&command_start(id, &["x"]), &ctx(id));
    assert!(
        wait_for(Duration::from_secs(5), || {
            stats(&e, "ev/slow").failed == 1
                && stats(&e, "ev/fails").failed == 1
                && stats(&e, "ev/missing").failed == 1
        }),
        "{}",
        e.stats()
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the timeout was not enforced"
    );
    e.shutdown();
}

// ---------------------------------------------------- message_to_session

#[test]
fn message_to_session_writes_to_the_terminal() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
    let (e, _dir) = engine(
        "events:\n  - event: motd\n    triggers: [connection_established]\n    filters: {username: alice, require_tty: true}\n    actions:\n      - action: hello\n        plugin: message_to_session_action\n        message: \"Hello {{user}}, this session is recorded.\"\n",
    );
    let id = session();
    let tty = slave_path.to_string_lossy().into_owned();
    let mut c = ctx(id);
    c.tty = Some(tty.clone());
    e.dispatch(&established(id, Some(&tty)), &c);
    let mut master = fs::File::from(pty.master);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&got).contains("recorded.") && Instant::now() < end {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            got.extend(chunk);
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&got),
        "Hello alice, this session is recorded.\r\n"
    );
    // No tty: skipped, not failed.
    let mut no_tty = ctx(id);
    no_tty.tty = None;
    let e2_dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        e2_dir.path().join("m.yaml"),
        "events:\n  - event: m\n    triggers: [connection_established]\n    actions:\n      - action: hi\n        plugin: message_to_session_action\n        message: hi\n",
    )
    .expect("write");
    let e2 = ActionEngine::load(e2_dir.path(), e2_dir.path()).expect("valid");
    e2.dispatch(&established(id, None), &no_tty);
    assert!(wait_for(Duration::from_secs(5), || stats(&e2, "m/hi")
        .skipped
        == 1));
    assert_eq!(stats(&e2, "m/hi").failed, 0);
    drop(pty.slave);
    e.shutdown();
    e2.shutdown();
}

// ------------------------------------------------------------------ misc

#[test]
fn wants_reflects_the_triggers() {
    let (e, _dir) = engine(
        "events:\n  - event: a\n    triggers: [command_finish, file_upload]\n    actions:\n      - action: x\n        plugin: statsd_action\n        server: 127.0.0.1:9\n",
    );
    assert!(e.wants("command_finish"));
    assert!(e.wants("file_upload"));
    assert!(!e.wants("terminal_update"));
    e.shutdown();
    let empty = ActionEngine::empty();
    assert!(!empty.wants("command_start"));
    assert_eq!(empty.stats(), serde_json::json!({}));
}
