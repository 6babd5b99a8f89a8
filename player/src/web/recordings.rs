//! Recorded sessions for the API: session ids are checked to be UUIDv7 and
//! turned into paths under the log directory (never joined from user
//! text), the sidecar gives the metadata and the command timeline, and the
//! `.cast.zst` is decoded into plain asciicast v2 for the browser player.

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sshlog_format::cast::{format_time, CastVersion, Event, Header};
use sshlog_format::layout::{session_id_time, session_paths, SessionPaths, SESSIONS_DIR};
use sshlog_format::{read_sidecar, SessionEvent};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use uuid::Uuid;

use super::text::Utf8Chunker;

/// Why a recording cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error("invalid session id (expected a UUIDv7 like 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e)")]
    BadId,
    #[error("no recording of this session")]
    NotFound,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `s` as a session id: the 36-character hyphenated form of a UUIDv7.
pub fn parse_id(s: &str) -> Result<Uuid, RecError> {
    if s.len() != 36 {
        return Err(RecError::BadId);
    }
    let id = Uuid::try_parse(s).map_err(|_| RecError::BadId)?;
    if session_id_time(id).is_none() {
        return Err(RecError::BadId);
    }
    Ok(id)
}

/// The files of session `id`: its day directory (from the id's time, or a
/// neighbouring day), only under `log_dir/sessions`.
pub fn locate(log_dir: &Path, id: Uuid) -> Result<SessionPaths, RecError> {
    let started = session_id_time(id).ok_or(RecError::BadId)?;
    let base = log_dir.join(SESSIONS_DIR);
    for d in [0, -1, 1] {
        let p = session_paths(log_dir, started + Duration::days(d), id);
        if !p.cast.starts_with(&base) {
            return Err(RecError::NotFound);
        }
        if p.cast.is_file() || p.events.is_file() {
            return Ok(p);
        }
    }
    Err(RecError::NotFound)
}

/// One command of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Command {
    /// Seconds since the start of the cast.
    pub offset: f64,
    pub ts: String,
    pub pid: u32,
    pub user: Option<String>,
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    /// Run by the session's shell (it has a marker in the cast).
    pub interactive: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: Option<u64>,
}

/// Metadata of a recording.
#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    pub session_id: String,
    pub started: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub tty: Option<String>,
    pub title: Option<String>,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    /// Seconds from the start to the last cast event.
    pub duration: f64,
    /// The session ended (`connection_close` recorded).
    pub ended: bool,
    pub segment: Option<u32>,
    pub previous_segment: Option<String>,
    pub has_cast: bool,
    pub commands: Vec<Command>,
    /// Other noteworthy events: file uploads, data loss, injections, ...
    pub events: Vec<Value>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A cast's markers: (time in µs, label).
type Markers = Vec<(u64, String)>;

/// Header, markers and duration of a cast (the output is not kept).
fn cast_outline(path: &Path) -> Result<(Header, Markers, u64)> {
    let reader = sshlog_format::open_cast_file(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let header = reader.header().clone();
    let mut markers = Vec::new();
    let mut last = 0;
    for ev in reader {
        let Ok(ev) = ev else { break };
        last = last.max(ev.time_us());
        if let Event::Marker { time_us, label } = ev {
            markers.push((time_us, label));
        }
    }
    Ok((header, markers, last))
}

/// Reads the metadata and command timeline of a located session.
pub fn load(paths: &SessionPaths, id: Uuid) -> Result<Recording> {
    let (header, markers, last_us) = if paths.cast.is_file() {
        let (h, m, l) = cast_outline(&paths.cast)?;
        (Some(h), m, l)
    } else {
        (None, Vec::new(), 0)
    };
    let meta = header.as_ref().and_then(Header::sshlog_meta);
    let mut rec = Recording {
        session_id: id.to_string(),
        started: session_id_time(id).map(rfc3339),
        user: meta.as_ref().and_then(|m| m.user.clone()),
        client: meta.as_ref().and_then(|m| m.client.clone()),
        tty: meta.as_ref().and_then(|m| m.tty.clone()),
        title: header.as_ref().and_then(|h| h.title.clone()),
        cols: header.as_ref().map(|h| h.width),
        rows: header.as_ref().map(|h| h.height),
        duration: last_us as f64 / 1e6,
        ended: false,
        segment: meta.as_ref().and_then(|m| m.segment),
        previous_segment: meta
            .as_ref()
            .and_then(|m| m.previous_segment.map(|u| u.to_string())),
        has_cast: header.is_some(),
        commands: Vec::new(),
        events: Vec::new(),
    };
    let mut base: Option<DateTime<Utc>> = None;
    let mut next_marker = 0;
    let mut by_pid: HashMap<u32, usize> = HashMap::new();
    if paths.events.is_file() {
        let f = File::open(&paths.events)
            .with_context(|| format!("cannot open {}", paths.events.display()))?;
        for r in read_sidecar(BufReader::new(f)) {
            let Ok(r) = r else { continue };
            match &r.event {
                SessionEvent::ConnectionEstablished {
                    user,
                    client_ip,
                    client_port,
                    tty,
                    ..
                } => {
                    base.get_or_insert(r.ts);
                    rec.started = Some(rfc3339(r.ts));
                    rec.user.get_or_insert_with(|| user.clone());
                    rec.client
                        .get_or_insert_with(|| format!("{client_ip}:{client_port}"));
                    if rec.tty.is_none() {
                        rec.tty = tty.clone();
                    }
                }
                SessionEvent::SegmentStart { .. } => {
                    base.get_or_insert(r.ts);
                }
                SessionEvent::ConnectionClose { .. } => {
                    rec.ended = true;
                    rec.events.push(r.to_json());
                }
                SessionEvent::CommandStart {
                    pid,
                    user,
                    argv,
                    cwd,
                    ..
                } => {
                    let line = argv.join(" ");
                    // Markers and commands are both in time order: take the
                    // next marker with this command line, if close ahead.
                    let found = markers
                        .iter()
                        .enumerate()
                        .skip(next_marker)
                        .take(64)
                        .find(|(_, (_, l))| *l == line)
                        .map(|(i, (t, _))| (i, *t));
                    let (offset_us, interactive) = match found {
                        Some((i, t)) => {
                            next_marker = i + 1;
                            (t, true)
                        }
                        None => {
                            let b = *base.get_or_insert(r.ts);
                            let us = (r.ts - b).num_microseconds().unwrap_or(0).max(0) as u64;
                            (us, false)
                        }
                    };
                    by_pid.insert(*pid, rec.commands.len());
                    rec.commands.push(Command {
                        offset: offset_us as f64 / 1e6,
                        ts: rfc3339(r.ts),
                        pid: *pid,
                        user: user.clone(),
                        argv: argv.clone(),
                        cwd: cwd.clone(),
                        interactive,
                        exit_code: None,
                        signal: None,
                        duration_ms: None,
                    });
                }
                SessionEvent::CommandFinish {
                    pid,
                    exit_code,
                    signal,
                    duration_ms,
                    ..
                } => {
                    if let Some(c) = by_pid.remove(pid).and_then(|i| rec.commands.get_mut(i)) {
                        c.exit_code = *exit_code;
                        c.signal = *signal;
                        c.duration_ms = Some(*duration_ms);
                    }
                }
                SessionEvent::TerminalUpdate { .. } => {}
                _ => rec.events.push(r.to_json()),
            }
        }
    }
    Ok(rec)
}

/// The recording at `cast` as asciicast v2 text: the header (with sshlog's
/// metadata), output (`o`, invalid UTF-8 as U+FFFD), resizes and markers.
/// Keystrokes (`i`) are left out.
pub fn cast_v2_text(cast: &Path) -> Result<String> {
    let reader = sshlog_format::open_cast_file(cast)
        .with_context(|| format!("cannot open {}", cast.display()))?;
    let mut header = reader.header().clone();
    header.version = CastVersion::V2;
    let mut out = header.to_json_line();
    out.push('\n');
    let mut text = Utf8Chunker::default();
    for ev in reader {
        let Ok(ev) = ev else { break };
        let (code, data) = match ev {
            Event::Output { ref data, .. } => ("o", text.push(data)),
            Event::Resize { cols, rows, .. } => ("r", format!("{cols}x{rows}")),
            Event::Marker { ref label, .. } => ("m", label.clone()),
            _ => continue,
        };
        let data = serde_json::to_string(&data).context("encoding an event")?;
        out.push_str(&format!(
            "[{}, \"{code}\", {data}]\n",
            format_time(ev.time_us())
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_hyphenated_uuid_v7() {
        assert!(parse_id("018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e").is_ok());
        for bad in [
            "../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd",
            "018c16224e2a7b3c9d4e5f6a7b8c9d0e",
            "{018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0}",
            "00000000-0000-4000-8000-000000000000",
            "018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0/",
            "",
        ] {
            assert!(matches!(parse_id(bad), Err(RecError::BadId)), "{bad}");
        }
    }

    #[test]
    fn missing_recordings_are_not_found() {
        let d = tempfile::tempdir().expect("tmp");
        let id = parse_id("018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e").expect("id");
        assert!(matches!(locate(d.path(), id), Err(RecError::NotFound)));
    }
}
