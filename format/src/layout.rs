//! Where session files live: `<root>/sessions/YYYY/MM/DD/<uuidv7>.cast.zst`
//! and `<uuidv7>.events.jsonl`, one directory per UTC day.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

/// Name of the directory under the log root holding the day directories.
pub const SESSIONS_DIR: &str = "sessions";
/// File name suffix of casts.
pub const CAST_SUFFIX: &str = ".cast.zst";
/// File name suffix of sidecars.
pub const EVENTS_SUFFIX: &str = ".events.jsonl";

/// The files of one session (segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPaths {
    /// Day directory `root/sessions/YYYY/MM/DD`.
    pub dir: PathBuf,
    /// `dir/<id>.cast.zst`.
    pub cast: PathBuf,
    /// `dir/<id>.events.jsonl`.
    pub events: PathBuf,
}

/// Paths for a session with id `id` started at `started` (UTC day).
pub fn session_paths(root: &Path, started: DateTime<Utc>, id: Uuid) -> SessionPaths {
    let dir = day_dir(root, started.date_naive());
    let hyphenated = id.hyphenated().to_string();
    SessionPaths {
        cast: dir.join(format!("{hyphenated}{CAST_SUFFIX}")),
        events: dir.join(format!("{hyphenated}{EVENTS_SUFFIX}")),
        dir,
    }
}

/// The directory for one UTC day.
pub fn day_dir(root: &Path, day: NaiveDate) -> PathBuf {
    root.join(SESSIONS_DIR)
        .join(format!("{:04}", day.year()))
        .join(format!("{:02}", day.month()))
        .join(format!("{:02}", day.day()))
}

/// The session id of a `<id>.cast.zst` or `<id>.events.jsonl` file name.
pub fn session_id_from_path(path: &Path) -> Option<Uuid> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(CAST_SUFFIX)
        .or_else(|| name.strip_suffix(EVENTS_SUFFIX))?;
    Uuid::parse_str(stem).ok()
}

/// Start time encoded in a UUIDv7 (millisecond precision).
pub fn session_id_time(id: Uuid) -> Option<DateTime<Utc>> {
    let ts = id.get_timestamp()?;
    let (secs, nanos) = ts.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// The day directories of `root` whose UTC day lies in `[from, to]`
/// (inclusive, either bound optional), oldest first. Directories whose names
/// are not dates are ignored; a missing `sessions` directory yields nothing.
pub fn day_dirs(
    root: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> std::io::Result<Vec<(NaiveDate, PathBuf)>> {
    let mut out = Vec::new();
    let base = root.join(SESSIONS_DIR);
    for year in numeric_children(&base)? {
        if from.is_some_and(|f| year.0 < f.year() as u32)
            || to.is_some_and(|t| year.0 > t.year() as u32)
        {
            continue;
        }
        for month in numeric_children(&year.1)? {
            for day in numeric_children(&month.1)? {
                let Some(date) = NaiveDate::from_ymd_opt(year.0 as i32, month.0, day.0) else {
                    continue;
                };
                if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
                    continue;
                }
                out.push((date, day.1));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn numeric_children(dir: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(n) = n.parse::<u32>() {
            out.push((n, entry.path()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn paths_follow_the_layout() {
        let t = Utc.with_ymd_and_hms(2023, 11, 28, 23, 59, 59).unwrap();
        let id = Uuid::parse_str("018c1a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b").unwrap();
        let p = session_paths(Path::new("/var/log/sshlog"), t, id);
        assert_eq!(p.dir, Path::new("/var/log/sshlog/sessions/2023/11/28"));
        assert_eq!(
            p.cast,
            Path::new(
                "/var/log/sshlog/sessions/2023/11/28/018c1a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b.cast.zst"
            )
        );
        assert_eq!(session_id_from_path(&p.events), Some(id));
        assert_eq!(session_id_from_path(Path::new("x.cast")), None);
    }

    #[test]
    fn uuid_v7_time_roundtrip() {
        let t = Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap();
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.timestamp() as u64, 0);
        let id = Uuid::new_v7(ts);
        assert_eq!(session_id_time(id), Some(t));
    }

    #[test]
    fn day_dirs_prune_by_range() {
        let tmp = tempfile::tempdir().unwrap();
        for d in [
            "2023/12/31",
            "2024/01/01",
            "2024/01/02",
            "2024/02/10",
            "2024/xx/01",
        ] {
            std::fs::create_dir_all(tmp.path().join("sessions").join(d)).unwrap();
        }
        let f = NaiveDate::from_ymd_opt(2024, 1, 1);
        let t = NaiveDate::from_ymd_opt(2024, 1, 31);
        let got: Vec<_> = day_dirs(tmp.path(), f, t)
            .unwrap()
            .into_iter()
            .map(|x| x.0.to_string())
            .collect();
        assert_eq!(got, ["2024-01-01", "2024-01-02"]);
        assert_eq!(day_dirs(tmp.path(), None, None).unwrap().len(), 4);
        assert!(day_dirs(&tmp.path().join("nope"), None, None)
            .unwrap()
            .is_empty());
    }
}
