//! sshlog agent configurations work unchanged: its vocabulary loads, its
//! named actions are shared by events, its kinds send what the agent sent
//! (payload, statsd metrics, syslog lines, query strings) to real endpoints on
//! 127.0.0.1, and its filters mean what they meant.

use std::fs;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use sshlog_actions::{check_dir, ActionEngine, EventContext};
use sshlog_format::{Record, SessionEvent};

mod common;
use common::*;

fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/agent_conf.d"
    ))
}

fn command_finish(id: uuid::Uuid, argv: &[&str], code: i32) -> Record {
    Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::CommandFinish {
            pid: 900,
            exit_code: Some(code),
            signal: None,
            duration_ms: 12,
            argv: argv.iter().map(|s| s.to_string()).collect(),
        },
    )
}

fn upload(id: uuid::Uuid, path: &str) -> Record {
    Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::FileUpload {
            path: path.into(),
            size: 3,
            user: Some("alice".into()),
            pid: 901,
            program: "scp".into(),
        },
    )
}

fn udp_listener() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let port = s.local_addr().expect("addr").port();
    (s, port)
}

fn datagram(s: &UdpSocket) -> String {
    let mut buf = [0u8; 65536];
    let n = s.recv(&mut buf).expect("a datagram within 10 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_agents_vocabulary_loads() {
    let summary = check_dir(fixtures(), fixtures()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.files.len(), 3);
    assert_eq!(summary.events.len(), 7, "{:?}", summary.events);
    assert_eq!(summary.actions, 9);
}

#[test]
fn named_actions_are_shared_and_overridden() {
    let (url, rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: in\n    triggers: [connection_established]\n    actions:\n      - action: team\n  \
         - event: cmd\n    triggers: [command_start]\n    actions:\n      - action: team\n        message_template: 'ran {{{{args}}}}'\n\
         actions:\n  - action: team\n    plugin: slack_action\n    slack_webhook_url: {url}/slack\n"
    ));
    let id = session();
    e.dispatch(&established(id, Some("/dev/pts/77")), &ctx(id));
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("slack post");
    assert_eq!(r.path, "/slack");
    let text: Value = serde_json::from_str(&r.body).expect("json");
    assert!(
        text["text"].as_str().unwrap_or_default().contains("alice"),
        "{}",
        r.body
    );
    e.dispatch(&command_start(id, &["nmap", "-sS"]), &ctx(id));
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("slack post");
    assert_eq!(r.body, r#"{"text":"ran nmap -sS"}"#);
    e.shutdown();
}

#[test]
fn references_to_missing_or_broken_definitions_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("a.yaml"),
        "events:\n  - event: x\n    triggers: [command_start]\n    actions:\n      - action: nowhere\n  \
         - event: y\n    triggers: [command_start]\n    actions:\n      - action: broken\n\
         actions:\n  - action: broken\n    plugin: statsd_action\n    server_adress: localhost\n",
    )
    .expect("write");
    let errs = check_dir(dir.path(), dir.path())
        .expect_err("rejected")
        .to_string();
    assert!(
        errs.contains(":5:9: action `nowhere` has no `plugin` and no top-level action of that name is defined (defined: broken)"),
        "{errs}"
    );
    assert!(
        errs.contains(":13:5: unknown option `server_adress` for statsd_action"),
        "{errs}"
    );
    assert!(
        errs.contains(":9:9: action `broken` is left out: its definition at"),
        "{errs}"
    );
}

#[test]
fn run_command_action_fills_in_the_agents_fields() {
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("said");
    let (e, _dir) = engine(&format!(
        "events:\n  - event: hello\n    triggers: [connection_established]\n    actions:\n      - action: greet\n        plugin: run_command_action\n        command: sh\n        args: [\"-c\", \"echo {{{{username}}}} on {{{{tty_id}}}} > {}\"]\n",
        file.display()
    ));
    let id = session();
    e.dispatch(&established(id, Some("/dev/pts/77")), &ctx(id));
    assert!(wait_for(Duration::from_secs(10), || fs::read_to_string(
        &file
    )
    .is_ok_and(|s| s == "alice on 77\n")));
    e.shutdown();
}

#[test]
fn statsd_with_the_agents_names_sends_the_agents_metrics() {
    let (sock, port) = udp_listener();
    let (e, _dir) = engine(&format!(
        "events:\n  - event: s\n    triggers: [command_start, connection_established]\n    actions:\n      - action: m\n        plugin: statsd_action\n        server_address: 127.0.0.1\n        port: {port}\n        statsd_prefix: sshlog.servers\n"
    ));
    let id = session();
    e.dispatch(&command_start(id, &["/usr/bin/nmap", "-sS"]), &ctx(id));
    let host = fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(
        datagram(&sock),
        format!(
            "sshlog.servers.command_start:1|c|#hostname:{},user:alice,pid:4242,command:nmap",
            host.trim()
        )
    );
    e.dispatch(&established(id, Some("/dev/pts/77")), &ctx(id));
    let d = datagram(&sock);
    assert!(
        d.starts_with("sshlog.servers.connection_established:1|c|#hostname:"),
        "{d}"
    );
    assert!(
        d.ends_with(",user:alice,pid:4242,client_ip:192.0.2.10,client_port:52144"),
        "{d}"
    );
    e.shutdown();
}

#[test]
fn syslog_with_the_agents_names_sends_the_agents_lines() {
    let (sock, port) = udp_listener();
    let (e, _dir) = engine(&format!(
        "events:\n  - event: s\n    triggers: [command_start, command_finish]\n    actions:\n      - action: text\n        plugin: syslog_action\n        server_address: 127.0.0.1\n        port: {port}\n        udp: True\n        program_name: sshlog\n        facility: 16\n        severity: 5\n      - action: json\n        plugin: syslog_action\n        server_address: 127.0.0.1\n        port: {port}\n        output_json: True\n"
    ));
    let id = session();
    e.dispatch(&command_start(id, &["nmap", "-sS"]), &ctx(id));
    let mut got = vec![datagram(&sock), datagram(&sock)];
    got.sort();
    // <16*8+5>: local0.notice; <3*8+6>: the agent's default daemon.info.
    assert!(got[0].starts_with("<133>1 "), "{got:?}");
    assert!(
        got[0].ends_with(
            " sshlog 4242 command_start - command_start          (4242) alice executed nmap -sS"
        ),
        "{got:?}"
    );
    assert!(got[1].starts_with("<30>1 "), "{got:?}");
    let json = got[1].split_once(" - ").expect("message").1;
    let v: Value = serde_json::from_str(json).expect("agent json");
    assert_eq!(v["event_type"], "command_start");
    assert_eq!(v["args"], "nmap -sS");
    assert_eq!(v["tty_id"], 77);
    e.shutdown();
}

#[test]
fn webhook_with_the_agents_names_posts_or_gets_the_agents_payload() {
    let (url, rx) = http_server(Mode::Ok);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: w\n    triggers: [connection_close]\n    actions:\n      - action: post\n        plugin: webhook_action\n        webhook_url: {url}/post\n      - action: get\n        plugin: webhook_action\n        webhook_url: {url}/get\n        do_get_request: True\n"
    ));
    let id = session();
    let close = Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::ConnectionClose {
            user: "alice".into(),
            sshd_pid: 4242,
            duration_ms: 1500,
            bytes_in: 1,
            bytes_out: 2,
        },
    );
    e.dispatch(&close, &ctx(id));
    let mut reqs = [
        rx.recv_timeout(Duration::from_secs(10)).expect("request"),
        rx.recv_timeout(Duration::from_secs(10)).expect("request"),
    ];
    reqs.sort_by(|a, b| a.method.cmp(&b.method));
    let (get, post) = (&reqs[0], &reqs[1]);
    assert_eq!(post.method, "POST");
    let v: Value = serde_json::from_str(&post.body).expect("json body");
    assert_eq!(v["event_type"], "connection_close");
    assert_eq!(v["ptm_pid"], 4242);
    assert_eq!(v["tcp_info"]["client_ip"], "192.0.2.10");
    assert_eq!(
        v["end_time"].as_i64().unwrap() - v["start_time"].as_i64().unwrap(),
        1500
    );
    assert_eq!(get.method, "GET");
    assert!(
        get.path
            .starts_with("/get?event_type=connection_close&ptm_pid=4242&username=alice&"),
        "{}",
        get.path
    );
    e.shutdown();
}

#[test]
fn the_agents_filters_and_output_json() {
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("hits.log");
    let (e, _dir) = engine(&format!(
        "events:\n  \
         - event: nonzero\n    triggers: [command_finish]\n    filters: {{command_exit_code: '!= 0', command_name_regex: '^(rm|dd)$', username_regex: '^al'}}\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {p}, output_json: True}}\n  \
         - event: big\n    triggers: [command_finish]\n    filters: {{command_exit_code: '> 1'}}\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {p}, output_json: True}}\n  \
         - event: listed\n    triggers: [command_finish]\n    filters: {{command_exit_code: [7, 9], command_output_contains: denied}}\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {p}, output_json: True}}\n  \
         - event: regex_out\n    triggers: [command_finish]\n    filters: {{command_output_contains_regex: 'No such (file|dir)'}}\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {p}, output_json: True}}\n  \
         - event: passwd\n    triggers: [file_upload]\n    filters: {{upload_file_path: /etc/passwd, upload_file_path_regex: '^/etc/'}}\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {p}, output_json: True}}\n",
        p = log.display()
    ));
    let id = session();
    let c = ctx(id);
    let with_output = |out: &str| EventContext {
        command_output: Some(out.into()),
        ..ctx(id)
    };
    e.dispatch(&command_finish(id, &["rm", "x"], 1), &c); // nonzero
    e.dispatch(&command_finish(id, &["ls"], 1), &c); // none
    e.dispatch(&command_finish(id, &["ls"], 3), &c); // big
    e.dispatch(
        &command_finish(id, &["cat"], 7),
        &with_output("Permission denied"),
    ); // big, listed
    e.dispatch(
        &command_finish(id, &["cat"], 0),
        &with_output("cat: x: No such file"),
    ); // regex_out
    e.dispatch(&upload(id, "/etc/../etc//passwd"), &c); // passwd
    e.dispatch(&upload(id, "/etc/shadow"), &c); // none
    let lines = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert!(
        wait_for(Duration::from_secs(10), || lines().len() >= 6),
        "{:?}",
        lines()
    );
    std::thread::sleep(Duration::from_millis(200));
    let got = lines();
    assert_eq!(got.len(), 6, "{got:#?}");
    let payloads: Vec<Value> = got
        .iter()
        .map(|l| {
            // `YYYY-MM-DD HH:MM:SS: {json}`, as the agent wrote it.
            assert_eq!(&l[19..21], ": ", "{l}");
            serde_json::from_str(&l[21..]).expect("json")
        })
        .collect();
    // Five actions append to one file, each from its own thread.
    let mut codes: Vec<i64> = payloads
        .iter()
        .filter_map(|p| p["exit_code"].as_i64())
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 1, 3, 7, 7]);
    let out: Vec<&str> = payloads
        .iter()
        .filter_map(|p| p["stdout"].as_str())
        .collect();
    assert!(out.contains(&"Permission denied"), "{out:?}");
    let uploads: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["event_type"] == "file_upload")
        .collect();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["target_path"], "/etc/../etc//passwd");
    e.shutdown();
}

#[test]
fn sessionlog_names_files_after_the_sshd_pid_by_default() {
    let logs = tempfile::tempdir().expect("tempdir");
    let (e, _dir) = engine(&format!(
        "events:\n  - event: s\n    triggers: [connection_established, terminal_update]\n    actions:\n      - action: t\n        plugin: sessionlog_action\n        log_directory: {}\n        timestamp_frequency_seconds: -1\n",
        logs.path().display()
    ));
    let id = session();
    e.dispatch(&established(id, Some("/dev/pts/77")), &ctx(id));
    let upd = Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::TerminalUpdate {
            text: "$ ls\r\n".into(),
        },
    );
    e.dispatch(&upd, &ctx(id));
    let file = logs.path().join("ssh_4242.log");
    assert!(wait_for(Duration::from_secs(10), || fs::read_to_string(
        &file
    )
    .is_ok_and(|s| s.contains("$ ls"))));
    let text = fs::read_to_string(&file).expect("log");
    assert!(!text.contains("---"), "no timestamp lines with -1: {text}");
    e.shutdown();
}

#[test]
fn an_engine_loads_every_valid_event_beside_a_broken_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("ok.log");
    fs::write(dir.path().join("a_broken.yaml"), "events:\n  - event: [\n").expect("write");
    fs::write(
        dir.path().join("b_ok.yaml"),
        format!(
            "events:\n  - event: fine\n    triggers: [command_start]\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: {}}}\n  - event: bad\n    triggers: [nonsense]\n    actions:\n      - {{action: a, plugin: eventlogfile_action, log_file_path: /x}}\n",
            log.display()
        ),
    )
    .expect("write");
    assert!(ActionEngine::load(dir.path(), dir.path()).is_err());
    let (e, errors) = ActionEngine::load_valid(dir.path(), dir.path(), None);
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(text.contains("a_broken.yaml:3:1:"), "{text}");
    assert!(
        text.contains("b_ok.yaml:7:16: unknown trigger `nonsense`"),
        "{text}"
    );
    let id = session();
    e.dispatch(&command_start(id, &["ls"]), &ctx(id));
    assert!(wait_for(Duration::from_secs(10), || fs::read_to_string(
        &log
    )
    .is_ok_and(|s| s.contains("executed ls"))));
    e.shutdown();
}
