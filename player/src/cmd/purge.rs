//! `sshlog purge`: asks sshlogd to delete recordings (it signs the
//! tombstones and reports each deletion as an event), then lists them.

use crate::cli::PurgeArgs;
use crate::control;
use anyhow::{bail, Result};
use sshlog_control::{Purged, Request};
use std::io::Write;
use std::path::Path;

pub fn run(socket: &Path, args: &PurgeArgs, out: &mut dyn Write) -> Result<()> {
    if args.ids.is_empty() && args.user.is_none() && args.before.is_none() {
        bail!("name what to purge: session ids, or --user and/or --before");
    }
    let before = args
        .before
        .as_deref()
        .map(|s| crate::search::when::parse_when(s, chrono::Utc::now()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let req = Request::Purge {
        ids: args.ids.clone(),
        user: args.user.clone(),
        before,
        reason: args.reason.clone(),
    };
    let Purged { deleted } = control::request(socket, &req)?;
    for d in &deleted {
        writeln!(
            out,
            "deleted {}  {}  {}  {} bytes",
            d.id,
            d.user.as_deref().unwrap_or("?"),
            d.started.format("%Y-%m-%d %H:%M:%S UTC"),
            d.bytes
        )?;
    }
    let bytes: u64 = deleted.iter().map(|d| d.bytes).sum();
    writeln!(
        out,
        "sshlog: purged {} recording(s), {bytes} bytes; each left a signed tombstone",
        deleted.len()
    )?;
    Ok(())
}
