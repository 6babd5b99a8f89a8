//! [`human_line`]: the one-line text form used by the global `event.log`,
//! e.g. `2023-11-28 10:57:17 command_start (1805) mapoo executed /usr/bin/id -un`.

use std::fmt::Write as _;

use chrono::{DateTime, Local, TimeZone};

use super::event::SessionEvent;
use super::record::Record;

/// Format a record for the global event log, time in the local time zone.
pub fn human_line(record: &Record) -> String {
    human_line_in(record, &Local)
}

/// [`human_line`] with an explicit time zone (for tests and for callers that
/// log in UTC).
pub fn human_line_in<Tz: TimeZone>(record: &Record, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let local: DateTime<Tz> = record.ts.with_timezone(tz);
    let mut s = local.format("%Y-%m-%d %H:%M:%S ").to_string();
    s.push_str(&clean(record.event.type_name()));
    s.push(' ');
    s.push_str(&describe(record));
    s
}

fn describe(record: &Record) -> String {
    match &record.event {
        SessionEvent::ConnectionEstablished {
            user,
            client_ip,
            client_port,
            tty,
            sshd_pid,
            existing_login,
            ..
        } => {
            let mut s = format!(
                "({sshd_pid}) {} from {}:{client_port}",
                clean(user),
                clean(client_ip)
            );
            if let Some(tty) = tty {
                let _ = write!(s, " on {}", clean(tty));
            }
            if *existing_login {
                s.push_str(" (existing login)");
            }
            s
        }
        SessionEvent::ConnectionAuthFailed {
            user,
            client_ip,
            client_port,
            method,
            sshd_pid,
        } => {
            let mut s = format!(
                "({sshd_pid}) {} from {}:{client_port}",
                opt_user(user.as_deref(), record),
                clean(client_ip)
            );
            if let Some(m) = method {
                let _ = write!(s, " via {}", clean(m));
            }
            s
        }
        SessionEvent::ConnectionClose {
            user,
            sshd_pid,
            duration_ms,
            ..
        } => format!("({sshd_pid}) {} after {}s", clean(user), duration_ms / 1000),
        SessionEvent::CommandStart {
            pid,
            uid,
            user,
            argv,
            argv_truncated,
            filename,
            ..
        } => {
            let who = user
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| uid.to_string());
            let mut cmd = if argv.is_empty() {
                clean(filename)
            } else {
                argv.iter().map(|a| clean(a)).collect::<Vec<_>>().join(" ")
            };
            if *argv_truncated {
                cmd.push('…');
            }
            format!("({pid}) {who} executed {cmd}")
        }
        SessionEvent::CommandFinish {
            pid,
            exit_code,
            signal,
            duration_ms,
            argv,
        } => {
            let prog = argv.first().map(|a| clean(a)).unwrap_or_else(|| "?".into());
            let how = match (exit_code, signal) {
                (_, Some(sig)) => format!("was killed by signal {sig}"),
                (Some(code), None) => format!("exited with {code}"),
                (None, None) => "exited".to_owned(),
            };
            format!(
                "({pid}) {} {prog} {how} after {duration_ms}ms",
                opt_user(None, record)
            )
        }
        SessionEvent::FileUpload {
            path,
            size,
            user,
            pid,
            ..
        } => format!(
            "({pid}) {} uploaded {} ({size} bytes)",
            opt_user(user.as_deref(), record),
            clean(path)
        ),
        SessionEvent::TerminalUpdate { text } => {
            let mut t: String = text.chars().take(200).collect();
            if t.len() < text.len() {
                t.push('…');
            }
            clean(&t)
        }
        SessionEvent::DataLoss {
            bytes_dropped,
            events_dropped,
            reason,
        } => format!(
            "lost {events_dropped} events ({bytes_dropped} bytes): {}",
            clean(reason)
        ),
        SessionEvent::SegmentStart {
            previous_segment,
            segment,
        } => match previous_segment {
            Some(p) => format!("segment {segment} continues {p}"),
            None => format!("segment {segment}"),
        },
        SessionEvent::TerminalInjection {
            by_uid,
            by_user,
            bytes,
        } => format!(
            "{} (uid {by_uid}) injected {bytes} bytes",
            by_user
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "?".to_owned())
        ),
        SessionEvent::OutboundConnectionStart {
            pid,
            user,
            ancestry,
            dest_ip,
            dest_port,
            dest_host,
            result,
            ..
        } => {
            let chain: Vec<&str> = ancestry.iter().rev().map(|a| a.comm.as_str()).collect();
            format!(
                "({pid}) {} connected to {}{dest_ip}:{dest_port} via {}: {}",
                opt_user(user.as_deref(), record),
                dest_host
                    .as_deref()
                    .map(|h| format!("{} ", clean(h)))
                    .unwrap_or_default(),
                clean(&chain.join(" > ")),
                clean(result)
            )
        }
        SessionEvent::OutboundConnectionEnd {
            pid,
            user,
            duration_ms,
            exit_code,
            signal,
            ..
        } => {
            let how = match (exit_code, signal) {
                (_, Some(s)) => format!("was killed by signal {s}"),
                (Some(c), None) => format!("exited with {c}"),
                (None, None) => "ended".to_owned(),
            };
            format!(
                "({pid}) {} outbound connection ended after {duration_ms}ms: {how}",
                opt_user(user.as_deref(), record)
            )
        }
        SessionEvent::Seal { seal, sequence, .. } => match sequence {
            Some(n) => format!("recording sealed as #{n}: {seal}"),
            None => format!("recording sealed: {seal}"),
        },
        // The whole signed head, so that any copy of this line (the event
        // log, syslog, chat) is a witness `sshlog verify --witness` reads.
        SessionEvent::ChainHead {
            host,
            seal,
            sequence,
            time,
            key,
            signature,
        } => format!(
            "seal chain of {} at #{sequence}: {}",
            clean(host),
            serde_json::json!({"host": host, "seal": seal, "sequence": sequence,
                "time": time, "key": key, "signature": signature})
        ),
        SessionEvent::RecordingDeleted {
            user,
            reason,
            bytes,
            ..
        } => format!(
            "recording of {} deleted ({bytes} bytes): {}",
            clean(user.as_deref().unwrap_or("?")),
            clean(reason)
        ),
        SessionEvent::StorageError {
            path,
            error,
            resolved,
        } => {
            if *resolved {
                format!("writing to {} works again", clean(path))
            } else {
                format!(
                    "cannot write to {}: {} (kept in memory, retrying)",
                    clean(path),
                    clean(error)
                )
            }
        }
        SessionEvent::StoreError {
            store,
            error,
            backlog_sessions,
            resolved,
        } => {
            if *resolved {
                format!(
                    "uploads to {} work again ({backlog_sessions} session(s) waiting)",
                    clean(store)
                )
            } else {
                format!(
                    "uploads to {} fail, recordings kept in the spool ({backlog_sessions} session(s) waiting): {}",
                    clean(store),
                    clean(error)
                )
            }
        }
        SessionEvent::RecordingGap { from, to, cause } => format!(
            "output from {} to {} not recorded ({}, {:.1}s)",
            from.format("%H:%M:%S%.3f"),
            to.format("%H:%M:%S%.3f"),
            clean(cause),
            (*to - *from).num_milliseconds() as f64 / 1000.0
        ),
        SessionEvent::SessionKilled { by_uid, by_user } => format!(
            "ended by {} (uid {by_uid}) with sshlog kill",
            by_user
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "?".to_owned())
        ),
        SessionEvent::ConfigError { location, error } => {
            format!("{}: {} (not loaded)", clean(location), clean(error))
        }
        SessionEvent::WebLogin {
            user,
            client_ip,
            success,
            reason,
        } => match (success, reason) {
            (true, _) => format!(
                "{} logged in to the web console from {}",
                clean(user),
                clean(client_ip)
            ),
            (false, r) => format!(
                "{} failed to log in to the web console from {}: {}",
                clean(user),
                clean(client_ip),
                clean(r.as_deref().unwrap_or("refused"))
            ),
        },
        SessionEvent::Unknown { fields, .. } => {
            clean(&serde_json::Value::Object(fields.clone()).to_string())
        }
    }
}

/// User name from the event, else a `user` field kept in the extras, else `?`.
fn opt_user(user: Option<&str>, record: &Record) -> String {
    user.or_else(|| record.extra.get("user").and_then(|v| v.as_str()))
        .map(clean)
        .unwrap_or_else(|| "?".to_owned())
}

/// Escape control characters so one record stays one log line.
fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
