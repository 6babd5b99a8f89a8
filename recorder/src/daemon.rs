//! The daemon's main loop: load the eBPF programs, adopt sessions that are already
//! open, then drain the ring buffer into the [`Tracker`], tick it every 250 ms
//! (frame flushes, drop accounting) and serve the control socket, until SIGTERM or
//! SIGINT, when every recording is closed cleanly.

use crate::capture::scheduling::{CapturePolicy, CaptureScheduler};
use crate::capture::Capture;
use crate::control::{self, Broadcast};
use crate::loader;
use crate::preflight;
use crate::procfs;
use crate::settings::Settings;
use crate::tracker::{Clock, Options, SessionContext, Sink, Tracker};
use anyhow::{Context, Result};
use sshlog_actions::event_log::{EventLog, SharedEventLog};
use sshlog_actions::{ActionEngine, ConfigErrors, EventContext};
use sshlog_control::{KernelTotals, Stats};
use sshlog_format::framed::FrameOptions;
use sshlog_format::sidecar::{human_line, Record, SessionEvent};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast;
use tracing::{error, info, warn};

/// Writes every record to the global event log, to the watchers and to the
/// YAML actions.
pub struct DaemonSink {
    event_log: Arc<SharedEventLog>,
    tx: broadcast::Sender<Broadcast>,
    pub actions: ActionEngine,
    pub log_errors: u64,
    /// Hour files for the fleet store (`store.events: true`).
    pub event_spool: Option<sshlog_fleet::events::EventSpool>,
}

fn action_context(ctx: &SessionContext) -> EventContext {
    EventContext {
        session_id: ctx.session_id,
        user: ctx.user.clone(),
        uid: None,
        client_ip: ctx.client.map(|a| a.ip()),
        client_port: ctx.client.map(|a| a.port()),
        tty: ctx.tty.clone(),
        existing_login: ctx.existing_login,
        sshd_pid: ctx.sshd_pid,
        command_output: ctx.command_output.clone(),
    }
}

impl Sink for DaemonSink {
    fn emit(&mut self, rec: &Record, ctx: &SessionContext) {
        let line = human_line(rec);
        if let Err(e) = self.event_log.write_line(&line) {
            self.log_errors += 1;
            warn!("event log write failed: {e}");
        }
        if let Some(spool) = &self.event_spool {
            if let Err(e) = spool.append(rec) {
                self.log_errors += 1;
                warn!("event spool write failed (this line will not reach the store): {e}");
            }
        }
        self.actions.dispatch(rec, &action_context(ctx));
        let _ = self.tx.send(Arc::new((rec.clone(), line)));
    }

    fn wants(&self, event_type: &str) -> bool {
        self.actions.wants(event_type)
    }

    fn emit_transient(&mut self, rec: &Record, ctx: &SessionContext) {
        self.actions.dispatch(rec, &action_context(ctx));
    }
}

/// Loads every valid part of the action configuration and returns the
/// problems of the rest; a missing default directory means no actions.
pub fn load_actions(
    settings: &Settings,
    explicit: bool,
    event_log: &Arc<SharedEventLog>,
) -> (ActionEngine, ConfigErrors) {
    if !settings.config_dir.exists() && !explicit {
        return (ActionEngine::empty(), ConfigErrors::default());
    }
    ActionEngine::load_valid(&settings.config_dir, &settings.plugins_dir, Some(event_log))
}

/// Reports the parts of the configuration that were not loaded: sshlogd's
/// log, a `config_error` event each (event log, watchers, actions) and
/// `stats`. Recording never stops for them.
fn report_config_errors(errors: &ConfigErrors, sink: &mut DaemonSink) -> Vec<String> {
    let mut lines = Vec::new();
    for e in &errors.0 {
        warn!("action configuration: {e} (not loaded; everything else is)");
        let location = format!("{}:{}:{}", e.file.display(), e.line, e.col);
        let ev = SessionEvent::ConfigError {
            location,
            error: e.message.clone(),
        };
        sink.emit(
            &Record::new(chrono::Utc::now(), None, ev),
            &SessionContext::default(),
        );
        lines.push(e.to_string());
    }
    lines
}

/// State shared between the capture loop and the control socket.
pub struct Shared {
    pub tracker: Tracker,
    pub sink: DaemonSink,
    pub kernel: KernelTotals,
    /// The capture thread's scheduling, see [`CaptureScheduler::status`].
    pub capture_scheduling: String,
    /// Times the capture thread was raised to real-time priority.
    pub capture_boosts: u64,
    /// The parts of the action configuration not loaded (`file:line:col: message`).
    pub config_errors: Vec<String>,
    /// The fleet store, when one is configured.
    pub store: Option<crate::store::Store>,
    /// Deletes recordings (retention, `sshlog purge`).
    pub deleter: Arc<crate::retention::Deleter>,
}

impl Shared {
    /// Reports deletions as `recording_deleted` events (event log, actions).
    pub fn report_deleted(&mut self, deleted: Vec<crate::retention::Deleted>) {
        for d in deleted {
            let ctx = SessionContext {
                session_id: Some(d.recording.id),
                user: d.recording.user.clone(),
                ..SessionContext::default()
            };
            self.sink.emit(
                &Record::new(chrono::Utc::now(), Some(d.recording.id), d.event),
                &ctx,
            );
        }
    }

    /// The counters `stats` serves.
    pub fn stats(&self) -> Stats {
        Stats {
            recording: self.tracker.stats,
            kernel: self.kernel,
            event_log_errors: self.sink.log_errors,
            live_sessions: self.tracker.sessions().len() as u64,
            storage_error: self.tracker.storage_status().map(str::to_string),
            capture_scheduling: self.capture_scheduling.clone(),
            capture_boosts: self.capture_boosts,
            actions: self.sink.actions.reports(),
            config_errors: self.config_errors.clone(),
            store: self.store.as_ref().map(crate::store::Store::stats),
        }
    }
}

/// Everything done with full privileges, before any thread is started: checks,
/// the control socket, loading and attaching the eBPF programs; then every
/// capability sshlogd does not need is dropped (capabilities are per thread, so
/// this must happen before the async runtime starts its workers).
pub struct Prepared {
    settings: Settings,
    listener: std::os::unix::net::UnixListener,
    ebpf: aya::Ebpf,
    ring: crate::capture::ring::Ring,
    existing: Vec<procfs::Existing>,
    actions: ActionEngine,
    config_errors: ConfigErrors,
    event_log: Arc<SharedEventLog>,
    config_dir_explicit: bool,
    scheduler: CaptureScheduler,
    /// The ring buffer and maps were handed over by an earlier sshlogd.
    took_over: bool,
    sealer: Arc<crate::sealer::Sealer>,
}

pub fn prepare(settings: Settings, config_dir_explicit: bool) -> Result<Prepared> {
    // An invalid action configuration never stops recording: what is valid
    // is loaded, the rest reported (action threads start after the
    // capabilities are dropped, below).
    preflight::check_kernel()?;
    preflight::check_privileges()?;
    preflight::check_btf()?;
    preflight::ensure_tracefs()?;
    preflight::check_log_dir(&settings.log_dir)?;
    preflight::ensure_bpffs(&settings.bpf_dir)?;
    let listener = control::bind(&settings.socket)?;
    // Recording never waits for a key: without one, seals are unsigned and
    // that is said loudly.
    let key = settings.seal_key.as_deref().and_then(|path| {
        crate::seal_key::load_or_create(path)
            .map_err(|e| {
                error!("no seal key, recordings are sealed UNSIGNED until this is fixed: {e:#}")
            })
            .ok()
    });
    let sealer = Arc::new(crate::sealer::Sealer::new(key, &settings.log_dir));
    let loader::Loaded {
        mut ebpf,
        ring,
        took_over,
        generation,
        retired,
    } = loader::load(&loader::LoadOptions {
        ring_bytes: settings.ring_buffer_mb.saturating_mul(1 << 20),
        capture_input: settings.capture_input,
        bpf_dir: &settings.bpf_dir,
        handover: settings.handover,
    })?;
    if took_over {
        info!(
            "took over the kernel half in {} (generation {generation}; {} earlier generation(s) detached)",
            settings.bpf_dir.display(),
            retired.generations
        );
    }
    if retired.layouts > 0 {
        warn!(
            "removed {} kernel half(s) of another layout or ring size from {}: what their ring buffer held was not read",
            retired.layouts,
            settings.bpf_dir.display()
        );
    }
    let existing = procfs::scan_sshd_trees();
    if !took_over {
        // Handed-over maps already follow every process.
        loader::seed(&mut ebpf, &existing).context("cannot seed running sshd sessions")?;
    }
    loader::set_watch_ports(&mut ebpf, &settings.outbound.ports)
        .context("cannot set the outbound SSH ports")?;
    crate::privileges::share_with_group(&settings.log_dir);
    // On the capture thread, before any other thread exists (see capture/scheduling.rs).
    let scheduler = CaptureScheduler::new(
        CapturePolicy {
            priority: settings.capture_priority,
            nice: settings.capture_nice,
            always: settings.capture_always_realtime,
        },
        (settings.ring_buffer_mb as usize)
            .saturating_mul(1 << 20)
            .max(1 << 16),
    );
    crate::privileges::drop_unneeded().context("cannot drop capabilities")?;
    let event_log = EventLog::open(
        &settings.log_dir.join("event.log"),
        settings.event_log.max_size_mb.saturating_mul(1 << 20),
        settings.event_log.number_of_log_files,
    )
    .with_context(|| {
        format!(
            "cannot open {}",
            settings.log_dir.join("event.log").display()
        )
    })?;
    let event_log = SharedEventLog::new(event_log);
    let (actions, config_errors) = load_actions(&settings, config_dir_explicit, &event_log);
    Ok(Prepared {
        settings,
        listener,
        ebpf,
        ring,
        existing,
        actions,
        config_errors,
        event_log,
        config_dir_explicit,
        scheduler,
        took_over,
        sealer,
    })
}

pub async fn run(prepared: Prepared, control_rt: tokio::runtime::Handle) -> Result<()> {
    let Prepared {
        settings,
        listener,
        mut ebpf,
        ring,
        existing,
        actions,
        config_errors,
        event_log,
        config_dir_explicit,
        scheduler,
        took_over,
        sealer,
    } = prepared;
    // The control socket is served by another runtime whose workers have normal
    // priority; this one (the caller's thread) only captures, see capture/scheduling.rs.
    let listener = {
        let _in_control = control_rt.enter();
        tokio::net::UnixListener::from_std(listener).context("cannot serve the control socket")?
    };

    let (tx, _) = broadcast::channel::<Broadcast>(4096);
    let mut sink = DaemonSink {
        event_log,
        tx: tx.clone(),
        actions,
        log_errors: 0,
        event_spool: settings
            .store
            .as_ref()
            .filter(|st| st.events)
            .map(|_| sshlog_fleet::events::EventSpool::new(&settings.log_dir)),
    };
    let config_errors = report_config_errors(&config_errors, &mut sink);
    let frame = FrameOptions {
        max_frame_bytes: settings.frame_kib.max(1) * 1024,
        max_frame_age: Duration::from_secs_f64(settings.frame_seconds.clamp(0.05, 60.0)),
        coalesce_us: settings.coalesce_ms.min(1000) * 1000,
        ..FrameOptions::default()
    };
    let store = settings
        .store
        .as_ref()
        .map(|st| crate::store::Store::start(st, &settings.log_dir));
    let mut tracker = Tracker::new(Options {
        after_finish: store.as_ref().map(crate::store::Store::after_finish),
        log_dir: settings.log_dir.clone(),
        frame,
        capture_input: settings.capture_input,
        allow_injection: settings.allow_injection,
        allow_kill: settings.allow_kill,
        outbound_ignore: settings.outbound.ignore_processes.clone(),
        sealer: sealer.clone(),
    });
    let mut witness = crate::witness::Witness::new(sealer.clone(), witness_host(&settings));
    let deleter = Arc::new(crate::retention::Deleter::new(
        sealer.clone(),
        &settings.log_dir,
    ));
    let pruner = settings.retention.clone().map(|policy| {
        // With a fleet store, what it has not acknowledged yet stays.
        let spool = settings
            .store
            .as_ref()
            .map(|_| sshlog_fleet::spool::Spool::new(&settings.log_dir));
        let pinned = move || {
            spool
                .as_ref()
                .map(|s| s.pending().into_iter().map(|(_, job)| job.events).collect())
                .unwrap_or_default()
        };
        crate::retention::Pruner::start(policy, deleter.clone(), Box::new(pinned))
    });

    let by_conn = group_by_conn(&existing);
    let mut capture = Capture::new(ring, scheduler)?;
    if took_over {
        // The ring holds what the kernel recorded since the previous sshlogd
        // stopped reading: its sessions continue from the oldest record.
        let first = capture.next_record();
        let start_ns = match &first {
            Some(Ok(ev)) => ev.header().ts_ns,
            _ => Clock::mono_now(),
        };
        tracker.resume_handed_over(&by_conn, start_ns, &mut sink);
        match first {
            Some(Ok(ev)) => tracker.handle(ev, &mut sink),
            Some(Err(e)) => {
                tracker.stats.decode_errors += 1;
                warn!("bad kernel record: {e}");
            }
            None => {}
        }
    } else {
        for (conn, pids) in &by_conn {
            tracker.adopt_existing(*conn, pids, &mut sink);
        }
        tracker.close_stale_state(&mut sink);
    }

    let shared = Arc::new(Mutex::new(Shared {
        tracker,
        sink,
        kernel: KernelTotals::default(),
        capture_scheduling: capture.status(),
        capture_boosts: 0,
        config_errors,
        store,
        deleter: deleter.clone(),
    }));
    if took_over {
        let backlog = capture.drain_now(&shared);
        let mut s = lock(&shared);
        let Shared { tracker, sink, .. } = &mut *s;
        tracker.close_vanished(sink);
        // Sessions the ring did not tell of (it overflowed): from /proc.
        for (conn, pids) in group_by_conn(&procfs::scan_sshd_trees()) {
            if !tracker.knows(conn) {
                tracker.adopt_existing(conn, &pids, sink);
            }
        }
        info!("read {backlog} bytes of kernel records waiting since the previous sshlogd");
    }
    info!(
        "sshlogd recording under {} ({} open connection(s) {}), control socket {}",
        settings.log_dir.display(),
        by_conn.len(),
        if took_over { "continued" } else { "adopted" },
        settings.socket.display()
    );
    control_rt.spawn(control::serve(listener, shared.clone(), tx));

    let web_console = crate::web_console::start(&settings);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut known: HashSet<u32> = HashSet::new();
    // Every other thread is started: from now on capture takes the CPU the
    // sessions leave (see capture/scheduling.rs).
    capture.lower();
    loop {
        tokio::select! {
            res = capture.wait_and_drain(&shared) => res?,
            _ = tick.tick() => {
                // A safety net as well: whatever is in the ring is handled at least
                // every tick.
                capture.drain_now(&shared);
                capture.unmap_if_idle();
                let mut s = lock(&shared);
                s.capture_scheduling = capture.status();
                s.capture_boosts = capture.boosts();
                let conns = s.tracker.conn_pids();
                let counters = loader::conn_counters(&ebpf, &conns);
                if let Some(p) = &pruner {
                    s.report_deleted(p.take());
                }
                let Shared { tracker, sink, store, .. } = &mut *s;
                tracker.tick(&counters, sink);
                if let Some(head) = witness.due() {
                    if let Some(st) = store.as_ref() {
                        st.witness(&head);
                    }
                    sink.emit(
                        &Record::new(chrono::Utc::now(), None, witness.event(&head)),
                        &SessionContext::default(),
                    );
                }
                for ev in store.as_mut().map(|st| st.take_events()).unwrap_or_default() {
                    sink.emit(
                        &Record::new(chrono::Utc::now(), None, ev),
                        &SessionContext::default(),
                    );
                }
                let now: HashSet<u32> = tracker.conn_pids().into_iter().collect();
                let gone: Vec<u32> = known.difference(&now).copied().collect();
                loader::forget_conns(&mut ebpf, &gone);
                known = now;
                s.kernel = loader::totals(&ebpf);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            // The action workers it starts must not inherit the capture
            // thread's nice value.
            _ = hup.recv() => capture.normal_while(|| reload_actions(&shared, &settings, config_dir_explicit)),
        }
    }
    // What the kernel captured before the signal still goes into the recordings.
    capture.drain_now(&shared);
    info!("shutting down: closing recordings");
    let old_actions = {
        let mut s = lock(&shared);
        s.tracker.shutdown();
        std::mem::replace(&mut s.sink.actions, ActionEngine::empty())
    };
    old_actions.shutdown();
    drop(web_console);
    let _ = std::fs::remove_file(&settings.socket);
    Ok(())
}

/// The name chain heads carry: `witness_host`, the store's host id, or
/// the host name.
fn witness_host(settings: &Settings) -> String {
    if let Some(h) = &settings.witness_host {
        return h.clone();
    }
    if let Some(id) = settings
        .store
        .as_ref()
        .and_then(|st| sshlog_fleet::config::host_id(st).ok())
    {
        return id;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Running sshd processes grouped by connection.
fn group_by_conn(existing: &[procfs::Existing]) -> BTreeMap<u32, Vec<(u32, String)>> {
    let mut by_conn: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    for e in existing {
        by_conn
            .entry(e.conn)
            .or_default()
            .push((e.pid, e.comm.clone()));
    }
    by_conn
}

/// SIGHUP: the action configuration is loaded again, as at start: every
/// valid part replaces the old configuration, the rest is reported.
fn reload_actions(shared: &Mutex<Shared>, settings: &Settings, explicit: bool) {
    let event_log = lock(shared).sink.event_log.clone();
    let (new, errors) = load_actions(settings, explicit, &event_log);
    let old = {
        let mut s = lock(shared);
        let old = std::mem::replace(&mut s.sink.actions, new);
        s.config_errors = report_config_errors(&errors, &mut s.sink);
        old
    };
    info!(
        "SIGHUP: reloaded the action configuration from {} ({} problem(s), not loaded)",
        settings.config_dir.display(),
        errors.0.len()
    );
    // The old workers drain in the background; capture never waits for them.
    std::thread::spawn(move || old.shutdown());
}

pub(crate) fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
