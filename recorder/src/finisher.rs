//! Finishes recordings off the capture path: fsync, seal (chained, so one thread
//! does them in order), add to the search index (`<log_dir>/index/`) and, with
//! a fleet store, queue for upload. What it
//! misses (a crash) is sealed at the next start and indexed by `sshlog index`.

use crate::recording::Closed;
use crate::sealer::Sealer;
use sshlog_format::index::{index_session, index_session_with_filter};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

enum Job {
    /// Sync, seal and index a recording closed by the tracker.
    Finish(Closed),
    /// Only index (the recording was sealed already).
    Index(PathBuf, PathBuf),
}

/// Called with a recording's sidecar once it is sealed and indexed (the
/// fleet store's spool).
pub type AfterFinish = std::sync::Arc<dyn Fn(&Path) + Send + Sync>;

pub struct Finisher {
    tx: Option<mpsc::SyncSender<Job>>,
    handle: Option<JoinHandle<()>>,
    after: Option<AfterFinish>,
    sealer: Arc<Sealer>,
}

impl Finisher {
    pub fn start(log_dir: &Path, sealer: Arc<Sealer>, after: Option<AfterFinish>) -> Finisher {
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        let dir = log_dir.to_path_buf();
        let after_here = after.clone();
        let sealer_here = sealer.clone();
        let handle = std::thread::Builder::new()
            .name("sshlog-finisher".into())
            .spawn(move || {
                for job in rx {
                    let (events, cast, grams) = match job {
                        Job::Finish(mut closed) => {
                            if let Err(e) = closed.complete(&sealer_here) {
                                tracing::warn!("cannot seal {}: {e:#}", closed.id);
                            }
                            let grams = closed.grams.take();
                            (closed.paths.events, closed.paths.cast, grams)
                        }
                        Job::Index(events, cast) => (events, cast, None),
                    };
                    let indexed = match grams {
                        Some(g) => index_session_with_filter(&dir, &events, &cast, g.finish()),
                        None => index_session(&dir, &events, &cast),
                    };
                    if let Err(e) = indexed {
                        tracing::warn!(
                            "cannot index {}: {e} (`sshlog index` will)",
                            events.display()
                        );
                    }
                    if let Some(after) = &after_here {
                        after(&events);
                    }
                }
            })
            .ok();
        Finisher {
            tx: Some(tx),
            handle,
            after,
            sealer,
        }
    }

    /// Queues a closed recording for syncing, sealing and indexing. If the queue
    /// is full (or the thread is gone) the work is done here and now.
    pub fn finish(&self, closed: Closed) {
        let job = match &self.tx {
            Some(tx) => match tx.try_send(Job::Finish(closed)) {
                Ok(()) => return,
                Err(
                    mpsc::TrySendError::Full(Job::Finish(c))
                    | mpsc::TrySendError::Disconnected(Job::Finish(c)),
                ) => c,
                Err(_) => return,
            },
            None => closed,
        };
        let events = job.paths.events.clone();
        tracing::warn!(
            "finisher queue full: {} sealed here and not indexed (search reads its sidecar; `sshlog index` adds it)",
            events.display()
        );
        if let Err(e) = job.complete(&self.sealer) {
            tracing::warn!("cannot seal: {e:#}");
        }
        if let Some(after) = &self.after {
            after(&events);
        }
    }

    /// Queues an already sealed recording for the index; never blocks.
    pub fn submit(&self, events: &Path, cast: &Path) {
        if let Some(tx) = &self.tx {
            if tx
                .try_send(Job::Index(events.to_path_buf(), cast.to_path_buf()))
                .is_err()
            {
                tracing::warn!(
                    "index queue full: {} left for `sshlog index`",
                    events.display()
                );
            }
        }
    }

    /// Lets the queue drain for at most `wait`.
    pub fn wait(&mut self, wait: Duration) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let deadline = Instant::now() + wait;
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}
