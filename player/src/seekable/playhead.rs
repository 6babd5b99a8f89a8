//! [`Playhead`]: a position in a seekable cast's event stream, for playback.

use super::*;

/// A position in a recording's event stream, for playback.
pub struct Playhead {
    pub(super) chunk: usize,
    pub(super) events: Events,
    pub(super) idx: usize,
}

impl Playhead {
    /// At the first event.
    pub fn start(rec: &SeekableCast) -> Result<Playhead> {
        Ok(Playhead {
            chunk: 0,
            events: rec.chunk_events(0)?,
            idx: 0,
        })
    }

    /// Past the last event.
    pub(super) fn at_end(rec: &SeekableCast) -> Playhead {
        Playhead {
            chunk: rec.chunk_count(),
            events: Rc::default(),
            idx: 0,
        }
    }

    /// The next event, decoding the next frame when needed.
    pub fn peek(&mut self, rec: &SeekableCast) -> Result<Option<&Event>> {
        while self.idx >= self.events.len() {
            if self.chunk + 1 >= rec.chunk_count() {
                return Ok(None);
            }
            self.chunk += 1;
            self.events = rec.chunk_events(self.chunk)?;
            self.idx = 0;
        }
        Ok(self.events.get(self.idx))
    }

    /// Moves past the event returned by [`peek`](Self::peek).
    pub fn advance(&mut self) {
        self.idx += 1;
    }
}
