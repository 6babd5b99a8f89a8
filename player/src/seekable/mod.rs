//! A recording opened for random access ([`SeekableCast`]): the screen at any
//! time ([`SeekableCast::screen_at`]), the markers around a position, and a
//! [`Playhead`] that continues playback from there.
//!
//! A `.cast.zst` is read through its frame index: frames are decompressed
//! and parsed one at a time, on demand. Other casts (plain `.cast`,
//! asciicast v1, zstd files without an index) are read into memory once and
//! handled as a single frame.
//!
//! # The screen at time T
//!
//! The screen is rebuilt by feeding output into a `vt100` terminal, not from
//! the start of the file but from the latest *sync point* at or before T: a
//! place after which the visible screen no longer depends on earlier output.
//! Sync points are
//!
//! - a full reset, `ESC c`;
//! - cursor-home next to erase-display (`ESC[H ESC[2J`, `ESC[2J ESC[H`,
//!   `ESC[H ESC[J`, also spelled `ESC[1;1H`) issued on the main screen. A
//!   clear inside an alternate-screen program (vim, less, top) is not one:
//!   leaving the program brings back the main screen from before it.
//!
//! Frames are decoded backwards from T until a sync point is found (or the
//! start of the file is reached). Whether a clear happened on the main
//! screen, and the terminal size there, depend on what came before:
//!
//! - Index records written by current versions carry the terminal state at
//!   the start of their frame ([`FrameInfo::start_state`]: size, and whether
//!   the alternate screen is active). A frame with such a record is settled
//!   by itself: its switches (`ESC[?1049h/l`, `ESC[?1047h/l`, `ESC[?47h/l`,
//!   `ESC c`) are followed forwards from the recorded state, and its latest
//!   clear on the main screen is the sync point; the size there is the
//!   recorded one updated by the frame's resizes. A late seek so reads only
//!   the frames from the sync point on.
//! - Without it (files from older versions), the nearest alternate-screen
//!   switch before the clear decides, and the size is the last resize
//!   before it: earlier frames are only decompressed and searched for
//!   switches and `"r"` event lines, which is much cheaper than parsing and
//!   emulating them, but may go back to the start of the file; without a
//!   resize the header's size applies. What is learnt about a frame is kept.
//!
//! The recorded alternate-screen flag is a hint (the writer does not
//! recognise every spelling of the switches, and `vt100` ignores mode
//! 1047): whenever the frames after a sync point are emulated, the
//! emulator's size and screen at each frame start are compared with the
//! records, and on a difference the records' states are no longer used for
//! this recording and the seek is done again without them.
//!
//! Terminal modes set before a sync point (colours, scroll region,
//! character sets) are not carried over; programs set them again after
//! clearing. Escape sequences split across two frames are not recognised by
//! the search (the writer's state does see them).

use crate::control::io_message;
use crate::render;

mod playhead;
mod sync;
#[cfg(test)]
mod tests;

use anyhow::{anyhow, bail, Context, Result};
pub use playhead::Playhead;
use sshlog_fleet::remote::RemoteObject;
use sshlog_format::cast::{is_zstd, open_cast_reader, CastReader, Event, Header};
use sshlog_format::framed::{
    read_frame_index, report_damage, Damage, FrameInfo, FrameState, FLAG_HEADER,
};
use sshlog_format::FormatError;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::Cursor;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;
use sync::*;

/// Where a framed cast's bytes are read from: a local file, or an object in
/// the fleet store (by range requests).
pub trait ReadAt {
    /// Fills `buf` with the bytes at `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for RemoteObject {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        RemoteObject::read_exact_at(self, buf, offset)
    }
}

/// The events of one frame (shared with the decode cache).
pub type Events = Rc<Vec<Event>>;

/// Decoded frames kept for reuse (a seek decodes a window of frames that
/// the following playback and marker searches read again).
const CACHE_FRAMES: usize = 64;

/// How much of the file was read and decoded so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    /// Frames decompressed.
    pub frames_decompressed: u64,
    /// Frames parsed into events.
    pub frames_parsed: u64,
    /// Compressed bytes read from the file.
    pub compressed_bytes: u64,
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
}

enum Body {
    /// A `.cast.zst` with a frame index.
    Framed {
        file: Box<dyn ReadAt>,
        frames: Vec<FrameInfo>,
        /// One decompression context for all frames (creating one per
        /// frame costs more than decompressing a 64 KiB frame).
        zstd: RefCell<zstd::bulk::Decompressor<'static>>,
    },
    /// Everything else, read into memory.
    Memory { events: Events },
}

/// A recording opened for seeking.
pub struct SeekableCast {
    header: Header,
    body: Body,
    cache: RefCell<HashMap<usize, Events>>,
    summaries: RefCell<Vec<Option<Summary>>>,
    stats: Cell<ReadStats>,
    /// Whether the terminal states of the index records are used (until
    /// one is found to disagree with the emulator).
    use_states: Cell<bool>,
    /// The file or object, as warnings name it.
    name: String,
}

/// What a frame changes for the frames after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Summary {
    /// The last resize (rows, cols).
    resize: Option<(u16, u16)>,
    /// The last screen switch: `EnterAlt`, `LeaveAlt` or `Reset`.
    switch: Option<Seq>,
}

/// Where the sync point search stopped: event `event` of chunk `chunk`,
/// byte `offset` of its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    chunk: usize,
    event: usize,
    offset: usize,
}

const START: Pos = Pos {
    chunk: 0,
    event: 0,
    offset: 0,
};

impl SeekableCast {
    /// Opens `path` (`.cast`, `.cast.zst`, asciicast v1/v2/v3). Errors
    /// name the file.
    pub fn open(path: &Path) -> Result<SeekableCast> {
        let shown = path.display();
        let file =
            File::open(path).map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
        let meta = file
            .metadata()
            .map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
        if meta.is_dir() {
            bail!("cannot play {shown}: it is a directory");
        }
        let mut magic = [0u8; 4];
        let n = file
            .read_at(&mut magic, 0)
            .map_err(|e| anyhow!("cannot read {shown}: {}", io_message(&e)))?;
        if is_zstd(&magic[..n]) {
            match read_frame_index(&file) {
                Ok(frames) if !frames.is_empty() => {
                    return Self::framed(Box::new(file), frames, &shown.to_string())
                        .map_err(|e| anyhow!("cannot play {shown}: {e:#}"));
                }
                Ok(_) => bail!("cannot play {shown}: {}", FormatError::Empty),
                Err(FormatError::Framing(_)) => {} // no index: read it whole
                Err(e) => bail!("cannot play {shown}: {e}"),
            }
        }
        let reader = open_cast_reader(file).map_err(|e| anyhow!("cannot play {shown}: {e}"))?;
        let header = reader.header().clone();
        let events = reader
            .collect::<sshlog_format::Result<Vec<_>>>()
            .map_err(|e| anyhow!("cannot play {shown}: {e}"))?;
        Ok(SeekableCast {
            header,
            body: Body::Memory {
                events: Rc::new(events),
            },
            cache: RefCell::default(),
            summaries: RefCell::default(),
            stats: Cell::default(),
            use_states: Cell::new(true),
            name: shown.to_string(),
        })
    }

    /// Opens a `.cast.zst` in the fleet store, with its frame index: each
    /// frame is read when it is needed, by a range request.
    pub fn open_remote(obj: RemoteObject, frames: Vec<FrameInfo>) -> Result<SeekableCast> {
        let shown = obj.key().to_string();
        Self::framed(Box::new(obj), frames, &shown)
            .map_err(|e| anyhow!("cannot play {shown}: {e:#}"))
    }

    fn framed(file: Box<dyn ReadAt>, frames: Vec<FrameInfo>, name: &str) -> Result<SeekableCast> {
        let first = &frames[0];
        if first.flags & FLAG_HEADER == 0 {
            bail!("the first frame does not hold the header");
        }
        let zstd = RefCell::new(zstd::bulk::Decompressor::new()?);
        let text = decompress(file.as_ref(), first, &zstd).unwrap_or_else(|_| {
            // Rebuilt from the frame index; frame_text reports it once played.
            Damage::of_frame(first, 0, true).stand_in(first.start_state)
        });
        let reader = CastReader::new(Cursor::new(text)).context("frame 0")?;
        let rec = SeekableCast {
            header: reader.header().clone(),
            body: Body::Framed { file, frames, zstd },
            cache: RefCell::default(),
            summaries: RefCell::default(),
            stats: Cell::default(),
            use_states: Cell::new(true),
            name: name.to_string(),
        };
        Ok(rec)
    }

    /// The cast header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// What was read and decoded so far.
    pub fn stats(&self) -> ReadStats {
        self.stats.get()
    }

    /// Number of frames (1 for recordings held in memory).
    pub fn chunk_count(&self) -> usize {
        match &self.body {
            Body::Framed { frames, .. } => frames.len(),
            Body::Memory { .. } => 1,
        }
    }

    /// Time of the last event (µs), 0 for an empty recording.
    pub fn duration_us(&self) -> u64 {
        match &self.body {
            Body::Framed { frames, .. } => frames.iter().map(|f| f.last_time_us).max().unwrap_or(0),
            Body::Memory { events } => events.iter().map(Event::time_us).max().unwrap_or(0),
        }
    }

    /// The first chunk holding an event later than `t`, or
    /// [`chunk_count`](Self::chunk_count) when there is none.
    fn chunk_after(&self, t: u64) -> usize {
        match &self.body {
            Body::Framed { frames, .. } => frames
                .iter()
                .position(|f| f.event_count > 0 && f.last_time_us > t)
                .unwrap_or(frames.len()),
            Body::Memory { events } => {
                if events.iter().any(|e| e.time_us() > t) {
                    0
                } else {
                    1
                }
            }
        }
    }

    /// The decompressed lines of frame `j`.
    fn frame_text(
        &self,
        file: &dyn ReadAt,
        frames: &[FrameInfo],
        zstd: &RefCell<zstd::bulk::Decompressor<'static>>,
        j: usize,
    ) -> Result<Vec<u8>> {
        let text = match decompress(file, &frames[j], zstd) {
            Ok(t) => t,
            // A damaged frame costs only its own seconds: a marker stands in.
            Err(_) => {
                let before = if j > 0 { frames[j - 1].last_time_us } else { 0 };
                let header = frames[j].flags & FLAG_HEADER != 0;
                let damage = Damage::of_frame(&frames[j], before, header);
                report_damage(&self.name, &damage);
                damage.stand_in(frames[j].start_state)
            }
        };
        let mut s = self.stats.get();
        s.frames_decompressed += 1;
        s.compressed_bytes += frames[j].compressed_len;
        s.decompressed_bytes += text.len() as u64;
        self.stats.set(s);
        Ok(text)
    }

    fn parse_frame(&self, frames: &[FrameInfo], j: usize, text: Vec<u8>) -> Result<Events> {
        let f = &frames[j];
        let cursor = Cursor::new(text);
        let reader = if f.flags & FLAG_HEADER != 0 {
            CastReader::new(cursor).with_context(|| format!("frame {j}"))?
        } else {
            let base = if j > 0 { frames[j - 1].last_time_us } else { 0 };
            CastReader::with_header(cursor, self.header.clone(), base)
        };
        let events = reader
            .collect::<sshlog_format::Result<Vec<_>>>()
            .with_context(|| format!("frame {j}"))?;
        let mut s = self.stats.get();
        s.frames_parsed += 1;
        self.stats.set(s);
        let events = Rc::new(events);
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= CACHE_FRAMES {
            cache.clear();
        }
        cache.insert(j, Rc::clone(&events));
        Ok(events)
    }

    /// The events of chunk `j`.
    pub fn chunk_events(&self, j: usize) -> Result<Events> {
        match &self.body {
            Body::Memory { events } => Ok(Rc::clone(events)),
            Body::Framed { file, frames, zstd } => {
                if let Some(e) = self.cache.borrow().get(&j) {
                    return Ok(Rc::clone(e));
                }
                let text = self.frame_text(file.as_ref(), frames, zstd, j)?;
                self.parse_frame(frames, j, text)
            }
        }
    }

    /// The events of chunk `j` if its raw text contains one of `needles`
    /// (a cheap filter before parsing); `None` when it cannot hold them.
    fn chunk_events_if(&self, j: usize, needles: &[&[u8]]) -> Result<Option<Events>> {
        match &self.body {
            Body::Memory { events } => Ok(Some(Rc::clone(events))),
            Body::Framed { file, frames, zstd } => {
                if let Some(e) = self.cache.borrow().get(&j) {
                    return Ok(Some(Rc::clone(e)));
                }
                let text = self.frame_text(file.as_ref(), frames, zstd, j)?;
                if needles
                    .iter()
                    .any(|n| memchr::memmem::find(&text, n).is_some())
                {
                    self.parse_frame(frames, j, text).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// The screen after every event at or before `t`, and a playhead at
    /// the first event after `t`.
    pub fn screen_at(&self, t: u64) -> Result<(vt100::Parser, Playhead)> {
        let end = self.chunk_after(t);
        let last = end.min(self.chunk_count() - 1);
        let sync = self.find_sync(t, last)?;
        let (rows, cols) = self.size_before(sync)?;
        let mut vt = render::terminal(rows, cols, 0);
        for j in sync.chunk..=last {
            if j > sync.chunk && !self.state_agrees(j, vt.screen()) {
                // A recorded state is wrong: do without them.
                self.use_states.set(false);
                return self.screen_at(t);
            }
            let events = self.chunk_events(j)?;
            let first = if j == sync.chunk { sync.event } else { 0 };
            for (i, ev) in events.iter().enumerate().skip(first) {
                if ev.time_us() > t {
                    break;
                }
                match ev {
                    Event::Output { data, .. } if j == sync.chunk && i == sync.event => {
                        vt.process(data.get(sync.offset..).unwrap_or_default());
                    }
                    _ => render::apply(&mut vt, ev),
                }
            }
        }
        let head = if end < self.chunk_count() {
            let events = self.chunk_events(end)?;
            let idx = events
                .iter()
                .position(|e| e.time_us() > t)
                .unwrap_or(events.len());
            Playhead {
                chunk: end,
                events,
                idx,
            }
        } else {
            Playhead::at_end(self)
        };
        Ok((vt, head))
    }

    /// The screen after every event at or before `t`, replayed from the
    /// start of the recording (what [`screen_at`](Self::screen_at) must
    /// equal; used by tests and benchmarks).
    pub fn replay_from_start(&self, t: u64) -> Result<vt100::Parser> {
        let mut vt = render::terminal(self.header.height, self.header.width, 0);
        let mut head = Playhead::start(self)?;
        while let Some(ev) = head.peek(self)? {
            if ev.time_us() > t {
                break;
            }
            render::apply(&mut vt, ev);
            head.advance();
        }
        Ok(vt)
    }

    /// The terminal state recorded at the start of chunk `j`, if there is
    /// one and recorded states are in use.
    fn start_state(&self, j: usize) -> Option<FrameState> {
        match &self.body {
            Body::Framed { frames, .. } if self.use_states.get() => {
                frames.get(j).and_then(|f| f.start_state)
            }
            _ => None,
        }
    }

    /// Whether the emulator `screen`, at the start of chunk `j`, has the
    /// size and screen recorded there (true when nothing is recorded).
    fn state_agrees(&self, j: usize, screen: &vt100::Screen) -> bool {
        let Some(s) = self.start_state(j) else {
            return true;
        };
        screen.size() == (s.rows.max(1), s.cols.max(1)) && screen.alternate_screen() == s.alt_screen
    }

    /// The latest sync point at or before `t`, searching chunks `last`,
    /// `last - 1`, ... (see the module documentation). A chunk with a
    /// recorded start state is settled by itself. Otherwise frames are
    /// parsed until a clear is found; earlier frames are then only
    /// decompressed to find the screen switch that tells whether it was on
    /// the main screen, until one with a recorded state is reached.
    fn find_sync(&self, t: u64, last: usize) -> Result<Pos> {
        let mut scan = SyncScan::default();
        let mut buf = Vec::new();
        let mut starts: Vec<(usize, usize)> = Vec::new();
        for j in (0..=last).rev() {
            let state = self.start_state(j);
            if let Some(candidate) = scan.candidate {
                // No switch between the end of this frame and the candidate.
                match self.summary(j)?.switch {
                    None => match state {
                        None => continue,
                        Some(s) if !s.alt_screen => return Ok(candidate),
                        // The whole frame is on the alternate screen.
                        Some(_) => {
                            scan.candidate = None;
                            continue;
                        }
                    },
                    Some(Seq::LeaveAlt | Seq::Reset) => return Ok(candidate),
                    // On the alternate screen: look for a clear before the
                    // switch, in this frame's events.
                    Some(_) => scan.candidate = None,
                }
            }
            let events = self.chunk_events(j)?;
            buf.clear();
            starts.clear();
            for (i, ev) in events.iter().enumerate() {
                if ev.time_us() > t {
                    break;
                }
                if let Event::Output { data, .. } = ev {
                    starts.push((buf.len(), i));
                    buf.extend_from_slice(data);
                }
            }
            let found = sync_sequences(&buf);
            // The event holding byte `at`: the last start at or before it.
            let pos_of = |at: usize| {
                let k = starts.partition_point(|&(s, _)| s <= at) - 1;
                let (s, event) = starts[k];
                Pos {
                    chunk: j,
                    event,
                    offset: at - s,
                }
            };
            if let Some(s) = state {
                if let Some(at) = latest_main_screen_sync(s.alt_screen, &found) {
                    return Ok(pos_of(at));
                }
                continue;
            }
            for &(at, kind) in found.iter().rev() {
                if let Some(p) = scan.step(kind, pos_of(at)) {
                    return Ok(p);
                }
            }
        }
        Ok(scan.candidate.unwrap_or(START))
    }

    /// Terminal size (rows, cols) in force just before `pos`: the last
    /// resize before it, going back to the nearest recorded start state.
    fn size_before(&self, pos: Pos) -> Result<(u16, u16)> {
        let events = self.chunk_events(pos.chunk)?;
        let resize = events[..pos.event].iter().rev().find_map(|e| match e {
            Event::Resize { cols, rows, .. } => Some((*rows, *cols)),
            _ => None,
        });
        if let Some(s) = resize {
            return Ok(s);
        }
        for j in (0..=pos.chunk).rev() {
            if let Some(s) = self.start_state(j) {
                return Ok((s.rows, s.cols));
            }
            if j == 0 {
                break;
            }
            if let Some(s) = self.summary(j - 1)?.resize {
                return Ok(s);
            }
        }
        Ok((self.header.height, self.header.width))
    }

    /// The last resize and screen switch of frame `j`, from its raw text
    /// (remembered: a frame is summarised at most once).
    fn summary(&self, j: usize) -> Result<Summary> {
        if let Some(Some(s)) = self.summaries.borrow().get(j) {
            return Ok(*s);
        }
        let s = match &self.body {
            Body::Memory { .. } => Summary::default(),
            Body::Framed { file, frames, zstd } => {
                let text = self.frame_text(file.as_ref(), frames, zstd, j)?;
                match summarise(&text) {
                    Some(s) => s,
                    // Not sshlog's compact JSON: parse it.
                    None => {
                        let events = self.parse_frame(frames, j, text)?;
                        summarise_events(&events)
                    }
                }
            }
        };
        let mut memo = self.summaries.borrow_mut();
        if memo.len() <= j {
            memo.resize(j + 1, None);
        }
        memo[j] = Some(s);
        Ok(s)
    }

    /// The first marker after `t`: its time and label.
    pub fn next_marker(&self, t: u64) -> Result<Option<(u64, String)>> {
        for j in self.chunk_after(t)..self.chunk_count() {
            let Some(events) = self.chunk_events_if(j, MARKER_NEEDLES)? else {
                continue;
            };
            for ev in events.iter() {
                if let Event::Marker { time_us, label } = ev {
                    if *time_us > t {
                        return Ok(Some((*time_us, label.clone())));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The last marker before `t`: its time and label.
    pub fn prev_marker(&self, t: u64) -> Result<Option<(u64, String)>> {
        let last = self.chunk_after(t).min(self.chunk_count() - 1);
        for j in (0..=last).rev() {
            let Some(events) = self.chunk_events_if(j, MARKER_NEEDLES)? else {
                continue;
            };
            for ev in events.iter().rev() {
                if let Event::Marker { time_us, label } = ev {
                    if *time_us < t {
                        return Ok(Some((*time_us, label.clone())));
                    }
                }
            }
        }
        Ok(None)
    }
}
