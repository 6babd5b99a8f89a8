//! [`CastReader`]: reads asciicast v1, v2 and v3 into [`Event`]s.

use std::collections::VecDeque;
use std::io::BufRead;

use serde_json::Value;

use super::event::{parse_time, Event};
use super::header::{CastVersion, Header};
use super::utf8::{decode_companion, INPUT_BYTES_CODE, OUTPUT_BYTES_CODE};
use crate::error::{FormatError, Result};

/// Iterates over the events of a cast.
///
/// A final line that lacks its newline and does not parse (a recording cut
/// short by a crash or a truncated zstd frame) ends the iteration cleanly;
/// [`truncated`](Self::truncated) then returns true. Any other malformed line
/// yields an error carrying its line number, after which the iterator ends.
#[derive(Debug)]
pub struct CastReader<R: BufRead> {
    r: R,
    header: Header,
    line_no: u64,
    last_time_us: u64,
    /// v1 events, converted up front.
    v1: Option<VecDeque<Event>>,
    /// An output/input event that may be followed by its companion.
    pending: Option<Event>,
    /// Error to report once `pending` has been handed out.
    deferred: Option<FormatError>,
    done: bool,
    truncated: bool,
    buf: Vec<u8>,
}

enum Line {
    Skip,
    Eof,
    Event(Event),
}

impl<R: BufRead> CastReader<R> {
    /// Read the header (for v1: the whole document) and return the reader.
    pub fn new(mut r: R) -> Result<Self> {
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                return Err(FormatError::Empty);
            }
            line_no += 1;
            if !buf.trim_ascii().is_empty() {
                break;
            }
        }
        let first_line = line_no;
        let value: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) if e.is_eof() => {
                // Multi-line JSON document: asciicast v1.
                r.read_to_end(&mut buf)?;
                serde_json::from_slice(&buf).map_err(|source| FormatError::Json {
                    line: first_line,
                    source,
                })?
            }
            Err(source) => {
                return Err(FormatError::Json {
                    line: first_line,
                    source,
                })
            }
        };
        let mut value = value;
        let stdout = match &mut value {
            Value::Object(m) if m.get("version").and_then(Value::as_u64) == Some(1) => {
                Some(m.shift_remove("stdout").unwrap_or(Value::Array(Vec::new())))
            }
            _ => None,
        };
        let header = Header::from_json(value).map_err(|msg| {
            if msg.starts_with("unsupported version") {
                FormatError::UnsupportedVersion(msg["unsupported version ".len()..].to_owned())
            } else {
                FormatError::Header(msg)
            }
        })?;
        let v1 = match stdout {
            Some(s) => Some(v1_events(s, first_line)?),
            None => None,
        };
        Ok(CastReader {
            r,
            header,
            line_no,
            last_time_us: 0,
            v1,
            pending: None,
            deferred: None,
            done: false,
            truncated: false,
            buf,
        })
    }

    /// Continue reading event lines from `r` (positioned at a line boundary
    /// after the header) with an already known header. `base_time_us` is the
    /// absolute time of the event preceding the first line (needed for v3,
    /// whose lines store intervals). Line numbers restart at 1.
    pub fn with_header(r: R, header: Header, base_time_us: u64) -> Self {
        CastReader {
            r,
            header,
            line_no: 0,
            last_time_us: base_time_us,
            v1: None,
            pending: None,
            deferred: None,
            done: false,
            truncated: false,
            buf: Vec::new(),
        }
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// True when reading stopped at an incomplete final line.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Number of lines consumed so far.
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.r
    }

    fn read_line(&mut self) -> Result<Line> {
        self.buf.clear();
        if self.r.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(Line::Eof);
        }
        self.line_no += 1;
        let complete = self.buf.last() == Some(&b'\n');
        let line = self.buf.trim_ascii();
        if line.is_empty() || (self.header.version == CastVersion::V3 && line[0] == b'#') {
            return Ok(Line::Skip);
        }
        let parsed: Result<Value> =
            serde_json::from_slice(line).map_err(|source| FormatError::Json {
                line: self.line_no,
                source,
            });
        let parsed = parsed.and_then(|v| self.decode_line(v));
        match parsed {
            Ok(ev) => Ok(Line::Event(ev)),
            Err(_) if !complete => {
                self.truncated = true;
                Ok(Line::Eof)
            }
            Err(e) => Err(e),
        }
    }

    fn invalid(&self, message: impl Into<String>) -> FormatError {
        FormatError::Invalid {
            line: self.line_no,
            message: message.into(),
        }
    }

    fn decode_line(&mut self, v: Value) -> Result<Event> {
        let Value::Array(mut a) = v else {
            return Err(self.invalid("event is not a JSON array"));
        };
        if a.len() < 3 {
            return Err(self.invalid("event array has fewer than 3 elements"));
        }
        let data = a.swap_remove(2);
        let Value::String(code) = a.swap_remove(1) else {
            return Err(self.invalid("event code is not a string"));
        };
        let Some(stamp) = parse_time(&a[0]) else {
            return Err(self.invalid("event time is not a non-negative number"));
        };
        let time_us = match self.header.version {
            CastVersion::V3 => self.last_time_us.saturating_add(stamp),
            _ => stamp,
        };
        self.last_time_us = time_us;
        Ok(decode_event(time_us, code, data))
    }

    /// Attach a companion event to `pending` if it belongs there.
    fn merge_companion(&mut self, ev: Event) -> Option<Event> {
        let Event::Other {
            code,
            data: Value::String(payload),
            ..
        } = &ev
        else {
            return Some(ev);
        };
        let target = match (&mut self.pending, code.as_str()) {
            (Some(Event::Output { data, .. }), OUTPUT_BYTES_CODE) => data,
            (Some(Event::Input { data, .. }), INPUT_BYTES_CODE) => data,
            _ => return Some(ev),
        };
        match decode_companion(payload, target) {
            Some(bytes) => {
                *target = bytes;
                None
            }
            None => Some(ev),
        }
    }
}

fn needs_companion_check(ev: &Event) -> bool {
    match ev {
        Event::Output { data, .. } | Event::Input { data, .. } => {
            // U+FFFD encoded as UTF-8.
            data.windows(3).any(|w| w == [0xEF, 0xBF, 0xBD])
        }
        _ => false,
    }
}

fn decode_event(time_us: u64, code: String, data: Value) -> Event {
    match (code.as_str(), data) {
        ("o", Value::String(s)) => Event::Output {
            time_us,
            data: s.into_bytes(),
        },
        ("i", Value::String(s)) => Event::Input {
            time_us,
            data: s.into_bytes(),
        },
        ("r", Value::String(s)) => match parse_size(&s) {
            Some((cols, rows)) => Event::Resize {
                time_us,
                cols,
                rows,
            },
            None => Event::Other {
                time_us,
                code,
                data: Value::String(s),
            },
        },
        ("m", Value::String(label)) => Event::Marker { time_us, label },
        ("x", data) => {
            let status = match &data {
                Value::String(s) => s.trim().parse::<i32>().ok(),
                Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
                _ => None,
            };
            match status {
                Some(status) => Event::Exit { time_us, status },
                None => Event::Other {
                    time_us,
                    code,
                    data,
                },
            }
        }
        (_, data) => Event::Other {
            time_us,
            code,
            data,
        },
    }
}

fn parse_size(s: &str) -> Option<(u16, u16)> {
    let (c, r) = s.split_once('x')?;
    Some((c.trim().parse().ok()?, r.trim().parse().ok()?))
}

fn v1_events(stdout: Value, line: u64) -> Result<VecDeque<Event>> {
    let bad = |m: &str| FormatError::Invalid {
        line,
        message: format!("asciicast v1 \"stdout\": {m}"),
    };
    let Value::Array(frames) = stdout else {
        return Err(bad("not an array"));
    };
    let mut t = 0u64;
    let mut out = VecDeque::with_capacity(frames.len());
    for f in frames {
        let Value::Array(f) = f else {
            return Err(bad("entry is not an array"));
        };
        let (Some(delay), Some(Value::String(text))) = (f.first().and_then(parse_time), f.get(1))
        else {
            return Err(bad("entry is not [delay, text]"));
        };
        t = t.saturating_add(delay);
        out.push_back(Event::Output {
            time_us: t,
            data: text.clone().into_bytes(),
        });
    }
    Ok(out)
}

impl<R: BufRead> Iterator for CastReader<R> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(v1) = &mut self.v1 {
            return v1.pop_front().map(Ok);
        }
        loop {
            if self.done {
                if let Some(p) = self.pending.take() {
                    return Some(Ok(p));
                }
                return self.deferred.take().map(Err);
            }
            match self.read_line() {
                Ok(Line::Skip) => continue,
                Ok(Line::Eof) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.deferred = Some(e);
                }
                Ok(Line::Event(ev)) => {
                    let Some(ev) = self.merge_companion(ev) else {
                        continue;
                    };
                    if needs_companion_check(&ev) {
                        if let Some(prev) = self.pending.replace(ev) {
                            return Some(Ok(prev));
                        }
                        continue;
                    }
                    if let Some(prev) = self.pending.take() {
                        self.pending = Some(ev);
                        return Some(Ok(prev));
                    }
                    return Some(Ok(ev));
                }
            }
        }
    }
}
