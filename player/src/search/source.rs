//! Where the sessions to search come from: the day index files, and for
//! sessions the index lacks or that changed since (live sessions, days
//! recorded before the index existed), their sidecars, read on the fly.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use rayon::prelude::*;
use sshlog_format::index::{build_session, read_day, read_day_grams, GramEntry, IndexEntry};
use sshlog_format::layout::{day_dirs, session_id_from_path, CAST_SUFFIX, EVENTS_SUFFIX};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A session to check, with its output filter when the index has one.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its entry.
    pub entry: IndexEntry,
    /// Its output filter.
    pub grams: Option<GramEntry>,
    /// The host it was recorded on (a fleet store search).
    pub host: Option<String>,
}

/// The result of [`collect`].
#[derive(Debug, Default)]
pub struct Collected {
    /// Sessions by start time.
    pub sessions: Vec<Session>,
    /// Days without an index file.
    pub unindexed_days: Vec<NaiveDate>,
    /// Sessions read from their sidecars on days that have an index.
    pub unindexed_sessions: usize,
    /// One-line descriptions of sessions that could not be read.
    pub errors: Vec<String>,
}

struct Pending {
    day: NaiveDate,
    events: PathBuf,
}

/// The sessions of the UTC days `[from, to]` under `log_dir`. With
/// `use_index` false every sidecar is read; `grams` loads output filters.
pub fn collect(
    log_dir: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    use_index: bool,
    grams: bool,
) -> Result<Collected> {
    let sessions_dir = log_dir.join(sshlog_format::layout::SESSIONS_DIR);
    std::fs::metadata(&sessions_dir).with_context(|| {
        format!(
            "no recordings in {}: cannot open {} (wrong --log-dir / SSHLOG_LOG_DIR?)",
            log_dir.display(),
            sessions_dir.display()
        )
    })?;
    let days = day_dirs(log_dir, from, to)
        .with_context(|| format!("cannot list {}", sessions_dir.display()))?;
    let mut out = Collected::default();
    let mut pending = Vec::new();
    for (day, dir) in days {
        let sidecars = list_sidecars(&dir)?;
        let index = if use_index {
            read_day(log_dir, day).with_context(|| format!("cannot read the index of {day}"))?
        } else {
            None
        };
        let Some(index) = index else {
            if use_index && !sidecars.is_empty() {
                out.unindexed_days.push(day);
            }
            pending.extend(sidecars.into_keys().map(|p| Pending { day, events: p }));
            continue;
        };
        let mut filters = if grams {
            read_day_grams(log_dir, day).unwrap_or_default()
        } else {
            HashMap::new()
        };
        let mut by_id: HashMap<_, _> = index.entries.into_iter().map(|e| (e.id, e)).collect();
        for (events, size) in sidecars {
            let fresh = session_id_from_path(&events)
                .and_then(|id| by_id.remove(&id))
                .filter(|e| e.events_size == size);
            match fresh {
                Some(entry) => {
                    let grams = filters.remove(&entry.id);
                    out.sessions.push(Session {
                        entry,
                        grams,
                        host: None,
                    });
                }
                None => {
                    out.unindexed_sessions += 1;
                    pending.push(Pending { day, events });
                }
            }
        }
    }
    let built: Vec<Result<Session, String>> = pending
        .par_iter()
        .map(|p| {
            let cast = cast_of(&p.events);
            build_session(log_dir, &p.events, cast.as_deref(), false)
                .map(|b| Session {
                    entry: b.entry,
                    grams: None,
                    host: None,
                })
                .map_err(|e| {
                    format!(
                        "cannot read session {} ({}): {e}",
                        p.events.display(),
                        p.day
                    )
                })
        })
        .collect();
    for b in built {
        match b {
            Ok(s) => out.sessions.push(s),
            Err(e) => out.errors.push(e),
        }
    }
    out.sessions.sort_by_key(|s| (s.entry.start, s.entry.id));
    Ok(out)
}

/// The `<id>.events.jsonl` files of a day directory with their sizes.
fn list_sidecars(dir: &Path) -> Result<std::collections::BTreeMap<PathBuf, u64>> {
    let mut out = std::collections::BTreeMap::new();
    let rd = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in rd {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        if !name.to_string_lossy().ends_with(EVENTS_SUFFIX) {
            continue;
        }
        let path = entry.path();
        if session_id_from_path(&path).is_none() {
            continue;
        }
        // A sidecar removed meanwhile (retention) is simply skipped.
        if let Ok(md) = entry.metadata() {
            out.insert(path, md.len());
        }
    }
    Ok(out)
}

/// The cast next to a sidecar, if it exists.
pub fn cast_of(events: &Path) -> Option<PathBuf> {
    let name = events.file_name()?.to_str()?;
    let stem = name.strip_suffix(EVENTS_SUFFIX)?;
    let cast = events.with_file_name(format!("{stem}{CAST_SUFFIX}"));
    cast.is_file().then_some(cast)
}
