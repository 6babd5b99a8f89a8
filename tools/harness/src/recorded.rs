//! What a test's sshlogd recorded, read back from its log directory: the
//! sessions of a user (sidecar records, cast path), waited for with a bound.
//! The cast readers panic (naming the file) when a cast does not decode: in
//! a test that is the failure to report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sshlog_format::cast::Event;

use crate::sshlogd::{files_under, Sshlogd};

/// How long [`Sshlogd::wait_closed`] waits for closed sessions' seals.
pub const SEAL_WAIT: Duration = Duration::from_secs(5);

/// One recorded session segment: its sidecar records and its files.
#[derive(Debug, Clone)]
pub struct RecordedSession {
    /// Every sidecar line, as JSON.
    pub records: Vec<Value>,
    pub cast: PathBuf,
    pub events: PathBuf,
}

impl RecordedSession {
    /// The records of one event type, in order.
    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == ty)
    }

    /// The connection_established record (every session has one).
    pub fn established(&self) -> &Value {
        self.of_type("connection_established")
            .next()
            .unwrap_or(&Value::Null)
    }

    /// The session id (from the file name).
    pub fn id(&self) -> String {
        self.events
            .file_name()
            .map(|n| n.to_string_lossy().replace(".events.jsonl", ""))
            .unwrap_or_default()
    }

    /// The cast's header and events.
    pub fn cast_events(&self) -> (sshlog_format::Header, Vec<Event>) {
        sshlog_format::read_cast_file(&self.cast)
            .with_context(|| format!("decoding {}", self.cast.display()))
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// All output bytes of the cast, concatenated.
    pub fn output(&self) -> Vec<u8> {
        let (_, events) = self.cast_events();
        let mut out = Vec::new();
        for e in events {
            if let Event::Output { data, .. } = e {
                out.extend_from_slice(&data);
            }
        }
        out
    }

    /// The labels of the cast's markers, in order.
    pub fn markers(&self) -> Vec<String> {
        let (_, events) = self.cast_events();
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Marker { label, .. } => Some(label),
                _ => None,
            })
            .collect()
    }
}

/// Every session under `log_dir` whose connection_established names `user`,
/// oldest first.
pub fn sessions_of(log_dir: &Path, user: &str) -> Vec<RecordedSession> {
    let mut out = Vec::new();
    for path in files_under(&log_dir.join("sessions")) {
        let name = path.to_string_lossy().into_owned();
        if !name.ends_with(".events.jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let records: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let established = records
            .iter()
            .find(|r| r["type"] == "connection_established");
        if established.is_some_and(|r| r["user"] == user) {
            out.push(RecordedSession {
                records,
                cast: PathBuf::from(name.replace(".events.jsonl", ".cast.zst")),
                events: path,
            });
        }
    }
    out.sort_by(|a, b| a.events.cmp(&b.events));
    out
}

impl Sshlogd {
    /// The recorded sessions of `user`, oldest first.
    pub fn sessions_of(&self, user: &str) -> Vec<RecordedSession> {
        sessions_of(self.log_dir(), user)
    }

    /// Waits (bounded) until `n` sessions of `user` have a connection_close,
    /// then (up to [`SEAL_WAIT`] more) until those are sealed: sshlogd writes
    /// the close to the sidecar before the cast's last frame, and seals after it.
    pub fn wait_closed(
        &self,
        user: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedSession>> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.sessions_of(user);
            let closed = s
                .iter()
                .filter(|s| s.of_type("connection_close").next().is_some())
                .count();
            if closed >= n {
                return Ok(self.wait_sealed(user, s));
            }
            if Instant::now() >= deadline {
                bail!(
                    "{n} closed session(s) of {user} not recorded within {timeout:?}; have {} ({closed} closed): {}",
                    s.len(),
                    self.daemon_logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `sessions` again once every closed one has its seal (bounded).
    fn wait_sealed(&self, user: &str, mut sessions: Vec<RecordedSession>) -> Vec<RecordedSession> {
        let deadline = Instant::now() + SEAL_WAIT;
        let unsealed = |s: &[RecordedSession]| {
            s.iter().any(|x| {
                x.of_type("connection_close").next().is_some() && x.of_type("seal").next().is_none()
            })
        };
        while unsealed(&sessions) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            sessions = self.sessions_of(user);
        }
        sessions
    }

    /// The global event log so far.
    pub fn event_log(&self) -> String {
        std::fs::read_to_string(self.log_dir().join("event.log")).unwrap_or_default()
    }
}
