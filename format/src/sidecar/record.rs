//! [`Record`]: one line of a `.events.jsonl` sidecar, and line-wise reading
//! and writing.

use std::io::{self, BufRead, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::event::SessionEvent;
use crate::error::{FormatError, Result};

/// Version of the sidecar record schema written by this crate.
pub const SCHEMA_VERSION: u32 = 1;

/// One sidecar line: envelope, typed event, and fields this version does
/// not know (kept on read, written back).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Schema version of the writer.
    pub schema: u32,
    /// When it happened (written as RFC 3339 UTC with microseconds).
    pub ts: DateTime<Utc>,
    /// Session the event belongs to.
    pub session_id: Option<Uuid>,
    /// The event.
    pub event: SessionEvent,
    /// Unknown fields, kept verbatim.
    pub extra: Map<String, Value>,
}

const ENVELOPE: [&str; 4] = ["schema", "ts", "session_id", "type"];

impl Record {
    /// A record with the current schema and no extra fields.
    pub fn new(ts: DateTime<Utc>, session_id: Option<Uuid>, event: SessionEvent) -> Self {
        Record {
            schema: SCHEMA_VERSION,
            ts,
            session_id,
            event,
            extra: Map::new(),
        }
    }

    /// Encode as a JSON object: envelope, event fields, extras.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("schema".into(), self.schema.into());
        m.insert(
            "ts".into(),
            self.ts.to_rfc3339_opts(SecondsFormat::Micros, true).into(),
        );
        if let Some(id) = self.session_id {
            m.insert("session_id".into(), id.to_string().into());
        }
        m.insert("type".into(), self.event.type_name().into());
        for (k, v) in self.event.fields() {
            if !m.contains_key(&k) {
                m.insert(k, v);
            }
        }
        for (k, v) in &self.extra {
            if !m.contains_key(k) {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::Object(m)
    }

    /// Decode a JSON object.
    pub fn from_json(value: Value) -> std::result::Result<Record, String> {
        let Value::Object(mut m) = value else {
            return Err("record is not a JSON object".into());
        };
        let schema = match m.shift_remove("schema") {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("invalid \"schema\"")?,
            Some(_) => return Err("invalid \"schema\"".into()),
            None => return Err("missing \"schema\"".into()),
        };
        let ts = match m.shift_remove("ts") {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s)
                .map_err(|e| format!("invalid \"ts\": {e}"))?
                .with_timezone(&Utc),
            _ => return Err("missing or invalid \"ts\"".into()),
        };
        let session_id = match m.shift_remove("session_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(Uuid::parse_str(&s).map_err(|e| format!("invalid \"session_id\": {e}"))?)
            }
            Some(_) => return Err("invalid \"session_id\"".into()),
        };
        let kind = match m.shift_remove("type") {
            Some(Value::String(s)) => s,
            _ => return Err("missing or invalid \"type\"".into()),
        };
        let event = SessionEvent::from_fields(&kind, m.clone())
            .map_err(|e| format!("invalid {kind} event: {e}"))?;
        let extra = match &event {
            SessionEvent::Unknown { .. } => Map::new(),
            ev => {
                let known = ev.fields();
                m.retain(|k, _| !known.contains_key(k) && !ENVELOPE.contains(&k.as_str()));
                m
            }
        };
        Ok(Record {
            schema,
            ts,
            session_id,
            event,
            extra,
        })
    }

    /// Encode as one JSON line without the newline.
    pub fn to_line(&self) -> String {
        self.to_json().to_string()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Record::from_json(v).map_err(serde::de::Error::custom)
    }
}

/// Write one record as a line (`write_all` of the line and its newline).
pub fn write_record<W: Write>(mut w: W, record: &Record) -> io::Result<()> {
    let mut line = record.to_line();
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// Iterator over the records of a sidecar, see [`read_sidecar`].
#[derive(Debug)]
pub struct SidecarReader<R> {
    r: R,
    line_no: u64,
    done: bool,
    truncated: bool,
    buf: Vec<u8>,
}

/// Read a sidecar line by line. Blank lines are skipped; a malformed line
/// yields an error with its line number and reading continues with the next
/// line; an unterminated malformed final line (crash) ends reading quietly.
pub fn read_sidecar<R: BufRead>(r: R) -> SidecarReader<R> {
    SidecarReader {
        r,
        line_no: 0,
        done: false,
        truncated: false,
        buf: Vec::new(),
    }
}

impl<R> SidecarReader<R> {
    /// True when reading stopped at an incomplete final line.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<R: BufRead> Iterator for SidecarReader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.r.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
                Ok(_) => {
                    self.line_no += 1;
                    let complete = self.buf.last() == Some(&b'\n');
                    let line = self.buf.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    let parsed = serde_json::from_slice::<Value>(line)
                        .map_err(|source| FormatError::Json {
                            line: self.line_no,
                            source,
                        })
                        .and_then(|v| {
                            Record::from_json(v).map_err(|message| FormatError::Invalid {
                                line: self.line_no,
                                message,
                            })
                        });
                    if parsed.is_err() && !complete {
                        self.done = true;
                        self.truncated = true;
                        return None;
                    }
                    return Some(parsed);
                }
            }
        }
        None
    }
}
