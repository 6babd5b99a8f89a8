//! Empties the spool into the store, on a thread of its own (never on the
//! capture path): sessions in the order they were sealed, each one whole
//! (cast, sidecar, then its index entry), retried with exponential backoff
//! (1 s to 60 s) while the store is down or refuses; a job leaves the spool
//! only when everything was acknowledged. Failures are reported once per
//! episode (and again when the store works again), never silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::events::EventSpool;
use crate::spool::{Job, Spool};
use crate::{FleetError, FleetStore};

/// The slowest retry.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the spool is looked at when nothing nudges the uploader.
const IDLE_LOOK: Duration = Duration::from_secs(5);
/// How often grown event hour files are sent ([`crate::events`]).
const EVENTS_EVERY: Duration = Duration::from_secs(10);
/// How often loose index entries are folded into their days' catalogs
/// ([`crate::catalog`]), today's included; the first time when the spool is
/// first empty. Readers find at most this much of a host's index loose (a
/// GET each); a compaction costs a few requests per day touched.
pub const COMPACT_EVERY: Duration = Duration::from_secs(600);

/// What the uploader is doing (`sshlog stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UploadStatus {
    pub store: String,
    pub host_id: String,
    pub backlog_sessions: u64,
    pub backlog_bytes: u64,
    pub uploaded_sessions: u64,
    pub uploaded_bytes: u64,
    pub failures: u64,
    /// The error of the current failing episode.
    pub failing: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
}

/// A change the daemon reports as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Uploads started failing; the backlog grows until the store returns.
    Failing {
        error: String,
        backlog_sessions: u64,
    },
    /// The store works again (the backlog drains).
    Recovered { backlog_sessions: u64 },
}

struct Shared {
    status: UploadStatus,
    notices: Vec<Notice>,
    /// The newest chain head not yet in the store: (number, JSON).
    witness: Option<(u64, Vec<u8>)>,
}

/// The uploader thread; dropping it lets the thread end after its current
/// upload (what is not done stays in the spool).
pub struct Uploader {
    nudge: Option<mpsc::Sender<()>>,
    shared: Arc<Mutex<Shared>>,
}

impl Uploader {
    /// Starts the thread; `live` is how often live sessions are uploaded
    /// (`None`: only finished ones); with `events`, the hour files of
    /// [`crate::events`] are sent too.
    pub fn start(
        store: FleetStore,
        host_id: String,
        log_dir: PathBuf,
        live: Option<Duration>,
        events: bool,
    ) -> Uploader {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Mutex::new(Shared {
            status: UploadStatus {
                store: store.name.clone(),
                host_id: host_id.clone(),
                ..UploadStatus::default()
            },
            notices: Vec::new(),
            witness: None,
        }));
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("sshlog-uploader".into())
            .spawn(move || run(store, host_id, log_dir, live, events, rx, s));
        if let Err(e) = spawned {
            tracing::error!("cannot start the uploader thread: {e}; sessions stay in the spool");
        }
        Uploader {
            nudge: Some(tx),
            shared,
        }
    }

    /// A session was queued: look at the spool now.
    pub fn nudge(&self) {
        self.nudger().nudge();
    }

    /// A handle that nudges from another thread (the finisher).
    pub fn nudger(&self) -> Nudger {
        Nudger(self.nudge.clone())
    }

    pub fn status(&self) -> UploadStatus {
        lock(&self.shared).status.clone()
    }

    /// Sends a chain head (JSON) to the store's witness objects; only the
    /// newest waits when the store is down.
    pub fn witness(&self, sequence: u64, head_json: Vec<u8>) {
        lock(&self.shared).witness = Some((sequence, head_json));
        self.nudge();
    }

    /// Changes to report since the last call.
    pub fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(&mut lock(&self.shared).notices)
    }
}

/// Tells the uploader that the spool has a new job.
#[derive(Clone)]
pub struct Nudger(Option<mpsc::Sender<()>>);

impl Nudger {
    pub fn nudge(&self) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(());
        }
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(
    store: FleetStore,
    host_id: String,
    log_dir: PathBuf,
    live: Option<Duration>,
    events: bool,
    rx: mpsc::Receiver<()>,
    shared: Arc<Mutex<Shared>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("uploader: no runtime ({e}); sessions stay in the spool");
            return;
        }
    };
    let spool = Spool::new(&log_dir);
    let mut backoff = Duration::from_secs(1);
    let mut announced = false;
    let mut live_sent: HashMap<PathBuf, (u64, u64)> = HashMap::new();
    let mut next_live = std::time::Instant::now();
    let mut next_compact = std::time::Instant::now();
    let event_spool = events.then(|| EventSpool::new(&log_dir));
    let mut events_sent = HashMap::new();
    let mut next_events = std::time::Instant::now();
    let mut tombstones_seen = 0u64;
    let mut tombstones_done = 0usize;
    loop {
        let stones = log_dir.join(sshlog_format::seal::TOMBSTONES);
        let size = std::fs::metadata(&stones).map(|m| m.len()).unwrap_or(0);
        if size != tombstones_seen {
            let applied =
                crate::retention::apply_tombstones(&store, &host_id, &stones, tombstones_done);
            match rt.block_on(applied) {
                Ok(n) => {
                    tombstones_seen = size;
                    tombstones_done = n;
                }
                Err(e) => tracing::debug!("tombstones not applied to the store yet: {e}"),
            }
        }
        let backlog = spool.backlog();
        {
            let mut s = lock(&shared);
            s.status.backlog_sessions = backlog.sessions;
            s.status.backlog_bytes = backlog.bytes;
        }
        let mut wait = IDLE_LOOK;
        for (job_file, job) in spool.pending() {
            let result = rt.block_on(async {
                if !announced {
                    announce(&store, &host_id).await?;
                }
                upload_session(&store, &host_id, &log_dir, &job).await
            });
            let mut s = lock(&shared);
            match result {
                Ok(bytes) => {
                    announced = true;
                    spool.done(&job_file);
                    s.status.uploaded_sessions += 1;
                    s.status.uploaded_bytes += bytes;
                    s.status.backlog_sessions = s.status.backlog_sessions.saturating_sub(1);
                    if s.status.failing.take().is_some() {
                        tracing::info!("uploads to {} work again", store.name);
                        s.status.failing_since = None;
                        let backlog_sessions = s.status.backlog_sessions;
                        s.notices.push(Notice::Recovered { backlog_sessions });
                    }
                    backoff = Duration::from_secs(1);
                }
                Err(FleetError::Local(e)) => {
                    // The recording is gone from this host: nothing left to send.
                    tracing::error!(
                        "cannot upload {}: {e}; dropped from the spool",
                        job.events.display()
                    );
                    s.status.failures += 1;
                    spool.done(&job_file);
                }
                Err(e) => {
                    s.status.failures += 1;
                    let error = e.to_string();
                    let same = s
                        .status
                        .failing
                        .as_deref()
                        .is_some_and(|f| same_failure(f, &error));
                    if !same {
                        tracing::warn!(
                            "upload failed, retrying (backlog {} session(s)): {error}",
                            s.status.backlog_sessions
                        );
                        if s.status.failing.is_none() {
                            s.status.failing_since = Some(Utc::now());
                        }
                        let backlog_sessions = s.status.backlog_sessions;
                        s.notices.push(Notice::Failing {
                            error: error.clone(),
                            backlog_sessions,
                        });
                        s.status.failing = Some(error);
                    }
                    wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    break;
                }
            }
        }
        let idle = spool.backlog().sessions == 0 && lock(&shared).status.failing.is_none();
        // A head goes after the recordings sealed before it (the store then
        // never shows a head ahead of its recordings).
        if idle {
            let pending_head = lock(&shared).witness.take();
            if let Some((sequence, json)) = pending_head {
                if let Err(e) = rt.block_on(store.put_witness(&host_id, sequence, json.clone())) {
                    tracing::debug!("chain head not sent to the store yet: {e}");
                    lock(&shared).witness.get_or_insert((sequence, json));
                }
            }
        }
        if idle && std::time::Instant::now() >= next_compact {
            next_compact = std::time::Instant::now() + COMPACT_EVERY;
            let tomorrow = Utc::now().date_naive() + chrono::Duration::days(1);
            match rt.block_on(crate::catalog::compact(&store, &host_id, tomorrow)) {
                Ok(c) if c.days > 0 => tracing::info!(
                    "folded {} index entries of {} day(s) into catalogs",
                    c.entries,
                    c.days
                ),
                Ok(_) => {}
                // Nothing is lost: loose entries stay readable until the next try.
                Err(e) => {
                    tracing::warn!("index compaction failed, retried in {COMPACT_EVERY:?}: {e}")
                }
            }
        }
        if let Some(ev) = &event_spool {
            if idle && std::time::Instant::now() >= next_events {
                next_events = std::time::Instant::now() + EVENTS_EVERY;
                // A failure is retried at the next interval; the lines stay
                // in their hour files until the store holds them.
                if let Err(e) = rt.block_on(ev.upload(&store, &host_id, &mut events_sent)) {
                    tracing::warn!("event upload failed, retried in {EVENTS_EVERY:?}: {e}");
                }
            }
            wait = wait.min(EVENTS_EVERY);
        }
        if let Some(every) = live.filter(|_| std::time::Instant::now() >= next_live) {
            next_live = std::time::Instant::now() + every;
            if lock(&shared).status.failing.is_none() {
                // Best effort: a failure here is retried at the next interval
                // (finished sessions go through the spool).
                if let Err(e) = rt.block_on(upload_live(&store, &host_id, &log_dir, &mut live_sent))
                {
                    tracing::debug!("live upload: {e}");
                }
            }
            wait = wait.min(every);
        }
        match rx.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        // Nudges that came meanwhile are answered by this one look.
        while rx.try_recv().is_ok() {}
    }
}

/// Whether two errors are the same failure (object_store's messages carry
/// the request's duration, which differs every time).
fn same_failure(a: &str, b: &str) -> bool {
    let key = |e: &str| {
        e.split(": Error performing")
            .next()
            .unwrap_or(e)
            .to_string()
    };
    key(a) == key(b)
}

/// `hosts/<host>/host.json`: who this host is.
pub async fn announce(store: &FleetStore, host_id: &str) -> Result<(), FleetError> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let info = serde_json::json!({
        "host_id": host_id,
        "hostname": hostname,
        "sshlog_version": env!("CARGO_PKG_VERSION"),
        "updated": Utc::now(),
    });
    store
        .put_bytes(
            &store.layout.host_info(host_id),
            info.to_string().into_bytes(),
        )
        .await
}

/// Uploads the live sessions (`<log_dir>/state/*.json`, written by sshlogd
/// for each open recording) whose files grew since the last time: cast,
/// sidecar and a provisional index entry (`closed: false`), which the
/// finished session's replaces.
async fn upload_live(
    store: &FleetStore,
    host_id: &str,
    log_dir: &Path,
    sent: &mut HashMap<PathBuf, (u64, u64)>,
) -> Result<(), FleetError> {
    #[derive(serde::Deserialize)]
    struct Live {
        events_path: PathBuf,
    }
    let Ok(dir) = std::fs::read_dir(log_dir.join("state")) else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for e in dir.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let Some(live) = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Live>(&b).ok())
        else {
            continue;
        };
        let job = Job {
            events: live.events_path,
            queued: Utc::now(),
        };
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let sizes = (size(&job.events), size(&job.cast()));
        seen.push(job.events.clone());
        if sizes.0 == 0 || sent.get(&job.events) == Some(&sizes) {
            continue;
        }
        upload_session(store, host_id, log_dir, &job).await?;
        sent.insert(job.events.clone(), sizes);
    }
    sent.retain(|k, _| seen.contains(k));
    Ok(())
}

/// What a session's index object holds.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct IndexObject {
    pub entry: sshlog_format::index::IndexEntry,
    pub grams: Option<sshlog_format::index::GramEntry>,
}

/// Uploads one session: cast (and its frame index), sidecar, then its
/// index entry. Returns the bytes sent.
pub async fn upload_session(
    store: &FleetStore,
    host_id: &str,
    log_dir: &Path,
    job: &Job,
) -> Result<u64, FleetError> {
    let relative = |p: &Path| -> Result<String, FleetError> {
        p.strip_prefix(log_dir)
            .map(|r| r.to_string_lossy().into_owned())
            .map_err(|_| {
                FleetError::Local(format!("{} is outside {}", p.display(), log_dir.display()))
            })
    };
    if !job.events.exists() {
        return Err(FleetError::Local(format!(
            "{} is gone",
            job.events.display()
        )));
    }
    let cast = job.cast();
    let mut bytes = 0;
    let has_cast = cast.exists();
    if has_cast {
        let rel = relative(&cast)?;
        bytes += store
            .put_file(&cast, &store.layout.session_file(host_id, &rel))
            .await?;
        // Its frame index apart, so players seek in one request. A cast
        // whose index cannot be read is still uploaded (players then scan).
        let frames = std::fs::File::open(&cast)
            .map_err(sshlog_format::FormatError::from)
            .and_then(sshlog_format::read_frame_index);
        match frames {
            Ok(frames) => {
                let list = sshlog_format::framed::encode_frame_list(&frames);
                bytes += list.len() as u64;
                store
                    .put_bytes(&store.layout.cast_frames(host_id, &rel), list)
                    .await?;
            }
            Err(e) => tracing::warn!("{}: no frame index uploaded: {e}", cast.display()),
        }
    }
    bytes += store
        .put_file(
            &job.events,
            &store.layout.session_file(host_id, &relative(&job.events)?),
        )
        .await?;
    let built = sshlog_format::index::build_session(
        log_dir,
        &job.events,
        has_cast.then_some(cast.as_path()),
        true,
    )
    .map_err(|e| FleetError::Local(format!("{}: {e}", job.events.display())))?;
    let day = sshlog_format::index::day_of_session(&job.events, &built.entry);
    let key = store.layout.index_entry(host_id, day, built.entry.id);
    let object = IndexObject {
        entry: built.entry,
        grams: built.grams,
    };
    let body = serde_json::to_vec(&object).map_err(|e| FleetError::Local(e.to_string()))?;
    bytes += body.len() as u64;
    store.put_bytes(&key, body).await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_failure_with_another_duration_is_one_episode() {
        let a = "s3://b put k: Forbidden for path k: Error performing PUT http://x in 1.7ms - 403";
        let b = "s3://b put k: Forbidden for path k: Error performing PUT http://x in 2.1ms - 403";
        assert!(same_failure(a, b));
        assert!(!same_failure(a, "s3://b put k: connection refused"));
    }
}
