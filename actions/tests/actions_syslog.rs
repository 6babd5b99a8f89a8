//! `syslog_action` against a real rsyslogd (Debian's rsyslog) started with
//! its own configuration on free loopback ports: RFC 5424 messages arrive
//! over UDP and over TCP (octet counting) and rsyslog parses them (app-name,
//! msgid, structured data). Skipped when rsyslogd is missing, except under
//! CI=true where that is a failure.

use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use sshlog_actions::{ActionEngine, EventContext};
use sshlog_format::{Record, SessionEvent};
use sshlog_harness::{rsyslogd, Rsyslog};
use uuid::Uuid;

fn start_rsyslog(bin: &Path) -> Rsyslog {
    Rsyslog::start(bin).expect("rsyslogd")
}

fn read_lines(rs: &Rsyslog, n: usize, limit: Duration) -> Vec<String> {
    rs.lines(n, limit)
}

#[test]
fn rfc5424_over_udp_and_tcp_to_rsyslogd() {
    let Some(bin) = rsyslogd() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("rsyslogd missing (install rsyslog); CI=true: refusing to skip");
        }
        eprintln!("rfc5424_over_udp_and_tcp_to_rsyslogd: skipped, rsyslogd missing");
        return;
    };
    let rs = start_rsyslog(&bin);
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        cfg_dir.path().join("syslog.yaml"),
        format!(
            "events:\n  - event: to_syslog\n    triggers: [command_start]\n    actions:\n      - action: udp\n        plugin: syslog_action\n        server: 127.0.0.1:{udp}\n        facility: authpriv\n        hostname: testhost\n      - action: tcp\n        plugin: syslog_action\n        server: 127.0.0.1:{tcp}\n        transport: tcp\n        facility: local3\n        severity: warning\n        app_name: sshlog-test\n        message_template: \"{{{{user}}}} ran {{{{argv}}}}\"\n",
            udp = rs.udp_port,
            tcp = rs.tcp_port
        ),
    )
    .expect("write");
    let e = ActionEngine::load(cfg_dir.path(), cfg_dir.path()).expect("valid config");
    let id = Uuid::now_v7();
    let ctx = EventContext {
        session_id: Some(id),
        user: Some("alice".into()),
        client_ip: "192.0.2.10".parse().ok(),
        ..EventContext::default()
    };
    let rec = |argv: &[&str]| {
        Record::new(
            Utc::now(),
            Some(id),
            SessionEvent::CommandStart {
                pid: 1805,
                ppid: 1,
                uid: 1000,
                user: Some("alice".into()),
                argv: argv.iter().map(|s| s.to_string()).collect(),
                argv_truncated: false,
                filename: "/usr/bin/nmap".into(),
                cwd: None,
            },
        )
    };
    e.dispatch(&rec(&["nmap", "-sS"]), &ctx);
    e.dispatch(&rec(&["echo", "quote\"and]bracket"]), &ctx);
    let lines = read_lines(&rs, 4, Duration::from_secs(10));
    e.shutdown();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let pid = std::process::id().to_string();
    let udp: Vec<&String> = lines.iter().filter(|l| l.starts_with("86|")).collect();
    let tcp: Vec<&String> = lines.iter().filter(|l| l.starts_with("156|")).collect();
    assert_eq!((udp.len(), tcp.len()), (2, 2), "{lines:#?}");
    // authpriv.info over UDP: rsyslog parsed the RFC 5424 fields.
    let f: Vec<&str> = udp[0].splitn(7, '|').collect();
    assert_eq!(f[1], "sshlog");
    assert_eq!(f[2], pid);
    assert_eq!(f[3], "command_start");
    assert_eq!(
        f[4],
        format!("[sshlog@32473 type=\"command_start\" session_id=\"{id}\" user=\"alice\" client_ip=\"192.0.2.10\" pid=\"1805\"]")
    );
    assert_eq!(f[5], "command_start (1805) alice executed nmap -sS");
    let raw = f[6];
    let re = regex::Regex::new(
        r"^<86>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z testhost sshlog \d+ command_start \[sshlog@32473 [^\]]*\] command_start \(1805\) alice executed nmap -sS$",
    )
    .expect("regex");
    assert!(re.is_match(raw), "raw message {raw:?}");
    // The escaped structured data of the second event survives.
    assert!(udp[1].contains("quote\"and]bracket"), "{}", udp[1]);
    // local3.warning over TCP with octet counting.
    let f: Vec<&str> = tcp[0].splitn(7, '|').collect();
    assert_eq!(f[1], "sshlog-test");
    assert_eq!(f[3], "command_start");
    assert_eq!(f[5], "alice ran nmap -sS");
    assert!(f[6].starts_with("<156>1 "), "{}", f[6]);
    assert!(
        tcp[1].contains("|alice ran echo quote\"and]bracket|"),
        "{}",
        tcp[1]
    );
}

#[test]
fn the_agents_send_to_syslog_reaches_rsyslogd() {
    let Some(bin) = rsyslogd() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("rsyslogd missing (install rsyslog); CI=true: refusing to skip");
        }
        eprintln!("the_agents_send_to_syslog_reaches_rsyslogd: skipped, rsyslogd missing");
        return;
    };
    let rs = start_rsyslog(&bin);
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    // The agent's sample, word for word in its options, on rsyslog's ports.
    fs::write(
        cfg_dir.path().join("send_to_syslog.yaml"),
        format!(
            "events:\n  - event: log_activity_to_syslog\n    triggers:\n      - connection_close\n    filters:\n      ignore_existing_logins: True\n    actions:\n      - action: syslog_to_localhost\n        plugin: syslog_action\n        server_address: localhost\n        port: {udp}\n        udp: True\n        output_json: False\n        program_name: sshlog\n      - action: syslog_json_tcp\n        plugin: syslog_action\n        server_address: 127.0.0.1\n        port: {tcp}\n        udp: False\n        output_json: True\n        program_name: sshlog-json\n",
            udp = rs.udp_port,
            tcp = rs.tcp_port
        ),
    )
    .expect("write");
    let e = ActionEngine::load(cfg_dir.path(), cfg_dir.path()).expect("valid config");
    let id = Uuid::now_v7();
    let ctx = EventContext {
        session_id: Some(id),
        user: Some("mhill".into()),
        client_ip: "127.0.0.1".parse().ok(),
        client_port: Some(36636),
        sshd_pid: Some(2782281),
        ..EventContext::default()
    };
    let close = Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::ConnectionClose {
            user: "mhill".into(),
            sshd_pid: 2782281,
            duration_ms: 244,
            bytes_in: 10,
            bytes_out: 20,
        },
    );
    e.dispatch(&close, &ctx);
    let lines = read_lines(&rs, 2, Duration::from_secs(10));
    e.shutdown();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    // daemon.info (the agent's default facility 3, severity 6) = 30.
    let text = lines
        .iter()
        .find(|l| l.contains("|sshlog|"))
        .expect("text message");
    let f: Vec<&str> = text.splitn(7, '|').collect();
    assert_eq!(f[0], "30", "{text}");
    assert_eq!(
        f[2], "2782281",
        "PROCID is the sshd pid, as the agent sent it"
    );
    assert_eq!(f[4], "-", "no structured data: {text}");
    assert_eq!(
        f[5],
        "connection_close       (2782281) mhill from ip 127.0.0.1:36636"
    );
    let json = lines
        .iter()
        .find(|l| l.contains("|sshlog-json|"))
        .expect("json message");
    let f: Vec<&str> = json.splitn(7, '|').collect();
    let v: serde_json::Value = serde_json::from_str(f[5]).expect("agent JSON");
    assert_eq!(v["event_type"], "connection_close");
    assert_eq!(v["username"], "mhill");
    assert_eq!(v["tcp_info"]["client_port"], 36636);
}
