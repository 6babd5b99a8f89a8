//! [`CastWriter`]: writes asciicast v2 or v3 lines, byte-exact for
//! non-UTF-8 output (see `docs/formats.md`).

use std::io::Write;

use serde_json::Value;

use super::event::{format_time, Event};
use super::header::{CastVersion, Header};
use super::utf8::{encode_chunk, incomplete_suffix_len, INPUT_BYTES_CODE, OUTPUT_BYTES_CODE};
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
    line: String,
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
            line: String::new(),
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
            Event::Output { data, .. } => {
                let bytes = join_held(&mut self.held_output, data);
                self.push_text(t, "o", OUTPUT_BYTES_CODE, &bytes);
            }
            Event::Input { data, .. } => {
                let bytes = join_held(&mut self.held_input, data);
                self.push_text(t, "i", INPUT_BYTES_CODE, &bytes);
            }
            Event::Resize { cols, rows, .. } => {
                self.push_line(t, "r", &Value::String(format!("{cols}x{rows}")));
            }
            Event::Marker { label, .. } => self.push_line(t, "m", &Value::String(label.clone())),
            Event::Exit { status, .. } => {
                self.push_line(t, "x", &Value::String(status.to_string()))
            }
            Event::Other { code, data, .. } => self.push_line(t, code, data),
        }
        self.w.write_all(self.line.as_bytes())?;
        Ok(())
    }

    /// Emit held-back partial characters (as events at the last event time).
    /// Called by [`finish`](Self::finish); harmless to call more than once.
    pub fn flush_held(&mut self) -> Result<()> {
        self.line.clear();
        let t = self.last_time_us;
        if !self.held_output.is_empty() {
            let bytes = std::mem::take(&mut self.held_output);
            self.push_encoded(t, "o", OUTPUT_BYTES_CODE, &bytes);
        }
        if !self.held_input.is_empty() {
            let bytes = std::mem::take(&mut self.held_input);
            self.push_encoded(t, "i", INPUT_BYTES_CODE, &bytes);
        }
        self.w.write_all(self.line.as_bytes())?;
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

    fn push_text(&mut self, t: u64, code: &str, companion: &str, bytes: &[u8]) {
        let keep = bytes.len() - incomplete_suffix_len(bytes);
        let (now, later) = bytes.split_at(keep);
        let held = if code == "o" {
            &mut self.held_output
        } else {
            &mut self.held_input
        };
        held.extend_from_slice(later);
        self.push_encoded(t, code, companion, now);
    }

    fn push_encoded(&mut self, t: u64, code: &str, companion: &str, bytes: &[u8]) {
        let (text, b64) = encode_chunk(bytes);
        self.push_line(t, code, &Value::String(text));
        if let Some(b64) = b64 {
            let t = self.last_time_us;
            self.push_line(t, companion, &Value::String(b64));
        }
    }

    fn push_line(&mut self, t: u64, code: &str, data: &Value) {
        let stamp = match self.version {
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
        };
        self.line.push('[');
        self.line.push_str(&format_time(stamp));
        self.line.push(',');
        self.line
            .push_str(&Value::String(code.to_owned()).to_string());
        self.line.push(',');
        self.line.push_str(&data.to_string());
        self.line.push_str("]\n");
    }
}

fn join_held(held: &mut Vec<u8>, data: &[u8]) -> Vec<u8> {
    let mut bytes = std::mem::take(held);
    bytes.extend_from_slice(data);
    bytes
}
