//! The files of one recorded session segment: the zstd-framed cast and the event
//! sidecar. The cast is created when the terminal size is first known (the pty
//! resize that precedes any output), or at 80x24 for sessions without a pty.

use anyhow::{Context, Result};
use sshlog_format::cast::{CastVersion, Event, Header, SshlogMeta};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_format::index::GramBuilder;
use sshlog_format::layout::{session_paths, SessionPaths};
use sshlog_format::seal::Head;
use sshlog_format::sidecar::{write_record, Record};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

pub struct Recording {
    pub id: Uuid,
    pub paths: SessionPaths,
    /// CLOCK_MONOTONIC ns of the session start: cast times are relative to it.
    pub start_ns: u64,
    pub meta: SshlogMeta,
    /// The user's login shell, for the cast header's `env.SHELL` (`/bin/sh`
    /// when unknown).
    pub shell: Option<String>,
    started_wall: chrono::DateTime<chrono::Utc>,
    cast: Option<FramedCastWriter<File>>,
    sidecar: File,
    frame: FrameOptions,
    last_time_us: u64,
    /// Output bytes written to the cast so far (the offset `follow` resumes at).
    pub output_bytes: u64,
    /// Current terminal size (cols, rows).
    size: (u16, u16),
    /// Sidecar lines not written yet (the disk was full); retried in order.
    pending_lines: Vec<Vec<u8>>,
    /// Bytes of the sidecar known to be complete lines.
    sidecar_len: u64,
    /// The search index's output filter, fed with every output byte given
    /// to the cast, so the cast is not read back to index it.
    grams: GramBuilder,
}

/// At most this much cast text is held in memory while the disk is full; beyond
/// it the oldest buffered output is dropped and reported as data loss.
const MAX_BUFFERED_CAST: usize = 32 << 20;
/// At most this many sidecar lines are held while the disk is full.
const MAX_PENDING_LINES: usize = 100_000;

fn create_file(path: &Path) -> Result<File> {
    let existed = path.exists();
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    if !existed {
        crate::privileges::share_with_group(path);
    }
    Ok(f)
}

impl Recording {
    pub fn create(
        root: &Path,
        started_wall: chrono::DateTime<chrono::Utc>,
        start_ns: u64,
        meta: SshlogMeta,
        frame: FrameOptions,
    ) -> Result<Self> {
        let id = Uuid::now_v7();
        let paths = session_paths(root, started_wall, id);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&paths.dir)
            .with_context(|| format!("cannot create {}", paths.dir.display()))?;
        // sessions/, YYYY/, MM/, DD/ for the sshlog group.
        for d in paths
            .dir
            .ancestors()
            .take_while(|d| d.starts_with(root) && *d != root)
        {
            crate::privileges::share_with_group(d);
        }
        let sidecar = create_file(&paths.events)?;
        let meta = SshlogMeta {
            session_id: Some(id),
            ..meta
        };
        Ok(Self {
            id,
            paths,
            start_ns,
            meta,
            shell: None,
            started_wall,
            cast: None,
            sidecar,
            frame,
            last_time_us: 0,
            output_bytes: 0,
            size: (80, 24),
            pending_lines: Vec::new(),
            sidecar_len: 0,
            grams: GramBuilder::new(),
        })
    }

    /// Microseconds since the session start for a CLOCK_MONOTONIC timestamp;
    /// never goes backwards (events of two CPUs may arrive slightly out of order).
    pub fn time_us(&mut self, ts_ns: u64) -> u64 {
        let t = ts_ns.saturating_sub(self.start_ns) / 1000;
        self.last_time_us = self.last_time_us.max(t);
        self.last_time_us
    }

    pub fn has_cast(&self) -> bool {
        self.cast.is_some()
    }

    /// Creates the cast with the given size if it does not exist yet.
    pub fn ensure_cast(&mut self, cols: u16, rows: u16) -> Result<()> {
        if self.cast.is_some() {
            return Ok(());
        }
        self.size = (cols.max(1), rows.max(1));
        let mut header = Header::new(CastVersion::V2, self.size.0, self.size.1);
        header.timestamp = Some(self.started_wall.timestamp());
        let shell = self.shell.as_deref().unwrap_or("/bin/sh");
        header.env.insert("SHELL".into(), shell.into());
        header.env.insert("TERM".into(), "xterm-256color".into());
        header.title = Some(format!(
            "{}@{} {}",
            self.meta.user.as_deref().unwrap_or("?"),
            self.meta.client.as_deref().unwrap_or("?"),
            self.meta.tty.as_deref().unwrap_or("")
        ));
        header.set_sshlog_meta(&self.meta);
        let file = create_file(&self.paths.cast)?;
        self.cast = Some(FramedCastWriter::new(file, &header, self.frame)?);
        Ok(())
    }

    pub fn write_cast(&mut self, ev: &Event) -> Result<()> {
        if self.cast.is_none() {
            self.ensure_cast(80, 24)?;
        }
        if let Event::Output { data, .. } = ev {
            // Before the write: a failed write (disk full) keeps the event
            // for the cast, so the filter must have its bytes either way.
            self.grams.push(data);
        }
        if let Some(c) = self.cast.as_mut() {
            c.write_event(ev)?;
        }
        match ev {
            Event::Output { data, .. } => self.output_bytes += data.len() as u64,
            Event::Resize { cols, rows, .. } => self.size = (*cols, *rows),
            _ => {}
        }
        Ok(())
    }

    /// Writes out everything buffered, so the file holds all output so far.
    pub fn flush_frame(&mut self) -> Result<()> {
        if let Some(c) = self.cast.as_mut() {
            c.flush_frame()?;
        }
        Ok(())
    }

    pub fn size(&self) -> Option<(u16, u16)> {
        self.cast.as_ref().map(|_| self.size)
    }

    pub fn write_record(&mut self, rec: &Record) -> Result<()> {
        let mut line = Vec::with_capacity(256);
        write_record(&mut line, rec)?;
        if self.pending_lines.len() < MAX_PENDING_LINES {
            self.pending_lines.push(line);
        }
        self.write_pending_lines()
    }

    fn write_pending_lines(&mut self) -> Result<()> {
        while let Some(line) = self.pending_lines.first() {
            if let Err(e) = self.sidecar.write_all(line) {
                // Cut off a partial line so the file stays one record per line.
                let _ = self.sidecar.set_len(self.sidecar_len);
                return Err(e).with_context(|| format!("write {}", self.paths.events.display()));
            }
            self.sidecar_len += line.len() as u64;
            self.pending_lines.remove(0);
        }
        Ok(())
    }

    /// After a failed write: cuts a partial frame off the cast and bounds what is
    /// kept in memory. Returns the bytes of cast text dropped to stay bounded.
    pub fn repair(&mut self) -> u64 {
        let Some(c) = self.cast.as_mut() else {
            return 0;
        };
        let good = c.bytes_written();
        if c.get_ref()
            .metadata()
            .map(|m| m.len() > good)
            .unwrap_or(false)
        {
            let _ = c.get_mut().set_len(good);
        }
        // Until a retry succeeds, do not try (and compress) on every event.
        c.set_auto_flush(false);
        if c.buffered_bytes() > MAX_BUFFERED_CAST {
            return c.discard_buffered() as u64;
        }
        0
    }

    /// Retries everything not written yet.
    pub fn retry(&mut self) -> Result<()> {
        self.write_pending_lines()?;
        self.flush_frame()?;
        if let Some(c) = self.cast.as_mut() {
            c.set_auto_flush(true);
        }
        Ok(())
    }

    /// Writes out a frame when the oldest buffered event is older than the frame age.
    pub fn maybe_flush(&mut self, now: Instant) -> Result<()> {
        if let Some(c) = self.cast.as_mut() {
            c.maybe_flush(now)?;
        }
        Ok(())
    }

    /// Writes the last frame (fast, on the capture path); syncing and sealing
    /// are left to [`Closed::complete`], which may run on another thread.
    pub fn close(mut self) -> Result<Closed> {
        let cast = match self.cast.take() {
            Some(c) => Some(c.finish()?),
            None => None,
        };
        let grams = cast.is_some().then_some(self.grams);
        Ok(Closed {
            id: self.id,
            paths: self.paths,
            cast,
            sidecar: self.sidecar,
            grams,
        })
    }
}

impl Recording {
    /// Appends one record to a JSON-lines file, creating it (0640) if needed.
    pub fn append_or_create(path: &Path, rec: &Record) -> Result<()> {
        let mut line = Vec::with_capacity(512);
        write_record(&mut line, rec)?;
        create_file(path)?.write_all(&line)?;
        Ok(())
    }

    /// Appends one record to an existing sidecar (closing a session left open by a
    /// previous sshlogd).
    pub fn append_record(events: &Path, rec: &Record) -> Result<()> {
        let mut line = Vec::with_capacity(256);
        write_record(&mut line, rec)?;
        let mut f = OpenOptions::new()
            .append(true)
            .open(events)
            .with_context(|| format!("cannot open {}", events.display()))?;
        f.write_all(&line)?;
        Ok(())
    }
}

/// A recording whose files are complete but not yet synced and sealed.
pub struct Closed {
    pub id: Uuid,
    pub paths: SessionPaths,
    cast: Option<File>,
    sidecar: File,
    /// The output filter of the cast, when it has one (every output byte).
    pub grams: Option<GramBuilder>,
}

impl Closed {
    /// fsyncs both files and seals the recording; returns the new chain head.
    pub fn complete(&self, sealer: &crate::sealer::Sealer) -> Result<Head> {
        if let Some(c) = &self.cast {
            c.sync_data()?;
        }
        self.sidecar.sync_data()?;
        sealer.seal(&self.paths.cast, &self.paths.events, self.id)
    }
}
