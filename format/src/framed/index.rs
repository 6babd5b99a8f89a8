//! The per-frame index record (a zstd skippable frame in front of every data
//! frame) and [`read_frame_index`], which hops through them with seeks.
//!
//! Skippable frame layout (all integers little endian):
//!
//! | offset | size | field                                              |
//! |-------:|-----:|----------------------------------------------------|
//! | 0      | 4    | zstd skippable magic `0x184D2A50`                  |
//! | 4      | 4    | payload size (56)                                  |
//! | 8      | 4    | tag `b"SLIX"`                                      |
//! | 12     | 2    | record version (1)                                 |
//! | 14     | 2    | flags, see below                                   |
//! | 16     | 8    | frame number (0 = header frame)                    |
//! | 24     | 8    | compressed length of the following data frame      |
//! | 32     | 8    | uncompressed length of that frame                  |
//! | 40     | 8    | first event time (µs)                              |
//! | 48     | 8    | last event time (µs)                               |
//! | 56     | 4    | number of events in the frame                      |
//! | 60     | 2    | terminal width at the start of the frame (cols)    |
//! | 62     | 2    | terminal height at the start of the frame (rows)   |
//!
//! Flags: bit 0 ([`FLAG_HEADER`]) the frame starts with the header line;
//! bit 1 ([`FLAG_ALT_SCREEN`]) the alternate screen is active at the start
//! of the frame; bit 2 ([`FLAG_STATE`]) the start state (bytes 60..64 and
//! bit 1) is meaningful. Records written before the start state existed
//! have bytes 60..64 and bits 1..2 zero, so they read as "no state"
//! ([`FrameInfo::start_state`] is `None`); the record version stays 1.

use std::io::{Read, Seek, SeekFrom};

use crate::cast::ZSTD_MAGIC;
use crate::error::{FormatError, Result};

/// Magic number of the skippable frames carrying index records.
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// Tag at the start of an index record payload.
pub const INDEX_TAG: [u8; 4] = *b"SLIX";
/// Version of the index record layout.
pub const INDEX_RECORD_VERSION: u16 = 1;
/// Payload size of an index record.
pub const INDEX_PAYLOAD_LEN: usize = 56;
/// Total size of the skippable frame holding an index record.
pub const INDEX_FRAME_LEN: usize = 8 + INDEX_PAYLOAD_LEN;
/// Flag: the data frame starts with the header line.
pub const FLAG_HEADER: u16 = 1;
/// Flag: the alternate screen is active at the start of the frame
/// (meaningful only with [`FLAG_STATE`]).
pub const FLAG_ALT_SCREEN: u16 = 2;
/// Flag: the record carries the terminal state at the start of the frame
/// (size and [`FLAG_ALT_SCREEN`]).
pub const FLAG_STATE: u16 = 4;

/// The terminal state at the start of a frame, as the writer tracked it:
/// the size from the header and the resize events before the frame, and
/// whether the alternate screen is active.
///
/// The size is exact. `alt_screen` is a hint: the writer recognises only the
/// plain forms of the switches (`ESC[?1049h`/`l`, `ESC[?1047h`/`l`,
/// `ESC[?47h`/`l`, and `ESC c`, which leaves it), so a program using
/// combined parameters (`ESC[?1049;25h`) is not seen. Readers that can check
/// it against a terminal emulator should.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameState {
    /// Terminal width.
    pub cols: u16,
    /// Terminal height.
    pub rows: u16,
    /// The alternate screen is active.
    pub alt_screen: bool,
}

/// What the index says about one data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// File offset of the zstd data frame (just after its index record).
    pub offset: u64,
    /// Size of the data frame on disk.
    pub compressed_len: u64,
    /// Time of the first event in the frame (µs); for a frame without events
    /// the time of the last event before it.
    pub first_time_us: u64,
    /// Time of the last event in the frame (µs), same rule.
    pub last_time_us: u64,
    /// Decompressed size of the frame.
    pub uncompressed_len: u64,
    /// Frame number, 0 for the header frame.
    pub index: u64,
    /// Number of events (companion lines not counted) in the frame.
    pub event_count: u32,
    /// Record flags ([`FLAG_HEADER`], [`FLAG_ALT_SCREEN`], [`FLAG_STATE`]) as
    /// read. When encoding, bits 1 and 2 come from `start_state` instead.
    pub flags: u16,
    /// The terminal state at the start of the frame; `None` for records
    /// without it (written by older versions).
    pub start_state: Option<FrameState>,
}

impl FrameInfo {
    /// Encode as a complete skippable frame.
    pub fn to_skippable_frame(&self) -> [u8; INDEX_FRAME_LEN] {
        let mut b = [0u8; INDEX_FRAME_LEN];
        b[0..4].copy_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&(INDEX_PAYLOAD_LEN as u32).to_le_bytes());
        b[8..12].copy_from_slice(&INDEX_TAG);
        b[12..14].copy_from_slice(&INDEX_RECORD_VERSION.to_le_bytes());
        let mut flags = self.flags & !(FLAG_ALT_SCREEN | FLAG_STATE);
        if let Some(st) = self.start_state {
            flags |= FLAG_STATE;
            if st.alt_screen {
                flags |= FLAG_ALT_SCREEN;
            }
            b[60..62].copy_from_slice(&st.cols.to_le_bytes());
            b[62..64].copy_from_slice(&st.rows.to_le_bytes());
        }
        b[14..16].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.index.to_le_bytes());
        b[24..32].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[32..40].copy_from_slice(&self.uncompressed_len.to_le_bytes());
        b[40..48].copy_from_slice(&self.first_time_us.to_le_bytes());
        b[48..56].copy_from_slice(&self.last_time_us.to_le_bytes());
        b[56..60].copy_from_slice(&self.event_count.to_le_bytes());
        b
    }

    /// Decode a record payload (without the 8-byte skippable frame header);
    /// `offset` is where the data frame starts. `None` if it is not ours.
    pub fn from_payload(p: &[u8], offset: u64) -> Option<FrameInfo> {
        if p.len() < INDEX_PAYLOAD_LEN || p[0..4] != INDEX_TAG {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([p[i], p[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&p[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if u16_at(4) != INDEX_RECORD_VERSION {
            return None;
        }
        let flags = u16_at(6);
        let start_state = (flags & FLAG_STATE != 0).then(|| FrameState {
            cols: u16_at(52),
            rows: u16_at(54),
            alt_screen: flags & FLAG_ALT_SCREEN != 0,
        });
        Some(FrameInfo {
            offset,
            flags,
            start_state,
            index: u64_at(8),
            compressed_len: u64_at(16),
            uncompressed_len: u64_at(24),
            first_time_us: u64_at(32),
            last_time_us: u64_at(40),
            event_count: u32_at(48),
        })
    }
}

/// A frame index as a file of its own: per frame, its data offset (u64 LE)
/// then its index record's payload. The fleet store keeps one beside each
/// cast, so a player reads it in one request instead of visiting every
/// frame.
pub fn encode_frame_list(frames: &[FrameInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len() * (8 + INDEX_PAYLOAD_LEN));
    for f in frames {
        out.extend_from_slice(&f.offset.to_le_bytes());
        out.extend_from_slice(&f.to_skippable_frame()[8..]);
    }
    out
}

/// The frames of an [`encode_frame_list`] file.
pub fn decode_frame_list(bytes: &[u8]) -> Result<Vec<FrameInfo>> {
    const LEN: usize = 8 + INDEX_PAYLOAD_LEN;
    if !bytes.len().is_multiple_of(LEN) {
        return Err(FormatError::Framing(format!(
            "a frame list of {} bytes is not a multiple of {LEN}",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(LEN)
        .enumerate()
        .map(|(i, c)| {
            let mut off = [0u8; 8];
            off.copy_from_slice(&c[..8]);
            FrameInfo::from_payload(&c[8..], u64::from_le_bytes(off))
                .ok_or_else(|| FormatError::Framing(format!("frame list record {i} is not valid")))
        })
        .collect()
}

/// Read the frame index of a `.cast.zst` by seeking from record to record,
/// never decompressing. A truncated trailing frame (or record) is ignored.
/// Fails with [`FormatError::Framing`] when a data frame has no index record
/// (e.g. a file compressed with the `zstd` tool).
pub fn read_frame_index<R: Read + Seek>(mut r: R) -> Result<Vec<FrameInfo>> {
    let end = r.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    let mut frames = Vec::new();
    let mut head = [0u8; 8];
    while pos.saturating_add(8) <= end {
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(&mut head)?;
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        if magic & 0xFFFF_FFF0 != SKIPPABLE_MAGIC {
            let what = if magic == ZSTD_MAGIC {
                "zstd data frame without index record"
            } else {
                "not a zstd frame"
            };
            return Err(FormatError::Framing(format!("{what} at offset {pos}")));
        }
        let data_off = pos + 8 + size;
        if data_off > end {
            break; // truncated record
        }
        let mut payload = [0u8; INDEX_PAYLOAD_LEN];
        let info = if magic == SKIPPABLE_MAGIC && size >= INDEX_PAYLOAD_LEN as u64 {
            r.read_exact(&mut payload)?;
            FrameInfo::from_payload(&payload, data_off)
        } else {
            None
        };
        let Some(info) = info else {
            pos = data_off; // someone else's skippable frame
            continue;
        };
        let Some(frame_end) = data_off.checked_add(info.compressed_len) else {
            return Err(FormatError::Framing(format!(
                "impossible frame length at offset {pos}"
            )));
        };
        if frame_end > end {
            break; // truncated data frame
        }
        r.seek(SeekFrom::Start(data_off))?;
        r.read_exact(&mut head[..4])?;
        if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != ZSTD_MAGIC {
            return Err(FormatError::Framing(format!(
                "index record at offset {pos} is not followed by a zstd frame"
            )));
        }
        frames.push(info);
        pos = frame_end;
    }
    Ok(frames)
}
