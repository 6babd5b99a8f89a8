//! The global event log: one human-readable line per event, rotated by size
//! (`event.log`, `event.log.1`, … `event.log.N-1`), like logrotate's numbering.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct EventLog {
    path: PathBuf,
    max_bytes: u64,
    files: u32,
    file: File,
    size: u64,
    /// Lines not written yet (the disk was full); written first next time.
    pending: std::collections::VecDeque<String>,
}

/// sshlogd's own event log, shared with any `eventlogfile_action` writing to
/// the same path (the agent's default `log_events.yaml` does): one writer,
/// one rotation, no two processes racing over one file.
pub struct SharedEventLog {
    path: PathBuf,
    log: std::sync::Mutex<EventLog>,
}

impl SharedEventLog {
    pub fn new(log: EventLog) -> std::sync::Arc<SharedEventLog> {
        std::sync::Arc::new(SharedEventLog {
            path: same_file_key(&log.path),
            log: std::sync::Mutex::new(log),
        })
    }

    /// Whether `path` names this log.
    pub fn is(&self, path: &Path) -> bool {
        same_file_key(path) == self.path
    }

    /// Appends one line (see [`EventLog::write_line`]).
    pub fn write_line(&self, line: &str) -> io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.write_line(line)
    }
}

/// `path` made absolute with its directory's symlinks resolved (the file
/// itself may not exist yet).
fn same_file_key(path: &Path) -> PathBuf {
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    fs::canonicalize(&dir).unwrap_or(dir).join(name)
}

/// Lines held in memory while the event log cannot be written.
const MAX_PENDING: usize = 100_000;

impl EventLog {
    /// Opens (appending) `path`; rotates once it would grow past `max_bytes`,
    /// keeping `files` files in all (at least one).
    pub fn open(path: &Path, max_bytes: u64, files: u32) -> io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            files: files.max(1),
            file,
            size,
            pending: Default::default(),
        })
    }

    /// Appends one line. On failure the line is kept (up to a bound) and written
    /// before the next one; a partial line is cut off so the file stays whole.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(line.to_string());
        }
        while let Some(next) = self.pending.front() {
            let mut buf = Vec::with_capacity(next.len() + 1);
            buf.extend_from_slice(next.as_bytes());
            buf.push(b'\n');
            let len = buf.len() as u64;
            if self.size > 0 && self.size + len > self.max_bytes {
                self.rotate()?;
            }
            if let Err(e) = self.file.write_all(&buf) {
                let _ = self.file.set_len(self.size);
                return Err(e);
            }
            self.size += len;
            self.pending.pop_front();
        }
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.files == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = fs::remove_file(self.numbered(self.files - 1));
        for n in (1..self.files - 1).rev() {
            let from = self.numbered(n);
            if from.exists() {
                fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        fs::rename(&self.path, self.numbered(1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !path.exists() {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)?;
        crate::group::share_with_group(path);
        return Ok(f);
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("event.log");
        let mut log = EventLog::open(&p, 100, 3).unwrap();
        for i in 0..40 {
            log.write_line(&format!("line {i:04} xxxxxxxxxx")).unwrap();
        }
        let cur = fs::read_to_string(&p).unwrap();
        let one = fs::read_to_string(dir.path().join("event.log.1")).unwrap();
        assert!(fs::metadata(&p).unwrap().len() <= 100);
        assert!(cur.ends_with("line 0039 xxxxxxxxxx\n"));
        assert!(one.lines().last().unwrap().starts_with("line 003"));
        assert!(dir.path().join("event.log.2").exists());
        assert!(!dir.path().join("event.log.3").exists());
        // Nothing between the newest rotated file and the current one was lost.
        let last_rotated: u32 = one.lines().last().unwrap()[5..9].parse().unwrap();
        let first_current: u32 = cur.lines().next().unwrap()[5..9].parse().unwrap();
        assert_eq!(last_rotated + 1, first_current);
    }
}
