//! One live session as `sessions` reports it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use uuid::Uuid;

/// One row of `sshlog sessions` (and of the web console's live list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `None` until the connection has become a session.
    pub session_id: Option<Uuid>,
    pub sshd_pid: u32,
    pub user: Option<String>,
    /// `address:port` of the peer.
    pub client: Option<String>,
    pub tty: Option<String>,
    pub started: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub last_command: Option<String>,
    /// Logged in before sshlogd started: the start was not recorded.
    pub existing_login: bool,
    /// The cast being written.
    pub cast: Option<PathBuf>,
}
