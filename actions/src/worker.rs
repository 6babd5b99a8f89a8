//! One worker thread per action with a bounded queue: [`Worker::offer`]
//! never blocks (a full queue drops the event and counts it), a slow action
//! only delays itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::context::Delivery;

/// How often an idle worker calls [`Action::idle`].
pub const IDLE_TICK: Duration = Duration::from_millis(100);

/// What an action did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Delivered.
    Sent,
    /// Not applicable to this event (e.g. no terminal to write to).
    Skipped,
}

/// An action kind's runtime half. Runs on its own thread.
pub trait Action: Send + 'static {
    /// Deliver one event. An error counts as `failed` and is logged.
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled>;
    /// Called when the worker starts and then about every [`IDLE_TICK`]
    /// without events (restarts, periodic flushes).
    fn idle(&mut self) {}
    /// Called once when the worker stops.
    fn shutdown(&mut self) {}
}

/// Delivery counters of one action.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub skipped: AtomicU64,
}

/// A snapshot of [`Counters`] (the control protocol's type: sshlogd serves it).
pub use sshlog_control::ActionStats;

impl Counters {
    pub fn snapshot(&self) -> ActionStats {
        ActionStats {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }
}

/// The thread and queue of one action.
/// A way to queue events for one worker (clonable, e.g. for a filter gate).
#[derive(Clone)]
pub struct Offer {
    label: String,
    tx: SyncSender<Arc<Delivery>>,
    counters: Arc<Counters>,
}

impl Offer {
    /// Queue an event without blocking; a full queue drops it (counted).
    pub fn offer(&self, d: Arc<Delivery>) {
        match self.tx.try_send(d) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(action = %self.label, dropped = n + 1, "action queue full, event dropped");
                }
            }
        }
    }
}

pub struct Worker {
    pub label: String,
    pub kind: &'static str,
    tx: Option<Offer>,
    counters: Arc<Counters>,
    abort: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start the thread for `action` with a queue of `queue` events.
    pub fn spawn(
        label: String,
        kind: &'static str,
        queue: usize,
        mut action: Box<dyn Action>,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::sync_channel::<Arc<Delivery>>(queue.max(1));
        let counters = Arc::new(Counters::default());
        let abort = Arc::new(AtomicBool::new(false));
        let (c, a, l) = (counters.clone(), abort.clone(), label.clone());
        let handle = std::thread::Builder::new()
            .name(format!("action {label}"))
            .spawn(move || {
                action.idle();
                loop {
                    match rx.recv_timeout(IDLE_TICK) {
                        Ok(d) if a.load(Ordering::Relaxed) => {
                            drop(d);
                            c.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(d) => match action.handle(&d) {
                            Ok(Handled::Sent) => {
                                c.sent.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(Handled::Skipped) => {
                                c.skipped.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                c.failed.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(action = %l, "action failed: {e:#}");
                            }
                        },
                        Err(RecvTimeoutError::Timeout) => action.idle(),
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                action.shutdown();
            })?;
        Ok(Worker {
            tx: Some(Offer {
                label: label.clone(),
                tx,
                counters: counters.clone(),
            }),
            label,
            kind,
            counters,
            abort,
            handle: Some(handle),
        })
    }

    /// Queue an event without blocking; a full queue drops it (counted).
    pub fn offer(&self, d: Arc<Delivery>) {
        if let Some(o) = &self.tx {
            o.offer(d);
        }
    }

    /// A handle that queues to this worker while its queue is open.
    pub fn offer_handle(&self) -> Option<Offer> {
        self.tx.clone()
    }

    pub fn stats(&self) -> ActionStats {
        self.counters.snapshot()
    }

    /// Close the queue: the worker finishes what is queued, then stops.
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// Drop what is still queued instead of delivering it.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Join a finished thread (no-op otherwise).
    pub fn join_if_finished(&mut self) {
        if self.is_finished() {
            if let Some(h) = self.handle.take() {
                if h.join().is_err() {
                    tracing::error!(action = %self.label, "action thread panicked");
                }
            }
        }
    }
}
