//! [`FramedCastWriter`]: a `.cast.zst` made of independent zstd frames of
//! whole lines, each preceded by an index record.
//!
//! Each record carries the terminal state at the start of its frame
//! ([`FrameState`](super::FrameState): size and alternate screen, tracked by
//! [`StateTracker`]), so a reader seeking into the file need not look at the
//! frames before the one it starts from.

use std::io::Write;
use std::time::{Duration, Instant};

use zstd::zstd_safe::CParameter;

use super::index::{FrameInfo, FrameState, FLAG_HEADER};
use super::state::StateTracker;
use crate::cast::{CastWriter, Event, Header};
use crate::error::Result;

/// When to cut frames and how hard to compress them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameOptions {
    /// Flush a frame once this many uncompressed bytes are buffered.
    pub max_frame_bytes: usize,
    /// Flush a frame once its oldest event is this old (checked by
    /// [`FramedCastWriter::maybe_flush`] / [`FramedCastWriter::flush_if_older_than`]).
    pub max_frame_age: Duration,
    /// zstd compression level.
    pub level: i32,
    /// Output events that follow the first of a run within this many
    /// microseconds are written as one event at its time (0: every event
    /// is its own line). The bytes are the same; a line (JSON escaping,
    /// terminal-state scan) per pty read is what a fast session costs.
    pub coalesce_us: u64,
}

impl Default for FrameOptions {
    fn default() -> Self {
        FrameOptions {
            // tools/bench-write (docs/benchmarks.md), against level 3 and
            // 64 KiB: 1.5 % smaller and up to 1.4x faster on terminal-like
            // text, 15 % faster on random printable text.
            max_frame_bytes: 128 * 1024,
            max_frame_age: Duration::from_secs(1),
            level: 2,
            coalesce_us: 0,
        }
    }
}

/// Output held for coalescing: its time and bytes.
#[derive(Debug, Default)]
struct Pending {
    time_us: u64,
    data: Vec<u8>,
}

/// Writes a framed `.cast.zst`. The header goes out immediately as frame 0,
/// so the file is a valid (empty) cast from the start.
pub struct FramedCastWriter<W: Write> {
    out: W,
    cast: CastWriter<Vec<u8>>,
    compressor: zstd::bulk::Compressor<'static>,
    opts: FrameOptions,
    next_index: u64,
    offset: u64,
    /// Time of the last event of the previous frame.
    prev_last_us: u64,
    /// First event time in the buffer, if any event is buffered.
    first_us: Option<u64>,
    events: u32,
    /// Wall clock time the oldest buffered event was written.
    started: Option<Instant>,
    auto_flush: bool,
    /// The terminal state after the events written so far.
    tracker: StateTracker,
    /// The terminal state at the start of the buffered lines.
    frame_start: FrameState,
    /// Output not written as a line yet ([`FrameOptions::coalesce_us`]).
    pending: Option<Pending>,
}

impl<W: Write> std::fmt::Debug for FramedCastWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramedCastWriter")
            .field("opts", &self.opts)
            .field("next_index", &self.next_index)
            .field("offset", &self.offset)
            .field("buffered", &self.cast.get_ref().len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> FramedCastWriter<W> {
    /// Start a file: writes the header frame.
    pub fn new(out: W, header: &Header, opts: FrameOptions) -> Result<Self> {
        let mut compressor = zstd::bulk::Compressor::new(opts.level)?;
        compressor.set_parameter(CParameter::ChecksumFlag(true))?;
        let cast = CastWriter::new(Vec::new(), header)?;
        let tracker = StateTracker::new(header.width, header.height);
        let frame_start = tracker.state();
        let mut w = FramedCastWriter {
            out,
            cast,
            compressor,
            opts,
            next_index: 0,
            offset: 0,
            prev_last_us: 0,
            first_us: None,
            events: 0,
            started: None,
            auto_flush: true,
            tracker,
            frame_start,
            pending: None,
        };
        w.flush_frame()?;
        Ok(w)
    }

    /// Append an event; cuts a frame when the buffer exceeds
    /// `max_frame_bytes`. Output may be held to be joined with the output
    /// that follows it ([`FrameOptions::coalesce_us`]); any other event,
    /// a frame and `finish` write it first.
    pub fn write_event(&mut self, event: &Event) -> Result<()> {
        if self.opts.coalesce_us > 0 {
            if let Event::Output { time_us, data } = event {
                if let Some(p) = &mut self.pending {
                    let joins = time_us.saturating_sub(p.time_us) <= self.opts.coalesce_us
                        && p.data.len() + data.len() <= self.opts.max_frame_bytes;
                    if joins {
                        p.data.extend_from_slice(data);
                        return Ok(());
                    }
                }
                // A failed write (disk full) keeps the lines it could not
                // write; this event is held either way, never dropped.
                let flushed = self.write_pending();
                if self.started.is_none() {
                    // The frame age counts from the held output too.
                    self.started = Some(Instant::now());
                }
                self.pending = Some(Pending {
                    time_us: *time_us,
                    data: data.clone(),
                });
                return flushed;
            }
            let flushed = self.write_pending();
            let written = self.write_line(event);
            return flushed.and(written);
        }
        self.write_line(event)
    }

    /// Writes the held output as one event.
    fn write_pending(&mut self) -> Result<()> {
        match self.pending.take() {
            Some(p) => self.write_line(&Event::Output {
                time_us: p.time_us,
                data: p.data,
            }),
            None => Ok(()),
        }
    }

    fn write_line(&mut self, event: &Event) -> Result<()> {
        self.cast.write_event(event)?;
        self.tracker.event(event);
        if self.first_us.is_none() {
            self.first_us = Some(self.cast.last_time_us());
            self.started.get_or_insert_with(Instant::now);
        }
        self.events = self.events.saturating_add(1);
        if self.auto_flush && self.cast.get_ref().len() >= self.opts.max_frame_bytes {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Age rule on the wall clock: flush when the oldest buffered event was
    /// written at least `max_frame_age` before `now`. Returns whether a
    /// frame was written.
    pub fn maybe_flush(&mut self, now: Instant) -> Result<bool> {
        match self.started {
            Some(s) if now.saturating_duration_since(s) >= self.opts.max_frame_age => {
                self.flush_frame()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Age rule on the recording clock: flush when the oldest buffered event
    /// time is at least `max_frame_age` before `now_us`.
    pub fn flush_if_older_than(&mut self, now_us: u64) -> Result<bool> {
        let age = u64::try_from(self.opts.max_frame_age.as_micros()).unwrap_or(u64::MAX);
        let held = self.pending.as_ref().map(|p| p.time_us);
        match self.first_us.or(held) {
            Some(first) if now_us.saturating_sub(first) >= age => {
                self.flush_frame()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Compress the buffered lines into a frame and write index record and
    /// frame with a single `write_all`. Does nothing when nothing is
    /// buffered (except for the header frame).
    pub fn flush_frame(&mut self) -> Result<()> {
        if self.pending.is_some() {
            let auto = std::mem::replace(&mut self.auto_flush, false);
            let written = self.write_pending();
            self.auto_flush = auto;
            written?;
        }
        let buf = std::mem::take(self.cast.get_mut());
        if buf.is_empty() {
            return Ok(());
        }
        let data = self.compressor.compress(&buf)?;
        let last = self.cast.last_time_us();
        let info = FrameInfo {
            offset: self.offset + super::index::INDEX_FRAME_LEN as u64,
            compressed_len: data.len() as u64,
            first_time_us: self.first_us.unwrap_or(self.prev_last_us),
            last_time_us: if self.first_us.is_some() {
                last
            } else {
                self.prev_last_us
            },
            uncompressed_len: buf.len() as u64,
            index: self.next_index,
            event_count: self.events,
            flags: if self.next_index == 0 { FLAG_HEADER } else { 0 },
            start_state: Some(self.frame_start),
        };
        let mut bytes = Vec::with_capacity(super::index::INDEX_FRAME_LEN + data.len());
        bytes.extend_from_slice(&info.to_skippable_frame());
        bytes.extend_from_slice(&data);
        if let Err(e) = self.out.write_all(&bytes).and_then(|_| self.out.flush()) {
            // Keep the lines for the next attempt (e.g. once the disk has room
            // again); the caller cuts off any partial frame with `bytes_written`.
            *self.cast.get_mut() = buf;
            return Err(e.into());
        }
        self.offset += bytes.len() as u64;
        self.next_index += 1;
        self.prev_last_us = info.last_time_us;
        self.first_us = None;
        self.events = 0;
        self.started = None;
        self.frame_start = self.tracker.state();
        Ok(())
    }

    /// Number of frames written so far (including the header frame).
    pub fn frames_written(&self) -> u64 {
        self.next_index
    }

    /// Bytes written to the output so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Uncompressed bytes waiting for the next frame (held output counted
    /// as its raw bytes).
    pub fn buffered_bytes(&self) -> usize {
        self.cast.get_ref().len() + self.pending.as_ref().map_or(0, |p| p.data.len())
    }

    /// The output.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, e.g. to truncate a file back to [`Self::bytes_written`] after a
    /// failed write left a partial frame.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Whether `write_event` writes a frame as soon as the buffer is full (on by
    /// default). Off while the output is known to fail, so every event does not
    /// compress and retry the whole buffer; call `flush_frame` to retry.
    pub fn set_auto_flush(&mut self, on: bool) {
        self.auto_flush = on;
    }

    /// Drops the buffered lines (when they cannot be written and memory must be
    /// bounded); returns how many bytes of cast text were dropped. The
    /// terminal state goes back to the start of the dropped lines, so the
    /// index keeps describing what the file holds.
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.cast.get_ref().len() + self.pending.take().map_or(0, |p| p.data.len());
        self.cast.get_mut().clear();
        if n > 0 {
            self.tracker.reset_to(self.frame_start);
        }
        self.first_us = None;
        self.events = 0;
        self.started = None;
        n
    }

    /// Emit held-back partial characters, write the last frame, flush, and
    /// return the output.
    pub fn finish(mut self) -> Result<W> {
        self.write_pending()?;
        let before = self.cast.get_ref().len();
        self.cast.flush_held()?;
        if self.cast.get_ref().len() > before {
            self.events = self.events.saturating_add(1);
            if self.first_us.is_none() {
                self.first_us = Some(self.cast.last_time_us());
            }
        }
        self.flush_frame()?;
        self.out.flush()?;
        Ok(self.out)
    }
}
