//! Test support for the recorder's end-to-end tests: runs the real `sshlogd`
//! binary against a temporary log directory and reads back what it recorded.
#![allow(dead_code)]

use serde_json::Value;
use sshlog_format::cast::Event;
use sshlog_harness::Sshlogd;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The real sshlogd of this build ([`Sshlogd`]), with the recorder tests'
/// readers of what it recorded. Panics instead of returning errors.
pub struct Recorder(Sshlogd);

impl Deref for Recorder {
    type Target = Sshlogd;
    fn deref(&self) -> &Sshlogd {
        &self.0
    }
}

impl DerefMut for Recorder {
    fn deref_mut(&mut self) -> &mut Sshlogd {
        &mut self.0
    }
}

impl Recorder {
    pub fn start() -> Recorder {
        Self::start_with("# test settings: defaults\n")
    }

    /// Starts sshlogd with this settings file content (log dir and socket are
    /// always the test's own).
    pub fn start_with(settings: &str) -> Recorder {
        Recorder(Sshlogd::start(env!("CARGO_BIN_EXE_sshlogd"), settings).expect("start sshlogd"))
    }

    /// Like [`Recorder::start_with`], recording into `logs` (e.g. a small filesystem).
    pub fn start_in(logs: &Path, settings: &str) -> Recorder {
        Recorder(
            Sshlogd::start_in(env!("CARGO_BIN_EXE_sshlogd"), logs, settings)
                .expect("start sshlogd"),
        )
    }

    /// Starts sshlogd again on the same directories.
    pub fn spawn(&mut self) {
        self.0.spawn().expect("restart sshlogd");
    }

    /// Every sidecar record (as JSON) of sessions whose events name `user`.
    pub fn sessions_of(&self, user: &str) -> Vec<Session> {
        let mut out = Vec::new();
        for path in walk(&self.log_dir().join("sessions")) {
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
                let cast = PathBuf::from(name.replace(".events.jsonl", ".cast.zst"));
                out.push(Session {
                    records,
                    cast,
                    events: path,
                });
            }
        }
        out.sort_by(|a, b| a.events.cmp(&b.events));
        out
    }

    /// Waits (bounded) until `n` sessions of `user` have a connection_close.
    pub fn wait_closed(&self, user: &str, n: usize, timeout: Duration) -> Vec<Session> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.sessions_of(user);
            if s.iter()
                .filter(|s| s.of_type("connection_close").next().is_some())
                .count()
                >= n
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{n} closed session(s) of {user} not recorded within {timeout:?}; have {}: {}",
                s.len(),
                self.daemon_logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn event_log(&self) -> String {
        std::fs::read_to_string(self.log_dir().join("event.log")).unwrap_or_default()
    }
}

pub struct Session {
    pub records: Vec<Value>,
    pub cast: PathBuf,
    pub events: PathBuf,
}

impl Session {
    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == ty)
    }

    /// All output bytes of the cast, concatenated.
    pub fn output(&self) -> Vec<u8> {
        let (_, events) = sshlog_format::read_cast_file(&self.cast).expect("cast decodes");
        let mut out = Vec::new();
        for e in events {
            if let Event::Output { data, .. } = e {
                out.extend_from_slice(&data);
            }
        }
        out
    }

    pub fn cast_events(&self) -> (sshlog_format::Header, Vec<Event>) {
        sshlog_format::read_cast_file(&self.cast).expect("cast decodes")
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    sshlog_harness::files_under(dir)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
