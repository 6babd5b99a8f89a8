//! What a client asks sshlogd: one JSON line, tagged by `cmd`.

use serde::{Deserialize, Serialize};
use sshlog_format::sidecar::Record;
use std::fmt;

/// One request line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Is the daemon there, and which version is it?
    Ping,
    /// The live sessions.
    Sessions,
    /// The daemon's counters.
    Stats,
    /// Subscribe to events, optionally of one user and some types.
    Watch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        types: Vec<String>,
    },
    /// Stream a live session's output: a tty, a session id or `pid:N`.
    Follow { target: String },
    /// Type `data` into a live session (when `allow_injection` is set).
    Inject {
        target: String,
        #[serde(with = "crate::base64_bytes")]
        data: Vec<u8>,
    },
    /// End a live session (when `allow_kill` is set).
    Kill { target: String },
    /// Delete finished recordings (root only): those of `ids`, or those of
    /// `user` that started before `before`. Each leaves a signed tombstone
    /// and a `recording_deleted` event.
    Purge {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ids: Vec<uuid::Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<chrono::DateTime<chrono::Utc>>,
        /// Why (a ticket, a request): kept in the tombstones.
        reason: String,
    },
    /// An event of another sshlog component (only `web_login` is accepted).
    Report { record: Box<Record> },
}

/// A request line that is not a request.
#[derive(Debug, thiserror::Error)]
#[error("bad request: {0}")]
pub struct RequestError(#[from] serde_json::Error);

impl Request {
    /// Parses one request line (without or with its `\n`).
    pub fn parse(line: &[u8]) -> Result<Request, RequestError> {
        Ok(serde_json::from_slice(line)?)
    }

    /// The `cmd` of this request.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Sessions => "sessions",
            Request::Stats => "stats",
            Request::Watch { .. } => "watch",
            Request::Follow { .. } => "follow",
            Request::Inject { .. } => "inject",
            Request::Kill { .. } => "kill",
            Request::Purge { .. } => "purge",
            Request::Report { .. } => "report",
        }
    }

    /// The request as sent: its JSON and a newline.
    pub fn line(&self) -> String {
        format!("{self}\n")
    }
}

/// The request's JSON, without the newline.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_written_as_the_daemon_reads_them() {
        assert_eq!(Request::Sessions.to_string(), r#"{"cmd":"sessions"}"#);
        let w = Request::Watch {
            user: Some("bob".into()),
            types: vec!["command_start".into()],
        };
        assert_eq!(
            w.to_string(),
            r#"{"cmd":"watch","user":"bob","types":["command_start"]}"#
        );
        let i = Request::Inject {
            target: "pts/3".into(),
            data: b"ls\n".to_vec(),
        };
        assert_eq!(
            i.line(),
            "{\"cmd\":\"inject\",\"target\":\"pts/3\",\"data\":\"bHMK\"}\n"
        );
        for r in [Request::Ping, Request::Stats, w, i] {
            assert_eq!(Request::parse(r.line().as_bytes()).expect("parses"), r);
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let e = Request::parse(br#"{"cmd":"nope"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad request: unknown variant `nope`"), "{e}");
        let e = Request::parse(br#"{"cmd":"inject","target":"1","data":"!!"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not base64"), "{e}");
        assert!(Request::parse(b"").is_err());
        assert!(Request::parse(br#"{"cmd":"follow"}"#).is_err());
        assert_eq!(
            Request::parse(br#"{"cmd":"watch","extra":1}"#)
                .expect("lenient")
                .name(),
            "watch"
        );
    }
}
