//! `GET /api/search`: the sessions come from the day indexes that sshlogd and
//! `sshlog index` write (sidecars only for what is not indexed yet, see
//! [`crate::search::source`]); user, time, command and the output trigram
//! filter narrow them before any recording is opened. Newest first.

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sshlog_format::cast::Event;
use sshlog_format::layout::{session_id_time, SESSIONS_DIR};
use sshlog_format::text::EscapeStripper;
use std::path::Path;

use crate::search::output::OutputMatcher;
use crate::search::source;

use super::recordings::{self, Command};
use super::text::Utf8Chunker;

/// Most output hits reported per session.
pub const MAX_OUTPUT_HITS: usize = 50;
/// Most sessions returned.
pub const MAX_RESULTS: usize = 200;
/// Most output searched per session (decoded text).
const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// The criteria; every given one must match.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// Exact user name.
    pub user: Option<String>,
    /// Substring of a command line.
    pub cmd: Option<String>,
    /// Sessions started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Sessions started at or before.
    pub until: Option<DateTime<Utc>>,
    /// Text in the output (ASCII case-insensitive, escape sequences ignored).
    pub output: Option<String>,
    /// Most sessions returned.
    pub limit: usize,
}

/// A place in the output where the text was found.
#[derive(Debug, Clone, Serialize)]
pub struct OutputHit {
    /// Seconds since the start of the cast.
    pub offset: f64,
    /// The line around the match.
    pub snippet: String,
}

/// A matching session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionHit {
    pub session_id: String,
    pub started: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub tty: Option<String>,
    pub ended: bool,
    pub duration: f64,
    /// The matching commands (without `cmd`: the interactive ones, or none
    /// when searching the output).
    pub commands: Vec<Command>,
    pub output_hits: Vec<OutputHit>,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub sessions: Vec<SessionHit>,
    /// Sessions looked at.
    pub scanned: usize,
    /// More sessions would have matched.
    pub truncated: bool,
}

/// Parses a `since`/`until` value: RFC 3339, `YYYY-MM-DD` (UTC midnight),
/// `YYYY-MM-DDTHH:MM` (UTC) or an age (`45m`, `2h`, `3d`, `1w`) before `now`.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let d = match unit {
        's' => Duration::try_seconds(n)?,
        'm' => Duration::try_minutes(n)?,
        'h' => Duration::try_hours(n)?,
        'd' => Duration::try_days(n)?,
        'w' => Duration::try_weeks(n)?,
        _ => return None,
    };
    now.checked_sub_signed(d)
}

/// Runs the search.
pub fn search(log_dir: &Path, q: &Query) -> Result<Results> {
    let limit = q.limit.clamp(1, MAX_RESULTS);
    let mut out = Results {
        sessions: Vec::new(),
        scanned: 0,
        truncated: false,
    };
    let cmd = q.cmd.as_deref().filter(|s| !s.is_empty());
    let output = q.output.as_deref().filter(|s| !s.is_empty());
    let user = q.user.as_deref().filter(|s| !s.is_empty());
    let filter = output
        .map(|t| OutputMatcher::literal(t, true))
        .transpose()?;
    if !log_dir.join(SESSIONS_DIR).is_dir() {
        return Ok(out); // nothing recorded yet
    }
    // Days are UTC; a day of slack on both sides for sessions spanning midnight.
    let got = source::collect(
        log_dir,
        q.since.map(|t| t.date_naive() - Duration::days(1)),
        q.until.map(|t| t.date_naive() + Duration::days(1)),
        true,
        filter.is_some(),
    )?;
    for e in &got.errors {
        tracing::debug!("search: {e}");
    }
    for s in got.sessions.iter().rev() {
        let e = &s.entry;
        let started = session_id_time(e.id).unwrap_or(e.start);
        if q.since.is_some_and(|t| started < t) || q.until.is_some_and(|t| started > t) {
            continue;
        }
        out.scanned += 1;
        // What the index can decide, before the recording is opened.
        if user.is_some_and(|u| e.user.as_deref() != Some(u))
            || cmd.is_some_and(|c| !e.commands.iter().any(|x| x.argv.contains(c)))
            || filter
                .as_ref()
                .is_some_and(|f| !f.may_match(s.grams.as_ref(), e.cast_size))
        {
            continue;
        }
        let id = e.id;
        let Ok(paths) = recordings::locate(log_dir, id) else {
            continue;
        };
        let rec = match recordings::load(&paths, id) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("search: skipping {id}: {e:#}");
                continue;
            }
        };
        if user.is_some_and(|u| rec.user.as_deref() != Some(u)) {
            continue;
        }
        let commands: Vec<Command> = match cmd {
            Some(c) => rec
                .commands
                .iter()
                .filter(|x| x.argv.join(" ").contains(c))
                .cloned()
                .collect(),
            // Without a command pattern: the session's interactive
            // commands, unless the hits are in the output.
            None if output.is_some() => Vec::new(),
            None => rec
                .commands
                .iter()
                .filter(|x| x.interactive)
                .cloned()
                .collect(),
        };
        if cmd.is_some() && commands.is_empty() {
            continue;
        }
        let output_hits = match output {
            Some(text) if rec.has_cast => output_hits(&paths.cast, text, MAX_OUTPUT_HITS)?,
            Some(_) => Vec::new(),
            None => Vec::new(),
        };
        if output.is_some() && output_hits.is_empty() {
            continue;
        }
        if out.sessions.len() == limit {
            out.truncated = true;
            break;
        }
        out.sessions.push(SessionHit {
            session_id: rec.session_id,
            started: rec.started,
            user: rec.user,
            client: rec.client,
            tty: rec.tty,
            ended: rec.ended,
            duration: rec.duration,
            commands,
            output_hits,
        });
    }
    Ok(out)
}

/// Where `needle` appears in the output of the cast at `path`, at most
/// `max` places (each at the time of the output event holding its first
/// character).
pub fn output_hits(path: &Path, needle: &str, max: usize) -> Result<Vec<OutputHit>> {
    let needle = needle.to_ascii_lowercase();
    let reader = sshlog_format::open_cast_file(path)?;
    let mut text = String::new();
    // (byte position in `text`, event time) at the start of each event.
    let mut starts: Vec<(usize, u64)> = Vec::new();
    let mut utf8 = Utf8Chunker::default();
    let mut strip = EscapeStripper::default();
    for ev in reader {
        let Ok(ev) = ev else { break };
        if let Event::Output { time_us, data } = ev {
            starts.push((text.len(), time_us));
            strip.push(&utf8.push(&data), &mut text);
            if text.len() > MAX_OUTPUT_BYTES {
                break;
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    let mut hits = Vec::new();
    let mut from = 0;
    while hits.len() < max {
        let Some(i) = lower[from..].find(&needle).map(|i| i + from) else {
            break;
        };
        let ev = starts.partition_point(|(p, _)| *p <= i).saturating_sub(1);
        let t = starts.get(ev).map_or(0, |(_, t)| *t);
        let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
        let line_end = text[i..].find('\n').map_or(text.len(), |p| p + i);
        let snippet: String = text[line_start..line_end].chars().take(160).collect();
        hits.push(OutputHit {
            offset: t as f64 / 1e6,
            snippet,
        });
        from = line_end.max(i + needle.len().max(1));
        if from >= lower.len() {
            break;
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_parse() {
        let now = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(
            parse_time("2h", now),
            Some(Utc.with_ymd_and_hms(2026, 1, 10, 10, 0, 0).unwrap())
        );
        assert_eq!(
            parse_time("2026-01-02", now),
            Some(Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap())
        );
        assert_eq!(
            parse_time("2026-01-02T03:04:05+01:00", now),
            Some(Utc.with_ymd_and_hms(2026, 1, 2, 2, 4, 5).unwrap())
        );
        assert_eq!(parse_time("soon", now), None);
        assert_eq!(parse_time("", now), None);
        assert_eq!(parse_time("é", now), None);
    }
}
