//! Turns kernel events into sessions: which connection a process belongs to, when a
//! connection becomes a logged-in session, what goes into its cast and sidecar, and
//! which human line goes into the event log.
//!
//! The tracker is pure bookkeeping plus file writes; it never blocks on the network
//! and is driven by one task (see `daemon.rs`). Times come from the kernel
//! (CLOCK_MONOTONIC) and are turned into wall-clock time with [`Clock`].

use crate::accounts::{self, ProcessRoot};
use crate::kernel_events::{Exec, Header as KHeader, KernelEvent, Stream};
use crate::live::{self, FollowStart, Live, LiveItem, Target};
use crate::outbound::{self, OutConn};
use crate::procfs;
use crate::recording::Recording;
use crate::sshd_log::{self, AuthMessage};
use crate::state::{LiveState, StateDir};
use crate::user_program::{ExecFacts, ExecRole, UserProgram};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sshlog_format::cast::{Event, SshlogMeta};
use sshlog_format::framed::FrameOptions;
use sshlog_format::sidecar::{Record, SessionEvent, SCHEMA_VERSION};
use sshlog_format::text::strip_escapes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};
use uuid::Uuid;

/// At most this much output text is batched into one terminal_update.
const PENDING_TEXT_MAX: usize = 64 * 1024;
/// At most this many command records are held for a connection that has not
/// become a session yet (PAM helpers); more go straight to the event log.
const EARLY_MAX: usize = 256;

/// Converts CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset_ns: i128,
}

impl Clock {
    pub fn now() -> Self {
        let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(ts_ns)
            .unwrap_or(0);
        let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
            .map(ts_ns)
            .unwrap_or(0);
        Clock {
            offset_ns: real - mono,
        }
    }
    pub fn wall(&self, mono_ns: u64) -> DateTime<Utc> {
        let ns = mono_ns as i128 + self.offset_ns;
        DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
            .unwrap_or_else(Utc::now)
    }
    pub fn mono_now() -> u64 {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| ts_ns(t) as u64)
            .unwrap_or(0)
    }
}

fn ts_ns(t: nix::sys::time::TimeSpec) -> i128 {
    t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128
}

/// Per-connection counters kept by the eBPF side (map `conn_stats`).
pub use sshlog_recorder_ebpf::layout::ConnStats as ConnCounters;

/// Daemon-wide counters, served on the control socket (`stats`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub kernel_events: u64,
    pub decode_errors: u64,
    pub bytes_recorded: u64,
    pub bytes_dropped: u64,
    pub events_dropped: u64,
    pub sessions_recorded: u64,
    pub write_errors: u64,
}

/// One row of `sshlog sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub session_id: Option<Uuid>,
    pub sshd_pid: u32,
    pub user: Option<String>,
    pub client: Option<String>,
    pub tty: Option<String>,
    pub started: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub last_command: Option<String>,
    pub existing_login: bool,
    pub cast: Option<PathBuf>,
}

struct Command {
    argv: Vec<String>,
    user: Option<String>,
    start_ns: u64,
    /// The cwd at exec, as the process sees it (relative upload paths).
    cwd: Option<String>,
}

struct Conn {
    pid: u32,
    start_ns: u64,
    existing: bool,
    client: Option<SocketAddr>,
    server_port: u16,
    user: Option<String>,
    /// `user` came from sshd's own log ("Accepted ... for USER").
    user_from_log: bool,
    /// The user's login shell (the cast header's `env.SHELL`).
    login_shell: Option<String>,
    /// The connection's filesystem root (a chroot or container, or the host).
    root: ProcessRoot,
    tty: Option<String>,
    established: bool,
    /// sshd logged a successful authentication; the session opens with the first
    /// pty, command or data (so its tty is known).
    accepted: bool,
    auth_failures: u32,
    preauth_user: Option<String>,
    sshd_pids: HashSet<u32>,
    /// The program sshd started for the user, and what counts as it.
    program: UserProgram,
    commands: HashMap<u32, Command>,
    /// Command records from before the connection became a session (PAM's
    /// helpers run before the user's program): written after connection_established.
    early: Vec<(u64, SessionEvent, Option<String>)>,
    uploads: HashMap<(u32, i32), String>,
    /// (pid, fd) of the pty master sshd reads the session's output from.
    pty_master: Option<(u32, u32)>,
    /// Output not yet reported as terminal_update (only kept when wanted).
    pending_text: Vec<u8>,
    /// Cast bytes dropped because they could not be written (reported at tick).
    storage_dropped: u64,
    /// The connection's sshd exited at this time; closed at the next tick.
    closing_ns: Option<u64>,
    rec: Option<Recording>,
    previous: Option<LiveState>,
    last_activity_ns: u64,
    last_command: Option<String>,
    recent_logs: VecDeque<String>,
    counters_seen: ConnCounters,
}

impl Conn {
    fn new(pid: u32, start_ns: u64) -> Self {
        let endpoints = procfs::tcp_endpoints(pid);
        Conn {
            pid,
            start_ns,
            existing: false,
            client: endpoints.map(|(_, peer)| peer),
            server_port: endpoints.map(|(local, _)| local.port()).unwrap_or(0),
            user: None,
            user_from_log: false,
            login_shell: None,
            root: ProcessRoot::of(pid),
            tty: None,
            established: false,
            accepted: false,
            auth_failures: 0,
            preauth_user: None,
            sshd_pids: HashSet::from([pid]),
            program: UserProgram::default(),
            commands: HashMap::new(),
            early: Vec::new(),
            uploads: HashMap::new(),
            pty_master: None,
            pending_text: Vec::new(),
            storage_dropped: 0,
            closing_ns: None,
            rec: None,
            previous: None,
            last_activity_ns: start_ns,
            last_command: None,
            recent_logs: VecDeque::new(),
            counters_seen: ConnCounters::default(),
        }
    }
}

/// Whether running process `pid` of an adopted connection is the program sshd
/// started for the user (see [`crate::user_program`]): a session leader whose
/// parent is an sshd of the connection other than its monitor.
fn is_user_program(pid: u32, sshd_pids: &HashSet<u32>, monitor: u32) -> bool {
    let parent = procfs::stat(pid).map(|(ppid, _)| ppid);
    procfs::session_id(pid) == Some(pid)
        && parent.is_some_and(|p| p != monitor && sshd_pids.contains(&p))
}

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
    /// Process names whose outbound SSH connections are not logged.
    pub outbound_ignore: Vec<String>,
}

pub struct Tracker {
    conns: HashMap<u32, Conn>,
    clock: Clock,
    opts: Options,
    state: StateDir,
    live_tx: broadcast::Sender<LiveItem>,
    /// Adds finished recordings to the search index.
    indexer: crate::indexer::Indexer,
    /// Outbound connections by pid of the connecting process.
    outbound: HashMap<u32, Vec<OutConn>>,
    /// The last write error since the previous tick.
    storage_error: Option<String>,
    /// Writes are failing (reported); cleared when a tick writes everything.
    storage_failing: Option<String>,
    pub stats: Stats,
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
        let indexer = crate::indexer::Indexer::start(&opts.log_dir);
        Tracker {
            conns: HashMap::new(),
            clock: Clock::now(),
            opts,
            state,
            live_tx: broadcast::channel(1024).0,
            indexer,
            outbound: HashMap::new(),
            storage_error: None,
            storage_failing: None,
            stats: Stats::default(),
        }
    }

    fn conn(&mut self, h: &KHeader) -> &mut Conn {
        self.conns
            .entry(h.conn)
            .or_insert_with(|| Conn::new(h.conn, h.ts_ns))
    }

    /// Registers a connection that was open before sshlogd started.
    pub fn adopt_existing(&mut self, conn_pid: u32, pids: &[(u32, String)], sink: &mut dyn Sink) {
        let now = Clock::mono_now();
        let mut c = Conn::new(conn_pid, now);
        c.existing = true;
        for (pid, comm) in pids {
            if comm == "sshd" || comm.starts_with("sshd-") {
                c.sshd_pids.insert(*pid);
                // `sshd: alice@pts/0` is the post-authentication child.
                if let Some(title) = procfs::cmdline(*pid) {
                    if let Some(rest) = title.strip_prefix("sshd: ") {
                        if let Some((user, tty)) = rest.split_once('@') {
                            c.user = Some(user.to_string());
                            c.user_from_log = true;
                            c.tty = Some(format!(
                                "/dev/{}",
                                tty.split_whitespace().next().unwrap_or(tty)
                            ));
                        } else if let Some(user) = rest.strip_suffix(" [priv]") {
                            c.user.get_or_insert(user.to_string());
                        }
                    }
                }
            } else if c.program.pid().is_none() && is_user_program(*pid, &c.sshd_pids, conn_pid) {
                c.program.adopt(*pid);
            }
        }
        c.previous = procfs::stat(conn_pid).and_then(|(_, start)| self.state.take(conn_pid, start));
        if let Some(prev) = c.previous.clone().filter(|p| !p.sealed) {
            // The previous segment was cut off (kill -9): its files are final now.
            self.seal_left_over(&prev);
        }
        let logged_in = c.user.is_some() || c.program.pid().is_some();
        self.conns.insert(conn_pid, c);
        if logged_in {
            self.establish(conn_pid, now, None, sink);
            let c = self.conns.get_mut(&conn_pid).expect("inserted above");
            let size = c.tty.as_deref().and_then(procfs::tty_size);
            if let (Some((cols, rows)), Some(r)) = (size, c.rec.as_mut()) {
                if let Err(e) = r.ensure_cast(cols, rows) {
                    warn!("{e:#}");
                }
            }
        }
    }

    /// Closes sessions a previous sshlogd left open whose connection is gone.
    pub fn close_stale_state(&mut self, sink: &mut dyn Sink) {
        for st in self.state.stale() {
            let rec = self.record(
                Some(st.session_id),
                Utc::now(),
                SessionEvent::ConnectionClose {
                    user: st.user.clone().unwrap_or_default(),
                    sshd_pid: st.conn_pid,
                    duration_ms: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                },
                Some("connection ended while sshlogd was not running; duration unknown"),
            );
            if st.sealed {
                // Closed after its seal: the close goes to the event log only.
            } else if let Err(e) = Recording::append_record(&st.events_path, &rec) {
                warn!("cannot close stale session {}: {e:#}", st.session_id);
            } else {
                self.seal_left_over(&st);
            }
            let ctx = SessionContext {
                session_id: Some(st.session_id),
                sshd_pid: Some(st.conn_pid),
                user: st.user.clone(),
                ..Default::default()
            };
            sink.emit(&rec, &ctx);
        }
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
        sink.emit(&rec, &self.context(conn_pid));
    }

    /// Finishes a recording and seals it into the chain.
    fn finish_recording(&mut self, r: Recording) {
        // The last frame is written here; fsync, seal and index happen on the
        // finisher thread so that closing sessions never stalls capture.
        match r.close() {
            Ok(closed) => self.indexer.finish(closed, &self.state),
            Err(e) => {
                self.stats.write_errors += 1;
                warn!("cannot finish recording: {e:#}");
            }
        }
    }

    /// Seals a recording left by a previous sshlogd (its files are complete).
    fn seal_left_over(&mut self, st: &LiveState) {
        let cast = PathBuf::from(
            st.events_path
                .to_string_lossy()
                .replace(".events.jsonl", ".cast.zst"),
        );
        let head = self.state.chain_head();
        match crate::recording::seal(&cast, &st.events_path, st.session_id, &head) {
            Ok(seal) => {
                if let Err(e) = self.state.set_chain_head(&seal) {
                    warn!("cannot save the seal chain head: {e:#}");
                }
                self.indexer.submit(&st.events_path, &cast);
            }
            Err(e) => warn!("cannot seal {}: {e:#}", st.session_id),
        }
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

    /// Marks the connection as a logged-in session and opens its recording.
    fn establish(&mut self, conn_pid: u32, ts_ns: u64, uid_hint: Option<u32>, sink: &mut dyn Sink) {
        let Some(c) = self.conns.get_mut(&conn_pid) else {
            return;
        };
        if c.established {
            return;
        }
        c.established = true;
        if c.user.is_none() {
            c.user = uid_hint
                .and_then(|u| accounts::by_uid(&c.root, u))
                .map(|a| a.name);
        }
        if c.login_shell.is_none() {
            c.login_shell = c
                .user
                .as_deref()
                .and_then(|u| accounts::by_name(&c.root, u))
                .map(|a| a.shell);
        }
        if c.client.is_none() {
            if let Some((local, peer)) = procfs::tcp_endpoints(conn_pid) {
                c.client = Some(peer);
                c.server_port = local.port();
            }
        }
        let (segment, previous) = match &c.previous {
            Some(p) => (p.segment + 1, Some(p.session_id)),
            None => (0, None),
        };
        let meta = SshlogMeta {
            session_id: None,
            sshd_pid: Some(conn_pid),
            tty: c.tty.clone(),
            user: c.user.clone(),
            client: c.client.map(|a| a.to_string()),
            segment: Some(segment),
            previous_segment: previous,
            root: c.root.label(),
        };
        // PAM's helpers ran before this: the session starts with the first of them.
        let ts_ns = c.early.first().map_or(ts_ns, |(t, _, _)| ts_ns.min(*t));
        let start_ns = if c.existing {
            ts_ns
        } else {
            c.start_ns.min(ts_ns)
        };
        let wall = self.clock.wall(start_ns);
        match Recording::create(&self.opts.log_dir, wall, start_ns, meta, self.opts.frame) {
            Ok(mut r) => {
                debug!("session {} for connection {conn_pid}", r.id);
                r.shell = c.login_shell.clone();
                let st = LiveState {
                    session_id: r.id,
                    conn_pid,
                    conn_start_ticks: procfs::stat(conn_pid).map(|(_, s)| s).unwrap_or(0),
                    segment,
                    user: c.user.clone(),
                    events_path: r.paths.events.clone(),
                    sealed: false,
                };
                if let Err(e) = self.state.save(&st) {
                    warn!("cannot save live state: {e:#}");
                }
                c.rec = Some(r);
                self.stats.sessions_recorded += 1;
            }
            Err(e) => {
                self.stats.write_errors += 1;
                warn!("cannot record connection {conn_pid}: {e:#}");
            }
        }
        let c = &self.conns[&conn_pid];
        let ev = SessionEvent::ConnectionEstablished {
            user: c.user.clone().unwrap_or_default(),
            client_ip: c.client.map(|a| a.ip().to_string()).unwrap_or_default(),
            client_port: c.client.map(|a| a.port()).unwrap_or(0),
            server_port: c.server_port,
            tty: c.tty.clone(),
            sshd_pid: conn_pid,
            existing_login: c.existing,
            root: c.root.label(),
        };
        if let Some(prev) = previous {
            let seg = SessionEvent::SegmentStart {
                previous_segment: Some(prev),
                segment,
            };
            self.emit(conn_pid, ts_ns, seg, sink);
        }
        self.emit(conn_pid, ts_ns, ev, sink);
        let early = self
            .conns
            .get_mut(&conn_pid)
            .map(|c| std::mem::take(&mut c.early))
            .unwrap_or_default();
        for (ts, ev, user) in early {
            self.emit_as(conn_pid, ts, ev, user, sink);
        }
    }

    /// A command record: held until the connection is a session (see `early`).
    fn emit_command(
        &mut self,
        conn_pid: u32,
        ts_ns: u64,
        event: SessionEvent,
        user: Option<String>,
        sink: &mut dyn Sink,
    ) {
        if let Some(c) = self.conns.get_mut(&conn_pid) {
            if !c.established && c.early.len() < EARLY_MAX {
                c.early.push((ts_ns, event, user));
                return;
            }
        }
        self.emit_as(conn_pid, ts_ns, event, user, sink);
    }

    pub fn handle(&mut self, ev: KernelEvent, sink: &mut dyn Sink) {
        self.stats.kernel_events += 1;
        let h = *ev.header();
        match ev {
            KernelEvent::ConnNew(h) => {
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
                fd,
                input,
                stream,
                pts,
                data,
            } => {
                if !self.conns.get(&h.conn).is_some_and(|c| c.established) {
                    self.establish_from_process(&h, procfs::uid(h.pid), sink);
                }
                let Some(c) = self.conns.get_mut(&h.conn) else {
                    return;
                };
                c.last_activity_ns = h.ts_ns;
                if stream == Stream::Pty && !input {
                    c.pty_master = Some((h.pid, fd));
                    if c.tty.is_none() {
                        c.tty = pts.map(|n| format!("/dev/pts/{n}"));
                    }
                }
                if input && !self.opts.capture_input {
                    return;
                }
                let Some(r) = c.rec.as_mut() else { return };
                let t = r.time_us(h.ts_ns);
                let (id, offset) = (r.id, r.output_bytes);
                if input {
                    self.write_cast(h.conn, Event::Input { time_us: t, data });
                    return;
                }
                self.stats.bytes_recorded += data.len() as u64;
                if sink.wants("terminal_update") && c.pending_text.len() < PENDING_TEXT_MAX {
                    let room = PENDING_TEXT_MAX - c.pending_text.len();
                    c.pending_text
                        .extend_from_slice(&data[..data.len().min(room)]);
                }
                let live = (self.live_tx.receiver_count() > 0).then(|| data.clone());
                self.write_cast(h.conn, Event::Output { time_us: t, data });
                if let Some(data) = live {
                    let _ = self
                        .live_tx
                        .send(Arc::new((id, Live::Output { offset, data })));
                }
            }
            KernelEvent::Resize {
                h,
                pts,
                cols,
                rows,
                uid,
                ..
            } => {
                // A client without a terminal of its own (ssh -tt < file) sends 0x0.
                let (cols, rows) = if cols == 0 || rows == 0 {
                    (80, 24)
                } else {
                    (cols, rows)
                };
                if let Some(c) = self.conns.get_mut(&h.conn) {
                    if c.tty.is_none() {
                        c.tty = pts.map(|n| format!("/dev/pts/{n}"));
                    }
                }
                if !self.conns.get(&h.conn).is_some_and(|c| c.established) {
                    self.establish_from_process(&h, Some(uid), sink);
                }
                let Some(r) = self.conns.get_mut(&h.conn).and_then(|c| c.rec.as_mut()) else {
                    return;
                };
                if r.has_cast() {
                    let t = r.time_us(h.ts_ns);
                    let id = r.id;
                    let _ = self
                        .live_tx
                        .send(Arc::new((id, Live::Resize { cols, rows })));
                    self.write_cast(
                        h.conn,
                        Event::Resize {
                            time_us: t,
                            cols,
                            rows,
                        },
                    );
                } else if let Err(e) = r.ensure_cast(cols, rows) {
                    self.write_failed(h.conn, &e);
                }
            }
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
            KernelEvent::FileOpen { h, fd, path, .. } => {
                let c = self.conn(&h);
                let full = if path.starts_with('/') {
                    path
                } else {
                    // The cwd as the uploader sees it (inside its chroot): now,
                    // else at its exec (scp -t may be gone by now).
                    let cwd = std::fs::read_link(format!("/proc/{}/cwd", h.pid))
                        .map(|p| c.root.strip(&p))
                        .ok()
                        .or_else(|| c.commands.get(&h.pid)?.cwd.as_ref().map(PathBuf::from))
                        .unwrap_or_default();
                    cwd.join(path).to_string_lossy().into_owned()
                };
                c.uploads.insert((h.pid, fd), full);
            }
            KernelEvent::FileClose { h, fd } => {
                if let Some(path) = self
                    .conns
                    .get_mut(&h.conn)
                    .and_then(|c| c.uploads.remove(&(h.pid, fd)))
                {
                    self.emit_upload(&h, path, sink);
                }
            }
        }
        let _ = h;
    }

    fn emit_upload(&mut self, h: &KHeader, path: String, sink: &mut dyn Sink) {
        // Only regular files are uploads (sftp-server and scp also open /dev/null).
        let on_disk = match self.conns.get(&h.conn) {
            Some(c) => c.root.resolve(&path),
            None => PathBuf::from(&path),
        };
        let size = match std::fs::metadata(on_disk) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return,
            Err(_) => 0,
        };
        let (user, program) = match self.conns.get(&h.conn) {
            Some(c) => (c.user.clone(), procfs::comm(h.pid).unwrap_or_default()),
            None => (None, String::new()),
        };
        let program = if program.is_empty() {
            "scp/sftp-server".to_string()
        } else {
            program
        };
        self.emit(
            h.conn,
            h.ts_ns,
            SessionEvent::FileUpload {
                path,
                size,
                user,
                pid: h.pid,
                program,
            },
            sink,
        );
    }

    /// sshd's session child did something only a logged-in session does (set a
    /// terminal size, moved session data); `uid` is that child's, the user's.
    fn establish_from_process(&mut self, h: &KHeader, uid: Option<u32>, sink: &mut dyn Sink) {
        self.conn(h);
        self.establish(h.conn, h.ts_ns, uid, sink);
    }

    fn on_exec(&mut self, x: Exec, sink: &mut dyn Sink) {
        let h = x.h;
        let c = self.conn(&h);
        if x.comm == "sshd" || x.comm.starts_with("sshd-") {
            c.sshd_pids.insert(h.pid);
            return;
        }
        let parent_is_sshd = c.sshd_pids.contains(&h.ppid);
        c.sshd_pids.remove(&h.pid);
        let role = c.program.on_exec(ExecFacts {
            pid: h.pid,
            ppid: h.ppid,
            session_leader: x.session_leader,
            parent_is_sshd,
            parent_is_monitor: h.ppid == h.conn,
        });
        let account = accounts::by_uid(&c.root, x.uid);
        let user = account.as_ref().map(|a| a.name.clone());
        let line = x.argv.join(" ");
        if role == ExecRole::UserProgram {
            // The account sshd switched to; sshd's own log, when visible, names it too.
            if let Some(a) = &account {
                if c.user_from_log && c.user.as_deref() != Some(a.name.as_str()) {
                    debug!(
                        "connection {}: sshd logged user {:?}, its program runs as {}",
                        h.conn, c.user, a.name
                    );
                }
                if !c.user_from_log {
                    c.user = Some(a.name.clone());
                }
                c.login_shell = Some(a.shell.clone());
            }
            // A login shell (`-bash`) is not a command; `bash -c CMD` names one.
            if !x.argv.first().is_some_and(|a| a.starts_with('-')) {
                c.last_command = Some(line.clone());
            }
            if !c.established {
                self.establish(h.conn, h.ts_ns, Some(x.uid), sink);
            }
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        c.commands.insert(
            h.pid,
            Command {
                argv: x.argv.clone(),
                user: user.clone(),
                start_ns: h.ts_ns,
                cwd: x.cwd.clone(),
            },
        );
        c.last_activity_ns = h.ts_ns;
        if role == ExecRole::UserCommand {
            c.last_command = Some(line.clone());
            if let Some(r) = c.rec.as_mut() {
                let t = r.time_us(h.ts_ns);
                self.write_cast(
                    h.conn,
                    Event::Marker {
                        time_us: t,
                        label: line,
                    },
                );
            }
        }
        let ev = SessionEvent::CommandStart {
            pid: h.pid,
            ppid: h.ppid,
            uid: x.uid,
            user: user.clone(),
            argv: x.argv,
            argv_truncated: x.argv_truncated,
            filename: x.filename,
            cwd: x.cwd,
        };
        self.emit_command(h.conn, h.ts_ns, ev, user, sink);
    }

    fn on_exit(&mut self, h: KHeader, status: i32, sink: &mut dyn Sink) {
        if let Some(conns) = self.outbound.remove(&h.pid) {
            for oc in conns {
                self.end_outbound(oc, h.ts_ns, status, sink);
            }
        }
        if h.conn == 0 {
            return; // an outbound-only process outside any sshd tree
        }
        if h.pid == h.conn {
            // Closed at the next tick, once the kernel's final counters (drops
            // during the last moments) have been read.
            match self.conns.get_mut(&h.conn) {
                Some(c) => c.closing_ns = Some(h.ts_ns),
                None => self.close(h.conn, h.ts_ns, sink),
            }
            return;
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        c.sshd_pids.remove(&h.pid);
        c.program.on_exit(h.pid);
        let uploads: Vec<(i32, String)> = c
            .uploads
            .iter()
            .filter(|((p, _), _)| *p == h.pid)
            .map(|((_, fd), path)| (*fd, path.clone()))
            .collect();
        for (fd, _) in &uploads {
            c.uploads.remove(&(h.pid, *fd));
        }
        for (_, path) in uploads {
            self.emit_upload(&h, path, sink);
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        let Some(cmd) = c.commands.remove(&h.pid) else {
            return;
        };
        let signal = status & 0x7f;
        let ev = SessionEvent::CommandFinish {
            pid: h.pid,
            exit_code: (signal == 0).then_some((status >> 8) & 0xff),
            signal: (signal != 0).then_some(signal),
            duration_ms: h.ts_ns.saturating_sub(cmd.start_ns) / 1_000_000,
            argv: cmd.argv,
        };
        self.emit_command(h.conn, h.ts_ns, ev, cmd.user, sink);
    }

    fn on_log(&mut self, h: KHeader, text: String, sink: &mut dyn Sink) {
        let Some(msg) = sshd_log::parse(&text) else {
            return;
        };
        let c = self.conn(&h);
        // The same message is seen twice when a privilege-separated child forwards
        // it to its monitor which then logs it.
        let key = format!("{msg:?}");
        if c.recent_logs.contains(&key) {
            return;
        }
        c.recent_logs.push_back(key);
        if c.recent_logs.len() > 16 {
            c.recent_logs.pop_front();
        }
        let client: Option<SocketAddr> = c.client;
        match msg {
            AuthMessage::Accepted { user, ip, port, .. } => {
                c.user = Some(user);
                c.user_from_log = true;
                if let Ok(ip) = ip.parse() {
                    c.client = Some(SocketAddr::new(ip, port));
                }
                c.accepted = true;
            }
            AuthMessage::Failed {
                method,
                user,
                ip,
                port,
            } => {
                c.auth_failures += 1;
                c.preauth_user = Some(user.clone());
                let ev = SessionEvent::ConnectionAuthFailed {
                    user: Some(user),
                    client_ip: client.map(|a| a.ip().to_string()).unwrap_or(ip),
                    client_port: client.map(|a| a.port()).unwrap_or(port),
                    method,
                    sshd_pid: h.conn,
                };
                self.emit(h.conn, h.ts_ns, ev, sink);
            }
            AuthMessage::ClosedPreauth { user, .. } => {
                if !user.is_empty() {
                    c.preauth_user = Some(user);
                }
            }
        }
    }

    fn close(&mut self, conn_pid: u32, ts_ns: u64, sink: &mut dyn Sink) {
        if self
            .conns
            .get(&conn_pid)
            .is_some_and(|c| c.accepted && !c.established)
        {
            // Logged in but never used a pty or ran a command (e.g. ssh -N).
            self.establish(conn_pid, ts_ns, None, sink);
        }
        let Some(c) = self.conns.get(&conn_pid) else {
            return;
        };
        if !c.established {
            // Never logged in: a failed or abandoned authentication.
            if c.auth_failures == 0 && c.preauth_user.is_some() {
                let ev = SessionEvent::ConnectionAuthFailed {
                    user: c.preauth_user.clone(),
                    client_ip: c.client.map(|a| a.ip().to_string()).unwrap_or_default(),
                    client_port: c.client.map(|a| a.port()).unwrap_or(0),
                    method: None,
                    sshd_pid: conn_pid,
                };
                self.emit(conn_pid, ts_ns, ev, sink);
            }
            // Commands held for a session that never came (none normally run
            // before authentication) still reach the event log.
            if let Some(c) = self.conns.remove(&conn_pid) {
                for (ts, ev, user) in c.early {
                    let mut rec = self.record(None, self.clock.wall(ts), ev, None);
                    if let Some(u) = user {
                        rec.extra
                            .insert("user".into(), serde_json::Value::String(u));
                    }
                    sink.emit(&rec, &self.context(conn_pid));
                }
            }
            return;
        }
        let counters = c.counters_seen;
        let ev = SessionEvent::ConnectionClose {
            user: c.user.clone().unwrap_or_default(),
            sshd_pid: conn_pid,
            duration_ms: ts_ns.saturating_sub(c.start_ns) / 1_000_000,
            bytes_in: counters.net_in,
            bytes_out: counters.net_out,
        };
        self.emit(conn_pid, ts_ns, ev, sink);
        if let Some(c) = self.conns.remove(&conn_pid) {
            if let Some(r) = c.rec {
                let _ = self.live_tx.send(Arc::new((r.id, Live::End)));
                self.state.remove(conn_pid);
                self.finish_recording(r);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_out_connect(
        &mut self,
        h: KHeader,
        uid: u32,
        ret: i32,
        dest: SocketAddr,
        sk: u64,
        comm: String,
        ancestors: Vec<(u32, String)>,
        argv: Vec<String>,
        sink: &mut dyn Sink,
    ) {
        if self.opts.outbound_ignore.contains(&comm) {
            return;
        }
        let inbound_session = self
            .conns
            .get(&h.conn)
            .and_then(|c| c.rec.as_ref().map(|r| r.id));
        let root = self
            .conns
            .get(&h.conn)
            .map_or_else(ProcessRoot::host, |c| c.root.clone());
        let user = accounts::by_uid(&root, uid).map(|a| a.name);
        let ancestry = outbound::ancestry(h.pid, &comm, &argv, &ancestors);
        let id = Uuid::now_v7();
        let result = match ret {
            0 => "connected".to_string(),
            r if r == -libc::EINPROGRESS => "connecting".to_string(),
            r => outbound::connect_error(-r),
        };
        let event = SessionEvent::OutboundConnectionStart {
            connection_id: id,
            pid: h.pid,
            ppid: h.ppid,
            uid,
            user: user.clone(),
            ancestry,
            dest_ip: dest.ip().to_string(),
            dest_port: dest.port(),
            dest_host: outbound::ssh_destination(&argv),
            result,
            inbound_session,
        };
        let pending = PendingStart {
            ts_ns: h.ts_ns,
            event,
            conn: h.conn,
        };
        let mut oc = OutConn {
            id,
            pid: h.pid,
            start_ns: h.ts_ns,
            sk,
            pending_start: None,
            user,
            inbound_session,
        };
        if ret == -libc::EINPROGRESS {
            oc.pending_start = Some(pending); // wait for the handshake
        } else {
            self.emit_outbound(pending, sink);
        }
        self.outbound.entry(h.pid).or_default().push(oc);
    }

    fn on_out_state(
        &mut self,
        h: KHeader,
        sk: u64,
        oldstate: i32,
        newstate: i32,
        sink: &mut dyn Sink,
    ) {
        const ESTABLISHED: i32 = 1;
        const SYN_SENT: i32 = 2;
        let Some(oc) = self
            .outbound
            .get_mut(&h.pid)
            .and_then(|v| v.iter_mut().find(|o| o.sk == sk))
        else {
            return;
        };
        let Some(mut p) = oc.pending_start.take() else {
            return;
        };
        if let SessionEvent::OutboundConnectionStart { result, .. } = &mut p.event {
            *result = if newstate == ESTABLISHED {
                "connected".into()
            } else if oldstate == SYN_SENT {
                "connection refused or unreachable".into()
            } else {
                "closed".into()
            };
        }
        self.emit_outbound(p, sink);
    }

    fn end_outbound(&mut self, mut oc: OutConn, ts_ns: u64, status: i32, sink: &mut dyn Sink) {
        if let Some(mut p) = oc.pending_start.take() {
            if let SessionEvent::OutboundConnectionStart { result, .. } = &mut p.event {
                *result = "not established".into();
            }
            self.emit_outbound(p, sink);
        }
        let signal = status & 0x7f;
        let event = SessionEvent::OutboundConnectionEnd {
            connection_id: oc.id,
            pid: oc.pid,
            user: oc.user.clone(),
            duration_ms: ts_ns.saturating_sub(oc.start_ns) / 1_000_000,
            exit_code: (signal == 0).then_some((status >> 8) & 0xff),
            signal: (signal != 0).then_some(signal),
            inbound_session: oc.inbound_session,
        };
        let conn = self.conns.keys().copied().find(|c| {
            self.conns[c].rec.as_ref().map(|r| r.id) == oc.inbound_session
                && oc.inbound_session.is_some()
        });
        self.emit_outbound(
            PendingStart {
                ts_ns,
                event,
                conn: conn.unwrap_or(0),
            },
            sink,
        );
    }

    /// Outbound events go to the inbound session's sidecar when there is one,
    /// else to `outbound/YYYY-MM-DD.events.jsonl`.
    fn emit_outbound(&mut self, p: PendingStart, sink: &mut dyn Sink) {
        if self.conns.get(&p.conn).is_some_and(|c| c.rec.is_some()) {
            self.emit(p.conn, p.ts_ns, p.event, sink);
            return;
        }
        let ts = self.clock.wall(p.ts_ns);
        let rec = self.record(None, ts, p.event, None);
        let path = self
            .opts
            .log_dir
            .join("outbound")
            .join(format!("{}.events.jsonl", ts.format("%Y-%m-%d")));
        if let Err(e) = path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .map_err(anyhow::Error::from)
            .and_then(|_| Recording::append_or_create(&path, &rec))
        {
            self.stats.write_errors += 1;
            warn!("cannot write {}: {e:#}", path.display());
        }
        sink.emit(&rec, &SessionContext::default());
    }

    /// The current write failure, if writes are failing.
    pub fn storage_status(&self) -> Option<&str> {
        self.storage_failing.as_deref()
    }

    /// Connections to be asked for kernel counters before the next [`Tracker::tick`].
    pub fn conn_pids(&self) -> Vec<u32> {
        self.conns.keys().copied().collect()
    }

    /// Periodic work: report newly dropped bytes, flush frames older than the
    /// frame age. `counters` yields the kernel's per-connection counters.
    pub fn tick(&mut self, counters: &HashMap<u32, ConnCounters>, sink: &mut dyn Sink) {
        let now_ns = Clock::mono_now();
        let pids: Vec<u32> = self.conns.keys().copied().collect();
        for pid in pids {
            if let Some(k) = counters.get(&pid) {
                let c = self.conns.get_mut(&pid).expect("listed above");
                let seen = c.counters_seen;
                c.counters_seen = *k;
                if k.dropped_bytes > seen.dropped_bytes || k.dropped_events > seen.dropped_events {
                    let bytes = k.dropped_bytes - seen.dropped_bytes.min(k.dropped_bytes);
                    let events = k.dropped_events - seen.dropped_events.min(k.dropped_events);
                    self.stats.bytes_dropped += bytes;
                    self.stats.events_dropped += events;
                    if let Some(r) = c.rec.as_mut() {
                        let t = r.time_us(now_ns);
                        let label = format!("sshlog: {bytes} bytes lost here (ring buffer full)");
                        self.write_cast(pid, Event::Marker { time_us: t, label });
                    }
                    let ev = SessionEvent::DataLoss {
                        bytes_dropped: bytes,
                        events_dropped: events,
                        reason: "ring buffer full".into(),
                    };
                    self.emit(pid, now_ns, ev, sink);
                }
            }
            self.flush_terminal_update(pid, now_ns, sink);
            if let Some(r) = self.conns.get_mut(&pid).and_then(|c| c.rec.as_mut()) {
                let result = if self.storage_failing.is_some() {
                    r.retry()
                } else {
                    r.maybe_flush(Instant::now())
                };
                if let Err(e) = result {
                    self.write_failed(pid, &e);
                }
            }
            let lost = self
                .conns
                .get_mut(&pid)
                .map(|c| std::mem::take(&mut c.storage_dropped))
                .unwrap_or(0);
            if lost > 0 {
                self.stats.bytes_dropped += lost;
                let ev = SessionEvent::DataLoss {
                    bytes_dropped: lost,
                    events_dropped: 0,
                    reason: "cannot write (disk full?): buffered output dropped".into(),
                };
                self.emit(pid, now_ns, ev, sink);
            }
            if let Some(ts) = self.conns.get(&pid).and_then(|c| c.closing_ns) {
                self.close(pid, ts, sink);
            }
        }
        self.report_storage(now_ns, sink);
    }

    /// A write failed (disk full, directory gone): keep going, keep what could not
    /// be written in memory (bounded), and report it once per episode.
    fn write_failed(&mut self, conn_pid: u32, e: &anyhow::Error) {
        self.stats.write_errors += 1;
        if self.storage_failing.is_none() && self.storage_error.is_none() {
            warn!("write failed: {e:#}");
        }
        self.storage_error = Some(format!("{e:#}"));
        if let Some(c) = self.conns.get_mut(&conn_pid) {
            if let Some(r) = c.rec.as_mut() {
                c.storage_dropped += r.repair();
            }
        }
    }

    /// Emits storage_error when writes start failing and again when a tick found
    /// everything written.
    fn report_storage(&mut self, now_ns: u64, sink: &mut dyn Sink) {
        let path = self.opts.log_dir.display().to_string();
        match (self.storage_error.take(), self.storage_failing.take()) {
            (Some(error), None) => {
                let ev = SessionEvent::StorageError {
                    path,
                    error: error.clone(),
                    resolved: false,
                };
                let rec = self.record(None, self.clock.wall(now_ns), ev, None);
                sink.emit(&rec, &SessionContext::default());
                self.storage_failing = Some(error);
            }
            (Some(error), Some(_)) => self.storage_failing = Some(error),
            (None, Some(_)) => {
                info!("writing to {path} works again");
                let ev = SessionEvent::StorageError {
                    path,
                    error: String::new(),
                    resolved: true,
                };
                let rec = self.record(None, self.clock.wall(now_ns), ev, None);
                sink.emit(&rec, &SessionContext::default());
            }
            (None, None) => {}
        }
    }

    /// Reports the output batched since the last tick as one terminal_update
    /// (escape sequences stripped, lossy UTF-8), to consumers that want it.
    fn flush_terminal_update(&mut self, pid: u32, now_ns: u64, sink: &mut dyn Sink) {
        let Some(c) = self.conns.get_mut(&pid) else {
            return;
        };
        if c.pending_text.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut c.pending_text);
        let session_id = c.rec.as_ref().map(|r| r.id);
        let text = strip_escapes(&String::from_utf8_lossy(&raw));
        let ts = self.clock.wall(now_ns);
        let rec = self.record(session_id, ts, SessionEvent::TerminalUpdate { text }, None);
        sink.emit_transient(&rec, &self.context(pid));
    }

    /// Closes every recording cleanly (daemon shutdown); live state stays so a
    /// restart continues the sessions in a new segment.
    pub fn shutdown(&mut self) {
        let conns: Vec<Conn> = self.conns.drain().map(|(_, c)| c).collect();
        for c in conns {
            if let Some(r) = c.rec {
                self.state.mark_sealed(c.pid);
                self.finish_recording(r);
            }
        }
        self.indexer.wait(Duration::from_secs(10));
    }

    fn find(&self, target: &Target) -> anyhow::Result<u32> {
        let found = self
            .conns
            .values()
            .filter(|c| c.established)
            .find(|c| match target {
                Target::Session(id) => c.rec.as_ref().is_some_and(|r| r.id == *id),
                Target::Tty(t) => c.tty.as_deref() == Some(t.as_str()),
                Target::Pid(p) => c.pid == *p,
            });
        found
            .map(|c| c.pid)
            .ok_or_else(|| anyhow::anyhow!("no live session matches {target:?}"))
    }

    /// Starts following a live session: its cast is flushed so the file holds
    /// every output byte before `offset`, and the returned receiver gets what follows.
    pub fn follow(&mut self, target: &Target) -> anyhow::Result<FollowStart> {
        let pid = self.find(target)?;
        let rx = self.live_tx.subscribe();
        let c = self.conns.get_mut(&pid).expect("found above");
        let (user, tty) = (c.user.clone(), c.tty.clone());
        let r = c
            .rec
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("session {pid} has no recording"))?;
        r.ensure_cast(80, 24)?;
        r.flush_frame()?;
        let (cols, rows) = r.size().unwrap_or((80, 24));
        Ok(FollowStart {
            session_id: r.id,
            cast: r.paths.cast.clone(),
            offset: r.output_bytes,
            cols,
            rows,
            user,
            tty,
            rx,
        })
    }

    /// Types `data` into a live session, if injection is allowed, and records who did.
    pub fn inject(
        &mut self,
        target: &Target,
        data: &[u8],
        by_uid: u32,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<()> {
        if !self.opts.allow_injection {
            anyhow::bail!("injection is disabled; set `allow_injection: true` in sshlogd.yaml to let `sshlog attach` type");
        }
        let pid = self.find(target)?;
        let (mpid, fd) = self.conns[&pid]
            .pty_master
            .ok_or_else(|| anyhow::anyhow!("the session has no pty (yet) to type into"))?;
        if data.is_empty() {
            return Ok(()); // a probe: injection would be accepted
        }
        live::inject(mpid, fd, data)?;
        let ev = SessionEvent::TerminalInjection {
            by_uid,
            by_user: accounts::by_uid(&ProcessRoot::host(), by_uid).map(|a| a.name),
            bytes: data.len() as u64,
        };
        self.emit(pid, Clock::mono_now(), ev, sink);
        Ok(())
    }

    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self
            .conns
            .values()
            .filter(|c| c.established)
            .map(|c| SessionInfo {
                session_id: c.rec.as_ref().map(|r| r.id),
                sshd_pid: c.pid,
                user: c.user.clone(),
                client: c.client.map(|a| a.to_string()),
                tty: c.tty.clone(),
                started: self.clock.wall(c.start_ns),
                last_activity: self.clock.wall(c.last_activity_ns),
                last_command: c.last_command.clone(),
                existing_login: c.existing,
                cast: c.rec.as_ref().map(|r| r.paths.cast.clone()),
            })
            .collect();
        v.sort_by_key(|s| s.started);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_events::Header as KHeader;

    #[test]
    fn strips_terminal_escapes() {
        let s = "\x1b[?2004h\x1b]0;bob@vm: ~\x07bob@vm:~$ ls\r\n\x1b[01;34mdir\x1b[0m\r\n";
        assert_eq!(strip_escapes(s), "bob@vm:~$ ls\ndir\n");
    }

    #[derive(Default)]
    struct VecSink(Vec<Record>);
    impl Sink for VecSink {
        fn emit(&mut self, rec: &Record, _ctx: &SessionContext) {
            self.0.push(rec.clone());
        }
    }

    const CONN: u32 = u32::MAX - 10; // no such process: /proc lookups find nothing

    fn h(pid: u32, ppid: u32, ts_ns: u64) -> KHeader {
        KHeader {
            pid,
            conn: CONN,
            ppid,
            ts_ns,
        }
    }

    fn tracker(dir: &std::path::Path) -> Tracker {
        Tracker::new(Options {
            log_dir: dir.to_path_buf(),
            frame: FrameOptions::default(),
            capture_input: false,
            allow_injection: false,
            outbound_ignore: Vec::new(),
        })
    }

    #[test]
    fn dropped_bytes_become_a_data_loss_event_and_a_visible_marker() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = tracker(dir.path());
        let mut sink = VecSink::default();
        let base = Clock::mono_now();
        t.handle(KernelEvent::ConnNew(h(CONN, 1, base)), &mut sink);
        // sshd's session child forks the user's shell, a session leader.
        t.handle(KernelEvent::Fork(h(CONN - 3, CONN, base + 500)), &mut sink);
        t.handle(
            KernelEvent::Fork(h(CONN - 1, CONN - 3, base + 600)),
            &mut sink,
        );
        let exec = KernelEvent::Exec(crate::kernel_events::Exec {
            h: h(CONN - 1, CONN - 3, base + 1_000),
            uid: 0,
            gid: 0,
            comm: "bash".into(),
            filename: "/bin/bash".into(),
            argv: vec!["-bash".into()],
            argv_truncated: false,
            cwd: Some("/root".into()),
            session_leader: true,
        });
        t.handle(exec, &mut sink);
        let data = KernelEvent::Data {
            h: h(CONN - 2, CONN, base + 2_000),
            fd: 9,
            input: false,
            stream: Stream::Pty,
            pts: Some(7),
            data: b"before\r\n".to_vec(),
        };
        t.handle(data, &mut sink);
        let lost = ConnCounters {
            dropped_bytes: 500,
            dropped_events: 2,
            ..Default::default()
        };
        t.tick(&HashMap::from([(CONN, lost)]), &mut sink);
        // The same counters again are not a new loss.
        t.tick(&HashMap::from([(CONN, lost)]), &mut sink);
        t.handle(
            KernelEvent::Exit {
                h: h(CONN, 1, base + 9_000),
                status: 0,
            },
            &mut sink,
        );
        t.tick(&HashMap::new(), &mut sink); // the close happens at the next tick

        let types: Vec<&str> = sink.0.iter().map(|r| r.event.type_name()).collect();
        assert_eq!(
            types,
            [
                "connection_established",
                "command_start",
                "data_loss",
                "connection_close"
            ],
            "{types:?}"
        );
        match &sink.0[2].event {
            SessionEvent::DataLoss {
                bytes_dropped,
                events_dropped,
                ..
            } => {
                assert_eq!((*bytes_dropped, *events_dropped), (500, 2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.stats.bytes_dropped, 500);
        t.shutdown(); // waits for the finisher thread (sync, seal, index)
        let cast = crate::tests_support::only_file(dir.path(), ".cast.zst");
        let (_, events) = sshlog_format::read_cast_file(&cast).unwrap();
        assert!(events
            .iter()
            .any(|e| matches!(e, Event::Output { data, .. } if data == b"before\r\n")));
        assert!(events
            .iter()
            .any(|e| matches!(e, Event::Marker { label, .. } if label.contains("500 bytes lost"))));
        let sidecar =
            std::fs::read_to_string(crate::tests_support::only_file(dir.path(), ".events.jsonl"))
                .unwrap();
        assert_eq!(sidecar.lines().count(), 5);
        assert!(
            sidecar
                .lines()
                .last()
                .is_some_and(|l| l.contains("\"type\":\"seal\"")),
            "{sidecar}"
        );
        let report = sshlog_format::seal::verify_dir(dir.path()).unwrap();
        assert!(report.ok() && report.intact.len() == 1, "{report:?}");
        assert!(
            !dir.path()
                .join("state")
                .join(format!("{CONN}.json"))
                .exists(),
            "live state removed at close"
        );
    }

    #[test]
    fn a_connection_that_never_logs_in_is_an_auth_failure_not_a_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = tracker(dir.path());
        let mut sink = VecSink::default();
        let base = Clock::mono_now();
        t.handle(KernelEvent::ConnNew(h(CONN, 1, base)), &mut sink);
        let text = "Connection closed by authenticating user eve 127.0.0.1 port 4242 [preauth]"
            .to_string();
        t.handle(
            KernelEvent::Log {
                h: h(CONN, 1, base + 10),
                text: text.clone(),
            },
            &mut sink,
        );
        t.handle(
            KernelEvent::Log {
                h: h(CONN, 1, base + 20),
                text,
            },
            &mut sink,
        );
        t.handle(
            KernelEvent::Exit {
                h: h(CONN, 1, base + 30),
                status: 0,
            },
            &mut sink,
        );
        t.tick(&HashMap::new(), &mut sink);
        assert_eq!(sink.0.len(), 1);
        match &sink.0[0].event {
            SessionEvent::ConnectionAuthFailed { user, method, .. } => {
                assert_eq!(user.as_deref(), Some("eve"));
                assert_eq!(*method, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !dir.path().join("sessions").exists(),
            "no recording for a failed login"
        );
    }
}
