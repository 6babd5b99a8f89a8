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
use crate::cast::{format_time, ZSTD_MAGIC};
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

/// `m:ss.s` (or `h:mm:ss.s`) of a recording time.
fn clock(us: u64) -> String {
    let tenths = us / 100_000;
    let (h, m, s, t) = (
        tenths / 36_000,
        tenths / 600 % 60,
        tenths / 10 % 60,
        tenths % 10,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{t}")
    } else {
        format!("{m}:{s:02}.{t}")
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
    done: bool,
    damage: Arc<Mutex<Vec<Damage>>>,
}

impl<R: Read + Send + 'static> SalvageReader<R> {
    /// `name` (the file) is what the reporter is told.
    pub fn new(r: R, name: &str) -> Self {
        SalvageReader {
            r: BufReader::with_capacity(1 << 16, r),
            name: name.to_string(),
            out: Vec::new(),
            pos: 0,
            offset: 0,
            last_us: 0,
            header_done: false,
            v3: false,
            lost: None,
            announce: true,
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
                    self.flush_lost(None);
                    return Ok(false); // cut off
                }
                self.resync(start)?;
                continue;
            };
            self.flush_lost(Some(info.first_time_us));
            let data = self.take(info.compressed_len)?;
            if (data.len() as u64) < info.compressed_len {
                return Ok(false); // cut off: still being written
            }
            let decoded = zstd::bulk::decompress(&data, info.uncompressed_len as usize)
                .ok()
                .filter(|d| d.len() as u64 == info.uncompressed_len);
            let header_frame = info.flags & FLAG_HEADER != 0 || info.index == 0;
            self.out.clear();
            match decoded {
                Some(d) => {
                    if header_frame && !self.header_done {
                        self.v3 = d.starts_with(b"{") && first_line_is_v3(&d);
                    }
                    self.out = d;
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
        let label = format!(
            "sshlog: damaged recording, {}–{} lost",
            clock(d.from_us),
            d.to_us.map(clock).unwrap_or_else(|| "end".into())
        );
        self.out.extend_from_slice(
            format!(
                "[{},\"m\",{}]\n",
                format_time(stamp),
                serde_json::Value::String(label)
            )
            .as_bytes(),
        );
        if self.v3 {
            self.last_us = at;
        }
    }

    fn report(&self, d: Damage) {
        if let Some(f) = REPORTER.get().filter(|_| self.announce) {
            f(&self.name, &d);
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

impl<R: Read + Send + 'static> Read for SalvageReader<R> {
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

/// A reader of the decoded text of a zstd cast: frame by frame with
/// [`SalvageReader`] when it is framed (starts with an index record), one
/// stream otherwise (compressed by the `zstd` tool: nothing to salvage by).
pub fn salvaging_decoder<R: Read + Send + 'static>(
    r: R,
    name: &str,
) -> io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let head = r.fill_buf()?;
    let framed =
        head.len() >= 4 && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != ZSTD_MAGIC;
    if framed {
        Ok(Box::new(SalvageReader::new(r, name)))
    } else {
        let dec = zstd::stream::read::Decoder::with_buffer(r)?;
        Ok(Box::new(crate::cast::TolerantReader::new(dec)))
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
