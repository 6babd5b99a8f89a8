//! Keeps the search index (`<log_dir>/index/`) up to date as recordings finish:
//! a background thread, so reading a finished cast never delays capture. What it
//! misses (a crash, a full queue) `sshlog index` picks up later.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Indexer {
    tx: Option<mpsc::SyncSender<(PathBuf, PathBuf)>>,
    handle: Option<JoinHandle<()>>,
}

impl Indexer {
    pub fn start(log_dir: &Path) -> Indexer {
        let (tx, rx) = mpsc::sync_channel::<(PathBuf, PathBuf)>(1024);
        let dir = log_dir.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("sshlog-indexer".into())
            .spawn(move || {
                for (events, cast) in rx {
                    if let Err(e) = sshlog_format::index::index_session(&dir, &events, &cast) {
                        tracing::warn!(
                            "cannot index {}: {e} (`sshlog index` will)",
                            events.display()
                        );
                    }
                }
            })
            .ok();
        Indexer {
            tx: Some(tx),
            handle,
        }
    }

    /// Queues a finished recording; never blocks (a full queue skips it).
    pub fn submit(&self, events: &Path, cast: &Path) {
        if let Some(tx) = &self.tx {
            if tx
                .try_send((events.to_path_buf(), cast.to_path_buf()))
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
    pub fn finish(&mut self, wait: Duration) {
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
