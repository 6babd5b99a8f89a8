//! Reading the fleet back from the store: its hosts, the index entries of a
//! range of days (searches never download casts), and one session's files
//! for play, export and verify.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::ObjectMeta;
use sshlog_format::index::{GramEntry, IndexEntry};
use sshlog_format::layout::{CAST_SUFFIX, EVENTS_SUFFIX};

use crate::catalog::{self, Day, CONCURRENT_GETS};
use crate::keys::{IndexItem, Layout};
use crate::{FleetError, FleetStore};

/// What a search reads from the index.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    /// UTC days of the session directories.
    pub days: RangeInclusive<NaiveDate>,
    /// Read the output filters too.
    pub grams: bool,
    /// A prefilter: only entries whose JSON holds these bytes (e.g.
    /// `"user":"alice"`); the caller still checks what it gets.
    pub contains: Option<Vec<u8>>,
}

/// The [`IndexQuery::contains`] prefilter of one user: `"user":"NAME"`
/// as an index entry's JSON spells it.
pub fn user_prefilter(user: &str) -> Vec<u8> {
    let mut b = br#""user":"#.to_vec();
    b.extend(serde_json::to_vec(user).unwrap_or_default());
    b
}

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

    /// The index entries of `hosts` that `q` asks for. Per host: one
    /// LIST of its index, one GET per day catalog, and the loose entries of
    /// days not compacted yet; all at once, [`CONCURRENT_GETS`] at a time.
    pub async fn entries(
        &self,
        hosts: &[String],
        q: &IndexQuery,
    ) -> Result<Vec<FleetEntry>, FleetError> {
        let (days, grams) = (&q.days, q.grams);
        // Catalogs and loose day directories in range.
        let listed: Vec<(String, Vec<Key>, Vec<Key>)> = futures::stream::iter(hosts.to_vec())
            .map(|host| async move {
                let (dirs, objects) = self.children(&self.layout.index_dir(&host)).await?;
                Ok::<_, FleetError>((
                    host,
                    dirs,
                    objects.into_iter().map(|o| o.location).collect(),
                ))
            })
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await?;
        let in_range = |k: &Key| Layout::index_item(k).filter(|i| days.contains(&i.day()));
        let mut catalogs = Vec::new();
        let mut loose_dirs = Vec::new();
        for (host, dirs, objects) in listed {
            for o in &objects {
                if let Some(IndexItem::Catalog(day)) = in_range(o) {
                    catalogs.push((host.clone(), day));
                }
            }
            for d in dirs {
                if let Some(IndexItem::LooseDay(day)) = in_range(&d) {
                    loose_dirs.push(((host.clone(), day), d));
                }
            }
        }
        let loose_keys: Vec<Vec<((String, NaiveDate), Key)>> = futures::stream::iter(loose_dirs)
            .map(|(tag, dir)| async move {
                let objects = self.list(&dir).await?;
                Ok::<_, FleetError>(
                    objects
                        .into_iter()
                        .map(|o| (tag.clone(), o.location))
                        .collect(),
                )
            })
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await?;
        let (loose, gone) =
            catalog::read_loose(self, loose_keys.into_iter().flatten().collect()).await?;
        // A loose entry gone meanwhile is in its day's catalog now.
        catalogs.extend(gone);
        catalogs.sort();
        catalogs.dedup();
        // Decoding is CPU work: each catalog on a worker thread of its own.
        let read: Vec<((String, NaiveDate), Day)> = futures::stream::iter(catalogs)
            .map(|(host, day)| {
                let store = self.clone();
                let contains = q.contains.clone();
                tokio::spawn(async move {
                    let mut d = Day::default();
                    catalog::read_day(&store, &host, day, grams, contains.as_deref(), &mut d)
                        .await?;
                    Ok::<_, FleetError>(((host, day), d))
                })
            })
            .buffer_unordered(CONCURRENT_GETS)
            .map(|joined| joined.map_err(|e| FleetError::Local(format!("index reader: {e}")))?)
            .try_collect()
            .await?;
        let mut by_day: HashMap<(String, NaiveDate), Day> = read.into_iter().collect();
        for (tag, o) in loose {
            by_day
                .entry(tag)
                .or_default()
                .add(o.entry, o.grams.filter(|_| grams));
        }
        let mut out = Vec::new();
        for ((host, _), day) in by_day {
            let (entries, filters) = day.into_sorted();
            let mut filters: HashMap<_, _> = filters.into_iter().map(|g| (g.id, g)).collect();
            out.extend(entries.into_iter().map(|entry| FleetEntry {
                host: host.clone(),
                grams: filters.remove(&entry.id),
                entry,
            }));
        }
        Ok(out)
    }

    /// The index entry of session `id` on one of `hosts` (its UUIDv7 gives
    /// its day; the days around it are read too, and only lines holding the
    /// id are parsed). `None` when it is not there or `id` is not a UUIDv7.
    pub async fn find_session(
        &self,
        hosts: &[String],
        id: uuid::Uuid,
    ) -> Result<Option<FleetEntry>, FleetError> {
        let Some(day) = sshlog_format::layout::session_id_time(id).map(|t| t.date_naive()) else {
            return Ok(None);
        };
        let one = chrono::Duration::days(1);
        let q = IndexQuery {
            days: day - one..=day + one,
            grams: false,
            contains: Some(id.to_string().into_bytes()),
        };
        let found = self.entries(hosts, &q).await?;
        Ok(found.into_iter().find(|f| f.entry.id == id))
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

impl FleetStore {
    /// Every recording file of `host` in the store (casts and sidecars).
    pub async fn session_files(&self, host: &str) -> Result<Vec<ObjectMeta>, FleetError> {
        self.list(&self.layout.sessions_dir(host)).await
    }

    /// Downloads `files` of `host` under `dir` as a log directory
    /// (`dir/sessions/YYYY/MM/DD/…`), [`CONCURRENT_GETS`] at a time;
    /// `done(bytes)` after each file.
    pub async fn download(
        &self,
        host: &str,
        files: &[ObjectMeta],
        dir: &Path,
        done: &(dyn Fn(u64) + Sync),
    ) -> Result<(), FleetError> {
        let root = self.layout.host_dir(host);
        futures::stream::iter(files)
            .map(|meta| {
                let root = &root;
                async move {
                    let rel: Vec<String> = meta
                        .location
                        .prefix_match(root)
                        .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
                        .unwrap_or_default();
                    if rel.is_empty() || rel.iter().any(|p| p == "..") {
                        return Err(FleetError::Store(format!(
                            "unexpected key {}",
                            meta.location
                        )));
                    }
                    let path = rel.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
                    let bytes = self.get(&meta.location).await?;
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(|e| FleetError::Local(format!("{}: {e}", parent.display())))?;
                    }
                    tokio::fs::write(&path, &bytes)
                        .await
                        .map_err(|e| FleetError::Local(format!("{}: {e}", path.display())))?;
                    done(bytes.len() as u64);
                    Ok(())
                }
            })
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await
    }
}

/// A runtime for callers that are not async (the CLI), with a worker per
/// core (catalogs are decoded in parallel).
pub fn runtime() -> Result<tokio::runtime::Runtime, FleetError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| FleetError::Local(format!("cannot start a runtime: {e}")))
}
