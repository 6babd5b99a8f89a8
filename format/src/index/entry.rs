//! What the index stores: [`IndexEntry`] (metadata of one session segment,
//! a line of `YYYY-MM-DD.jsonl`) and [`GramEntry`] (its output filter, a
//! line of `YYYY-MM-DD.grams`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::filter::GramFilter;

/// Version of the entry layout written by this crate (`"v"`).
pub const INDEX_VERSION: u32 = 1;

/// One session segment. Optional fields are `null` when the sidecar and the
/// cast header do not tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Entry layout version ([`INDEX_VERSION`]).
    pub v: u32,
    /// Session (segment) id, also the file name.
    pub id: Uuid,
    /// When the recording started (UTC): cast time 0.
    pub start: DateTime<Utc>,
    /// Time of the last event seen (sidecar record or cast event).
    pub end: DateTime<Utc>,
    /// Logged-in user.
    pub user: Option<String>,
    /// Client IP address.
    pub client_ip: Option<String>,
    /// Client port.
    pub client_port: Option<u16>,
    /// Terminal device.
    pub tty: Option<String>,
    /// Pid of the per-connection sshd.
    pub sshd_pid: Option<u32>,
    /// Segment number (0 for the first file of a session).
    pub segment: Option<u32>,
    /// Id of the previous segment.
    pub previous_segment: Option<Uuid>,
    /// A `connection_close` record was seen.
    pub closed: bool,
    /// Sorted set of the sidecar's event types.
    pub events: Vec<String>,
    /// Commands, in the order they started.
    pub commands: Vec<CommandEntry>,
    /// Cast path relative to the log directory (absolute when it lies
    /// elsewhere); `null` for a session without a cast.
    pub cast: Option<String>,
    /// Size of the cast when indexed (0 without a cast).
    pub cast_size: u64,
    /// Size of the sidecar when indexed.
    pub events_size: u64,
}

/// One `command_start`, with the matching `command_finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEntry {
    /// Start, in µs since the recording start (the position to play from).
    pub t_us: u64,
    /// Basename of `argv[0]` (or of the executed file when argv is empty).
    pub name: String,
    /// The whole argv joined with spaces.
    pub argv: String,
    /// Process id.
    pub pid: u32,
    /// Exit code, when the command finished normally.
    pub exit: Option<i32>,
    /// Terminating signal, when it was killed.
    pub signal: Option<i32>,
}

/// The output filter of one session (a line of the `.grams` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GramEntry {
    /// Session id.
    pub id: Uuid,
    /// Cast size the filter was computed for; a filter is used only when it
    /// equals the entry's `cast_size`.
    pub cast_size: u64,
    /// The filter; `null` when the output was too varied for a useful one
    /// (such sessions are always scanned).
    pub filter: Option<GramFilter>,
}

impl IndexEntry {
    /// Absolute path of the cast.
    pub fn cast_path(&self, log_dir: &Path) -> Option<PathBuf> {
        self.cast.as_ref().map(|c| log_dir.join(c))
    }

    /// Client as `ip:port` (`[v6]:port`), or what is known of it.
    pub fn client(&self) -> Option<String> {
        let ip = self.client_ip.as_deref().filter(|s| !s.is_empty())?;
        Some(match self.client_port {
            Some(p) if ip.contains(':') => format!("[{ip}]:{p}"),
            Some(p) => format!("{ip}:{p}"),
            None => ip.to_owned(),
        })
    }

    /// Encode as one JSON line without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl GramEntry {
    /// Encode as one JSON line without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
