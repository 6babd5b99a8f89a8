//! Where the screen stops depending on earlier output (sync points), found in
//! frames' raw JSON text without parsing them, and frame decompression.

use super::*;

/// Screen switches as they appear in JSON text (serde_json escapes ESC as
/// `\u001b`).
pub(super) const RAW_SWITCHES: &[(&[u8], Seq)] = &[
    (br"\u001b[?1049h", Seq::EnterAlt),
    (br"\u001b[?47h", Seq::EnterAlt),
    (br"\u001b[?1047h", Seq::EnterAlt),
    (br"\u001b[?1049l", Seq::LeaveAlt),
    (br"\u001b[?1047l", Seq::LeaveAlt),
    (br"\u001b[?47l", Seq::LeaveAlt),
    (br"\u001bc", Seq::Reset),
];

/// A frame's [`Summary`] from its raw lines, or `None` when they are not in
/// the compact form sshlog writes (then the frame is parsed).
pub(super) fn summarise(text: &[u8]) -> Option<Summary> {
    let switch = RAW_SWITCHES
        .iter()
        .filter_map(|&(needle, kind)| memchr::memmem::rfind(text, needle).map(|at| (at, kind)))
        .max_by_key(|&(at, _)| at)
        .map(|(_, kind)| kind);
    let resize = match memchr::memmem::rfind(text, b",\"r\",\"") {
        None if memchr::memmem::find(text, b"\"r\"").is_some() => return None,
        None => None,
        Some(at) => {
            // `,"r","COLSxROWS"]`
            let rest = &text[at + 6..];
            let end = memchr::memchr(b'"', rest)?;
            let (cols, rows) = std::str::from_utf8(&rest[..end]).ok()?.split_once('x')?;
            Some((rows.parse().ok()?, cols.parse().ok()?))
        }
    };
    Some(Summary { resize, switch })
}

/// A frame's [`Summary`] from its events.
pub(super) fn summarise_events(events: &[Event]) -> Summary {
    let mut s = Summary::default();
    for ev in events {
        match ev {
            Event::Resize { cols, rows, .. } => s.resize = Some((*rows, *cols)),
            Event::Output { data, .. } => {
                let last = sync_sequences(data)
                    .into_iter()
                    .rev()
                    .find(|(_, k)| *k != Seq::Clear);
                if let Some((_, k)) = last {
                    s.switch = Some(k);
                }
            }
            _ => {}
        }
    }
    s
}
/// Raw text of a marker event line.
pub(super) const MARKER_NEEDLES: &[&[u8]] = &[b",\"m\",", b", \"m\", "];

/// Frames claiming to be larger than this are decompressed as a stream
/// instead of into a buffer of the claimed size.
pub(super) const MAX_FRAME_BUFFER: u64 = 256 << 20;

/// Reads and decompresses one frame.
pub(super) fn decompress(
    file: &dyn ReadAt,
    f: &FrameInfo,
    zstd: &RefCell<zstd::bulk::Decompressor<'static>>,
) -> Result<Vec<u8>> {
    let len = usize::try_from(f.compressed_len).map_err(|_| anyhow!("frame too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, f.offset)
        .map_err(|e| anyhow!("cannot read: {}", io_message(&e)))?;
    if f.uncompressed_len <= MAX_FRAME_BUFFER {
        // The index gives the exact size; a wrong one falls back below.
        let capacity = f.uncompressed_len as usize;
        if let Ok(text) = zstd.borrow_mut().decompress(&buf, capacity) {
            return Ok(text);
        }
    }
    zstd::stream::decode_all(&buf[..]).map_err(|e| anyhow!("damaged frame: {e}"))
}

/// A sequence that matters to the sync point search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seq {
    /// `ESC c`.
    Reset,
    /// Cursor home next to erase display.
    Clear,
    /// Switch to the alternate screen.
    EnterAlt,
    /// Back to the main screen.
    LeaveAlt,
}

pub(super) const SEQUENCES: &[(&[u8], Seq)] = &[
    (b"\x1bc", Seq::Reset),
    (b"\x1b[?1049h", Seq::EnterAlt),
    (b"\x1b[?47h", Seq::EnterAlt),
    (b"\x1b[?1047h", Seq::EnterAlt),
    (b"\x1b[?1049l", Seq::LeaveAlt),
    (b"\x1b[?1047l", Seq::LeaveAlt),
    (b"\x1b[?47l", Seq::LeaveAlt),
    (b"\x1b[H\x1b[2J", Seq::Clear),
    (b"\x1b[1;1H\x1b[2J", Seq::Clear),
    (b"\x1b[H\x1b[J", Seq::Clear),
    (b"\x1b[H\x1b[0J", Seq::Clear),
    (b"\x1b[1;1H\x1b[J", Seq::Clear),
    (b"\x1b[2J\x1b[H", Seq::Clear),
    (b"\x1b[2J\x1b[1;1H", Seq::Clear),
];

/// The sync-relevant sequences in `buf`, in order, with their offsets.
pub(super) fn sync_sequences(buf: &[u8]) -> Vec<(usize, Seq)> {
    memchr::memchr_iter(0x1b, buf)
        .filter_map(|at| {
            SEQUENCES
                .iter()
                .find(|(s, _)| buf[at..].starts_with(s))
                .map(|&(_, kind)| (at, kind))
        })
        .collect()
}

/// The latest sync point among a frame's sequences `found` (in order),
/// given whether the alternate screen is active at the frame's start: the
/// last reset or clear on the main screen.
pub(super) fn latest_main_screen_sync(mut alt: bool, found: &[(usize, Seq)]) -> Option<usize> {
    let mut best = None;
    for &(at, kind) in found {
        match kind {
            Seq::Clear if !alt => best = Some(at),
            Seq::Clear => {}
            Seq::Reset => {
                best = Some(at);
                alt = false;
            }
            Seq::EnterAlt => alt = true,
            Seq::LeaveAlt => alt = false,
        }
    }
    best
}

/// The backwards search for a sync point: sequences are fed latest first.
#[derive(Debug, Default)]
pub(super) struct SyncScan {
    /// The latest clear since the last screen switch seen (that is, the
    /// nearest one before it in the file).
    pub(super) candidate: Option<Pos>,
}

impl SyncScan {
    /// Feeds the next sequence (going backwards); returns the sync point
    /// once it is known.
    pub(super) fn step(&mut self, kind: Seq, pos: Pos) -> Option<Pos> {
        match kind {
            Seq::Clear => {
                self.candidate.get_or_insert(pos);
                None
            }
            // What follows a switch back is on the main screen.
            Seq::LeaveAlt => self.candidate,
            // What follows it was on the alternate screen.
            Seq::EnterAlt => {
                self.candidate = None;
                None
            }
            Seq::Reset => Some(self.candidate.unwrap_or(pos)),
        }
    }
}
