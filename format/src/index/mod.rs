//! The recordings index: one compact entry per session segment so that
//! searches by user, client, time, command, exit code or event type never
//! read recordings, plus a small trigram filter per session that lets
//! full-text output searches skip most casts.
//!
//! Files, one pair per UTC day (the day directory of the sessions):
//!
//! - `<log_dir>/index/YYYY-MM-DD.jsonl`: one [`IndexEntry`] per line;
//! - `<log_dir>/index/YYYY-MM-DD.grams`: one [`GramEntry`] per line.
//!
//! Both are append-only JSON lines; a later line for the same session id
//! supersedes an earlier one, and an unterminated or malformed line is
//! skipped. Writers take an exclusive `flock` on the `.jsonl` file; a full
//! rewrite ([`write_day`]) replaces both files by renaming, so readers never
//! lock and always see a complete file. See `docs/formats.md` ("Index").
//!
//! Modules: [`entry`] (what is stored), [`build`] (sidecar + cast → entry),
//! [`scan`] (fast streaming decoder of a cast's output), [`filter`] (the
//! trigram filter), [`store`] (day files: read, append, rewrite).

pub mod build;
pub mod entry;
pub mod filter;
pub mod scan;
pub mod store;

use std::path::Path;

pub use build::{build_session, day_from_path, day_of_session, Built};
pub use entry::{CommandEntry, GramEntry, IndexEntry, INDEX_VERSION};
pub use filter::{GramBuilder, GramFilter};
pub use scan::{scan_cast, ScanEvent, ScanSummary};
pub use store::{
    append_session, day_grams_path, day_index_path, forget_sessions, index_dir, read_day,
    read_day_grams, write_day, DayIndex, INDEX_DIR,
};

use crate::error::Result;

/// Index one closed session segment: reads its sidecar and cast once and
/// appends its entry (and output filter) to the day's index files.
///
/// Meant to be called by the recorder when a segment is closed. Cost: one
/// sequential read and decompression of the cast plus a hash per output
/// byte (about the cost of `zstdcat` on the file), and one small locked
/// append; run it off the hot path (a blocking task). Safe with concurrent
/// readers and writers (`flock` on the day file, whole-line appends) and
/// idempotent: indexing an unchanged session again leaves the files as they
/// are. `cast_path` may not exist (a session without terminal output).
pub fn index_session(log_dir: &Path, events_path: &Path, cast_path: &Path) -> Result<()> {
    let cast = cast_path.exists().then_some(cast_path);
    let built = build_session(log_dir, events_path, cast, true)?;
    let day = day_of_session(events_path, &built.entry);
    append_session(log_dir, day, &built.entry, built.grams.as_ref())
}

/// [`index_session`] for a recorder that fed every output byte of the cast
/// to a [`GramBuilder`] while writing it: `filter` is that builder's
/// [`finish`](GramBuilder::finish). The cast is not read back for the
/// filter; only its head is read, up to the first marker that calibrates
/// the start (see [`build_session`]).
pub fn index_session_with_filter(
    log_dir: &Path,
    events_path: &Path,
    cast_path: &Path,
    filter: Option<GramFilter>,
) -> Result<()> {
    let cast = cast_path.exists().then_some(cast_path);
    let mut built = build_session(log_dir, events_path, cast, false)?;
    if cast.is_some() {
        built.grams = Some(GramEntry {
            id: built.entry.id,
            cast_size: built.entry.cast_size,
            filter,
        });
    }
    let day = day_of_session(events_path, &built.entry);
    append_session(log_dir, day, &built.entry, built.grams.as_ref())
}
