//! The day files `<log_dir>/index/YYYY-MM-DD.jsonl` (entries) and
//! `.grams` (filters): tolerant reading, locked appends, atomic rewrites.
//!
//! Concurrency: every writer holds an exclusive `flock` on the day's
//! `.jsonl` file (after locking it checks that the path still names the
//! locked file, since a rewrite may have replaced it, and retries if not).
//! Appends are whole lines in one `write_all` each, the filter line before
//! the entry line. Rewrites write temporary files and rename them over the
//! old ones. Readers take no lock: they see either file entirely, and skip
//! an unterminated last line of an append in progress.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use uuid::Uuid;

use super::entry::{GramEntry, IndexEntry};
use crate::error::Result;
use crate::layout::{day_dir, EVENTS_SUFFIX};

/// Name of the index directory under the log root.
pub const INDEX_DIR: &str = "index";

/// `<log_dir>/index`.
pub fn index_dir(log_dir: &Path) -> PathBuf {
    log_dir.join(INDEX_DIR)
}

/// `<log_dir>/index/YYYY-MM-DD.jsonl`.
pub fn day_index_path(log_dir: &Path, day: NaiveDate) -> PathBuf {
    index_dir(log_dir).join(format!("{}.jsonl", day.format("%Y-%m-%d")))
}

/// `<log_dir>/index/YYYY-MM-DD.grams`.
pub fn day_grams_path(log_dir: &Path, day: NaiveDate) -> PathBuf {
    index_dir(log_dir).join(format!("{}.grams", day.format("%Y-%m-%d")))
}

/// The entries of one day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayIndex {
    /// One entry per session id (the last line for an id wins), by id
    /// (= start order).
    pub entries: Vec<IndexEntry>,
    /// Malformed lines skipped (an unterminated last line is not counted).
    pub bad_lines: usize,
}

/// Complete lines of `bytes` (an unterminated tail is an append in
/// progress or cut by a crash: ignored).
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    bytes[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn parse_entries(bytes: &[u8]) -> DayIndex {
    let mut by_id = BTreeMap::new();
    let mut bad_lines = 0;
    for line in lines(bytes) {
        match serde_json::from_slice::<IndexEntry>(line) {
            Ok(e) => {
                by_id.insert(e.id, e);
            }
            Err(_) => bad_lines += 1,
        }
    }
    DayIndex {
        entries: by_id.into_values().collect(),
        bad_lines,
    }
}

fn parse_grams(bytes: &[u8]) -> HashMap<Uuid, GramEntry> {
    lines(bytes)
        .filter_map(|l| serde_json::from_slice::<GramEntry>(l).ok())
        .map(|g| (g.id, g))
        .collect()
}

/// The index of `day`, or `None` when the day has no index file.
pub fn read_day(log_dir: &Path, day: NaiveDate) -> Result<Option<DayIndex>> {
    Ok(read_optional(&day_index_path(log_dir, day))?.map(|b| parse_entries(&b)))
}

/// The output filters of `day` by session id (empty without a file).
pub fn read_day_grams(log_dir: &Path, day: NaiveDate) -> Result<HashMap<Uuid, GramEntry>> {
    Ok(read_optional(&day_grams_path(log_dir, day))?
        .map(|b| parse_grams(&b))
        .unwrap_or_default())
}

fn create_index_dir(log_dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(index_dir(log_dir))
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// The day's `.jsonl`, opened for reading and appending and locked
/// exclusively; the lock goes with the file.
fn lock_day(log_dir: &Path, day: NaiveDate) -> Result<File> {
    create_index_dir(log_dir)?;
    let path = day_index_path(log_dir, day);
    loop {
        let file = open_append(&path)?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        let locked = file.metadata()?;
        match fs::metadata(&path) {
            Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => return Ok(file),
            // Replaced or removed by a rewrite while we waited: retry.
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Append one session's entry (and filter) to the day's files, unless the
/// last entry for that id is already exactly this one.
pub fn append_session(
    log_dir: &Path,
    day: NaiveDate,
    entry: &IndexEntry,
    grams: Option<&GramEntry>,
) -> Result<()> {
    let mut line = entry.to_line();
    line.push('\n');
    let mut file = lock_day(log_dir, day)?;
    let mut current = Vec::new();
    file.read_to_end(&mut current)?;
    if last_line_for(&current, entry.id) == Some(line.trim_end().as_bytes()) {
        return Ok(());
    }
    if let Some(g) = grams {
        let mut gl = g.to_line();
        gl.push('\n');
        open_append(&day_grams_path(log_dir, day))?.write_all(gl.as_bytes())?;
    }
    // A previous append cut by a crash leaves an unterminated line: end it
    // so that this entry starts on its own line.
    if current.last().is_some_and(|b| *b != b'\n') {
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes())?;
    Ok(())
}

/// The last complete line of `bytes` that holds `"id":"<id>"`.
fn last_line_for(bytes: &[u8], id: Uuid) -> Option<&[u8]> {
    let key = format!("\"id\":\"{id}\"");
    let end = memchr::memrchr(b'\n', bytes)?;
    let complete = &bytes[..end];
    let at = memchr::memmem::rfind(complete, key.as_bytes())?;
    let start = memchr::memrchr(b'\n', &complete[..at]).map_or(0, |i| i + 1);
    let stop = memchr::memchr(b'\n', &complete[at..]).map_or(complete.len(), |i| at + i);
    Some(&complete[start..stop])
}

/// Replace the day's files with `items` (sorted by id). Entries appended
/// meanwhile by others are kept when `items` lacks their id and their
/// sidecar still exists, or when they saw a longer sidecar than ours. An
/// empty result removes the files.
pub fn write_day(
    log_dir: &Path,
    day: NaiveDate,
    items: Vec<(IndexEntry, Option<GramEntry>)>,
) -> Result<()> {
    let lock = lock_day(log_dir, day)?;
    let current = parse_entries(&read_optional(&day_index_path(log_dir, day))?.unwrap_or_default());
    let mut current_grams =
        parse_grams(&read_optional(&day_grams_path(log_dir, day))?.unwrap_or_default());
    let mut merged: BTreeMap<Uuid, (IndexEntry, Option<GramEntry>)> =
        items.into_iter().map(|(e, g)| (e.id, (e, g))).collect();
    let dir = day_dir(log_dir, day);
    for e in current.entries {
        let newer = match merged.get(&e.id) {
            Some((ours, _)) => e.events_size > ours.events_size,
            None => dir.join(format!("{}{EVENTS_SUFFIX}", e.id)).exists(),
        };
        if newer {
            let g = current_grams.remove(&e.id);
            merged.insert(e.id, (e, g));
        }
    }
    let jsonl = day_index_path(log_dir, day);
    let grams = day_grams_path(log_dir, day);
    if merged.is_empty() {
        remove_if_exists(&grams)?;
        remove_if_exists(&jsonl)?;
        drop(lock);
        return Ok(());
    }
    let mut entries = String::new();
    let mut filters = String::new();
    for (e, g) in merged.values() {
        entries.push_str(&e.to_line());
        entries.push('\n');
        if let Some(g) = g {
            filters.push_str(&g.to_line());
            filters.push('\n');
        }
    }
    replace(&grams, filters.as_bytes())?;
    replace(&jsonl, entries.as_bytes())?;
    drop(lock);
    Ok(())
}

/// Removes the entries and filters of `ids` from the day's files (their
/// recordings were deleted).
pub fn forget_sessions(log_dir: &Path, day: NaiveDate, ids: &[Uuid]) -> Result<()> {
    let Some(current) = read_day(log_dir, day)? else {
        return Ok(());
    };
    let mut grams = read_day_grams(log_dir, day)?;
    let items = current
        .entries
        .into_iter()
        .filter(|e| !ids.contains(&e.id))
        .map(|e| {
            let g = grams.remove(&e.id);
            (e, g)
        })
        .collect();
    write_day(log_dir, day, items)
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Write `bytes` to a temporary file next to `path` and rename it over.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_count() {
        let got: Vec<&[u8]> = lines(b"a\n\nb\nc").collect();
        assert_eq!(got, [&b"a"[..], b"b"]);
        assert_eq!(lines(b"partial").count(), 0);
    }

    #[test]
    fn last_line_for_an_id() {
        let id = Uuid::nil();
        let text = format!(
            "{{\"id\":\"{id}\",\"x\":1}}\n{{\"id\":\"other\"}}\n{{\"id\":\"{id}\",\"x\":2}}\n{{\"id\":\"{id}\",\"x\":3"
        );
        let want = format!("{{\"id\":\"{id}\",\"x\":2}}");
        assert_eq!(last_line_for(text.as_bytes(), id), Some(want.as_bytes()));
        assert_eq!(last_line_for(b"no newline", id), None);
    }
}
