//! The first answer line of every request: `{"ok":true,…body}` or a
//! [`Refusal`], and the bodies each request gets.

use crate::session::SessionInfo;
use crate::stats::Stats;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use uuid::Uuid;

/// The answer to `ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub version: String,
}

/// A bare `{"ok":true}` (watch accepted, injection done, report taken).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

/// The answer to `sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList<S = SessionInfo> {
    pub sessions: Vec<S>,
}

/// The answer to `stats`; `S` is [`Stats`] or, for a client that prints any
/// counter a daemon sends, a JSON map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsAnswer<S = Stats> {
    pub stats: S,
}

/// The answer to `follow`: the cast file already holds every output byte
/// before `offset`; live chunks start there.
/// What `purge` deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    pub deleted: Vec<PurgedRecording>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedRecording {
    pub id: uuid::Uuid,
    pub user: Option<String>,
    pub started: chrono::DateTime<chrono::Utc>,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowHello {
    pub session_id: Uuid,
    pub cast: PathBuf,
    pub offset: u64,
    pub cols: u16,
    pub rows: u16,
    pub user: Option<String>,
    pub tty: Option<String>,
}

/// `{"ok":false,"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub ok: bool,
    pub error: String,
}

/// Why an answer line could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("unexpected answer from sshlogd: {0}")]
    NotJson(serde_json::Error),
    #[error("unexpected answer from sshlogd: {0}")]
    NoOk(Value),
    #[error("sshlogd refused the request: {0}")]
    Refused(String),
    #[error("unexpected answer from sshlogd: {0}")]
    Shape(serde_json::Error),
}

#[derive(Serialize)]
struct Accepted<'a, T> {
    ok: bool,
    #[serde(flatten)]
    body: &'a T,
}

/// `{"ok":true,…body}\n`: `body` must serialize as a struct or map.
pub fn answer_line<T: Serialize>(body: &T) -> String {
    match serde_json::to_string(&Accepted { ok: true, body }) {
        Ok(text) => text + "\n",
        Err(e) => refusal_line(&format!("cannot encode the answer: {e}")),
    }
}

/// `{"ok":false,"error":message}\n`.
pub fn refusal_line(message: &str) -> String {
    let r = Refusal {
        ok: false,
        error: message.to_string(),
    };
    // A struct of a bool and a string always serializes.
    serde_json::to_string(&r).unwrap_or_default() + "\n"
}

/// Reads a first answer line: checks `ok`, then decodes the body (`T` sees
/// the whole object; unknown fields are ignored).
pub fn decode_answer<T: DeserializeOwned>(line: &[u8]) -> Result<T, AnswerError> {
    let v: Value = serde_json::from_slice(line).map_err(AnswerError::NotJson)?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => serde_json::from_value(v).map_err(AnswerError::Shape),
        Some(false) => Err(refused(&v)),
        None => Err(AnswerError::NoOk(v)),
    }
}

/// Reads a streamed line (watch or follow item); a refusal in the stream is
/// an error too.
pub fn decode_item<T: DeserializeOwned>(line: &[u8]) -> Result<T, AnswerError> {
    let v: Value = serde_json::from_slice(line).map_err(AnswerError::NotJson)?;
    if v.get("ok").and_then(Value::as_bool) == Some(false) {
        return Err(refused(&v));
    }
    serde_json::from_value(v).map_err(AnswerError::Shape)
}

fn refused(v: &Value) -> AnswerError {
    let msg = v.get("error").and_then(Value::as_str);
    AnswerError::Refused(msg.unwrap_or("unknown error").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_answers_carry_ok_first() {
        let p = Pong {
            version: "1.2".into(),
        };
        assert_eq!(answer_line(&p), "{\"ok\":true,\"version\":\"1.2\"}\n");
        assert_eq!(answer_line(&Ack {}), "{\"ok\":true}\n");
        let back: Pong = decode_answer(answer_line(&p).as_bytes()).expect("decodes");
        assert_eq!(back, p);
        let _: Ack = decode_answer(b"{\"ok\":true}\n").expect("ack");
    }

    #[test]
    fn refusals_and_odd_lines_are_errors() {
        let line = refusal_line("no \"such\" session");
        assert_eq!(
            line,
            "{\"ok\":false,\"error\":\"no \\\"such\\\" session\"}\n"
        );
        let e = decode_answer::<Ack>(line.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sshlogd refused the request: no \"such\" session"
        );
        let e = decode_answer::<Ack>(b"{\"hello\":1}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected answer from sshlogd: {\"hello\":1}"
        );
        assert!(matches!(
            decode_answer::<Ack>(b"garbage"),
            Err(AnswerError::NotJson(_))
        ));
        assert!(matches!(
            decode_answer::<Pong>(b"{\"ok\":true}"),
            Err(AnswerError::Shape(_))
        ));
        assert!(matches!(
            decode_item::<Value>(b"{\"ok\":false}"),
            Err(AnswerError::Refused(m)) if m == "unknown error"
        ));
    }
}
