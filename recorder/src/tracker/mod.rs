//! Turns kernel events into sessions: which connection a process belongs to, when a
//! connection becomes a logged-in session, what goes into its cast and sidecar, and
//! which human line goes into the event log.
//!
//! [`Tracker::handle`] dispatches each kernel event to the file that does that job:
//!
//! | file | job |
//! |---|---|
//! | `conn.rs` | what is known of one connection |
//! | `lifecycle.rs` | adopt at start-up, establish (open the recording), close, seal |
//! | `output.rs` | terminal output and resizes: cast, follow stream, terminal_update |
//! | `commands.rs` | exec / exit, markers for the user's commands, uploads |
//! | `command_output.rs` | output attributed to commands (held `command_finish`) |
//! | `auth.rs` | auth facts from sshd's log text |
//! | `outbound_events.rs` | outbound SSH connections |
//! | `storage.rs` | the tick: drop accounting, frame flushes, storage errors |
//! | `queries.rs` | follow, inject, kill, the sessions table, shutdown |
//! | `clock.rs` | kernel time to wall-clock time |
//!
//! It writes files and reads /proc (process roots, uids, cwd) but never blocks
//! on the network, and is driven by one task (see `daemon.rs`).

use crate::accounts::{self, ProcessRoot};
use crate::kernel_events::{ClosedSize, Exec, Header as KHeader, KernelEvent, Stream};
use crate::live::{self, FollowStart, Live, LiveItem, Target};
use crate::outbound::{self, OutConn};
use crate::procfs;
use crate::recording::Recording;
use crate::sshd_log::{self, AuthMessage};
use crate::state::{ResumeState, StateDir};
use crate::user_program::{ExecFacts, ExecRole, UserProgram};
use chrono::{DateTime, Utc};
use sshlog_control::{FollowHello, RecordingStats, SessionInfo};
use sshlog_format::cast::{Event, SshlogMeta};
use sshlog_format::framed::FrameOptions;
use sshlog_format::sidecar::{Record, SessionEvent, SCHEMA_VERSION};
use sshlog_format::text::strip_escapes;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};
use uuid::Uuid;

mod auth;
mod clock;
mod command_output;
mod commands;
mod conn;
mod lifecycle;
mod outbound_events;
mod output;
mod queries;
mod storage;

pub use clock::Clock;
use conn::{Command, Conn};

/// At most this much output text is batched into one terminal_update.
const PENDING_TEXT_MAX: usize = 64 * 1024;
/// At most this many command records are held for a connection that has not
/// become a session yet (PAM helpers); more go straight to the event log.
const EARLY_MAX: usize = 256;

/// Per-connection counters kept by the eBPF side (map `conn_stats`).
pub use sshlog_recorder_ebpf::layout::ConnStats as ConnCounters;

/// What is known about the session an event belongs to (for action filters such
/// as client_ip or tty, which most records do not carry themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext {
    pub session_id: Option<Uuid>,
    pub sshd_pid: Option<u32>,
    pub user: Option<String>,
    pub client: Option<SocketAddr>,
    pub tty: Option<String>,
    pub existing_login: bool,
    /// For `command_finish`: the first [`command_output::COMMAND_OUTPUT_MAX`] bytes of the
    /// command's output (the agent's `stdout`).
    pub command_output: Option<String>,
}

/// Where records go besides the session's sidecar: the event log, watchers, actions.
pub trait Sink {
    /// A record that was also written to the session's sidecar (or has no session).
    fn emit(&mut self, rec: &Record, ctx: &SessionContext);
    /// Whether anything consumes this event type; transient events such as
    /// terminal_update are only produced when it does.
    fn wants(&self, _event_type: &str) -> bool {
        false
    }
    /// An event that is not stored (terminal_update): actions only.
    fn emit_transient(&mut self, _rec: &Record, _ctx: &SessionContext) {}
}

pub struct Options {
    pub log_dir: PathBuf,
    pub frame: FrameOptions,
    pub capture_input: bool,
    /// `sshlog attach` may type into sessions (off unless configured).
    pub allow_injection: bool,
    /// `sshlog kill` may end sessions (off unless configured).
    pub allow_kill: bool,
    /// Process names whose outbound SSH connections are not logged.
    pub outbound_ignore: Vec<String>,
    /// Called with each sealed recording's sidecar (the fleet store's spool).
    pub after_finish: Option<crate::finisher::AfterFinish>,
    /// Seals finished recordings into the host's chain.
    pub sealer: std::sync::Arc<crate::sealer::Sealer>,
}

pub struct Tracker {
    conns: HashMap<u32, Conn>,
    clock: Clock,
    opts: Options,
    state: StateDir,
    live_tx: broadcast::Sender<LiveItem>,
    /// Syncs, seals and indexes finished recordings off the capture path.
    finisher: crate::finisher::Finisher,
    /// Outbound connections by pid of the connecting process.
    outbound: HashMap<u32, Vec<OutConn>>,
    /// The last write error since the previous tick.
    storage_error: Option<String>,
    /// Writes are failing (reported); cleared when a tick writes everything.
    storage_failing: Option<String>,
    pub stats: RecordingStats,
}

/// An outbound_connection_start waiting for the TCP handshake's outcome.
#[derive(Debug, Clone)]
pub struct PendingStart {
    pub ts_ns: u64,
    pub event: SessionEvent,
    pub conn: u32,
}

impl Tracker {
    pub fn new(opts: Options) -> Self {
        let state = StateDir::new(opts.log_dir.join("state"));
        let finisher = crate::finisher::Finisher::start(
            &opts.log_dir,
            opts.sealer.clone(),
            opts.after_finish.clone(),
        );
        Tracker {
            conns: HashMap::new(),
            clock: Clock::now(),
            opts,
            state,
            live_tx: broadcast::channel(1024).0,
            finisher,
            outbound: HashMap::new(),
            storage_error: None,
            storage_failing: None,
            stats: RecordingStats::default(),
        }
    }

    fn conn(&mut self, h: &KHeader) -> &mut Conn {
        self.conns
            .entry(h.conn)
            .or_insert_with(|| Conn::new(h.conn, h.ts_ns))
    }

    fn record(
        &self,
        session_id: Option<Uuid>,
        ts: DateTime<Utc>,
        event: SessionEvent,
        note: Option<&str>,
    ) -> Record {
        let mut extra = serde_json::Map::new();
        if let Some(n) = note {
            extra.insert("note".into(), serde_json::Value::String(n.into()));
        }
        Record {
            schema: SCHEMA_VERSION,
            ts,
            session_id,
            event,
            extra,
        }
    }

    /// Writes `event` to the connection's sidecar (if it has a recording) and the sink.
    fn emit(&mut self, conn_pid: u32, ts_ns: u64, event: SessionEvent, sink: &mut dyn Sink) {
        self.emit_as(conn_pid, ts_ns, event, None, sink)
    }

    /// [`Tracker::emit`] with the acting user in the record's extras, for events
    /// whose schema has no user field (command_finish).
    fn emit_as(
        &mut self,
        conn_pid: u32,
        ts_ns: u64,
        event: SessionEvent,
        user: Option<String>,
        sink: &mut dyn Sink,
    ) {
        // Held command_finish records of this connection go first.
        self.emit_settled(conn_pid, u64::MAX, sink);
        self.emit_record(conn_pid, ts_ns, event, user, None, sink);
    }

    /// Writes one record of a connection to its sidecar and the sink;
    /// `command_output` is the output attributed to a finished command.
    fn emit_record(
        &mut self,
        conn_pid: u32,
        ts_ns: u64,
        event: SessionEvent,
        user: Option<String>,
        command_output: Option<String>,
        sink: &mut dyn Sink,
    ) {
        let ts = self.clock.wall(ts_ns);
        let session_id = self
            .conns
            .get(&conn_pid)
            .and_then(|c| c.rec.as_ref().map(|r| r.id));
        let mut rec = self.record(session_id, ts, event, None);
        if let Some(u) = user {
            rec.extra
                .insert("user".into(), serde_json::Value::String(u));
        }
        if let Some(r) = self.conns.get_mut(&conn_pid).and_then(|c| c.rec.as_mut()) {
            if let Err(e) = r.write_record(&rec) {
                self.write_failed(conn_pid, &e);
            }
        }
        let mut ctx = self.context(conn_pid);
        ctx.command_output = command_output;
        sink.emit(&rec, &ctx);
    }

    fn context(&self, conn_pid: u32) -> SessionContext {
        match self.conns.get(&conn_pid) {
            Some(c) => SessionContext {
                session_id: c.rec.as_ref().map(|r| r.id),
                sshd_pid: Some(c.pid),
                user: c.user.clone(),
                client: c.client,
                tty: c.tty.clone(),
                existing_login: c.existing,
                command_output: None,
            },
            None => SessionContext {
                sshd_pid: Some(conn_pid),
                ..Default::default()
            },
        }
    }

    fn write_cast(&mut self, conn_pid: u32, ev: Event) {
        if let Some(r) = self.conns.get_mut(&conn_pid).and_then(|c| c.rec.as_mut()) {
            if let Err(e) = r.write_cast(&ev) {
                self.write_failed(conn_pid, &e);
            }
        }
    }

    pub fn handle(&mut self, ev: KernelEvent, sink: &mut dyn Sink) {
        self.stats.kernel_events += 1;
        match ev {
            KernelEvent::ConnNew(h) => {
                if self.conns.contains_key(&h.conn) {
                    // The pid was reused (its exit was not seen): the old
                    // connection is over.
                    self.close(h.conn, h.ts_ns, sink);
                }
                self.conns.insert(h.conn, Conn::new(h.conn, h.ts_ns));
            }
            KernelEvent::Fork(h) => {
                let c = self.conn(&h);
                if c.sshd_pids.contains(&h.ppid) {
                    c.sshd_pids.insert(h.pid);
                }
                c.program.on_fork(h.pid, h.ppid);
            }
            KernelEvent::ConnAddr { h, local, peer } => {
                let c = self.conn(&h);
                c.client = Some(peer);
                c.server_port = local.port();
            }
            KernelEvent::Exec(x) => self.on_exec(x, sink),
            KernelEvent::Exit { h, status } => self.on_exit(h, status, sink),
            KernelEvent::Data {
                h,
                start_ns,
                fd,
                input,
                stream,
                pts,
                data,
            } => self.on_data(h, start_ns, fd, input, stream, pts, data, sink),
            KernelEvent::Resize {
                h,
                pts,
                cols,
                rows,
                uid,
                ..
            } => self.on_resize(h, pts, cols, rows, uid, sink),
            KernelEvent::Log { h, text } => self.on_log(h, text, sink),
            KernelEvent::OutConnect {
                h,
                uid,
                ret,
                dest,
                sk,
                comm,
                ancestors,
                argv,
            } => self.on_out_connect(h, uid, ret, dest, sk, comm, ancestors, argv, sink),
            KernelEvent::OutState {
                h,
                sk,
                oldstate,
                newstate,
            } => self.on_out_state(h, sk, oldstate, newstate, sink),
            KernelEvent::FileOpen { h, fd, path, .. } => self.on_file_open(h, fd, path),
            KernelEvent::FileClose { h, fd, size } => self.on_file_close(h, fd, size, sink),
        }
    }
}

#[cfg(test)]
mod tests;
