//! `sshlog index [DIR]`: build or refresh the recordings index of a log
//! directory (for recordings made before the index existed, or after the
//! index was lost).
//!
//! Walks `DIR/sessions` for sidecars, reuses the entries of sessions whose
//! sidecar and cast sizes are unchanged (unless `--rebuild`), builds the
//! others in parallel (one read of each cast), and rewrites the day files
//! that changed, atomically. Index files of days without sessions are
//! removed.

use anyhow::{bail, Context, Result};
use clap::Args;
use rayon::prelude::*;
use sshlog_format::index::{
    build_session, day_from_path, index_dir, read_day, read_day_grams, write_day, GramEntry,
    IndexEntry,
};
use sshlog_format::layout::{session_id_from_path, session_id_time, EVENTS_SUFFIX, SESSIONS_DIR};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;

use crate::search::source::cast_of;

/// Long help of `sshlog index`.
pub const LONG_ABOUT: &str =
    "Build or refresh the index of recordings used by `sshlog search`.\n\n\
    sshlogd adds each session to the index when it ends; this command indexes what it \
    has not: recordings made before the index existed, by another machine, or whose \
    index was deleted. It walks DIR/sessions, keeps the entries of unchanged sessions, \
    reads the sidecar and cast of the others (in parallel) and rewrites the changed \
    day files under DIR/index atomically; it is safe to run while sshlogd records and \
    while searches run. Running it twice in a row changes nothing.";

/// Examples of `sshlog index`.
pub const AFTER_HELP: &str = "\
EXAMPLES:
  sshlog index                      index the default log directory
  sshlog index /srv/old-sshlog      index a copied log directory
  sshlog index --rebuild            recompute every entry";

/// Arguments of `sshlog index`.
#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// Log directory to index (default: --log-dir).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Recompute every entry, even of unchanged sessions.
    #[arg(long)]
    pub rebuild: bool,

    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

struct Found {
    day: NaiveDate,
    events: PathBuf,
    cast: Option<PathBuf>,
    events_size: u64,
    cast_size: u64,
}

type Item = (IndexEntry, Option<GramEntry>);

/// Run `sshlog index`.
pub fn run(args: &IndexArgs, log_dir: &Path, out: &mut dyn Write) -> Result<()> {
    let root = args.dir.as_deref().unwrap_or(log_dir);
    let t0 = Instant::now();
    let sessions_dir = root.join(SESSIONS_DIR);
    if !sessions_dir.is_dir() {
        bail!(
            "no recordings in {}: {} is not a directory (wrong DIR / --log-dir?)",
            root.display(),
            sessions_dir.display()
        );
    }
    let found = walk(&sessions_dir)?;

    // Reuse what is still valid.
    let mut by_day: BTreeMap<NaiveDate, Vec<Found>> = BTreeMap::new();
    for f in found {
        by_day.entry(f.day).or_default().push(f);
    }
    let mut reused: BTreeMap<NaiveDate, Vec<Item>> = BTreeMap::new();
    let mut todo: Vec<Found> = Vec::new();
    let mut stale_days: BTreeSet<NaiveDate> = BTreeSet::new();
    for (day, sessions) in by_day {
        let existing = if args.rebuild {
            None
        } else {
            read_day(root, day).with_context(|| format!("cannot read the index of {day}"))?
        };
        let (mut entries, mut grams) = match existing {
            Some(d) => {
                if d.bad_lines > 0 {
                    stale_days.insert(day);
                }
                let g = read_day_grams(root, day).unwrap_or_default();
                (d.entries.into_iter().map(|e| (e.id, e)).collect(), g)
            }
            None => {
                stale_days.insert(day);
                (HashMap::new(), HashMap::new())
            }
        };
        let mut kept = Vec::new();
        for f in sessions {
            let id = session_id_from_path(&f.events);
            let old = id.and_then(|id| entries.remove(&id)).filter(|e| {
                e.events_size == f.events_size
                    && e.cast_size == f.cast_size
                    && e.cast.is_some() == f.cast.is_some()
            });
            let g = old.as_ref().and_then(|e| grams.remove(&e.id));
            match old {
                Some(e)
                    if e.cast.is_none()
                        || g.as_ref().is_some_and(|g| g.cast_size == e.cast_size) =>
                {
                    kept.push((e, g));
                }
                _ => {
                    stale_days.insert(day);
                    todo.push(f);
                }
            }
        }
        if !entries.is_empty() {
            // Entries of sessions that are gone.
            stale_days.insert(day);
        }
        reused.insert(day, kept);
    }

    // Build the rest, in parallel.
    let total: u64 = todo.iter().map(|f| f.cast_size + f.events_size).sum();
    let bar = crate::progress::bytes("indexing", total, args.quiet);
    let built: Vec<(NaiveDate, Result<Item, String>)> = todo
        .par_iter()
        .map(|f| {
            let r = build_session(root, &f.events, f.cast.as_deref(), true)
                .map(|b| (b.entry, b.grams))
                .map_err(|e| format!("cannot index {}: {e}", f.events.display()));
            bar.inc(f.cast_size + f.events_size);
            (f.day, r)
        })
        .collect();
    bar.finish_and_clear();
    let mut failed = 0usize;
    let mut new_items = 0usize;
    for (day, r) in built {
        match r {
            Ok(item) => {
                new_items += 1;
                reused.entry(day).or_default().push(item);
            }
            Err(e) => {
                failed += 1;
                eprintln!("sshlog: {}", crate::app::one_line(&e));
            }
        }
    }

    // Write the days that changed; drop index files of vanished days.
    let mut sessions = 0usize;
    let mut written = 0usize;
    for (day, items) in reused.iter_mut() {
        sessions += items.len();
        if stale_days.contains(day) {
            write_day(root, *day, std::mem::take(items))
                .with_context(|| format!("cannot write the index of {day}"))?;
            written += 1;
        }
    }
    for day in indexed_days(root)? {
        if !reused.contains_key(&day) {
            write_day(root, day, Vec::new())
                .with_context(|| format!("cannot remove the index of {day}"))?;
            written += 1;
        }
    }
    if !args.quiet {
        writeln!(
            out,
            "indexed {sessions} sessions ({new_items} read, {} unchanged) in {} days ({written} index files written) in {:.1}s",
            sessions - new_items,
            reused.len(),
            t0.elapsed().as_secs_f64()
        )?;
    }
    if failed > 0 {
        bail!("{failed} sessions could not be indexed (see above)");
    }
    Ok(())
}

/// Every `<id>.events.jsonl` under `sessions_dir`, with its cast.
fn walk(sessions_dir: &Path) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(sessions_dir)
        .min_depth(1)
        .max_depth(4)
    {
        let entry = entry.with_context(|| format!("cannot walk {}", sessions_dir.display()))?;
        if !entry.file_type().is_file()
            || !entry.file_name().to_string_lossy().ends_with(EVENTS_SUFFIX)
        {
            continue;
        }
        let events = entry.path().to_path_buf();
        let Some(id) = session_id_from_path(&events) else {
            continue;
        };
        let Some(day) =
            day_from_path(&events).or_else(|| session_id_time(id).map(|t| t.date_naive()))
        else {
            continue;
        };
        let events_size = entry
            .metadata()
            .with_context(|| format!("cannot stat {}", events.display()))?
            .len();
        let cast = cast_of(&events);
        let cast_size = cast
            .as_ref()
            .and_then(|c| std::fs::metadata(c).ok())
            .map_or(0, |m| m.len());
        found.push(Found {
            day,
            events,
            cast,
            events_size,
            cast_size,
        });
    }
    found.sort_by(|a, b| a.events.cmp(&b.events));
    Ok(found)
}

/// Days that have an index file.
fn indexed_days(root: &Path) -> Result<Vec<NaiveDate>> {
    let dir = index_dir(root);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut days = Vec::new();
    for entry in rd {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(day) = name
            .strip_suffix(".jsonl")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            days.push(day);
        }
    }
    Ok(days)
}
