//! [`StateTracker`]: the terminal size and alternate-screen state that
//! [`FramedCastWriter`](super::FramedCastWriter) writes into each index
//! record ([`FrameState`]).
//!
//! The size follows the header and every resize event. The alternate
//! screen is entered by `ESC[?1049h`, `ESC[?1047h` and `ESC[?47h`, left by
//! the same with `l`, and by a full reset `ESC c`. Only these exact forms are
//! recognised (not combined parameters such as `ESC[?1049;25h`). The output
//! is searched with `memchr` for ESC, and a sequence split across two output
//! events is recognised by carrying an unfinished one (at most 8 bytes) to
//! the next event. The state is therefore a hint for readers (see
//! [`FrameState`]).

use super::index::FrameState;
use crate::cast::Event;

/// The alternate-screen switches recognised, and whether each enters it.
const SWITCHES: [(&[u8], bool); 6] = [
    (b"\x1b[?1049h", true),
    (b"\x1b[?1049l", false),
    (b"\x1b[?1047h", true),
    (b"\x1b[?1047l", false),
    (b"\x1b[?47h", true),
    (b"\x1b[?47l", false),
];

/// Longest sequence recognised; a carried prefix is shorter.
const LONGEST: usize = 8;

/// What the bytes starting at an ESC are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seq {
    /// Enters (`true`) or leaves the alternate screen (`ESC c` leaves it).
    Switch(bool),
    /// Could still become a switch: the bytes end too early.
    Unfinished,
    /// Anything else.
    Other,
}

/// Classifies the bytes at an ESC (`s[0]` is ESC).
fn classify(s: &[u8]) -> Seq {
    match s.get(1) {
        None => return Seq::Unfinished,
        Some(b'c') => return Seq::Switch(false),
        Some(b'[') => {}
        Some(_) => return Seq::Other,
    }
    match s.get(2) {
        None => return Seq::Unfinished,
        Some(b'?') => {}
        Some(_) => return Seq::Other,
    }
    for (seq, enter) in SWITCHES {
        if s.starts_with(seq) {
            return Seq::Switch(enter);
        }
        if s.len() < seq.len() && seq.starts_with(s) {
            return Seq::Unfinished;
        }
    }
    Seq::Other
}

/// Tracks the terminal state through the events written.
#[derive(Debug, Clone)]
pub(crate) struct StateTracker {
    state: FrameState,
    /// An unfinished switch at the end of the last output event.
    carry: [u8; LONGEST],
    carry_len: usize,
}

impl StateTracker {
    /// Starts with the header's size, on the main screen.
    pub(crate) fn new(cols: u16, rows: u16) -> Self {
        StateTracker {
            state: FrameState {
                cols,
                rows,
                alt_screen: false,
            },
            carry: [0; LONGEST],
            carry_len: 0,
        }
    }

    /// The state after the events seen so far.
    pub(crate) fn state(&self) -> FrameState {
        self.state
    }

    /// Goes back to `state` (the events since were dropped).
    pub(crate) fn reset_to(&mut self, state: FrameState) {
        self.state = state;
        self.carry_len = 0;
    }

    /// Takes one event into account.
    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::Output { data, .. } => self.output(data),
            Event::Resize { cols, rows, .. } => {
                self.state.cols = *cols;
                self.state.rows = *rows;
            }
            _ => {}
        }
    }

    fn output(&mut self, data: &[u8]) {
        if self.carry_len > 0 {
            // Complete the unfinished sequence with the start of `data`.
            let mut joined = [0u8; 2 * LONGEST];
            let n = self.carry_len;
            let take = data.len().min(LONGEST);
            joined[..n].copy_from_slice(&self.carry[..n]);
            joined[n..n + take].copy_from_slice(&data[..take]);
            self.carry_len = 0;
            // An ESC in `data` ends the carried sequence; it is looked at
            // below on its own.
            let esc = memchr::memchr(0x1b, &data[..take]);
            let end = esc.map_or(n + take, |i| n + i);
            match classify(&joined[..end]) {
                Seq::Switch(enter) => self.state.alt_screen = enter,
                Seq::Unfinished if esc.is_none() && take == data.len() => {
                    self.carry[..end].copy_from_slice(&joined[..end]);
                    self.carry_len = end;
                    return; // `data` is all part of it (and holds no ESC)
                }
                _ => {}
            }
        }
        for at in memchr::memchr_iter(0x1b, data) {
            match classify(&data[at..]) {
                Seq::Switch(enter) => self.state.alt_screen = enter,
                Seq::Unfinished => {
                    let rest = &data[at..];
                    self.carry[..rest.len()].copy_from_slice(rest);
                    self.carry_len = rest.len();
                }
                Seq::Other => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(s: &[u8]) -> Event {
        Event::Output {
            time_us: 0,
            data: s.to_vec(),
        }
    }

    fn alt_after(chunks: &[&[u8]]) -> bool {
        let mut t = StateTracker::new(80, 24);
        for c in chunks {
            t.event(&out(c));
        }
        t.state().alt_screen
    }

    #[test]
    fn switches_are_recognised() {
        assert!(alt_after(&[b"a\x1b[?1049hb"]));
        assert!(alt_after(&[b"\x1b[?47h"]));
        assert!(alt_after(&[b"\x1b[?1047h\x1b[1m"]));
        assert!(!alt_after(&[b"\x1b[?1049h x \x1b[?1049l"]));
        assert!(!alt_after(&[b"\x1b[?1049h x \x1bc"]));
        assert!(!alt_after(&[b"\x1b[?1048h\x1b[?25h\x1b[?104"]));
        assert!(alt_after(&[b"\x1b[?47h\x1b[?104"]), "unfinished: no change");
    }

    #[test]
    fn split_sequences_are_recognised() {
        let seq: &[u8] = b"xy\x1b[?1049hz";
        for cut in 0..seq.len() {
            assert!(alt_after(&[&seq[..cut], &seq[cut..]]), "cut {cut}");
            for cut2 in cut..seq.len() {
                let parts = [&seq[..cut], &seq[cut..cut2], &seq[cut2..]];
                assert!(alt_after(&parts), "cuts {cut} {cut2}");
            }
        }
        // An ESC inside ends the carried sequence and is looked at itself.
        assert!(!alt_after(&[b"\x1b[?10", b"\x1b[?1049h", b"\x1b[?47l"]));
        assert!(alt_after(&[b"\x1b[?10", b"\x1b[?1049h"]));
        assert!(!alt_after(&[b"\x1b[?10", b"49x"]));
        assert!(alt_after(&[b"\x1b[?10", b"4\x1b[?1049h"]));
        assert!(alt_after(&[b"\x1b[?10", b"4", b"9", b"h"]));
    }

    #[test]
    fn resizes_are_followed() {
        let mut t = StateTracker::new(80, 24);
        t.event(&Event::Resize {
            time_us: 0,
            cols: 100,
            rows: 30,
        });
        assert_eq!(
            t.state(),
            FrameState {
                cols: 100,
                rows: 30,
                alt_screen: false
            }
        );
    }
}
