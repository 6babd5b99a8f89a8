//! [`CastWriter`]: writes asciicast v2 or v3 lines, byte-exact for
//! non-UTF-8 output (see `docs/formats.md`).

use std::io::Write;

use serde_json::Value;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::escape::push_json_str;
use super::event::Event;
use super::header::{CastVersion, Header};
use super::utf8::{incomplete_suffix_len, INPUT_BYTES_CODE, OUTPUT_BYTES_CODE};
use crate::error::Result;

/// Streams a cast: the header line on construction, then one line per event
/// (two for chunks that are not valid UTF-8).
#[derive(Debug)]
pub struct CastWriter<W: Write> {
    w: W,
    version: CastVersion,
    last_time_us: u64,
    held_output: Vec<u8>,
    held_input: Vec<u8>,
    line: Vec<u8>,
}

impl<W: Write> CastWriter<W> {
    /// Write the header line and return the writer. `V1` headers are written
    /// as v2.
    pub fn new(mut w: W, header: &Header) -> Result<Self> {
        let mut line = header.to_json_line();
        line.push('\n');
        w.write_all(line.as_bytes())?;
        Ok(CastWriter {
            w,
            version: header.version,
            last_time_us: 0,
            held_output: Vec::new(),
            held_input: Vec::new(),
            line: Vec::new(),
        })
    }

    /// Append one event. For v3 (intervals) an event older than the previous
    /// one is written with interval 0, i.e. at the previous event's time.
    ///
    /// An incomplete UTF-8 sequence at the end of an output/input chunk is
    /// held back and prepended to the next chunk of the same stream.
    pub fn write_event(&mut self, event: &Event) -> Result<()> {
        self.line.clear();
        let t = event.time_us();
        match event {
            Event::Output { data, .. } => self.push_text(t, Stream::Output, data),
            Event::Input { data, .. } => self.push_text(t, Stream::Input, data),
            Event::Resize { cols, rows, .. } => {
                self.push_line(t, "r", &Value::String(format!("{cols}x{rows}")));
            }
            Event::Marker { label, .. } => self.push_line(t, "m", &Value::String(label.clone())),
            Event::Exit { status, .. } => {
                self.push_line(t, "x", &Value::String(status.to_string()))
            }
            Event::Other { code, data, .. } => self.push_line(t, code, data),
        }
        self.w.write_all(&self.line)?;
        Ok(())
    }

    /// Emit held-back partial characters (as events at the last event time).
    /// Called by [`finish`](Self::finish); harmless to call more than once.
    pub fn flush_held(&mut self) -> Result<()> {
        self.line.clear();
        let t = self.last_time_us;
        for stream in [Stream::Output, Stream::Input] {
            let bytes = std::mem::take(self.held(stream));
            if !bytes.is_empty() {
                self.push_encoded(t, stream, &bytes);
            }
        }
        self.w.write_all(&self.line)?;
        Ok(())
    }

    /// Time (µs) of the last written event, after v3 clamping.
    pub fn last_time_us(&self) -> u64 {
        self.last_time_us
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The underlying writer, mutably (writing to it directly corrupts the
    /// cast unless done at a line boundary).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    /// Flush held-back bytes and the writer, and return it.
    pub fn finish(mut self) -> Result<W> {
        self.flush_held()?;
        self.w.flush()?;
        Ok(self.w)
    }

    fn held(&mut self, stream: Stream) -> &mut Vec<u8> {
        match stream {
            Stream::Output => &mut self.held_output,
            Stream::Input => &mut self.held_input,
        }
    }

    /// Writes `data` after the bytes held from the previous chunk, holding
    /// back an incomplete character at its end.
    fn push_text(&mut self, t: u64, stream: Stream, data: &[u8]) {
        let mut held = std::mem::take(self.held(stream));
        let bytes = if held.is_empty() {
            data
        } else {
            held.extend_from_slice(data);
            &held
        };
        let keep = bytes.len() - incomplete_suffix_len(bytes);
        let (now, later) = bytes.split_at(keep);
        if !later.is_empty() {
            *self.held(stream) = later.to_vec();
        }
        self.push_encoded(t, stream, now);
    }

    /// The text event and, when `bytes` is not UTF-8, its companion.
    fn push_encoded(&mut self, t: u64, stream: Stream, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.push_text_line(t, stream.code(), text),
            Err(_) => {
                self.push_text_line(t, stream.code(), &String::from_utf8_lossy(bytes));
                let t = self.last_time_us;
                self.push_text_line(t, stream.companion(), &STANDARD.encode(bytes));
            }
        }
    }

    /// The time field of the next line (v3: the interval since the last).
    fn stamp(&mut self, t: u64) -> u64 {
        match self.version {
            CastVersion::V3 => {
                let t = t.max(self.last_time_us);
                let interval = t - self.last_time_us;
                self.last_time_us = t;
                interval
            }
            CastVersion::V1 | CastVersion::V2 => {
                self.last_time_us = t;
                t
            }
        }
    }

    /// `[time, "code", ` then the data and `]\n` by the caller.
    fn open_line(&mut self, t: u64, code: &str) {
        let stamp = self.stamp(t);
        // Writing to a Vec cannot fail.
        let _ = write!(
            self.line,
            "[{}.{:06},",
            stamp / 1_000_000,
            stamp % 1_000_000
        );
        push_json_str(&mut self.line, code);
        self.line.push(b',');
    }

    fn push_text_line(&mut self, t: u64, code: &str, text: &str) {
        self.open_line(t, code);
        push_json_str(&mut self.line, text);
        self.line.extend_from_slice(b"]\n");
    }

    fn push_line(&mut self, t: u64, code: &str, data: &Value) {
        self.open_line(t, code);
        // Serialising a Value to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.line, data);
        self.line.extend_from_slice(b"]\n");
    }
}

/// The two text streams of a cast and their event codes.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Output,
    Input,
}

impl Stream {
    fn code(self) -> &'static str {
        match self {
            Stream::Output => "o",
            Stream::Input => "i",
        }
    }

    /// The code of the companion event holding the exact bytes.
    fn companion(self) -> &'static str {
        match self {
            Stream::Output => OUTPUT_BYTES_CODE,
            Stream::Input => INPUT_BYTES_CODE,
        }
    }
}
