//! `sshlog stats`: the daemon's counters, one `name  value` line each.

use crate::cli::StatsArgs;
use crate::control;
use crate::table::escape_controls;
use anyhow::{bail, Result};
use serde_json::{Map, Value};
use sshlog_control::{Request, StatsAnswer};
use std::io::Write;
use std::path::Path;

/// Runs `sshlog stats`.
pub fn run(socket: &Path, args: &StatsArgs, out: &mut dyn Write) -> Result<()> {
    // Any counter the daemon sends is shown, in its order (a newer daemon
    // may have more than this CLI knows).
    let answer: StatsAnswer<Map<String, Value>> = control::request(socket, &Request::Stats)?;
    let stats = Value::Object(answer.stats);
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
        return Ok(());
    }
    for line in render(&stats)? {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `name  value` lines, names padded, numbers right-aligned, in the
/// daemon's order.
pub fn render(stats: &Value) -> Result<Vec<String>> {
    let Some(map) = stats.as_object() else {
        bail!("unexpected counters from sshlogd: {stats}");
    };
    let cells: Vec<(String, String)> = map
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (escape_controls(k), escape_controls(&value))
        })
        .collect();
    let kw = cells.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let vw = cells.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    Ok(cells
        .into_iter()
        .map(|(k, v)| format!("{k:<kw$}  {v:>vw$}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counters_are_aligned_in_order() {
        let v: Value = serde_json::from_str(
            r#"{"kernel_events":12345,"bytes_dropped":0,"live_sessions":2,"note":"x"}"#,
        )
        .expect("json");
        assert_eq!(
            render(&v).expect("renders"),
            [
                "kernel_events  12345",
                "bytes_dropped      0",
                "live_sessions      2",
                "note               x",
            ]
        );
        assert!(render(&json!([1])).is_err());
    }
}
