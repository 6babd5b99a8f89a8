//! The key layout in the store (docs/fleet.md). Every host writes under its
//! own `hosts/<host id>/`, so hosts never collide and one host's objects are
//! listed without the others':
//!
//! ```text
//! <prefix>/hosts/<host>/host.json                                  who the host is
//! <prefix>/hosts/<host>/sessions/YYYY/MM/DD/<id>.cast.zst          as on the host
//! <prefix>/hosts/<host>/sessions/YYYY/MM/DD/<id>.cast.zst.frames   the cast's frame index
//! <prefix>/hosts/<host>/sessions/YYYY/MM/DD/<id>.events.jsonl      (with its seal)
//! <prefix>/hosts/<host>/events/YYYY-MM-DD/HH.jsonl.zst              event records of an hour (optional)
//! <prefix>/hosts/<host>/index/YYYY-MM-DD/<id>.json                 a session's index entry (loose)
//! <prefix>/hosts/<host>/index/YYYY-MM-DD.jsonl.zst                 a day's entries, compacted
//! <prefix>/hosts/<host>/index/YYYY-MM-DD.grams.zst                 their output filters
//! ```
//!
//! A session's index entry is written last: an entry always names objects
//! that are there. The host folds the loose entries of past days into one
//! catalog per day ([`crate::catalog`]), so a search reads one object per
//! host and day.

use chrono::{DateTime, NaiveDate, Utc};
use object_store::path::Path as Key;
use uuid::Uuid;

const CATALOG_SUFFIX: &str = ".jsonl.zst";
const FRAMES_SUFFIX: &str = ".frames";
const EVENTS_SUFFIX: &str = ".jsonl.zst";
const GRAMS_SUFFIX: &str = ".grams.zst";

/// A key right under a host's `index/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexItem {
    /// `YYYY-MM-DD/`: loose entries.
    LooseDay(NaiveDate),
    /// `YYYY-MM-DD.jsonl.zst`.
    Catalog(NaiveDate),
    /// `YYYY-MM-DD.grams.zst`.
    Grams(NaiveDate),
}

impl IndexItem {
    pub fn day(self) -> NaiveDate {
        match self {
            IndexItem::LooseDay(d) | IndexItem::Catalog(d) | IndexItem::Grams(d) => d,
        }
    }
}

/// Keys under one store prefix.
#[derive(Debug, Clone)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    pub fn new(prefix: &str) -> Layout {
        Layout {
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    fn join(&self, rest: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(rest)
        } else {
            Key::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// The directory of every host.
    pub fn hosts(&self) -> Key {
        self.join("hosts")
    }

    /// Everything of one host.
    pub fn host_dir(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}"))
    }

    pub fn host_info(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/host.json"))
    }

    /// A session file, from its path relative to the log directory
    /// (`sessions/YYYY/MM/DD/<id>.cast.zst`).
    pub fn session_file(&self, host: &str, relative: &str) -> Key {
        self.join(&format!("hosts/{host}/{relative}"))
    }

    /// The chain heads the host sent (the witness), one per seal number.
    pub fn witness_dir(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/witness"))
    }

    /// `witness/<number, 12 digits>.json`: the newest head of that number.
    pub fn witness_head(&self, host: &str, sequence: u64) -> Key {
        self.join(&format!("hosts/{host}/witness/{sequence:012}.json"))
    }

    /// The host's tombstones (deleted recordings), as on the host.
    pub fn tombstones(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/tombstones.jsonl"))
    }

    /// Every recording of one host (`sessions/YYYY/MM/DD/…`).
    pub fn sessions_dir(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/sessions"))
    }

    /// The frame index kept beside a cast (`relative` as for
    /// [`Layout::session_file`]).
    pub fn cast_frames(&self, host: &str, cast_relative: &str) -> Key {
        self.session_file(host, &format!("{cast_relative}{FRAMES_SUFFIX}"))
    }

    /// The event files of one host and day.
    pub fn events_day(&self, host: &str, day: NaiveDate) -> Key {
        self.join(&format!("hosts/{host}/events/{}", day.format("%Y-%m-%d")))
    }

    /// The event records of one host and hour (`hour`: its start, UTC).
    pub fn events_hour(&self, host: &str, hour: DateTime<Utc>) -> Key {
        self.join(&format!(
            "hosts/{host}/events/{}/{}{EVENTS_SUFFIX}",
            hour.format("%Y-%m-%d"),
            hour.format("%H")
        ))
    }

    /// The hour of an [`Layout::events_hour`] key.
    pub fn event_hour(key: &Key) -> Option<DateTime<Utc>> {
        let all: Vec<String> = key.parts().map(|p| p.as_ref().to_string()).collect();
        let (name, day) = (all.last()?, all.get(all.len().checked_sub(2)?)?);
        let hour: u32 = name.strip_suffix(EVENTS_SUFFIX)?.parse().ok()?;
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(hour, 0, 0)
            .map(|t| t.and_utc())
    }

    /// The index directory of one host: loose day directories and catalogs.
    pub fn index_dir(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/index"))
    }

    /// The loose index entries of one host and day.
    pub fn index_day(&self, host: &str, day: NaiveDate) -> Key {
        self.join(&format!("hosts/{host}/index/{}", day.format("%Y-%m-%d")))
    }

    /// The compacted entries of one host and day.
    pub fn catalog(&self, host: &str, day: NaiveDate) -> Key {
        self.join(&format!(
            "hosts/{host}/index/{}{CATALOG_SUFFIX}",
            day.format("%Y-%m-%d")
        ))
    }

    /// The output filters of [`Layout::catalog`].
    pub fn catalog_grams(&self, host: &str, day: NaiveDate) -> Key {
        self.join(&format!(
            "hosts/{host}/index/{}{GRAMS_SUFFIX}",
            day.format("%Y-%m-%d")
        ))
    }

    /// What a key right under [`Layout::index_dir`] is.
    pub fn index_item(key: &Key) -> Option<IndexItem> {
        let name = key.filename()?;
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        if let Some(d) = name.strip_suffix(CATALOG_SUFFIX) {
            day(d).map(IndexItem::Catalog)
        } else if let Some(d) = name.strip_suffix(GRAMS_SUFFIX) {
            day(d).map(IndexItem::Grams)
        } else {
            day(name).map(IndexItem::LooseDay)
        }
    }

    pub fn index_entry(&self, host: &str, day: NaiveDate, id: Uuid) -> Key {
        self.join(&format!(
            "hosts/{host}/index/{}/{}.json",
            day.format("%Y-%m-%d"),
            id.hyphenated()
        ))
    }

    /// The host id of a key under [`Layout::hosts`].
    pub fn host_of(&self, key: &Key) -> Option<String> {
        let hosts = self.hosts();
        let mut parts = key.prefix_match(&hosts)?;
        parts.next().map(|p| p.as_ref().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let l = Layout::new("/fleet/");
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let id = Uuid::nil();
        assert_eq!(
            l.index_entry("web-1", day, id).as_ref(),
            "fleet/hosts/web-1/index/2026-12-06/00000000-0000-0000-0000-000000000000.json"
        );
        let cast = l.session_file("web-1", "sessions/2026/12/06/x.cast.zst");
        assert_eq!(
            cast.as_ref(),
            "fleet/hosts/web-1/sessions/2026/12/06/x.cast.zst"
        );
        assert_eq!(l.host_of(&cast).as_deref(), Some("web-1"));
        assert_eq!(Layout::new("").host_info("h").as_ref(), "hosts/h/host.json");
        let cat = l.catalog("web-1", day);
        assert_eq!(cat.as_ref(), "fleet/hosts/web-1/index/2026-12-06.jsonl.zst");
        assert_eq!(Layout::index_item(&cat), Some(IndexItem::Catalog(day)));
        let grams = l.catalog_grams("web-1", day);
        assert_eq!(Layout::index_item(&grams), Some(IndexItem::Grams(day)));
        let loose = l.index_day("web-1", day);
        assert_eq!(Layout::index_item(&loose), Some(IndexItem::LooseDay(day)));
        assert_eq!(Layout::index_item(&l.host_info("web-1")), None);
        let hour = day.and_hms_opt(13, 0, 0).unwrap().and_utc();
        let ev = l.events_hour("web-1", hour);
        assert_eq!(
            ev.as_ref(),
            "fleet/hosts/web-1/events/2026-12-06/13.jsonl.zst"
        );
        assert_eq!(Layout::event_hour(&ev), Some(hour));
        assert_eq!(Layout::event_hour(&cat), None);
    }
}
