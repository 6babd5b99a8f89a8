//! `sshlog events --store URL`: the event records the hosts sent to the
//! fleet store (`store.events: true` in their sshlogd.yaml), across hosts,
//! oldest first: one line per event with the host, or JSON with a `host`
//! field.

use anyhow::{Context, Result};
use clap::Args;
use sshlog_fleet::fleet::runtime;
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use sshlog_format::sidecar::human_line;
use std::io::Write;

use crate::search::when::parse_when;

pub const LONG_ABOUT: &str = "Print the event records that hosts sent to the fleet store, \
    across hosts, oldest first: one line per event, the host first, then the event as in \
    event.log; with --json, each record as one JSON object with a `host` field. Hosts send \
    their events when `events: true` is in the `store:` section of their sshlogd.yaml (one \
    object per host and hour). Without --since, the last 24 hours.";

pub const AFTER_HELP: &str = "EXAMPLES:\n  sshlog events --store \"$URL\" --since 2h\n  \
    sshlog events --store \"$URL\" --type connection_auth_failed --since 7d\n  \
    sshlog events --store \"$URL\" --host web-1 --json | jq -c .argv";

/// Arguments of `sshlog events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The fleet store (see `sshlog search --store`).
    #[arg(long, value_name = "URL", env = "SSHLOG_STORE")]
    pub store: String,

    /// Only this host (default: every host).
    #[arg(long, value_name = "HOST_ID")]
    pub host: Option<String>,

    /// Only events of this type (repeat or separate with commas for several).
    #[arg(long = "type", short = 't', value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,

    /// Events at or after (2h, 3d, 2026-11-28, RFC 3339; default 24h).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Events at or before (default: now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// JSON lines (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

/// Prints the events; `Ok(false)` when none matched.
pub fn run(args: &EventsArgs, out: &mut dyn Write) -> Result<bool> {
    let now = chrono::Utc::now();
    let time = |v: &Option<String>, default| -> Result<_> {
        v.as_deref()
            .map(|s| parse_when(s, now).map_err(anyhow::Error::msg))
            .transpose()
            .map(|t| t.unwrap_or(default))
    };
    let since = time(&args.since, now - chrono::Duration::hours(24))?;
    let until = time(&args.until, now)?;
    let settings = StoreSettings::from_url(&args.store)?;
    let store = FleetStore::connect(&settings, &Credentials::load(&settings)?)?;
    let rt = runtime()?;
    let hosts = match &args.host {
        Some(h) => vec![h.clone()],
        None => rt.block_on(store.hosts())?,
    };
    let events = rt
        .block_on(store.events(&hosts, since, until))
        .with_context(|| format!("cannot read the events in {}", store.name))?;
    let mut any = false;
    for e in events {
        if !args.types.is_empty() && !args.types.iter().any(|t| t == e.record.event.type_name()) {
            continue;
        }
        any = true;
        if args.json {
            let mut v = e.record.to_json();
            v["host"] = serde_json::Value::String(e.host);
            writeln!(out, "{v}")?;
        } else {
            writeln!(out, "{}  {}", e.host, human_line(&e.record))?;
        }
    }
    Ok(any)
}
