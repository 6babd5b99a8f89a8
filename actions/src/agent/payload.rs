//! The agent's event payload (`event_data` of its plugins, the JSON of its
//! `output_json`, webhooks and commands): `event_type`, `ptm_pid` (the
//! connection's sshd pid), `username`, `user_id`, `tty_id` (N of /dev/pts/N),
//! `tcp_info{…}`, times in milliseconds since the epoch, `args` as one string,
//! `stdout`, …, with the agent's placeholders (-1, `''`, 0) where a value is
//! unknown. Event types the agent did not have carry these common fields and
//! then sshlog's own fields.

use serde_json::{json, Map, Value};
use sshlog_format::{Record, SessionEvent};

use crate::context::EventContext;

/// `N` of `/dev/pts/N` (or `/dev/ttyN`); -1 without a terminal.
pub fn tty_id(tty: Option<&str>) -> i64 {
    let Some(t) = tty else { return -1 };
    let digits: String = t
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap_or(-1)
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The agent payload of `record`; `event` is its sshlog event JSON (the
/// record completed with the session context), `ctx` the context.
pub fn payload(record: &Record, event: &Value, ctx: &EventContext) -> Value {
    let str_of = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
    let int_of = |k: &str| event.get(k).and_then(Value::as_i64);
    let ts_ms = record.ts.timestamp_millis();
    let mut m = Map::new();
    m.insert("event_type".into(), record.event.type_name().into());
    m.insert("ptm_pid".into(), int_of("sshd_pid").unwrap_or(-1).into());
    m.insert("username".into(), str_of("user").unwrap_or_default().into());
    let tty = tty_id(str_of("tty").as_deref());
    let tcp_info = || {
        json!({
            "server_ip": "0",
            "client_ip": str_of("client_ip").unwrap_or_default(),
            "server_port": int_of("server_port").unwrap_or(0),
            "client_port": int_of("client_port").unwrap_or(0),
        })
    };
    let connection = |m: &mut Map<String, Value>, start: i64, end: i64| {
        m.insert("user_id".into(), int_of("uid").unwrap_or(-1).into());
        m.insert("pts_pid".into(), (-1).into());
        m.insert("shell_pid".into(), (-1).into());
        m.insert("tty_id".into(), tty.into());
        m.insert("start_time".into(), start.into());
        m.insert("end_time".into(), end.into());
        m.insert("start_timeraw".into(), start.into());
        m.insert("end_timeraw".into(), end.into());
        m.insert("tcp_info".into(), tcp_info());
    };
    match &record.event {
        SessionEvent::ConnectionEstablished { .. } => connection(&mut m, ts_ms, 0),
        SessionEvent::ConnectionAuthFailed { .. } => connection(&mut m, ts_ms, ts_ms),
        SessionEvent::ConnectionClose { duration_ms, .. } => {
            connection(&mut m, ts_ms - *duration_ms as i64, ts_ms)
        }
        SessionEvent::CommandStart {
            pid,
            ppid,
            argv,
            filename,
            ..
        } => {
            let name = basename(argv.first().unwrap_or(filename));
            command(&mut m, name, ts_ms, 0, -1, argv, *ppid, *pid, tty);
            m.insert("stdout_size".into(), 0.into());
            m.insert("stdout".into(), "".into());
        }
        SessionEvent::CommandFinish {
            pid,
            exit_code,
            signal,
            duration_ms,
            argv,
        } => {
            let name = argv.first().map(|a| basename(a)).unwrap_or_default();
            // The agent reported a process killed by a signal as 128 + N, as a shell does.
            let code = exit_code
                .map(i64::from)
                .or(signal.map(|s| 128 + i64::from(s)))
                .unwrap_or(-1);
            let start = ts_ms - *duration_ms as i64;
            let ppid = int_of("ppid").unwrap_or(-1);
            command(
                &mut m,
                name,
                start,
                ts_ms,
                code,
                argv,
                ppid as u32,
                *pid,
                tty,
            );
            let out = ctx.command_output.as_deref().unwrap_or_default();
            m.insert("stdout_size".into(), out.len().into());
            m.insert("stdout".into(), out.into());
        }
        SessionEvent::FileUpload { path, .. } => {
            m.insert("target_path".into(), path.clone().into());
            m.insert(
                "file_mode".into(),
                str_of("file_mode").unwrap_or_default().into(),
            );
            m.insert("tty_id".into(), tty.into());
        }
        SessionEvent::TerminalUpdate { text } => {
            m.insert("terminal_data".into(), text.clone().into());
            m.insert("data_len".into(), text.len().into());
        }
        _ => {
            m.insert("tty_id".into(), tty.into());
            if let Value::Object(ours) = event {
                for (k, v) in ours {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Value::Object(m)
}

#[allow(clippy::too_many_arguments)]
fn command(
    m: &mut Map<String, Value>,
    filename: &str,
    start: i64,
    end: i64,
    exit_code: i64,
    argv: &[String],
    parent_pid: u32,
    pid: u32,
    tty: i64,
) {
    m.insert("filename".into(), filename.into());
    m.insert("start_time".into(), start.into());
    m.insert("end_time".into(), end.into());
    m.insert("exit_code".into(), exit_code.into());
    m.insert("args".into(), argv.join(" ").into());
    m.insert("parent_pid".into(), parent_pid.into());
    m.insert("pid".into(), pid.into());
    m.insert("tty_id".into(), tty.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::event_json;
    use chrono::{TimeZone, Utc};

    fn of(event: SessionEvent, ctx: &EventContext) -> Value {
        let ts = Utc.with_ymd_and_hms(2023, 2, 22, 16, 53, 40).unwrap();
        let r = Record::new(ts, None, event);
        payload(&r, &event_json(&r, ctx), ctx)
    }

    fn ctx() -> EventContext {
        EventContext {
            user: Some("mhill".into()),
            uid: Some(1000),
            client_ip: "127.0.0.1".parse().ok(),
            client_port: Some(36636),
            tty: Some("/dev/pts/3".into()),
            sshd_pid: Some(2782281),
            ..EventContext::default()
        }
    }

    #[test]
    fn connection_payload_has_the_agent_fields() {
        let p = of(
            SessionEvent::ConnectionClose {
                user: "mhill".into(),
                sshd_pid: 2782281,
                duration_ms: 244,
                bytes_in: 1,
                bytes_out: 2,
            },
            &ctx(),
        );
        assert_eq!(
            p,
            json!({"event_type": "connection_close", "ptm_pid": 2782281, "username": "mhill",
                "user_id": 1000, "pts_pid": -1, "shell_pid": -1, "tty_id": 3,
                "start_time": 1677084819756_i64, "end_time": 1677084820000_i64,
                "start_timeraw": 1677084819756_i64, "end_timeraw": 1677084820000_i64,
                "tcp_info": {"server_ip": "0", "client_ip": "127.0.0.1", "server_port": 0, "client_port": 36636}})
        );
    }

    #[test]
    fn command_payload_joins_args_and_carries_output() {
        let mut c = ctx();
        c.command_output = Some("a.txt\n".into());
        let p = of(
            SessionEvent::CommandFinish {
                pid: 7,
                exit_code: Some(0),
                signal: None,
                duration_ms: 4,
                argv: vec!["/usr/bin/ls".into(), "-l".into()],
            },
            &c,
        );
        assert_eq!(p["event_type"], "command_finish");
        assert_eq!(p["filename"], "ls");
        assert_eq!(p["args"], "/usr/bin/ls -l");
        assert_eq!(p["exit_code"], 0);
        assert_eq!(p["stdout"], "a.txt\n");
        assert_eq!(p["stdout_size"], 6);
        assert_eq!(
            p["end_time"].as_i64().unwrap() - p["start_time"].as_i64().unwrap(),
            4
        );
        assert_eq!(p["tty_id"], 3);
        let none = of(
            SessionEvent::TerminalUpdate { text: "l".into() },
            &EventContext::default(),
        );
        assert_eq!(
            none,
            json!({"event_type": "terminal_update", "ptm_pid": -1, "username": "",
            "terminal_data": "l", "data_len": 1})
        );
    }

    #[test]
    fn tty_ids() {
        assert_eq!(tty_id(Some("/dev/pts/12")), 12);
        assert_eq!(tty_id(Some("/dev/console")), -1);
        assert_eq!(tty_id(None), -1);
    }
}
