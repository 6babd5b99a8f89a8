//! Day catalogs: a host folds the loose index entries of a past day
//! (`index/YYYY-MM-DD/<id>.json`, one per session) into one zstd-compressed
//! object of entries (`index/YYYY-MM-DD.jsonl.zst`) and one of output
//! filters (`index/YYYY-MM-DD.grams.zst`), so a search reads one object per
//! host and day, and metadata queries never read the filters.
//!
//! Only the host writes its own prefix, so compaction needs no lock: the new
//! catalog (old catalog + loose entries) is written first, then the loose
//! entries are deleted. A reader that lists a loose entry the compaction
//! deleted meanwhile finds it in the catalog ([`crate::fleet`] reads it
//! again). An entry that arrives for a compacted day (a session that ended
//! after midnight, a provisional entry replaced) stays loose until the next
//! compaction; readers keep the better of two entries of one session
//! ([`better`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sshlog_format::index::{GramEntry, IndexEntry};
use uuid::Uuid;

use crate::keys::{IndexItem, Layout};
use crate::uploader::IndexObject;
use crate::{FleetError, FleetStore};

/// Objects fetched at once.
pub const CONCURRENT_GETS: usize = 64;
/// zstd level of catalogs: they are written once a day and read often.
const LEVEL: i32 = 9;

/// What one compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    pub days: u64,
    /// Loose entries folded into catalogs.
    pub entries: u64,
}

/// Whether `new` should replace `old` (two entries of one session): a
/// finished entry beats a provisional one, then the one that saw more.
pub fn better(new: &IndexEntry, old: &IndexEntry) -> bool {
    (new.closed, new.end, new.events_size, new.cast_size)
        > (old.closed, old.end, old.events_size, old.cast_size)
}

/// JSON lines, zstd-compressed.
pub fn encode<T: Serialize>(items: &[T]) -> Result<Vec<u8>, FleetError> {
    let mut lines = Vec::new();
    for item in items {
        serde_json::to_writer(&mut lines, item).map_err(|e| FleetError::Local(e.to_string()))?;
        lines.push(b'\n');
    }
    zstd::bulk::compress(&lines, LEVEL).map_err(|e| FleetError::Local(e.to_string()))
}

/// The items of an [`encode`]d object; `what` names it in errors.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &Key) -> Result<Vec<T>, FleetError> {
    decode_lines(bytes, what, None)
}

/// [`decode`], parsing only the lines that hold `contains` (a prefilter
/// that spares parsing entries a query cannot match).
fn decode_lines<T: DeserializeOwned>(
    bytes: &[u8],
    what: &Key,
    contains: Option<&[u8]>,
) -> Result<Vec<T>, FleetError> {
    let bad = |e: String| FleetError::Store(format!("{what}: {e}"));
    let lines = zstd::stream::decode_all(bytes).map_err(|e| bad(e.to_string()))?;
    let finder = contains.map(memchr::memmem::Finder::new);
    lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter(|l| finder.as_ref().is_none_or(|f| f.find(l).is_some()))
        .map(|l| serde_json::from_slice(l).map_err(|e| bad(e.to_string())))
        .collect()
}

/// A host's day: its entries and output filters, one per session.
#[derive(Debug, Default)]
pub struct Day {
    pub entries: HashMap<Uuid, IndexEntry>,
    pub grams: HashMap<Uuid, GramEntry>,
}

impl Day {
    /// Adds an entry (and its filter), keeping the better one of a session.
    pub fn add(&mut self, entry: IndexEntry, grams: Option<GramEntry>) {
        if let Some(old) = self.entries.get(&entry.id) {
            if !better(&entry, old) {
                return;
            }
        }
        match grams {
            Some(g) => self.grams.insert(entry.id, g),
            None => self.grams.remove(&entry.id),
        };
        self.entries.insert(entry.id, entry);
    }

    /// Entries and filters in start order.
    pub fn into_sorted(self) -> (Vec<IndexEntry>, Vec<GramEntry>) {
        let mut entries: Vec<IndexEntry> = self.entries.into_values().collect();
        entries.sort_by_key(|e| (e.start, e.id));
        let mut grams = self.grams;
        let grams = entries.iter().filter_map(|e| grams.remove(&e.id)).collect();
        (entries, grams)
    }
}

/// Writes the catalog of `host`'s `day` (filters first: a catalog is only
/// read once both are there).
pub async fn put_day(
    store: &FleetStore,
    host: &str,
    day: NaiveDate,
    entries: &[IndexEntry],
    grams: &[GramEntry],
) -> Result<(), FleetError> {
    store
        .put_bytes(&store.layout.catalog_grams(host, day), encode(grams)?)
        .await?;
    store
        .put_bytes(&store.layout.catalog(host, day), encode(entries)?)
        .await
}

/// Reads the catalog of `host`'s `day` into `into` (nothing when there is
/// none); the filters only with `grams`; only the entries whose JSON holds
/// `contains` when it is given.
pub async fn read_day(
    store: &FleetStore,
    host: &str,
    day: NaiveDate,
    grams: bool,
    contains: Option<&[u8]>,
    into: &mut Day,
) -> Result<(), FleetError> {
    let key = store.layout.catalog(host, day);
    let Some(bytes) = store.get_if_any(&key).await? else {
        return Ok(());
    };
    let mut filters: HashMap<Uuid, GramEntry> = HashMap::new();
    if grams {
        let gkey = store.layout.catalog_grams(host, day);
        if let Some(g) = store.get_if_any(&gkey).await? {
            for g in decode::<GramEntry>(&g, &gkey)? {
                filters.insert(g.id, g);
            }
        }
    }
    for e in decode_lines::<IndexEntry>(&bytes, &key, contains)? {
        let g = filters.remove(&e.id);
        into.add(e, g);
    }
    Ok(())
}

/// Reads loose index objects, each with its `tag`; the tags of the ones
/// gone meanwhile (compacted) come second.
pub async fn read_loose<T: Send>(
    store: &FleetStore,
    keys: Vec<(T, Key)>,
) -> Result<(Vec<(T, IndexObject)>, Vec<T>), FleetError> {
    let got: Vec<(T, Option<IndexObject>)> = futures::stream::iter(keys)
        .map(|(tag, key)| async move {
            let Some(bytes) = store.get_if_any(&key).await? else {
                return Ok((tag, None));
            };
            let o: IndexObject = serde_json::from_slice(&bytes)
                .map_err(|e| FleetError::Store(format!("{} {key}: {e}", store.name)))?;
            Ok::<_, FleetError>((tag, Some(o)))
        })
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    let mut found = Vec::new();
    let mut gone = Vec::new();
    for (tag, o) in got {
        match o {
            Some(o) => found.push((tag, o)),
            None => gone.push(tag),
        }
    }
    Ok((found, gone))
}

/// Folds `host`'s loose entries of the days before `before` into their
/// catalogs, then deletes them.
pub async fn compact(
    store: &FleetStore,
    host: &str,
    before: NaiveDate,
) -> Result<Compacted, FleetError> {
    let (dirs, _) = store.children(&store.layout.index_dir(host)).await?;
    let mut done = Compacted::default();
    for dir in dirs {
        let Some(IndexItem::LooseDay(day)) = Layout::index_item(&dir) else {
            continue;
        };
        if day >= before {
            continue;
        }
        let keys: Vec<(Key, Key)> = store
            .list(&dir)
            .await?
            .into_iter()
            .map(|m| (m.location.clone(), m.location))
            .collect();
        let (loose, _) = read_loose(store, keys).await?;
        let mut merged = Day::default();
        read_day(store, host, day, true, None, &mut merged).await?;
        for (_, o) in &loose {
            merged.add(o.entry.clone(), o.grams.clone());
        }
        let (entries, grams) = merged.into_sorted();
        put_day(store, host, day, &entries, &grams).await?;
        for (key, _) in &loose {
            store.delete(key).await?;
        }
        done.days += 1;
        done.entries += loose.len() as u64;
    }
    Ok(done)
}
