//! `sshlog sessions`: the daemon's live sessions as a table (or JSON).

use crate::cli::SessionsArgs;
use crate::control;
use crate::style::{output_width, Style};
use crate::table::{Column, Table};
use crate::timefmt::{ago, local_time};
use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use sshlog_control::{Request, SessionInfo, SessionList};
use std::io::Write;
use std::path::Path;

/// Runs `sshlog sessions`.
pub fn run(socket: &Path, args: &SessionsArgs, out: &mut dyn Write) -> Result<()> {
    let list: SessionList = control::request(socket, &Request::Sessions)?;
    if args.json {
        let text = serde_json::to_string_pretty(&list.sessions)?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let rows = by_start(list.sessions);
    if rows.is_empty() {
        writeln!(out, "no live SSH sessions")?;
        return Ok(());
    }
    let lines = render(
        &rows,
        Utc::now(),
        &chrono::Local,
        output_width(),
        Style::detect(),
    );
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

/// The sessions, oldest first.
pub fn by_start(mut rows: Vec<SessionInfo>) -> Vec<SessionInfo> {
    rows.sort_by_key(|r| r.started);
    rows
}

/// The table's lines (headings first, then a footnote if any session is
/// marked), for a terminal `width` wide (`None`: unlimited).
pub fn render<Tz: TimeZone>(
    rows: &[SessionInfo],
    now: DateTime<Utc>,
    tz: &Tz,
    width: Option<usize>,
    style: Style,
) -> Vec<String>
where
    Tz::Offset: std::fmt::Display,
{
    let mut t = Table::new(vec![
        Column::flex("USER", 8),
        Column::fixed("LAST ACTIVITY"),
        Column::flex("LAST COMMAND", 12),
        Column::fixed("STARTED"),
        Column::flex("CLIENT", 15),
        Column::fixed("TTY"),
        Column::fixed("SSHD PID").right(),
    ]);
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_string());
    for r in rows {
        let mut user = opt(&r.user);
        if r.existing_login {
            user.push('*');
        }
        t.push(vec![
            user,
            ago(now, r.last_activity),
            opt(&r.last_command),
            local_time(r.started, tz),
            opt(&r.client),
            opt(&r.tty),
            r.sshd_pid.to_string(),
        ]);
    }
    let mut lines = t.render(width, style);
    if rows.iter().any(|r| r.existing_login) {
        lines.push(String::new());
        lines.push(
            style.dim(
                "* logged in before sshlogd started: the start of the session was not recorded",
            ),
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::anyhow;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    /// Decodes a `sessions` array as [`run`] does.
    fn parse_rows(list: &Value) -> Result<Vec<SessionInfo>> {
        let rows = serde_json::from_value(list.clone())
            .map_err(|e| anyhow!("unexpected session list from sshlogd: {e}"))?;
        Ok(by_start(rows))
    }

    fn sample() -> Value {
        json!([
            {"session_id":"018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e","sshd_pid":1801,"user":"bob",
             "client":"192.0.2.10:52144","tty":"/dev/pts/3","started":"2024-05-01T10:00:00Z",
             "last_activity":"2024-05-01T11:59:57Z","last_command":"vim /etc/ssh/sshd_config",
             "existing_login":false,"cast":"/var/log/sshlog/x.cast.zst"},
            {"session_id":null,"sshd_pid":77,"user":"alice","client":"[2001:db8::1]:40000",
             "tty":null,"started":"2024-05-01T09:00:00Z","last_activity":"2024-05-01T11:00:00Z",
             "last_command":null,"existing_login":true,"cast":null,"future_field":1}
        ])
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn rows_decode_and_sort_by_start() {
        let rows = parse_rows(&sample()).expect("decodes");
        assert_eq!(rows[0].user.as_deref(), Some("alice"));
        assert!(rows[0].existing_login);
        assert_eq!(rows[1].sshd_pid, 1801);
        assert!(parse_rows(&json!({"not": "a list"})).is_err());
    }

    #[test]
    fn full_table() {
        let rows = parse_rows(&sample()).expect("decodes");
        let lines = render(&rows, now(), &Utc, None, Style::plain());
        assert_eq!(
            lines,
            [
                "USER    LAST ACTIVITY  LAST COMMAND              STARTED              CLIENT               TTY         SSHD PID",
                "alice*  1h ago         -                         2024-05-01 09:00:00  [2001:db8::1]:40000  -                 77",
                "bob     3s ago         vim /etc/ssh/sshd_config  2024-05-01 10:00:00  192.0.2.10:52144     /dev/pts/3      1801",
                "",
                "* logged in before sshlogd started: the start of the session was not recorded",
            ]
        );
    }

    #[test]
    fn last_command_is_truncated_to_the_width() {
        let rows = parse_rows(&sample()).expect("decodes");
        let wide = render(&rows, now(), &Utc, None, Style::plain());
        let natural = wide[0].len();
        let lines = render(&rows, now(), &Utc, Some(natural - 8), Style::plain());
        for l in &lines[..3] {
            assert!(
                unicode_width::UnicodeWidthStr::width(l.as_str()) <= natural - 8,
                "{l:?}"
            );
        }
        assert!(lines[2].contains("vim /etc/ssh/ss…"), "{}", lines[2]);
        assert!(lines[2].contains("192.0.2.10:52144"));
    }
}
