//! Sidecar records: the documented example lines, human lines, forward
//! compatibility and error handling.

use std::io::Cursor;

use chrono::Utc;
use sshlog_format::sidecar::{
    human_line, human_line_in, read_sidecar, write_record, Record, SessionEvent,
};
use sshlog_format::FormatError;

/// One example line per event type (the same lines appear in docs/formats.md).
const EXAMPLES: &[&str] = &[
    r#"{"schema":1,"ts":"2023-11-28T10:57:10.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"connection_established","user":"mapoo","client_ip":"192.0.2.10","client_port":52144,"server_port":22,"tty":"/dev/pts/3","sshd_pid":1801,"existing_login":false}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:56:58.123456Z","type":"connection_auth_failed","user":"root","client_ip":"198.51.100.7","client_port":40022,"method":"password","sshd_pid":1790}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:02:11.500000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"connection_close","user":"mapoo","sshd_pid":1801,"duration_ms":301500,"bytes_in":812,"bytes_out":48213}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:57:17.204113Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"command_start","pid":1805,"ppid":1802,"uid":1000,"user":"mapoo","argv":["/usr/bin/id","-un"],"argv_truncated":false,"filename":"/usr/bin/id","cwd":"/home/mapoo"}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:57:17.207981Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"command_finish","pid":1805,"exit_code":0,"signal":null,"duration_ms":3,"argv":["/usr/bin/id","-un"]}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:58:02.000001Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"file_upload","path":"/home/mapoo/notes.txt","size":1024,"user":"mapoo","pid":1822,"program":"scp"}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:58:30.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"terminal_update","text":"mapoo@host:~$ ls\nnotes.txt\n"}"#,
    r#"{"schema":1,"ts":"2023-11-28T10:59:00.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"data_loss","bytes_dropped":65536,"events_dropped":12,"reason":"ring buffer full"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:00:00.000000Z","session_id":"018c1623-0000-7000-8000-000000000001","type":"segment_start","previous_segment":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","segment":1}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:01:00.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"terminal_injection","by_uid":0,"by_user":"root","bytes":3}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:03:00.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"outbound_connection_start","connection_id":"018c1624-0000-7000-8000-000000000002","pid":1900,"ppid":1802,"uid":1000,"user":"mapoo","ancestry":[{"pid":1900,"comm":"ssh","argv":["ssh","db1"]},{"pid":1802,"comm":"bash","argv":["-bash"]},{"pid":1801,"comm":"sshd","argv":["sshd: mapoo@pts/3"]},{"pid":1,"comm":"systemd","argv":["/sbin/init"]}],"dest_ip":"192.0.2.20","dest_port":22,"dest_host":"db1","result":"connected","inbound_session":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:04:00.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"outbound_connection_end","connection_id":"018c1624-0000-7000-8000-000000000002","pid":1900,"user":"mapoo","duration_ms":60000,"exit_code":0,"signal":null,"inbound_session":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:05:00.000000Z","type":"web_login","user":"admin","client_ip":"127.0.0.1","success":false,"reason":"bad password"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:02:11.600000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"seal","cast_sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sidecar_sha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","previous_seal":"0000000000000000000000000000000000000000000000000000000000000000","seal":"3bd8e15c7be7276088d8ee5c86fbc211ae78360bc2623c6e221c66e33a633562"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:06:00.000000Z","type":"storage_error","path":"/var/log/sshlog","error":"No space left on device","resolved":false}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:07:00.000000Z","session_id":"018c1625-0000-7000-8000-000000000003","type":"seal","cast_sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sidecar_sha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","previous_seal":"3bd8e15c7be7276088d8ee5c86fbc211ae78360bc2623c6e221c66e33a633562","seal":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","sequence":8,"key":"ed25519:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","signature":"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:07:00.200000Z","type":"chain_head","host":"web-1","seal":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","sequence":8,"time":"2023-11-28T11:07:00.200000Z","key":"ed25519:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","signature":"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}"#,
    r#"{"schema":1,"ts":"2023-11-28T11:08:00.000000Z","session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","type":"recording_deleted","user":"mapoo","reason":"purge by uid 0: GDPR request 4711","bytes":48213,"sequence":7}"#,
];

const HUMAN: &[&str] = &[
    "2023-11-28 10:57:10 connection_established (1801) mapoo from 192.0.2.10:52144 on /dev/pts/3",
    "2023-11-28 10:56:58 connection_auth_failed (1790) root from 198.51.100.7:40022 via password",
    "2023-11-28 11:02:11 connection_close (1801) mapoo after 301s",
    "2023-11-28 10:57:17 command_start (1805) mapoo executed /usr/bin/id -un",
    "2023-11-28 10:57:17 command_finish (1805) ? /usr/bin/id exited with 0 after 3ms",
    "2023-11-28 10:58:02 file_upload (1822) mapoo uploaded /home/mapoo/notes.txt (1024 bytes)",
    "2023-11-28 10:58:30 terminal_update mapoo@host:~$ ls\\nnotes.txt\\n",
    "2023-11-28 10:59:00 data_loss lost 12 events (65536 bytes): ring buffer full",
    "2023-11-28 11:00:00 segment_start segment 1 continues 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e",
    "2023-11-28 11:01:00 terminal_injection root (uid 0) injected 3 bytes",
    "2023-11-28 11:03:00 outbound_connection_start (1900) mapoo connected to db1 192.0.2.20:22 via systemd > sshd > bash > ssh: connected",
    "2023-11-28 11:04:00 outbound_connection_end (1900) mapoo outbound connection ended after 60000ms: exited with 0",
    "2023-11-28 11:05:00 web_login admin failed to log in to the web console from 127.0.0.1: bad password",
    "2023-11-28 11:02:11 seal recording sealed: 3bd8e15c7be7276088d8ee5c86fbc211ae78360bc2623c6e221c66e33a633562",
    "2023-11-28 11:06:00 storage_error cannot write to /var/log/sshlog: No space left on device (kept in memory, retrying)",
    "2023-11-28 11:07:00 seal recording sealed as #8: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    r#"2023-11-28 11:07:00 chain_head seal chain of web-1 at #8: {"host":"web-1","seal":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","sequence":8,"time":"2023-11-28T11:07:00.200000Z","key":"ed25519:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","signature":"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}"#,
    "2023-11-28 11:08:00 recording_deleted recording of mapoo deleted (48213 bytes): purge by uid 0: GDPR request 4711",
];

#[test]
fn example_lines_roundtrip_exactly() {
    let text = EXAMPLES.join("\n") + "\n";
    let recs = read_sidecar(Cursor::new(text.clone()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(recs.len(), EXAMPLES.len());
    assert!(recs.iter().all(|r| r.extra.is_empty()));
    assert!(!recs
        .iter()
        .any(|r| matches!(r.event, SessionEvent::Unknown { .. })));
    let mut out = Vec::new();
    for r in &recs {
        write_record(&mut out, r).unwrap();
    }
    assert_eq!(String::from_utf8(out).unwrap(), text);
    for (r, want) in recs.iter().zip(HUMAN) {
        assert_eq!(human_line_in(r, &Utc), *want);
    }
    // Local-time variant has the same shape.
    assert!(human_line(&recs[3]).ends_with(" command_start (1805) mapoo executed /usr/bin/id -un"));
}

#[test]
fn unknown_types_and_fields_survive() {
    let line = r#"{"schema":2,"ts":"2030-01-01T00:00:00.000000Z","type":"gpu_melted","temp":451,"where":{"slot":1}}
{"schema":1,"ts":"2030-01-01T00:00:01.000000Z","type":"data_loss","bytes_dropped":1,"events_dropped":2,"reason":"r","cpu":3}
"#;
    let recs = read_sidecar(Cursor::new(line))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(recs[0].schema, 2);
    match &recs[0].event {
        SessionEvent::Unknown { kind, fields } => {
            assert_eq!(kind, "gpu_melted");
            assert_eq!(fields.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(recs[1].extra.get("cpu"), Some(&serde_json::json!(3)));
    let mut out = Vec::new();
    for r in &recs {
        write_record(&mut out, r).unwrap();
    }
    assert_eq!(String::from_utf8(out).unwrap(), line);
    assert_eq!(
        human_line_in(&recs[0], &Utc),
        r#"2030-01-01 00:00:00 gpu_melted {"temp":451,"where":{"slot":1}}"#
    );
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let text = format!(
        "{}\nnot json\n{{\"schema\":1,\"ts\":\"x\",\"type\":\"data_loss\"}}\n\n{}\n{}",
        EXAMPLES[0],
        EXAMPLES[1],
        &EXAMPLES[2][..40]
    );
    let mut r = read_sidecar(Cursor::new(text));
    assert!(r.next().unwrap().is_ok());
    assert!(matches!(
        r.next().unwrap(),
        Err(FormatError::Json { line: 2, .. })
    ));
    let e = r.next().unwrap().unwrap_err();
    assert!(matches!(e, FormatError::Invalid { line: 3, .. }), "{e}");
    assert!(r.next().unwrap().is_ok());
    assert!(r.next().is_none(), "truncated last line ends quietly");
    assert!(r.truncated());
}

#[test]
fn missing_required_fields_are_errors() {
    let line = r#"{"schema":1,"ts":"2030-01-01T00:00:00Z","type":"command_start","pid":1}"#;
    let got: Vec<_> = read_sidecar(Cursor::new(format!("{line}\n"))).collect();
    assert!(got[0].is_err());
}

#[test]
fn control_characters_are_escaped_in_human_lines() {
    let rec = Record::new(
        Utc::now(),
        None,
        SessionEvent::CommandStart {
            pid: 1,
            ppid: 0,
            uid: 1000,
            user: None,
            argv: vec!["echo".into(), "a\nfake 2023-01-01 line".into()],
            argv_truncated: true,
            filename: "/bin/echo".into(),
            cwd: None,
        },
    );
    let line = human_line(&rec);
    assert!(!line.contains('\n'));
    assert!(
        line.ends_with("(1) 1000 executed echo a\\nfake 2023-01-01 line…"),
        "{line}"
    );
}

#[test]
fn docs_show_the_tested_examples() {
    let doc = include_str!("../../docs/formats.md");
    for line in EXAMPLES.iter().chain(HUMAN) {
        assert!(doc.contains(line), "docs/formats.md lacks: {line}");
    }
}

/// Found by the sidecar_reader fuzz target: a float in an unknown field must be
/// written back exactly as read (serde_json's `float_roundtrip`).
#[test]
fn unknown_float_fields_round_trip_exactly() {
    let line = r#"{"schema":1,"ts":"2023-11-28T10:57:10.000000Z","type":"future_event","client_port":6.666666666666666e43}"#;
    let rec = read_sidecar(Cursor::new(format!("{line}\n")))
        .next()
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    write_record(&mut out, &rec).unwrap();
    let back = read_sidecar(Cursor::new(out)).next().unwrap().unwrap();
    assert_eq!(back.event, rec.event);
}
