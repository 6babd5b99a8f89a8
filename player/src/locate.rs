//! Finding a recording: a path as given, or a session id (UUIDv7) looked
//! up as `<log-dir>/sessions/YYYY/MM/DD/<id>.cast.zst`.

use anyhow::{bail, Result};
use chrono::Duration;
use sshlog_format::layout::{session_id_time, session_paths};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The cast file meant by `arg`: an existing path, or a session id.
pub fn resolve(arg: &str, log_dir: &Path) -> Result<PathBuf> {
    let as_path = PathBuf::from(arg);
    if as_path.exists() {
        return Ok(as_path);
    }
    let Ok(id) = Uuid::parse_str(arg) else {
        // Not an id: let opening the file report what is wrong.
        return Ok(as_path);
    };
    let Some(started) = session_id_time(id) else {
        bail!("{arg} is not a sshlog session id (a UUIDv7) and no such file exists");
    };
    let candidates: Vec<PathBuf> = [0, -1, 1]
        .iter()
        .map(|d| session_paths(log_dir, started + Duration::days(*d), id).cast)
        .collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "no recording of session {id}: {} does not exist (wrong --log-dir / SSHLOG_LOG_DIR?)",
        candidates[0].display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn id_at(t: chrono::DateTime<Utc>) -> Uuid {
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.timestamp() as u64, 0);
        Uuid::new_v7(ts)
    }

    #[test]
    fn paths_are_taken_as_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("a.cast");
        std::fs::write(&f, "{}").expect("write");
        let arg = f.to_string_lossy();
        assert_eq!(resolve(&arg, Path::new("/nonexistent")).expect("ok"), f);
        // Missing non-id paths are returned for the opener to complain about.
        assert_eq!(
            resolve("missing.cast", dir.path()).expect("ok"),
            Path::new("missing.cast")
        );
    }

    #[test]
    fn session_ids_are_found_in_their_day_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap();
        let id = id_at(t);
        let p = session_paths(dir.path(), t, id).cast;
        let want = dir
            .path()
            .join(format!("sessions/2024/02/29/{}.cast.zst", id.hyphenated()));
        assert_eq!(p, want);
        let e = resolve(&id.to_string(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("no recording of session {id}: {}", want.display())),
            "{e}"
        );
        std::fs::create_dir_all(want.parent().expect("dir")).expect("mkdir");
        std::fs::write(&want, b"").expect("write");
        assert_eq!(resolve(&id.to_string(), dir.path()).expect("found"), want);
    }

    #[test]
    fn non_v7_uuids_are_explained() {
        let e = resolve("00000000-0000-4000-8000-000000000000", Path::new("/x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a sshlog session id"), "{e}");
    }
}
