//! Deletions reach the store: each tombstone the host writes (retention by
//! age, `sshlog purge`) removes that recording's files and index entries
//! from the store (one written because this host's disk was short, scope
//! `host`, does not), then the tombstones file itself is uploaded, so `verify
//! --store` follows the chain across the deletions as on the host.

use crate::catalog::{put_day, read_day, Day};
use crate::{FleetError, FleetStore};
use chrono::NaiveDate;
use sshlog_format::seal::{read_tombstones, Tombstone};
use std::path::Path;

/// Applies the tombstones in `file` (the host's `tombstones.jsonl`) after
/// the first `done` to the store and uploads the file; returns how many it
/// holds. Deleting what is already gone is no error, so a retry (or a
/// restart, which starts again from 0) repeats it harmlessly.
pub async fn apply_tombstones(
    store: &FleetStore,
    host: &str,
    file: &Path,
    done: usize,
) -> Result<usize, FleetError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let (stones, _) =
        read_tombstones(dir).map_err(|e| FleetError::Local(format!("{}: {e}", file.display())))?;
    // Deletions for this host's disk space only leave the store's copy.
    for t in stones.iter().skip(done).filter(|t| t.scope.is_none()) {
        forget(store, host, t).await?;
    }
    if stones.len() > done {
        store.put_tombstones(host, file).await?;
    }
    Ok(stones.len())
}

/// Removes one deleted recording from the store.
async fn forget(store: &FleetStore, host: &str, t: &Tombstone) -> Result<(), FleetError> {
    let Some(first_record) = t
        .started
        .as_deref()
        .and_then(|s| s.get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return Ok(());
    };
    // The recording's files and index entry are under its day directory,
    // the day it started; its first record (the tombstone's `started`) may
    // come just after midnight of the next day.
    for day in [Some(first_record), first_record.pred_opt()]
        .into_iter()
        .flatten()
    {
        forget_on(store, host, t, day).await?;
    }
    Ok(())
}

/// Removes the recording's files, index entry and catalog line of `day`
/// (none there is no error).
async fn forget_on(
    store: &FleetStore,
    host: &str,
    t: &Tombstone,
    day: NaiveDate,
) -> Result<(), FleetError> {
    let id = t.session_id.hyphenated().to_string();
    let day_dir = store
        .layout
        .session_file(host, &format!("sessions/{}", day.format("%Y/%m/%d")));
    for m in store.list(&day_dir).await? {
        if m.location.filename().is_some_and(|n| n.starts_with(&id)) {
            store.delete(&m.location).await?;
        }
    }
    store
        .delete(&store.layout.index_entry(host, day, t.session_id))
        .await?;
    let mut catalog = Day::default();
    read_day(store, host, day, true, None, &mut catalog).await?;
    if catalog.entries.remove(&t.session_id).is_some() {
        catalog.grams.remove(&t.session_id);
        let (entries, grams) = catalog.into_sorted();
        put_day(store, host, day, &entries, &grams).await?;
    }
    Ok(())
}
