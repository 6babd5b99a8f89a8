//! Finding a recording: a path as given, a session id (UUIDv7) looked up
//! as `<log-dir>/sessions/YYYY/MM/DD/<id>.cast.zst`, or the sshlog agent's
//! name `ssh_<sshd pid>` (`.cast`, `.cast.zst` or `.log` may follow): the
//! recording of the connection whose sshd had that pid.

use anyhow::{bail, Result};
use chrono::Duration;
use sshlog_format::index::IndexEntry;
use sshlog_format::layout::{session_id_time, session_paths};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The cast file meant by `arg`: an existing path, or a session id.
pub fn resolve(arg: &str, log_dir: &Path) -> Result<PathBuf> {
    let as_path = PathBuf::from(arg);
    if as_path.exists() {
        return Ok(as_path);
    }
    if let Some(pid) = agent_name(arg) {
        return by_sshd_pid(log_dir, pid);
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

/// The pid in the agent's recording name `ssh_<pid>[.cast|.cast.zst|.log]`.
pub fn agent_name(arg: &str) -> Option<u32> {
    let rest = arg.strip_prefix("ssh_")?;
    let digits = [".cast.zst", ".cast", ".log"]
        .iter()
        .find_map(|sfx| rest.strip_suffix(sfx))
        .unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The recordings of sshd pid `pid`, latest first.
pub fn recordings_of_pid(log_dir: &Path, pid: u32) -> Result<Vec<IndexEntry>> {
    let found = crate::search::source::collect(log_dir, None, None, true, false)?;
    let mut v: Vec<IndexEntry> = found
        .sessions
        .into_iter()
        .map(|s| s.entry)
        .filter(|e| e.sshd_pid == Some(pid) && e.cast.is_some())
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.start));
    Ok(v)
}

/// The cast of the one recording of sshd pid `pid`; several are listed.
fn by_sshd_pid(log_dir: &Path, pid: u32) -> Result<PathBuf> {
    let found = recordings_of_pid(log_dir, pid)?;
    match found.as_slice() {
        [] => bail!(
            "no recording of sshd pid {pid} under {} (wrong --log-dir / SSHLOG_LOG_DIR?)",
            log_dir.display()
        ),
        [one] => one
            .cast_path(log_dir)
            .ok_or_else(|| anyhow::anyhow!("session {} has no cast", one.id)),
        many => {
            let rows: Vec<String> = many
                .iter()
                .map(|e| {
                    format!(
                        "  {}  {}  {}  {}",
                        e.id,
                        e.start.format("%Y-%m-%d %H:%M:%S UTC"),
                        e.user.as_deref().unwrap_or("-"),
                        e.tty.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            bail!(
                "{} recordings of sshd pid {pid} (latest first); name one by its id:\n{}",
                many.len(),
                rows.join("\n")
            )
        }
    }
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
    fn agent_names() {
        assert_eq!(agent_name("ssh_1352"), Some(1352));
        assert_eq!(agent_name("ssh_1352.cast"), Some(1352));
        assert_eq!(agent_name("ssh_1352.cast.zst"), Some(1352));
        assert_eq!(agent_name("ssh_1352.log"), Some(1352));
        assert_eq!(agent_name("ssh_"), None);
        assert_eq!(agent_name("ssh_12a"), None);
        assert_eq!(agent_name("x_1352"), None);
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
