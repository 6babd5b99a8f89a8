//! `sshlog search --store URL`: the fleet store as the source. The index
//! entries of the days asked for are fetched (never the casts: only
//! `--output` fetches the casts of the sessions still in the running, into a
//! temporary directory laid out as one log directory per host).

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sshlog_fleet::fleet::{runtime, user_prefilter, FleetEntry, IndexQuery};
use sshlog_fleet::remote::RemoteObject;
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use sshlog_format::framed::{decode_frame_list, read_frame_index, FrameInfo};
use std::path::PathBuf;

use super::source::{Collected, Session};

/// The store and a scratch directory for the casts `--output` reads.
pub struct StoreSource {
    store: FleetStore,
    rt: std::sync::Arc<tokio::runtime::Runtime>,
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
            rt: std::sync::Arc::new(runtime()?),
            scratch: tempfile::Builder::new().prefix("sshlog-store-").tempdir()?,
        })
    }

    /// The sessions of `host` (all hosts without it) started on the UTC days
    /// `[from, to]` (the last month without `from`), with their output
    /// filters when `grams`; only `user`'s when it is given (entries of
    /// other users are not even parsed).
    pub fn collect(
        &self,
        host: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        grams: bool,
        user: Option<&str>,
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
            .block_on(self.store.entries(
                &hosts,
                &IndexQuery {
                    days: from..=to,
                    grams,
                    contains: user.map(user_prefilter),
                },
            ))
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

    /// The cast of session `id` (from whichever host recorded it), opened
    /// in the store for range requests, and its frame index (kept beside
    /// it; read from the cast itself for uploads that have none).
    pub fn remote(&self, id: &str) -> Result<(RemoteObject, Vec<FrameInfo>)> {
        let s = self.find(id)?;
        let rel = s
            .entry
            .cast
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("session {id} has no terminal output (no cast)"))?;
        let host = s.host.as_deref().unwrap_or_default();
        let key = self.store.layout.session_file(host, rel);
        let mut obj = RemoteObject::open(self.store.clone(), key, self.rt.clone())?;
        let list_key = self.store.layout.cast_frames(host, rel);
        let frames = match self.rt.block_on(self.store.get_if_any(&list_key))? {
            Some(list) => decode_frame_list(&list)
                .with_context(|| format!("{list_key} in {}", self.store.name))?,
            None => read_frame_index(&mut obj)
                .with_context(|| format!("cannot read the frame index of {}", obj.key()))?,
        };
        anyhow::ensure!(!frames.is_empty(), "{} holds no frames", obj.key());
        Ok((obj, frames))
    }

    /// Fetches the session `id` (from whichever host recorded it) and returns
    /// its local cast (in the scratch directory, alive as long as `self`).
    pub fn fetch(&self, id: &str) -> Result<PathBuf> {
        let s = self.find(id)?;
        self.cast(&s)?
            .ok_or_else(|| anyhow::anyhow!("session {id} has no terminal output (no cast)"))
    }

    /// The index entry of session `id`, on whichever host recorded it.
    fn find(&self, id: &str) -> Result<Session> {
        let uuid = uuid::Uuid::parse_str(id).map_err(|_| {
            anyhow::anyhow!("with --store, name the session by its id (a UUID), not `{id}`")
        })?;
        anyhow::ensure!(
            sshlog_format::layout::session_id_time(uuid).is_some(),
            "{id} is not a session id (UUIDv7)"
        );
        let hosts = self.rt.block_on(self.store.hosts())?;
        self.rt
            .block_on(self.store.find_session(&hosts, uuid))?
            .map(|FleetEntry { host, entry, grams }| Session {
                entry,
                grams,
                host: Some(host),
            })
            .ok_or_else(|| anyhow::anyhow!("no session {id} in {}", self.store.name))
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
