//! The key layout in the store (docs/fleet.md). Every host writes under its
//! own `hosts/<host id>/`, so hosts never collide and one host's objects are
//! listed without the others':
//!
//! ```text
//! <prefix>/hosts/<host>/host.json                                  who the host is
//! <prefix>/hosts/<host>/sessions/YYYY/MM/DD/<id>.cast.zst          as on the host
//! <prefix>/hosts/<host>/sessions/YYYY/MM/DD/<id>.events.jsonl      (with its seal)
//! <prefix>/hosts/<host>/index/YYYY-MM-DD/<id>.json                 the session's index entry
//! ```
//!
//! A session's index entry is written last: an entry always names objects
//! that are there.

use chrono::NaiveDate;
use object_store::path::Path as Key;
use uuid::Uuid;

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

    pub fn host_info(&self, host: &str) -> Key {
        self.join(&format!("hosts/{host}/host.json"))
    }

    /// A session file, from its path relative to the log directory
    /// (`sessions/YYYY/MM/DD/<id>.cast.zst`).
    pub fn session_file(&self, host: &str, relative: &str) -> Key {
        self.join(&format!("hosts/{host}/{relative}"))
    }

    /// The index entries of one host and day.
    pub fn index_day(&self, host: &str, day: NaiveDate) -> Key {
        self.join(&format!("hosts/{host}/index/{}", day.format("%Y-%m-%d")))
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
    }
}
