//! [`SessionEvent`]: the typed payload of a sidecar record.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// What happened. Serialized flat into the record with a `"type"` tag in
/// snake_case; unknown types are kept as [`SessionEvent::Unknown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    /// An SSH connection was authenticated and a session started.
    ConnectionEstablished {
        /// Logged-in user.
        user: String,
        /// Client address.
        client_ip: String,
        /// Client port.
        client_port: u16,
        /// Server port.
        server_port: u16,
        /// Terminal device, if a pty was allocated.
        tty: Option<String>,
        /// Pid of the per-connection sshd.
        sshd_pid: u32,
        /// The session was already running when the recorder started.
        #[serde(default)]
        existing_login: bool,
        /// Where the session's sshd runs when it is not the recorder's own
        /// system (its `/etc/passwd` is another file): its root directory as
        /// the recorder sees it (a chroot), or its mount namespace when that
        /// directory is `/` (a container), e.g. `/srv/jail` or
        /// `mnt:[4026532261]`. Absent on the host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<String>,
    },
    /// An authentication attempt failed.
    ConnectionAuthFailed {
        /// Attempted user name, if known.
        user: Option<String>,
        /// Client address.
        client_ip: String,
        /// Client port.
        client_port: u16,
        /// Authentication method (`password`, `publickey`, ...).
        method: Option<String>,
        /// Pid of the per-connection sshd.
        sshd_pid: u32,
    },
    /// The connection ended.
    ConnectionClose {
        /// Logged-in user.
        user: String,
        /// Pid of the per-connection sshd.
        sshd_pid: u32,
        /// Session duration.
        duration_ms: u64,
        /// Bytes typed by the client.
        bytes_in: u64,
        /// Bytes sent to the client's terminal.
        bytes_out: u64,
    },
    /// A process called execve.
    CommandStart {
        /// Process id.
        pid: u32,
        /// Parent process id.
        ppid: u32,
        /// Real user id.
        uid: u32,
        /// User name for `uid`, if resolvable.
        user: Option<String>,
        /// Arguments.
        argv: Vec<String>,
        /// `argv` was cut short by the recorder's limits.
        #[serde(default)]
        argv_truncated: bool,
        /// Executed file.
        filename: String,
        /// Working directory, if known.
        cwd: Option<String>,
    },
    /// A process exited.
    CommandFinish {
        /// Process id.
        pid: u32,
        /// Exit code for a normal exit.
        exit_code: Option<i32>,
        /// Terminating signal.
        signal: Option<i32>,
        /// Run time.
        duration_ms: u64,
        /// Arguments of the matching start.
        argv: Vec<String>,
    },
    /// A file was written through scp/sftp/rsync.
    FileUpload {
        /// Destination path.
        path: String,
        /// Bytes written.
        size: u64,
        /// User, if known.
        user: Option<String>,
        /// Writing process.
        pid: u32,
        /// Program name (`scp`, `sftp-server`, ...).
        program: String,
    },
    /// Text currently on the terminal (screen snapshot).
    TerminalUpdate {
        /// Snapshot text.
        text: String,
    },
    /// The recorder lost data (ring buffer overrun, ...).
    DataLoss {
        /// Bytes lost.
        bytes_dropped: u64,
        /// Events lost.
        events_dropped: u64,
        /// Why.
        reason: String,
    },
    /// A new cast file continues the session.
    SegmentStart {
        /// Id of the previous segment's file.
        previous_segment: Option<Uuid>,
        /// Segment number (0 for the first).
        segment: u32,
    },
    /// Keystrokes injected into the session by an administrator (`sshlog attach`).
    TerminalInjection {
        /// Uid of the injecting client (from the control socket's peer credentials).
        by_uid: u32,
        /// Its user name, when known.
        by_user: Option<String>,
        /// Bytes injected.
        bytes: u64,
    },
    /// A process on this host opened an SSH connection to another host.
    OutboundConnectionStart {
        /// Shared by the start and end events of one connection (UUIDv7).
        connection_id: Uuid,
        /// The connecting process (usually `ssh`).
        pid: u32,
        ppid: u32,
        uid: u32,
        user: Option<String>,
        /// The process and its ancestors, nearest first, up to init.
        ancestry: Vec<Ancestor>,
        dest_ip: String,
        dest_port: u16,
        /// The host name as written on the command line (`ssh bob@web1`), if any.
        dest_host: Option<String>,
        /// `connected`, or why not (`connection refused`, `timed out`, ...).
        result: String,
        /// The recorded inbound session the process runs in (jump-host auditing).
        inbound_session: Option<Uuid>,
    },
    /// The process that opened an outbound connection ended.
    OutboundConnectionEnd {
        connection_id: Uuid,
        pid: u32,
        user: Option<String>,
        duration_ms: u64,
        exit_code: Option<i32>,
        signal: Option<i32>,
        inbound_session: Option<Uuid>,
    },
    /// The last record of a finished recording: hashes that make later changes
    /// detectable, chained to the previously sealed recording (`sshlog verify`).
    Seal {
        /// SHA-256 of the whole `.cast.zst` file.
        cast_sha256: String,
        /// SHA-256 of the sidecar's bytes before this line.
        sidecar_sha256: String,
        /// `seal` of the recording sealed before this one (64 zeros for the first).
        previous_seal: String,
        /// SHA-256 over previous_seal, cast_sha256, sidecar_sha256, the
        /// session id and `sequence` (docs/formats.md has the formula).
        seal: String,
        /// The recording's place in the chain, from 1 (absent in seals
        /// written before seals were numbered).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<u64>,
        /// The host's public key (`ed25519:<hex>`) and its signature of the seal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The seal chain's head, sent off the host at every seal and every
    /// minute (the witness; `sshlog verify --witness`).
    ChainHead {
        /// The host (its fleet host id, or its name).
        host: String,
        seal: String,
        sequence: u64,
        /// When the head was signed, as signed.
        time: String,
        key: Option<String>,
        signature: Option<String>,
    },
    /// A recording was deleted (retention or `sshlog purge`); a signed
    /// tombstone keeps its place in the seal chain.
    RecordingDeleted {
        /// Whose session it was.
        user: Option<String>,
        /// Why: the retention rule, or the purge and who asked.
        reason: String,
        /// Bytes freed.
        bytes: u64,
        /// Its place in the seal chain.
        sequence: Option<u64>,
    },
    /// sshlogd cannot write (disk full, directory not writable); what it could not
    /// write is kept in memory and retried. `resolved` when writes work again.
    StorageError {
        path: String,
        error: String,
        resolved: bool,
    },
    /// Uploads to the fleet store fail (`resolved: false`; recordings wait in
    /// the local spool, `backlog_sessions` of them) or work again
    /// (`resolved: true`).
    StoreError {
        store: String,
        error: String,
        backlog_sessions: u64,
        resolved: bool,
    },
    /// A login attempt on the web console (`sshlog web`).
    WebLogin {
        user: String,
        client_ip: String,
        success: bool,
        /// Why it failed (`bad password`, `rate limited`, ...).
        reason: Option<String>,
    },
    /// Output of the session between `from` and `to` is not in the recording
    /// (the first record of a segment that continues after a restart of
    /// sshlogd; the cast has a marker there too).
    RecordingGap {
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        cause: String,
    },
    /// An administrator ended the session (`sshlog kill`).
    SessionKilled {
        by_uid: u32,
        by_user: Option<String>,
    },
    /// A configuration file (or part of one) of sshlogd's actions could not
    /// be loaded; everything else was (only in `event.log`).
    ConfigError {
        /// `path:line:col` of the problem.
        location: String,
        error: String,
    },
    /// A type this version does not know; all its fields, verbatim.
    #[serde(skip)]
    Unknown {
        /// The `"type"` value.
        kind: String,
        /// Every field except the record envelope (`schema`, `ts`,
        /// `session_id`, `type`).
        fields: Map<String, Value>,
    },
}

/// Type names this crate decodes into typed variants.
pub const KNOWN_TYPES: &[&str] = &[
    "connection_established",
    "connection_auth_failed",
    "connection_close",
    "command_start",
    "command_finish",
    "file_upload",
    "terminal_update",
    "data_loss",
    "segment_start",
    "terminal_injection",
    "outbound_connection_start",
    "outbound_connection_end",
    "web_login",
    "seal",
    "chain_head",
    "recording_deleted",
    "storage_error",
    "config_error",
    "session_killed",
    "recording_gap",
    "store_error",
];

/// One process of an outbound connection's ancestry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    pub pid: u32,
    pub comm: String,
    /// Empty when the process had already exited.
    #[serde(default)]
    pub argv: Vec<String>,
}

impl SessionEvent {
    /// The `"type"` tag.
    pub fn type_name(&self) -> &str {
        match self {
            SessionEvent::ConnectionEstablished { .. } => "connection_established",
            SessionEvent::ConnectionAuthFailed { .. } => "connection_auth_failed",
            SessionEvent::ConnectionClose { .. } => "connection_close",
            SessionEvent::CommandStart { .. } => "command_start",
            SessionEvent::CommandFinish { .. } => "command_finish",
            SessionEvent::FileUpload { .. } => "file_upload",
            SessionEvent::TerminalUpdate { .. } => "terminal_update",
            SessionEvent::DataLoss { .. } => "data_loss",
            SessionEvent::SegmentStart { .. } => "segment_start",
            SessionEvent::TerminalInjection { .. } => "terminal_injection",
            SessionEvent::OutboundConnectionStart { .. } => "outbound_connection_start",
            SessionEvent::OutboundConnectionEnd { .. } => "outbound_connection_end",
            SessionEvent::WebLogin { .. } => "web_login",
            SessionEvent::Seal { .. } => "seal",
            SessionEvent::ChainHead { .. } => "chain_head",
            SessionEvent::RecordingDeleted { .. } => "recording_deleted",
            SessionEvent::StorageError { .. } => "storage_error",
            SessionEvent::StoreError { .. } => "store_error",
            SessionEvent::ConfigError { .. } => "config_error",
            SessionEvent::SessionKilled { .. } => "session_killed",
            SessionEvent::RecordingGap { .. } => "recording_gap",
            SessionEvent::Unknown { kind, .. } => kind,
        }
    }

    /// Fields of the event (without `"type"`), in declaration order.
    pub fn fields(&self) -> Map<String, Value> {
        if let SessionEvent::Unknown { fields, .. } = self {
            return fields.clone();
        }
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => {
                m.shift_remove("type");
                m
            }
            _ => Map::new(),
        }
    }

    /// Decode from a type name and the remaining fields.
    pub fn from_fields(kind: &str, fields: Map<String, Value>) -> Result<Self, serde_json::Error> {
        if !KNOWN_TYPES.contains(&kind) {
            return Ok(SessionEvent::Unknown {
                kind: kind.to_owned(),
                fields,
            });
        }
        let mut obj = Map::with_capacity(fields.len() + 1);
        obj.insert("type".into(), Value::String(kind.to_owned()));
        obj.extend(fields);
        serde_json::from_value(Value::Object(obj))
    }
}
