//! The agent's one-line text form of an event (its syslog and event-log
//! text): the event type padded to the longest agent type, the sshd pid in
//! parentheses, then the user and what happened, e.g.
//! `command_start          (1805) mhill executed /bin/ls -l`.

use serde_json::Value;

/// Width of the event type column (`connection_auth_failed`).
const TYPE_WIDTH: usize = 22;

/// The line for an agent payload (see [`super::payload`]).
pub fn line(p: &Value) -> String {
    let s = |k: &str| match p.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    let tcp = |k: &str| match p.get("tcp_info").and_then(|t| t.get(k)) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let ty = s("event_type");
    let user = match s("username") {
        u if u.is_empty() => u,
        u => u + " ",
    };
    let from = format!("from ip {}:{}", tcp("client_ip"), tcp("client_port"));
    let rest = match ty.as_str() {
        "connection_established" => format!("{user}{from} tty {}", s("tty_id")),
        "connection_auth_failed" | "connection_close" => format!("{user}{from}"),
        "command_start" => format!("{user}executed {}", s("args")),
        "command_finish" => format!(
            "{user}execute complete (exit code: {}) {}",
            s("exit_code"),
            s("args")
        ),
        "file_upload" => format!("{user}uploaded file {}", s("target_path")),
        "terminal_update" => format!("{user}terminal update ({} bytes)", s("data_len")),
        _ => user.trim_end().to_string(),
    };
    format!("{ty:TYPE_WIDTH$} ({}) {rest}", s("ptm_pid"))
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_read_like_the_agents() {
        let p = json!({"event_type": "command_finish", "ptm_pid": 42, "username": "mhill",
            "exit_code": 1, "args": "/usr/bin/false"});
        assert_eq!(
            line(&p),
            "command_finish         (42) mhill execute complete (exit code: 1) /usr/bin/false"
        );
        let p = json!({"event_type": "connection_established", "ptm_pid": 7, "username": "",
            "tty_id": 3, "tcp_info": {"client_ip": "127.0.0.1", "client_port": 5000}});
        assert_eq!(
            line(&p),
            "connection_established (7) from ip 127.0.0.1:5000 tty 3"
        );
    }
}
