//! [`ActionEngine`]: matches each record against the configured events and
//! hands it to their actions' workers, without ever blocking the caller.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sshlog_control::{ActionReport, ActionReports};
use sshlog_format::Record;

use super::config::{load_dir, EventConfig};
use super::context::{Delivery, EventContext, Facts};
use super::error::{ConfigError, ConfigErrors};
use super::event_log::SharedEventLog;
use super::filters::Filters;
use super::kinds::ParseCx;
use super::triggers::Triggers;
use super::worker::{Action, ActionStats, Handled, Offer, Worker};

/// How long [`ActionEngine::shutdown`] waits for the workers.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

struct Event {
    name: Arc<str>,
    triggers: Triggers,
    filters: Filters,
    /// Indices into `ActionEngine::workers`.
    workers: Vec<usize>,
    /// Index into `ActionEngine::gates` when Python plugin filters decide.
    gate: Option<usize>,
}

/// The running actions of a configuration directory. `Send + Sync`: share it
/// (e.g. in an `Arc`) between the threads that dispatch.
pub struct ActionEngine {
    events: Vec<Event>,
    workers: Vec<Worker>,
    /// Threads running an event's Python plugin filters, then queueing to
    /// its actions (so a slow filter never holds up the caller).
    gates: Vec<Worker>,
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<ActionEngine>();
};

impl std::fmt::Debug for ActionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionEngine")
            .field("events", &self.events.len())
            .field("actions", &self.workers.len())
            .finish()
    }
}

impl ActionEngine {
    /// An engine without events (nothing configured).
    pub fn empty() -> ActionEngine {
        ActionEngine {
            events: Vec::new(),
            workers: Vec::new(),
            gates: Vec::new(),
        }
    }

    /// Load and validate `dir` (see [`check_dir`](super::check_dir)) and
    /// start one worker thread per action. `plugins_dir` holds the
    /// executables of `plugin_action`s.
    /// Any error refuses the whole directory.
    pub fn load(dir: &Path, plugins_dir: &Path) -> Result<ActionEngine, ConfigErrors> {
        let cx = ParseCx {
            plugins_dir,
            event_log: None,
            python: None,
        };
        let loaded = load_dir(dir, cx)?;
        if !loaded.errors.0.is_empty() {
            return Err(loaded.errors);
        }
        Self::start(loaded.events)
    }

    /// Like [`ActionEngine::load`], but starts every valid event and returns
    /// the errors of the files, events and actions left out (what sshlogd
    /// does: a bad file never stops recording nor the other actions).
    /// `event_log` is sshlogd's own event log, shared with actions that name
    /// the same file.
    pub fn load_valid(
        dir: &Path,
        plugins_dir: &Path,
        event_log: Option<&Arc<SharedEventLog>>,
    ) -> (ActionEngine, ConfigErrors) {
        let cx = ParseCx {
            plugins_dir,
            event_log,
            python: None,
        };
        let loaded = match load_dir(dir, cx) {
            Ok(l) => l,
            Err(e) => return (ActionEngine::empty(), e),
        };
        let mut errors = loaded.errors;
        let mut engine = ActionEngine::empty();
        for ev in loaded.events {
            match Self::start(vec![ev]) {
                Ok(mut one) => {
                    let (base, gates) = (engine.workers.len(), engine.gates.len());
                    for mut e in one.events.drain(..) {
                        e.workers.iter_mut().for_each(|i| *i += base);
                        e.gate = e.gate.map(|g| g + gates);
                        engine.events.push(e);
                    }
                    engine.workers.append(&mut one.workers);
                    engine.gates.append(&mut one.gates);
                }
                Err(mut e) => errors.0.append(&mut e.0),
            }
        }
        (engine, errors)
    }

    /// Start the workers of already validated events.
    pub fn start(configs: Vec<EventConfig>) -> Result<ActionEngine, ConfigErrors> {
        let mut engine = ActionEngine::empty();
        let mut errors = Vec::new();
        for ev in configs {
            let mut idx = Vec::new();
            for a in ev.actions {
                let label = format!("{}/{}", ev.name, a.name);
                let action = a.config.start(&label);
                match Worker::spawn(label, a.kind, a.queue_size, action) {
                    Ok(w) => {
                        idx.push(engine.workers.len());
                        engine.workers.push(w);
                    }
                    Err(e) => errors.push(ConfigError {
                        file: ev.file.clone(),
                        line: a.pos.line,
                        col: a.pos.col,
                        message: format!("cannot start action thread: {e}"),
                    }),
                }
            }
            let gate = if ev.filters.plugins.is_empty() {
                None
            } else {
                let offers = idx
                    .iter()
                    .filter_map(|&i| engine.workers[i].offer_handle())
                    .collect();
                let label = format!("{}/filters", ev.name);
                let gate =
                    PluginGate::new(&ev.filters.plugins, ev.plugins_dir.clone(), offers, &label);
                match Worker::spawn(
                    label,
                    "python_filters",
                    crate::config::DEFAULT_QUEUE_SIZE as usize,
                    Box::new(gate),
                ) {
                    Ok(w) => {
                        engine.gates.push(w);
                        Some(engine.gates.len() - 1)
                    }
                    Err(e) => {
                        errors.push(ConfigError {
                            file: ev.file.clone(),
                            line: ev.pos.line,
                            col: ev.pos.col,
                            message: format!("cannot start the filter thread: {e}"),
                        });
                        None
                    }
                }
            };
            engine.events.push(Event {
                name: ev.name,
                triggers: ev.triggers,
                filters: ev.filters,
                workers: idx,
                gate,
            });
        }
        if errors.is_empty() {
            tracing::info!(
                events = engine.events.len(),
                actions = engine.workers.len(),
                "actions engine started"
            );
            Ok(engine)
        } else {
            engine.shutdown();
            Err(ConfigErrors(errors))
        }
    }

    /// Whether any event is triggered by `event_type` (lets the caller skip
    /// building records nobody wants).
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e.triggers.contains(event_type))
    }

    /// Hand `record` to the actions of every matching event. Never blocks:
    /// each action has a bounded queue; a full queue drops (and counts).
    pub fn dispatch(&self, record: &Record, ctx: &EventContext) {
        let kind = record.event.type_name();
        let facts = Facts::of(record, ctx);
        for ev in &self.events {
            if !ev.triggers.contains(kind) || !ev.filters.matches(&facts) {
                continue;
            }
            let d = Arc::new(Delivery::new(record.clone(), ctx.clone(), ev.name.clone()));
            if let Some(g) = ev.gate {
                self.gates[g].offer(d);
                continue;
            }
            for &i in &ev.workers {
                self.workers[i].offer(d.clone());
            }
        }
    }

    /// Counters of one action (`event/action`).
    pub fn action_stats(&self, label: &str) -> Option<ActionStats> {
        self.workers
            .iter()
            .find(|w| w.label == label)
            .map(Worker::stats)
    }

    /// Each action's plugin and counters, by `event/action` label, in
    /// configuration order (the `actions` of sshlogd's stats).
    pub fn reports(&self) -> ActionReports {
        self.workers
            .iter()
            .map(|w| {
                let report = ActionReport {
                    plugin: w.kind.to_string(),
                    counters: w.stats(),
                };
                (w.label.clone(), report)
            })
            .collect()
    }

    /// [`ActionEngine::reports`] as JSON: `{"event/action": {"plugin": kind,
    /// "sent": n, "failed": n, "dropped": n, "skipped": n}, ...}`.
    pub fn stats(&self) -> Value {
        serde_json::to_value(self.reports()).unwrap_or_default()
    }

    /// Stop all workers, waiting at most [`SHUTDOWN_WAIT`].
    pub fn shutdown(self) {
        self.shutdown_within(SHUTDOWN_WAIT);
    }

    /// Stop all workers: queued events are still delivered until half of
    /// `wait` has passed, then dropped; threads still busy after `wait` are
    /// left behind (and logged).
    pub fn shutdown_within(mut self, wait: Duration) {
        let start = Instant::now();
        // Gates hold queues of the workers: they stop with them.
        let mut all: Vec<Worker> = self.gates.drain(..).collect();
        all.append(&mut self.workers);
        for w in &mut all {
            w.close();
        }
        let mut aborted = false;
        loop {
            for w in &mut all {
                w.join_if_finished();
            }
            if all.iter().all(Worker::is_finished) {
                break;
            }
            let elapsed = start.elapsed();
            if elapsed >= wait {
                for w in all.iter().filter(|w| !w.is_finished()) {
                    tracing::warn!(action = %w.label, "action still busy at shutdown; left behind");
                }
                break;
            }
            if !aborted && elapsed >= wait / 2 {
                aborted = true;
                all.iter().for_each(Worker::abort);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs an event's Python plugin filters for each event, then queues it to
/// the event's actions.
struct PluginGate {
    spec: String,
    dir: std::path::PathBuf,
    label: String,
    offers: Vec<Offer>,
    process: Option<crate::agent::python::Process>,
}

/// How long the Python filters may take for one event.
const FILTER_TIMEOUT: Duration = Duration::from_secs(10);

impl PluginGate {
    fn new(
        filters: &[(String, Value)],
        dir: std::path::PathBuf,
        offers: Vec<Offer>,
        label: &str,
    ) -> PluginGate {
        let spec: Vec<Value> = filters
            .iter()
            .map(|(n, a)| Value::Array(vec![Value::String(n.clone()), a.clone()]))
            .collect();
        PluginGate {
            spec: Value::Array(spec).to_string(),
            dir,
            label: label.to_owned(),
            offers,
            process: None,
        }
    }
}

impl Action for PluginGate {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        if self.process.is_none() {
            let args: [&std::ffi::OsStr; 3] =
                ["filter".as_ref(), self.dir.as_os_str(), self.spec.as_ref()];
            self.process = Some(crate::agent::python::Process::start(
                &self.dir,
                &args,
                &self.label,
            )?);
        }
        let Some(p) = self.process.as_mut() else {
            anyhow::bail!("no Python host");
        };
        let answer = match p.ask(&d.agent.to_string(), FILTER_TIMEOUT) {
            Ok(a) => a,
            Err(e) => {
                self.process = None;
                return Err(e);
            }
        };
        if answer != "1" {
            return Ok(Handled::Skipped);
        }
        let d = Arc::new(Delivery::new(
            d.record.clone(),
            d.ctx.clone(),
            d.event_name.clone(),
        ));
        for o in &self.offers {
            o.offer(d.clone());
        }
        Ok(Handled::Sent)
    }
}
