//! The asciicast header line: parsing v1/v2/v3 headers and writing v2/v3 ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// asciicast format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CastVersion {
    /// Single JSON document with a `stdout` array (read only; written as v2).
    V1,
    /// Newline-delimited JSON, absolute event times.
    V2,
    /// Newline-delimited JSON, event intervals, `term` object in the header.
    V3,
}

impl CastVersion {
    /// The number stored in the header's `version` field.
    pub fn number(self) -> u8 {
        match self {
            CastVersion::V1 => 1,
            CastVersion::V2 => 2,
            CastVersion::V3 => 3,
        }
    }
}

/// Key of the sshlog-specific object inside [`Header::extra`].
pub const SSHLOG_HEADER_KEY: &str = "sshlog";

/// A cast header, version independent.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Format version (decides how the writer encodes events).
    pub version: CastVersion,
    /// Terminal columns.
    pub width: u16,
    /// Terminal rows.
    pub height: u16,
    /// Unix time (seconds) of the recording start.
    pub timestamp: Option<i64>,
    /// Idle time limit for players, in seconds.
    pub idle_time_limit: Option<f64>,
    /// Recorded command.
    pub command: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Captured environment (`null` values of asciinema 2 are dropped).
    pub env: BTreeMap<String, String>,
    /// Terminal type (v3 `term.type`; for v2 the `TERM` entry of `env`).
    pub term_type: Option<String>,
    /// Header keys this crate does not interpret, kept verbatim.
    pub extra: Map<String, Value>,
}

/// sshlog's metadata stored under the `sshlog` key of the header extras.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshlogMeta {
    /// Session id (UUIDv7), also the file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// Pid of the per-connection sshd process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sshd_pid: Option<u32>,
    /// Terminal device, e.g. `/dev/pts/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// Logged-in user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Client address as `ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Segment number (0 for the first file of a session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u32>,
    /// Session id of the previous segment, if this file continues one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_segment: Option<Uuid>,
    /// The chroot or container the session ran in (see the sidecar's
    /// `connection_established.root`); absent on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

impl Header {
    /// A header with only the mandatory fields set.
    pub fn new(version: CastVersion, width: u16, height: u16) -> Self {
        Header {
            version,
            width,
            height,
            timestamp: None,
            idle_time_limit: None,
            command: None,
            title: None,
            env: BTreeMap::new(),
            term_type: None,
            extra: Map::new(),
        }
    }

    /// The `sshlog` extras object, if present and well formed.
    pub fn sshlog_meta(&self) -> Option<SshlogMeta> {
        let v = self.extra.get(SSHLOG_HEADER_KEY)?;
        serde_json::from_value(v.clone()).ok()
    }

    /// Store `meta` under the `sshlog` key of the extras.
    pub fn set_sshlog_meta(&mut self, meta: &SshlogMeta) {
        if let Ok(v) = serde_json::to_value(meta) {
            self.extra.insert(SSHLOG_HEADER_KEY.to_string(), v);
        }
    }

    /// Encode as one JSON line (without the trailing newline). `V1` headers
    /// are written as v2.
    pub fn to_json_line(&self) -> String {
        let mut m = Map::new();
        match self.version {
            CastVersion::V3 => {
                m.insert("version".into(), 3.into());
                let mut term = match self.extra.get("term") {
                    Some(Value::Object(t)) => t.clone(),
                    _ => Map::new(),
                };
                term.insert("cols".into(), self.width.into());
                term.insert("rows".into(), self.height.into());
                if let Some(t) = &self.term_type {
                    term.insert("type".into(), t.clone().into());
                }
                m.insert("term".into(), Value::Object(term));
            }
            CastVersion::V1 | CastVersion::V2 => {
                m.insert("version".into(), 2.into());
                m.insert("width".into(), self.width.into());
                m.insert("height".into(), self.height.into());
            }
        }
        if let Some(t) = self.timestamp {
            m.insert("timestamp".into(), t.into());
        }
        if let Some(limit) = self.idle_time_limit {
            if let Some(n) = serde_json::Number::from_f64(limit) {
                m.insert("idle_time_limit".into(), Value::Number(n));
            }
        }
        if let Some(c) = &self.command {
            m.insert("command".into(), c.clone().into());
        }
        if let Some(t) = &self.title {
            m.insert("title".into(), t.clone().into());
        }
        let mut env: Map<String, Value> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if self.version != CastVersion::V3 {
            if let Some(t) = &self.term_type {
                env.entry("TERM").or_insert_with(|| t.clone().into());
            }
        }
        if !env.is_empty() {
            m.insert("env".into(), Value::Object(env));
        }
        for (k, v) in &self.extra {
            if m.contains_key(k) || (k == "term" && self.version == CastVersion::V3) {
                continue;
            }
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m).to_string()
    }

    /// Decode a parsed header object. For v1 the `stdout` key must already
    /// have been removed by the caller; `duration` is kept in `extra`.
    pub fn from_json(value: Value) -> Result<Header, String> {
        let Value::Object(mut m) = value else {
            return Err("header is not a JSON object".into());
        };
        let version = match m.shift_remove("version") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(1) => CastVersion::V1,
                Some(2) => CastVersion::V2,
                Some(3) => CastVersion::V3,
                _ => return Err(format!("unsupported version {n}")),
            },
            Some(other) => return Err(format!("unsupported version {other}")),
            None => return Err("missing \"version\"".into()),
        };
        let mut term_type = None;
        let (width, height) = if version == CastVersion::V3 {
            let Some(Value::Object(mut term)) = m.shift_remove("term") else {
                return Err("missing \"term\" object".into());
            };
            let w = dimension(term.shift_remove("cols"), "term.cols")?;
            let h = dimension(term.shift_remove("rows"), "term.rows")?;
            term_type = opt_string(term.shift_remove("type"), "term.type")?;
            if !term.is_empty() {
                m.insert("term".into(), Value::Object(term));
            }
            (w, h)
        } else {
            let w = dimension(m.shift_remove("width"), "width")?;
            let h = dimension(m.shift_remove("height"), "height")?;
            (w, h)
        };
        let timestamp = match m.shift_remove("timestamp") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Some(i),
                (None, Some(f)) if f.is_finite() && f.abs() < 9.0e15 => Some(f as i64),
                _ => return Err("invalid \"timestamp\"".into()),
            },
            Some(_) => return Err("invalid \"timestamp\"".into()),
        };
        let idle_time_limit = match m.shift_remove("idle_time_limit") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => return Err("invalid \"idle_time_limit\"".into()),
        };
        let command = opt_string(m.shift_remove("command"), "command")?;
        let title = opt_string(m.shift_remove("title"), "title")?;
        let mut env = BTreeMap::new();
        match m.shift_remove("env") {
            None | Some(Value::Null) => {}
            Some(Value::Object(e)) => {
                for (k, v) in e {
                    match v {
                        Value::Null => {}
                        Value::String(s) => {
                            env.insert(k, s);
                        }
                        other => {
                            env.insert(k, other.to_string());
                        }
                    }
                }
            }
            Some(_) => return Err("invalid \"env\"".into()),
        }
        if version != CastVersion::V3 {
            term_type = env.get("TERM").cloned();
        }
        Ok(Header {
            version,
            width,
            height,
            timestamp,
            idle_time_limit,
            command,
            title,
            env,
            term_type,
            extra: m,
        })
    }
}

fn dimension(v: Option<Value>, name: &str) -> Result<u16, String> {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|x| u16::try_from(x).ok())
            .ok_or_else(|| format!("invalid \"{name}\": {n}")),
        Some(other) => Err(format!("invalid \"{name}\": {other}")),
        None => Err(format!("missing \"{name}\"")),
    }
}

fn opt_string(v: Option<Value>, name: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("invalid \"{name}\": {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_header_roundtrip_keeps_extras() {
        let line = r##"{"version": 2, "width": 80, "height": 24, "timestamp": 1504467315, "env": {"SHELL": null, "TERM": "xterm"}, "theme": {"fg": "#fff"}}"##;
        let h = Header::from_json(serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(h.version, CastVersion::V2);
        assert_eq!((h.width, h.height), (80, 24));
        assert_eq!(h.term_type.as_deref(), Some("xterm"));
        assert!(h.extra.contains_key("theme"));
        let again = Header::from_json(serde_json::from_str(&h.to_json_line()).unwrap()).unwrap();
        assert_eq!(again, h);
    }

    #[test]
    fn v3_header_roundtrip() {
        let line = r##"{"version":3,"term":{"cols":100,"rows":50,"type":"xterm-256color","theme":{"fg":"#000"}},"timestamp":1,"tags":["a"]}"##;
        let mut h = Header::from_json(serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(h.version, CastVersion::V3);
        assert_eq!(h.term_type.as_deref(), Some("xterm-256color"));
        h.set_sshlog_meta(&SshlogMeta {
            sshd_pid: Some(42),
            tty: Some("/dev/pts/1".into()),
            ..Default::default()
        });
        let out = h.to_json_line();
        assert!(out.contains(r##""theme":{"fg":"#000"}"##), "{out}");
        let again = Header::from_json(serde_json::from_str(&out).unwrap()).unwrap();
        assert_eq!(again, h);
        assert_eq!(again.sshlog_meta().unwrap().sshd_pid, Some(42));
    }

    #[test]
    fn bad_headers_are_errors() {
        for bad in [
            r#"[]"#,
            r#"{"version":4,"width":1,"height":1}"#,
            r#"{"version":2,"width":-1,"height":1}"#,
            r#"{"version":2,"width":70000,"height":1}"#,
            r#"{"version":3,"width":1,"height":1}"#,
        ] {
            assert!(
                Header::from_json(serde_json::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
