//! [`SalvageReader`]: decodes a framed cast one frame at a time, so a
//! damaged frame costs only its own seconds. A frame that does not decode
//! (its checksum fails, its bytes were zeroed) is skipped and replaced by a
//! marker line naming the time it covered; damaged index records are found
//! past by scanning for the next one; a damaged header frame is replaced by
//! a header rebuilt from the frame index (the terminal size). Every skip is
//! kept as a [`Damage`] and handed to the reporter set with
//! [`set_damage_reporter`] (the CLI prints a warning).
//!
//! A cut-off last frame (a recording still being written) is not damage: it
//! ends the input, as before.

use super::index::{FrameInfo, FLAG_HEADER, INDEX_PAYLOAD_LEN, INDEX_TAG, SKIPPABLE_MAGIC};
use crate::cast::{format_clock as clock, format_time, ZSTD_MAGIC};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// The largest data frame believed (a damaged length field must not make
/// the reader allocate gigabytes).
const MAX_FRAME: u64 = 256 << 20;

/// The bytes that start every index record.
fn record_start() -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    b[4..8].copy_from_slice(&(INDEX_PAYLOAD_LEN as u32).to_le_bytes());
    b[8..].copy_from_slice(&INDEX_TAG);
    b
}

/// A part of a cast that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The frame's number when its index record was readable.
    pub frame: Option<u64>,
    /// File offset and length of the damaged bytes.
    pub offset: u64,
    pub bytes: u64,
    /// The recording time it covered (µs): from the last event before it to
    /// its own last event (or the next good frame's first).
    pub from_us: u64,
    pub to_us: Option<u64>,
    /// It held the header line.
    pub header: bool,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.frame {
            Some(n) => write!(f, "frame {n}")?,
            None => write!(f, "a damaged frame index")?,
        }
        write!(
            f,
            " (bytes {}..{}) covering {}",
            self.offset,
            self.offset + self.bytes,
            clock(self.from_us)
        )?;
        match self.to_us {
            Some(to) => write!(f, "–{}", clock(to))?,
            None => write!(f, " to the end")?,
        }
        if self.header {
            write!(f, ", with the header (rebuilt from the frame index)")?;
        }
        write!(f, " does not decode")
    }
}

impl Damage {
    /// The damage of a frame whose index record reads but whose data does
    /// not decode; `from_us` is the last event time before it.
    pub fn of_frame(info: &FrameInfo, from_us: u64, header: bool) -> Damage {
        Damage {
            frame: Some(info.index),
            offset: info.offset.saturating_sub(super::INDEX_FRAME_LEN as u64),
            bytes: info.compressed_len + super::INDEX_FRAME_LEN as u64,
            from_us,
            to_us: Some(info.last_time_us.max(from_us)),
            header,
        }
    }

    /// The text that stands in for the lost frame: a header rebuilt from
    /// the frame index when it held the header, then a marker at the time
    /// the damage ends (absolute times, as sshlogd writes: asciicast v2).
    pub fn stand_in(&self, state: Option<super::FrameState>) -> Vec<u8> {
        let mut out = Vec::new();
        if self.header {
            let (cols, rows) = state.map(|s| (s.cols, s.rows)).unwrap_or((80, 24));
            out.extend_from_slice(
                format!("{{\"version\":2,\"width\":{cols},\"height\":{rows}}}\n").as_bytes(),
            );
        }
        out.extend_from_slice(marker_line(self, self.to_us.unwrap_or(self.from_us)).as_bytes());
        out
    }
}

/// `[time, "m", "sshlog: damaged recording, a–b lost"]`.
fn marker_line(d: &Damage, stamp_us: u64) -> String {
    let label = format!(
        "sshlog: damaged recording, {}–{} lost",
        clock(d.from_us),
        d.to_us.map(clock).unwrap_or_else(|| "end".into())
    );
    format!(
        "[{},\"m\",{}]\n",
        format_time(stamp_us),
        serde_json::Value::String(label)
    )
}

/// Tells the reporter (set with [`set_damage_reporter`]) about `d` in `name`.
pub fn report_damage(name: &str, d: &Damage) {
    if let Some(f) = REPORTER.get() {
        f(name, d);
    }
}

type Reporter = Box<dyn Fn(&str, &Damage) + Send + Sync>;
static REPORTER: OnceLock<Reporter> = OnceLock::new();

/// Where damage found while reading casts is reported (set once, by the
/// program: the CLI prints a warning naming the file and the time range).
pub fn set_damage_reporter(f: impl Fn(&str, &Damage) + Send + Sync + 'static) {
    let _ = REPORTER.set(Box::new(f));
}

/// Decodes a framed cast frame by frame, skipping what is damaged.
pub struct SalvageReader<R: Read> {
    r: BufReader<R>,
    name: String,
    out: Vec<u8>,
    pos: usize,
    offset: u64,
    /// Time of the last event of the frames read or skipped so far.
    last_us: u64,
    /// The header line has been produced.
    header_done: bool,
    /// Intervals (v3) rather than absolute times.
    v3: bool,
    /// Bytes skipped while looking for an index record, not yet reported.
    lost: Option<(u64, u64)>,
    /// Tell the reporter (off for `verify`, which lists damage itself).
    announce: bool,
    /// The input ended inside a frame (a recording still being written).
    cut_off: bool,
    /// One decompression context for all frames (making one per frame
    /// costs more than a small frame's decompression).
    dctx: Option<zstd::bulk::Decompressor<'static>>,
    done: bool,
    damage: Arc<Mutex<Vec<Damage>>>,
}

impl<R: Read> SalvageReader<R> {
    /// `name` (the file) is what the reporter is told.
    pub fn new(r: R, name: &str) -> Self {
        Self::buffered(BufReader::with_capacity(1 << 16, r), name)
    }

    /// [`Self::new`] on input already buffered (its buffer is used as is).
    fn buffered(r: BufReader<R>, name: &str) -> Self {
        SalvageReader {
            r,
            name: name.to_string(),
            out: Vec::new(),
            pos: 0,
            offset: 0,
            last_us: 0,
            header_done: false,
            v3: false,
            lost: None,
            announce: true,
            cut_off: false,
            dctx: None,
            done: false,
            damage: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// What was skipped so far (shared: it stays readable after the reader
    /// moved into a cast reader).
    pub fn damage(&self) -> Arc<Mutex<Vec<Damage>>> {
        self.damage.clone()
    }

    /// Reads up to `n` bytes; fewer only at the end of the input.
    fn take(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(n.min(MAX_FRAME) as usize);
        (&mut self.r).take(n).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        Ok(buf)
    }

    /// Decodes the next frame into `out`; false at the end of the input.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            let start = self.offset;
            let head = self.r.fill_buf()?;
            if head.is_empty() {
                self.flush_lost(None);
                return Ok(false);
            }
            let prefix = self.take(8)?;
            if prefix.len() < 8 {
                self.cut_off = !prefix.is_empty();
                self.flush_lost(None);
                return Ok(false); // cut off: still being written
            }
            let magic = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
            let size = u64::from(u32::from_le_bytes([
                prefix[4], prefix[5], prefix[6], prefix[7],
            ]));
            let ours = magic == SKIPPABLE_MAGIC && size == INDEX_PAYLOAD_LEN as u64;
            if !ours && magic & 0xFFFF_FFF0 == SKIPPABLE_MAGIC && self.lost.is_none() {
                self.take(size)?; // someone else's skippable frame
                continue;
            }
            let payload = if ours { self.take(size)? } else { Vec::new() };
            let info = FrameInfo::from_payload(&payload, self.offset);
            let Some(info) = info.filter(|i| i.compressed_len <= MAX_FRAME) else {
                if payload.len() < INDEX_PAYLOAD_LEN && ours {
                    self.cut_off = true;
                    self.flush_lost(None);
                    return Ok(false); // cut off
                }
                self.resync(start)?;
                continue;
            };
            self.flush_lost(Some(info.first_time_us));
            let data = self.take(info.compressed_len)?;
            if (data.len() as u64) < info.compressed_len {
                self.cut_off = true;
                return Ok(false); // cut off: still being written
            }
            // A damaged record may claim any size: none above MAX_FRAME is believed.
            let decoded = if info.uncompressed_len <= MAX_FRAME {
                if self.dctx.is_none() {
                    self.dctx = Some(zstd::bulk::Decompressor::new()?);
                }
                self.dctx
                    .as_mut()
                    .and_then(|d| d.decompress(&data, info.uncompressed_len as usize).ok())
                    .filter(|d| d.len() as u64 == info.uncompressed_len)
            } else {
                None
            };
            let header_frame = info.flags & FLAG_HEADER != 0 || info.index == 0;
            // `out` may hold the marker of bytes skipped before this frame.
            match decoded {
                Some(d) => {
                    if header_frame && !self.header_done {
                        self.v3 = d.starts_with(b"{") && first_line_is_v3(&d);
                    }
                    if self.out.is_empty() {
                        self.out = d;
                    } else {
                        self.out.extend_from_slice(&d);
                    }
                }
                None => {
                    let damage = Damage {
                        frame: Some(info.index),
                        offset: start,
                        bytes: self.offset - start,
                        from_us: self.last_us,
                        to_us: Some(info.last_time_us.max(self.last_us)),
                        header: header_frame && !self.header_done,
                    };
                    if damage.header {
                        let (cols, rows) = info
                            .start_state
                            .map(|s| (s.cols, s.rows))
                            .unwrap_or((80, 24));
                        self.out.extend_from_slice(
                            format!("{{\"version\":2,\"width\":{cols},\"height\":{rows}}}\n")
                                .as_bytes(),
                        );
                    }
                    if info.event_count > 0 || !damage.header {
                        self.marker(&damage);
                    }
                    self.report(damage);
                }
            }
            self.header_done = true;
            if info.event_count > 0 {
                self.last_us = self.last_us.max(info.last_time_us);
            }
            if !self.out.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Skips bytes up to the next index record (the one at `start` was
    /// damaged); what was skipped is reported with the next frame's time.
    fn resync(&mut self, start: u64) -> io::Result<()> {
        let pattern = record_start();
        let from = self.lost.map(|(s, _)| s).unwrap_or(start);
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                self.lost = Some((from, self.offset));
                return Ok(());
            }
            if let Some(i) = memchr::memmem::find(buf, &pattern) {
                self.r.consume(i);
                self.offset += i as u64;
                self.lost = Some((from, self.offset));
                return Ok(());
            }
            // Keep the last bytes: the pattern may straddle two reads.
            let keep = pattern.len() - 1;
            let n = buf.len().saturating_sub(keep).max(1);
            self.r.consume(n);
            self.offset += n as u64;
        }
    }

    /// Reports bytes skipped by [`Self::resync`], now that the next frame's
    /// first time (or the end) is known.
    fn flush_lost(&mut self, next_us: Option<u64>) {
        let Some((from, to)) = self.lost.take() else {
            return;
        };
        let damage = Damage {
            frame: None,
            offset: from,
            bytes: to - from,
            from_us: self.last_us,
            to_us: next_us,
            header: !self.header_done,
        };
        let saved = std::mem::take(&mut self.out);
        if damage.header {
            self.out
                .extend_from_slice(b"{\"version\":2,\"width\":80,\"height\":24}\n");
            self.header_done = true;
        }
        self.marker(&damage);
        self.report(damage);
        let mut pending = std::mem::take(&mut self.out);
        pending.extend_from_slice(&saved);
        self.out = pending;
        self.pos = 0;
    }

    /// A marker line where the damage was, at the time it ends, so the
    /// events after it keep their times.
    fn marker(&mut self, d: &Damage) {
        let at = d.to_us.unwrap_or(d.from_us).max(self.last_us);
        let stamp = if self.v3 { at - self.last_us } else { at };
        self.out.extend_from_slice(marker_line(d, stamp).as_bytes());
        if self.v3 {
            self.last_us = at;
        }
    }

    fn report(&self, d: Damage) {
        if self.announce {
            report_damage(&self.name, &d);
        }
        if let Ok(mut v) = self.damage.lock() {
            v.push(d);
        }
    }
}

fn first_line_is_v3(d: &[u8]) -> bool {
    let line = d.split(|&b| b == b'\n').next().unwrap_or(&[]);
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("version").and_then(|v| v.as_u64()))
        == Some(3)
}

impl<R: Read> Read for SalvageReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.pos = 0;
            self.out.clear();
            match self.next_frame() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    if self.out.is_empty() {
                        return Ok(0);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The decoded text of a zstd cast: frame by frame with [`SalvageReader`]
/// when it is framed (starts with an index record), one stream otherwise
/// (compressed by the `zstd` tool: nothing to salvage by).
pub enum Salvaging<R: Read> {
    Framed(SalvageReader<R>),
    Plain(crate::cast::TolerantReader<zstd::stream::read::Decoder<'static, BufReader<R>>>),
}

impl<R: Read> Salvaging<R> {
    /// The input ended inside a frame (or a zstd stream was cut).
    pub fn cut_off(&self) -> bool {
        match self {
            Salvaging::Framed(r) => r.cut_off,
            Salvaging::Plain(r) => r.error().is_some(),
        }
    }
}

impl<R: Read> Read for Salvaging<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Salvaging::Framed(r) => r.read(buf),
            Salvaging::Plain(r) => r.read(buf),
        }
    }
}

/// Opens `r` as [`Salvaging`]; `name` is what a warning names.
pub fn salvaging_decoder<R: Read>(r: R, name: &str) -> io::Result<Salvaging<R>> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let head = r.fill_buf()?;
    let framed =
        head.len() >= 4 && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != ZSTD_MAGIC;
    if framed {
        Ok(Salvaging::Framed(SalvageReader::buffered(r, name)))
    } else {
        let dec = zstd::stream::read::Decoder::with_buffer(r)?;
        Ok(Salvaging::Plain(crate::cast::TolerantReader::new(dec)))
    }
}

/// Every damaged part of the cast at `path` (empty when it reads whole).
pub fn damaged_frames(path: &Path) -> io::Result<Vec<Damage>> {
    let file = std::fs::File::open(path)?;
    let mut r = SalvageReader::new(file, &path.display().to_string());
    r.announce = false;
    let damage = r.damage();
    io::copy(&mut r, &mut io::sink())?;
    let found = damage.lock().map(|d| d.clone()).unwrap_or_default();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cast::{CastReader, CastVersion, Event, Header};
    use crate::framed::{read_frame_index, FrameOptions, FramedCastWriter};

    /// A cast of 40 output events in frames of about 200 bytes.
    fn cast() -> Vec<u8> {
        let opts = FrameOptions {
            max_frame_bytes: 200,
            ..FrameOptions::default()
        };
        let mut w =
            FramedCastWriter::new(Vec::new(), &Header::new(CastVersion::V2, 80, 24), opts).unwrap();
        for i in 0..40u64 {
            w.write_event(&Event::Output {
                time_us: i * 1_000_000,
                data: format!("line {i:02} of the recording\r\n").into_bytes(),
            })
            .unwrap();
        }
        w.finish().unwrap()
    }

    fn read(bytes: Vec<u8>) -> (Vec<Event>, Vec<Damage>) {
        let r = SalvageReader::new(io::Cursor::new(bytes), "test");
        let damage = r.damage();
        let events = CastReader::new(BufReader::new(r))
            .unwrap()
            .collect::<crate::Result<Vec<_>>>()
            .unwrap();
        let d = damage.lock().unwrap().clone();
        (events, d)
    }

    fn lines(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Output { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
                Event::Marker { label, .. } => Some(label.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_intact_cast_reads_whole_and_a_cut_off_tail_is_no_damage() {
        let bytes = cast();
        let (events, damage) = read(bytes.clone());
        assert_eq!(events.len(), 40);
        assert!(damage.is_empty());
        let (events, damage) = read(bytes[..bytes.len() - 30].to_vec());
        assert!(events.len() < 40 && events.len() > 30);
        assert!(damage.is_empty(), "{damage:?}");
    }

    #[test]
    fn a_damaged_index_record_is_found_past_and_named() {
        let bytes = cast();
        let frames = read_frame_index(io::Cursor::new(&bytes)).unwrap();
        let f = frames[3];
        let mut bad = bytes.clone();
        let record = (f.offset - crate::framed::INDEX_FRAME_LEN as u64) as usize;
        bad[record..record + 8].fill(0);
        let (events, damage) = read(bad);
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert_eq!(damage[0].frame, None);
        assert_eq!(damage[0].offset, record as u64);
        let text = lines(&events);
        let lost = f.event_count as usize;
        assert_eq!(text.len(), 40 - lost + 1, "{text:?}");
        assert!(text
            .iter()
            .any(|l| l.starts_with("sshlog: damaged recording")));
        assert!(text.last().unwrap().starts_with("line 39"));
        // Times after the damage are unchanged.
        let last = events.last().unwrap();
        assert_eq!(last.time_us(), 39_000_000);
    }

    #[test]
    fn a_record_claiming_a_huge_frame_is_damage_not_an_allocation() {
        let bytes = cast();
        let frames = read_frame_index(io::Cursor::new(&bytes)).unwrap();
        let f = frames[2];
        let mut bad = bytes.clone();
        // The uncompressed length field (payload offset 24, after 8 bytes of header).
        let record = (f.offset - crate::framed::INDEX_FRAME_LEN as u64) as usize;
        bad[record + 8 + 24..record + 8 + 32].copy_from_slice(&(1u64 << 55).to_le_bytes());
        let (events, damage) = read(bad);
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert_eq!(damage[0].frame, Some(f.index));
        assert!(lines(&events).last().unwrap().starts_with("line 39"));
    }
}
