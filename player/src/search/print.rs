//! Printing results: a header line per session and one indented line per
//! hit (text: `$ COMMAND` for commands, `| TEXT` for output), or one JSON
//! object per session (`--json`).

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde_json::{json, Value};
use sshlog_format::index::IndexEntry;
use std::io::{self, Write};
use std::path::Path;

use super::output::OutputHit;
use crate::style::Style;
use crate::table::escape_controls;
use crate::timefmt::local_time;

/// Output hits shown per session in text mode.
pub const TEXT_HITS: usize = 10;

/// A matching session.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The session.
    pub entry: &'a IndexEntry,
    /// Indexes of matching commands.
    pub commands: Vec<usize>,
    /// Output hits.
    pub output: Vec<OutputHit>,
    /// The host, in a fleet store search.
    pub host: Option<&'a str>,
    /// Where the cast is, when not under the log directory (the store).
    pub cast: Option<String>,
}

impl Match<'_> {
    fn cast(&self, log_dir: &Path) -> Option<String> {
        self.cast.clone().or_else(|| {
            self.entry
                .cast_path(log_dir)
                .map(|p| p.display().to_string())
        })
    }
}

/// `+M:SS.d` or `+H:MM:SS.d` (rounded down to tenths, so that playing
/// from it starts before the hit).
pub fn offset(us: u64) -> String {
    format!("+{}", sshlog_format::cast::format_clock(us))
}

fn or_dash(s: Option<&str>) -> String {
    s.map(escape_controls).unwrap_or_else(|| "-".into())
}

/// Print one session as text.
pub fn text(out: &mut dyn Write, m: &Match, log_dir: &Path, style: Style) -> io::Result<()> {
    let e = m.entry;
    let cast = m.cast(log_dir).unwrap_or_else(|| "(no cast)".into());
    if let Some(host) = m.host {
        write!(out, "{}  ", style.bold(&escape_controls(host)))?;
    }
    writeln!(
        out,
        "{}  {}  {}  {}  {}  {}",
        style.dim(&local_time(e.start, &Local)),
        style.bold(&or_dash(e.user.as_deref())),
        or_dash(e.client().as_deref()),
        or_dash(e.tty.as_deref()),
        style.accent(&e.id.to_string()),
        escape_controls(&cast),
    )?;
    for &i in &m.commands {
        let c = &e.commands[i];
        let status = match (c.exit, c.signal) {
            (_, Some(sig)) => format!("  (signal {sig})"),
            (Some(x), None) => format!("  (exit {x})"),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "  {}  $ {}{status}",
            style.dim(&offset(c.t_us)),
            escape_controls(&c.argv)
        )?;
    }
    for h in m.output.iter().take(TEXT_HITS) {
        writeln!(out, "  {}  | {}", style.dim(&offset(h.t_us)), h.context)?;
    }
    if m.output.len() > TEXT_HITS {
        let more = m.output.len() - TEXT_HITS;
        let capped = if m.output.len() >= super::output::MAX_HITS {
            "+"
        } else {
            ""
        };
        writeln!(
            out,
            "  … {more}{capped} more output hits (--json lists them)"
        )?;
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn seconds(us: u64) -> Value {
    json!((us as f64) / 1e6)
}

/// Print one session as a JSON line.
pub fn json_line(out: &mut dyn Write, m: &Match, log_dir: &Path) -> io::Result<()> {
    let e = m.entry;
    let commands: Vec<Value> = m
        .commands
        .iter()
        .map(|&i| {
            let c = &e.commands[i];
            json!({
                "offset": offset(c.t_us),
                "time": seconds(c.t_us),
                "name": c.name,
                "argv": c.argv,
                "exit_code": c.exit,
                "signal": c.signal,
            })
        })
        .collect();
    let output: Vec<Value> = m
        .output
        .iter()
        .map(|h| json!({"offset": offset(h.t_us), "time": seconds(h.t_us), "text": h.context}))
        .collect();
    let v = json!({
        "host": m.host,
        "id": e.id,
        "start": rfc3339(e.start),
        "end": rfc3339(e.end),
        "user": e.user,
        "client": e.client(),
        "tty": e.tty,
        "sshd_pid": e.sshd_pid,
        "segment": e.segment,
        "cast": m.cast(log_dir),
        "events": e.events,
        "commands": commands,
        "output": output,
    });
    writeln!(out, "{v}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_time;

    #[test]
    fn offsets_round_down_and_parse_back() {
        assert_eq!(offset(0), "+0:00.0");
        assert_eq!(offset(83_499_999), "+1:23.4");
        assert_eq!(offset(3_723_500_000), "+1:02:03.5");
        for us in [0, 5_200_000, 83_400_000, 3_723_500_000] {
            let s = offset(us);
            let back = parse_time(s.trim_start_matches('+')).unwrap();
            assert_eq!(back.as_micros() as u64, us, "{s}");
        }
    }
}
