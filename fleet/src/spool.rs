//! Sessions waiting for the store: one small job file per session under
//! `<log_dir>/spool/`, written when the session is sealed and removed only
//! after the store acknowledged every object of it. Job files survive
//! restarts and kill -9; the recordings themselves stay where they are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One session to upload: its sidecar (the cast lies beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub events: PathBuf,
    pub queued: DateTime<Utc>,
}

impl Job {
    /// The cast beside the sidecar.
    pub fn cast(&self) -> PathBuf {
        PathBuf::from(self.events.to_string_lossy().replace(
            sshlog_format::layout::EVENTS_SUFFIX,
            sshlog_format::layout::CAST_SUFFIX,
        ))
    }
}

/// How much waits in the spool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub sessions: u64,
    /// Sizes of their casts and sidecars.
    pub bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn new(log_dir: &Path) -> Spool {
        Spool {
            dir: log_dir.join("spool"),
        }
    }

    /// Queues the session of `events` (idempotent: one job per session).
    pub fn enqueue(&self, events: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let name = events
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(sshlog_format::layout::EVENTS_SUFFIX))
            .ok_or_else(|| {
                std::io::Error::other(format!("{} is not a sidecar", events.display()))
            })?;
        let job = Job {
            events: events.to_path_buf(),
            queued: Utc::now(),
        };
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(&job)?)?;
        std::fs::rename(&tmp, self.dir.join(format!("{name}.json")))
    }

    /// Every job, oldest first (by queue time, then name). Unreadable job
    /// files are left in place and reported.
    pub fn pending(&self) -> Vec<(PathBuf, Job)> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
            {
                Some(job) => out.push((p, job)),
                None => tracing::warn!("ignoring unreadable spool job {}", p.display()),
            }
        }
        out.sort_by(|a, b| (a.1.queued, &a.0).cmp(&(b.1.queued, &b.0)));
        out
    }

    /// The job is done (every object acknowledged).
    pub fn done(&self, job_file: &Path) {
        if let Err(e) = std::fs::remove_file(job_file) {
            tracing::warn!("cannot remove spool job {}: {e}", job_file.display());
        }
    }

    pub fn backlog(&self) -> Backlog {
        let mut b = Backlog::default();
        for (_, job) in self.pending() {
            b.sessions += 1;
            for p in [job.events.clone(), job.cast()] {
                b.bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_kept_until_done_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::new(dir.path());
        let a = dir.path().join("sessions/2026/12/06/aaa.events.jsonl");
        let b = dir.path().join("sessions/2026/12/06/bbb.events.jsonl");
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::write(&a, b"12345").unwrap();
        std::fs::write(a.with_file_name("aaa.cast.zst"), b"123").unwrap();
        s.enqueue(&a).unwrap();
        s.enqueue(&b).unwrap();
        s.enqueue(&a).unwrap();
        let p = s.pending();
        assert_eq!(p.len(), 2, "one job per session");
        assert_eq!(p[0].1.events, b, "a queued again goes last");
        assert_eq!(
            s.backlog(),
            Backlog {
                sessions: 2,
                bytes: 8
            }
        );
        assert_eq!(p[1].1.cast(), a.with_file_name("aaa.cast.zst"));
        s.done(&p[0].0);
        assert_eq!(s.pending().len(), 1);
        assert!(s.enqueue(Path::new("/x/notasidecar")).is_err());
    }
}
