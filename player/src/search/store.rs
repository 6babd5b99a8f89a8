//! `sshlog search --store URL`: the fleet store as the source. The index
//! entries of the days asked for are fetched (never the casts: only
//! `--output` fetches the casts of the sessions still in the running, into a
//! temporary directory laid out as one log directory per host).

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sshlog_fleet::fleet::{runtime, FleetEntry};
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use std::path::PathBuf;

use super::source::{Collected, Session};

/// The store and a scratch directory for the casts `--output` reads.
pub struct StoreSource {
    store: FleetStore,
    rt: tokio::runtime::Runtime,
    scratch: tempfile::TempDir,
}

/// Days searched when no --since is given.
const DEFAULT_DAYS: i64 = 31;

impl StoreSource {
    pub fn open(url: &str) -> Result<StoreSource> {
        let settings = StoreSettings::from_url(url)?;
        let creds = Credentials::load(&settings)?;
        Ok(StoreSource {
            store: FleetStore::connect(&settings, &creds)?,
            rt: runtime()?,
            scratch: tempfile::Builder::new().prefix("sshlog-store-").tempdir()?,
        })
    }

    /// The sessions of `host` (all hosts without it) started on the UTC days
    /// `[from, to]` (the last month without `from`), with their output
    /// filters when `grams`.
    pub fn collect(
        &self,
        host: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        grams: bool,
    ) -> Result<Collected> {
        let today = chrono::Utc::now().date_naive();
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
        let hosts = match host {
            Some(h) => vec![h.to_string()],
            None => self.rt.block_on(self.store.hosts())?,
        };
        let entries = self
            .rt
            .block_on(self.store.entries(&hosts, from..=to, grams))
            .with_context(|| format!("cannot read the index in {}", self.store.name))?;
        let mut sessions: Vec<Session> = entries
            .into_iter()
            .map(|FleetEntry { host, entry, grams }| Session {
                entry,
                grams,
                host: Some(host),
            })
            .collect();
        sessions.sort_by_key(|s| (s.entry.start, s.entry.id));
        Ok(Collected {
            sessions,
            ..Collected::default()
        })
    }

    /// Fetches a session's cast for `--output`; its local path.
    pub fn cast(&self, s: &Session) -> Result<Option<PathBuf>> {
        let host = s.host.clone().unwrap_or_default();
        let e = FleetEntry {
            host: host.clone(),
            entry: s.entry.clone(),
            grams: None,
        };
        let (cast, _) = self.rt.block_on(
            self.store
                .fetch_session(&e, &self.scratch.path().join(&host)),
        )?;
        Ok(cast)
    }

    /// The recording play and export name by `file`: fetched from the store
    /// when `store` is given (the source is returned too: its scratch
    /// directory holds the file), else found under `log_dir`.
    pub fn locate(
        store: Option<&str>,
        file: &str,
        log_dir: &std::path::Path,
    ) -> Result<(Option<StoreSource>, PathBuf)> {
        match store {
            Some(url) => {
                let st = StoreSource::open(url)?;
                let path = st.fetch(file)?;
                Ok((Some(st), path))
            }
            None => Ok((None, crate::locate::resolve(file, log_dir)?)),
        }
    }

    /// Fetches the session `id` (from whichever host recorded it) and returns
    /// its local cast (in the scratch directory, alive as long as `self`).
    pub fn fetch(&self, id: &str) -> Result<PathBuf> {
        let uuid = uuid::Uuid::parse_str(id).map_err(|_| {
            anyhow::anyhow!("with --store, name the session by its id (a UUID), not `{id}`")
        })?;
        let day = sshlog_format::layout::session_id_time(uuid)
            .map(|t| t.date_naive())
            .ok_or_else(|| anyhow::anyhow!("{id} is not a session id (UUIDv7)"))?;
        let one = chrono::Duration::days(1);
        let found = self.collect(None, Some(day - one), Some(day + one), false)?;
        let s = found
            .sessions
            .iter()
            .find(|s| s.entry.id == uuid)
            .ok_or_else(|| anyhow::anyhow!("no session {id} in {}", self.store.name))?;
        self.cast(s)?
            .ok_or_else(|| anyhow::anyhow!("session {id} has no terminal output (no cast)"))
    }

    /// Where a session's cast is in the store, for the results.
    pub fn cast_location(&self, s: &Session) -> Option<String> {
        let rel = s.entry.cast.as_deref()?;
        Some(format!(
            "{}:{}",
            self.store.name.split(' ').next().unwrap_or_default(),
            self.store
                .layout
                .session_file(s.host.as_deref().unwrap_or_default(), rel)
        ))
    }
}
