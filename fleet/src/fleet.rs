//! Reading the fleet back from the store: its hosts, the index entries of a
//! range of days (searches never download casts), and one session's files
//! for play, export and verify.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use sshlog_format::index::{GramEntry, IndexEntry};
use sshlog_format::layout::{CAST_SUFFIX, EVENTS_SUFFIX};

use crate::uploader::IndexObject;
use crate::{FleetError, FleetStore};

/// Index objects fetched at once.
const CONCURRENT_GETS: usize = 32;

/// One session of the fleet, as its index entry tells.
#[derive(Debug, Clone)]
pub struct FleetEntry {
    pub host: String,
    pub entry: IndexEntry,
    pub grams: Option<GramEntry>,
}

impl FleetStore {
    /// Every host that uploaded something.
    pub async fn hosts(&self) -> Result<Vec<String>, FleetError> {
        let mut hosts: Vec<String> = self
            .dirs(&self.layout.hosts())
            .await?
            .iter()
            .filter_map(|k| self.layout.host_of(k))
            .collect();
        hosts.sort();
        Ok(hosts)
    }

    /// The index entries of `hosts` for `days` (UTC days of the session
    /// directories).
    pub async fn entries(
        &self,
        hosts: &[String],
        days: RangeInclusive<NaiveDate>,
    ) -> Result<Vec<FleetEntry>, FleetError> {
        let mut keys = Vec::new();
        for host in hosts {
            let index = self.layout.index_day(host, *days.start());
            let Some(parent) = index.parts().count().checked_sub(1) else {
                continue;
            };
            let parent: object_store::path::Path = index.parts().take(parent).collect();
            for day_dir in self.dirs(&parent).await? {
                let in_range = day_dir
                    .filename()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .is_some_and(|d| days.contains(&d));
                if in_range {
                    for meta in self.list(&day_dir).await? {
                        keys.push((host.clone(), meta.location));
                    }
                }
            }
        }
        futures::stream::iter(keys)
            .map(|(host, key)| async move {
                let bytes = self.get(&key).await?;
                let o: IndexObject = serde_json::from_slice(&bytes)
                    .map_err(|e| FleetError::Store(format!("{} {key}: {e}", self.name)))?;
                Ok::<_, FleetError>(FleetEntry {
                    host,
                    entry: o.entry,
                    grams: o.grams,
                })
            })
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await
    }

    /// Downloads a session's cast (if any) and sidecar under `dir`, keeping
    /// their relative paths; returns (cast, sidecar).
    pub async fn fetch_session(
        &self,
        e: &FleetEntry,
        dir: &Path,
    ) -> Result<(Option<PathBuf>, PathBuf), FleetError> {
        let cast_rel = e.entry.cast.clone();
        let events_rel = match &cast_rel {
            Some(c) => c.replace(CAST_SUFFIX, EVENTS_SUFFIX),
            None => {
                let day = e.entry.start.format("%Y/%m/%d");
                format!("sessions/{day}/{}{EVENTS_SUFFIX}", e.entry.id.hyphenated())
            }
        };
        let fetch = |rel: String| async move {
            let bytes = self.get(&self.layout.session_file(&e.host, &rel)).await?;
            let path = dir.join(&rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|err| FleetError::Local(format!("{}: {err}", p.display())))?;
            }
            std::fs::write(&path, &bytes)
                .map_err(|err| FleetError::Local(format!("{}: {err}", path.display())))?;
            Ok::<_, FleetError>(path)
        };
        let cast = match cast_rel {
            Some(rel) => Some(fetch(rel).await?),
            None => None,
        };
        Ok((cast, fetch(events_rel).await?))
    }
}

/// A runtime for callers that are not async (the CLI).
pub fn runtime() -> Result<tokio::runtime::Runtime, FleetError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FleetError::Local(format!("cannot start a runtime: {e}")))
}
