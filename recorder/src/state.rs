//! Live-session state that survives a restart of sshlogd (`<log_dir>/state/*.json`):
//! one small file per recorded connection, naming its session id and segment, so a
//! new sshlogd continues a still-open session in a new segment linked to the old
//! one, and closes the sessions that ended while it was not running.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sshlog_format::seal::Head;
use std::fs;
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResumeState {
    pub session_id: Uuid,
    pub conn_pid: u32,
    /// Start time of the connection process (clock ticks since boot), so a reused
    /// pid is not mistaken for the old connection.
    pub conn_start_ticks: u64,
    pub segment: u32,
    pub user: Option<String>,
    pub events_path: PathBuf,
    /// The segment was sealed (clean shutdown); a restart must not seal it again.
    #[serde(default)]
    pub sealed: bool,
    /// When the segment's cast starts (its time 0).
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    /// The connection's kernel drop counters already reported as data_loss
    /// (the counters outlive sshlogd: see `handover.rs`).
    #[serde(default)]
    pub dropped_bytes: u64,
    #[serde(default)]
    pub dropped_events: u64,
}

pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(dir: PathBuf) -> Self {
        StateDir { dir }
    }

    fn path(&self, conn_pid: u32) -> PathBuf {
        self.dir.join(format!("{conn_pid}.json"))
    }

    pub fn save(&self, st: &ResumeState) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let tmp = self.dir.join(format!(".{}.tmp", st.conn_pid));
        fs::write(&tmp, serde_json::to_vec(st)?)?;
        fs::rename(&tmp, self.path(st.conn_pid))?;
        Ok(())
    }

    /// The signed head of the seal chain, or the genesis. A head written
    /// before seals were numbered (the bare seal) reads as number 0.
    pub fn chain_head(&self) -> Head {
        let text = fs::read_to_string(self.dir.join("chain")).unwrap_or_default();
        let text = text.trim();
        if let Ok(head) = serde_json::from_str::<Head>(text) {
            return head;
        }
        let mut head = Head::genesis();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            head.seal = text.to_string();
        }
        head
    }

    /// Records a new chain head (atomically: write then rename).
    pub fn set_chain_head(&self, head: &Head) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(".chain.tmp");
        fs::write(&tmp, format!("{}\n", serde_json::to_string(head)?))?;
        fs::rename(&tmp, self.dir.join("chain"))?;
        Ok(())
    }

    pub fn remove(&self, conn_pid: u32) {
        let _ = fs::remove_file(self.path(conn_pid));
    }

    /// Notes that the connection's current segment has been sealed.
    pub fn mark_sealed(&self, conn_pid: u32) {
        self.update(conn_pid, |st| st.sealed = true);
    }

    /// Changes the saved state of a connection (if it has one).
    pub fn update(&self, conn_pid: u32, change: impl FnOnce(&mut ResumeState)) {
        let Ok(bytes) = fs::read(self.path(conn_pid)) else {
            return;
        };
        if let Ok(mut st) = serde_json::from_slice::<ResumeState>(&bytes) {
            change(&mut st);
            if let Err(e) = self.save(&st) {
                tracing::warn!("cannot save live state: {e:#}");
            }
        }
    }

    /// Every saved state, removed from disk (the caller saves the new
    /// segments' states): after a handover, each continues in a new segment.
    /// Unreadable files are skipped (and left for an administrator to inspect).
    pub fn take_all(&self) -> Vec<ResumeState> {
        let mut out: Vec<ResumeState> = self
            .files()
            .into_iter()
            .map(|(p, st)| {
                let _ = fs::remove_file(p);
                st
            })
            .collect();
        out.sort_by_key(|st| st.conn_pid);
        out
    }

    fn files(&self) -> Vec<(PathBuf, ResumeState)> {
        let mut out = Vec::new();
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return out;
        };
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(st) = fs::read(&p).map_err(anyhow::Error::from).and_then(|b| {
                serde_json::from_slice::<ResumeState>(&b).map_err(anyhow::Error::from)
            }) else {
                tracing::warn!("ignoring unreadable state file {}", p.display());
                continue;
            };
            out.push((p, st));
        }
        out
    }

    /// The saved state of a connection that is still running, removed from disk
    /// (the caller saves the new segment's state).
    pub fn take(&self, conn_pid: u32, start_ticks: u64) -> Option<ResumeState> {
        let st: ResumeState = serde_json::from_slice(&fs::read(self.path(conn_pid)).ok()?).ok()?;
        (st.conn_start_ticks == start_ticks).then(|| {
            self.remove(conn_pid);
            st
        })
    }

    /// Saved states whose connection no longer runs; they are removed from disk.
    /// Unreadable files are skipped (and left for an administrator to inspect).
    pub fn stale(&self) -> Vec<ResumeState> {
        let mut out = Vec::new();
        for (p, st) in self.files() {
            let alive =
                crate::procfs::stat(st.conn_pid).is_some_and(|s| s.start == st.conn_start_ticks);
            if !alive {
                let _ = fs::remove_file(&p);
                out.push(st);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_matches_start_time_and_stale_finds_dead_pids() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("state"));
        let me = std::process::id();
        let ticks = crate::procfs::stat(me).unwrap().start;
        let live = ResumeState {
            session_id: Uuid::now_v7(),
            conn_pid: me,
            conn_start_ticks: ticks,
            segment: 0,
            user: Some("bob".into()),
            events_path: "/x".into(),
            sealed: false,
            started: None,
            dropped_bytes: 0,
            dropped_events: 0,
        };
        s.save(&live).unwrap();
        assert!(s.stale().is_empty(), "a running process is not stale");
        assert_eq!(
            s.take(me, ticks + 1),
            None,
            "a reused pid is not the same connection"
        );
        assert_eq!(s.take(me, ticks), Some(live.clone()));
        assert_eq!(s.take(me, ticks), None, "taken once");
        let dead = ResumeState {
            conn_pid: u32::MAX - 1,
            ..live.clone()
        };
        s.save(&dead).unwrap();
        assert_eq!(s.stale(), vec![dead.clone()]);
        assert!(s.stale().is_empty());
        // After a handover every saved state is taken, alive or not.
        s.save(&live).unwrap();
        s.save(&dead).unwrap();
        s.update(me, |st| st.dropped_bytes = 7);
        let all = s.take_all();
        assert_eq!(all.len(), 2);
        assert!(all
            .iter()
            .any(|st| st.conn_pid == me && st.dropped_bytes == 7));
        assert!(s.take_all().is_empty(), "taken once");
    }
}
