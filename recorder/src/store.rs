//! sshlogd's side of the fleet store (`store:` in sshlogd.yaml, crate
//! `sshlog-fleet`): every sealed recording is queued in the local spool and
//! the uploader thread sends it; its counters go to `stats`, its failures
//! and recoveries become `store_error` events. A store that is misconfigured
//! never stops recording: sessions stay in the spool until it is fixed.

use std::path::Path;
use std::sync::Arc;

use sshlog_control::StoreStats;
use sshlog_fleet::spool::Spool;
use sshlog_fleet::uploader::{Notice, Uploader};
use sshlog_fleet::{config, Credentials, FleetStore, StoreSettings};
use sshlog_format::sidecar::SessionEvent;

use crate::finisher::AfterFinish;

/// The store as sshlogd runs it.
pub struct Store {
    name: String,
    uploader: Option<Uploader>,
    /// Why there is no uploader (settings, credentials).
    config_error: Option<String>,
    config_reported: bool,
    spool: Arc<Spool>,
}

impl Store {
    /// Starts the uploader (call after capabilities are dropped: it is a thread).
    pub fn start(settings: &StoreSettings, log_dir: &Path) -> Store {
        let spool = Arc::new(Spool::new(log_dir));
        let name = settings.describe();
        let connected = config::host_id(settings).and_then(|host| {
            let creds = Credentials::load(settings)?;
            Ok((FleetStore::connect(settings, &creds)?, host))
        });
        match connected {
            Ok((store, host)) => {
                tracing::info!("uploading sealed recordings to {name} as host {host}");
                Store {
                    name,
                    uploader: Some(Uploader::start(
                        store,
                        host,
                        log_dir.to_path_buf(),
                        (settings.live_upload_seconds > 0)
                            .then(|| std::time::Duration::from_secs(settings.live_upload_seconds)),
                        settings.events,
                    )),
                    config_error: None,
                    config_reported: false,
                    spool,
                }
            }
            Err(e) => {
                tracing::error!(
                    "fleet store {name}: {e}; recordings are kept in {} until this is fixed",
                    log_dir.join("spool").display()
                );
                Store {
                    name,
                    uploader: None,
                    config_error: Some(e.to_string()),
                    config_reported: false,
                    spool,
                }
            }
        }
    }

    /// The finisher's hook: queue the sealed recording and wake the uploader.
    pub fn after_finish(&self) -> AfterFinish {
        let spool = self.spool.clone();
        let nudger = self.uploader.as_ref().map(Uploader::nudger);
        Arc::new(move |events: &Path| {
            if let Err(e) = spool.enqueue(events) {
                tracing::error!("cannot queue {} for the store: {e}", events.display());
            }
            if let Some(n) = &nudger {
                n.nudge();
            }
        })
    }

    /// Sends a chain head to the store (the witness).
    pub fn witness(&self, head: &sshlog_format::seal::Head) {
        if let (Some(u), Ok(json)) = (&self.uploader, serde_json::to_vec(head)) {
            u.witness(head.sequence, json);
        }
    }

    pub fn stats(&self) -> StoreStats {
        match &self.uploader {
            Some(u) => {
                let s = u.status();
                StoreStats {
                    store: s.store,
                    store_host_id: s.host_id,
                    store_backlog_sessions: s.backlog_sessions,
                    store_backlog_bytes: s.backlog_bytes,
                    store_uploaded_sessions: s.uploaded_sessions,
                    store_uploaded_bytes: s.uploaded_bytes,
                    store_failures: s.failures,
                    store_error: s.failing,
                }
            }
            None => {
                let backlog = self.spool.backlog();
                StoreStats {
                    store: self.name.clone(),
                    store_backlog_sessions: backlog.sessions,
                    store_backlog_bytes: backlog.bytes,
                    store_error: self.config_error.clone(),
                    ..StoreStats::default()
                }
            }
        }
    }

    /// Events to report: the configuration error once, then failures and
    /// recoveries as they happen.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        let mut out = Vec::new();
        if !self.config_reported {
            self.config_reported = true;
            if let Some(error) = self.config_error.clone() {
                // Reported once; `stats` keeps showing it.
                out.push(SessionEvent::StoreError {
                    store: self.name.clone(),
                    error,
                    backlog_sessions: self.spool.backlog().sessions,
                    resolved: false,
                });
            }
        }
        if let Some(u) = &self.uploader {
            for n in u.take_notices() {
                out.push(match n {
                    Notice::Failing {
                        error,
                        backlog_sessions,
                    } => SessionEvent::StoreError {
                        store: self.name.clone(),
                        error,
                        backlog_sessions,
                        resolved: false,
                    },
                    Notice::Recovered { backlog_sessions } => SessionEvent::StoreError {
                        store: self.name.clone(),
                        error: String::new(),
                        backlog_sessions,
                        resolved: true,
                    },
                });
            }
        }
        out
    }
}
