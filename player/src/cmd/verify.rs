//! `sshlog verify [DIR]`: checks the tamper-evidence seals of every recording
//! (see `sshlog_format::seal` and docs/security.md); `--store URL` checks
//! each host's chain in the fleet store, downloading its recordings into a
//! scratch directory one host at a time.

use anyhow::{Context, Result};
use sshlog_fleet::fleet::runtime;
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use sshlog_format::seal::{verify_dir, Report};
use std::io::Write;
use std::path::Path;

/// Prints the report; `Ok(false)` when something was modified or removed.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<bool> {
    let report = verify_dir(dir)
        .with_context(|| format!("cannot read recordings under {}", dir.display()))?;
    print(&report, "", out)?;
    Ok(report.ok())
}

/// Checks the chain of `host` (every host without it) in the store at
/// `url`; `Ok(false)` when something was modified or removed.
pub fn run_store(url: &str, host: Option<&str>, quiet: bool, out: &mut dyn Write) -> Result<bool> {
    let settings = StoreSettings::from_url(url)?;
    let store = FleetStore::connect(&settings, &Credentials::load(&settings)?)?;
    let rt = runtime()?;
    let hosts = match host {
        Some(h) => vec![h.to_string()],
        None => rt.block_on(store.hosts())?,
    };
    let mut ok = true;
    for host in &hosts {
        let files = rt
            .block_on(store.session_files(host))
            .with_context(|| format!("cannot list the recordings of {host} in {}", store.name))?;
        anyhow::ensure!(
            !files.is_empty() || hosts.len() > 1,
            "no recordings of host {host} in {}",
            store.name
        );
        let scratch = tempfile::Builder::new()
            .prefix("sshlog-verify-")
            .tempdir()?;
        let total = files.iter().map(|f| f.size).sum();
        let bar = crate::progress::bytes(&format!("fetching {host}"), total, quiet);
        rt.block_on(store.download(host, &files, scratch.path(), &|n| bar.inc(n)))
            .with_context(|| format!("cannot fetch the recordings of {host}"))?;
        bar.finish_and_clear();
        let report = verify_dir(scratch.path())
            .with_context(|| format!("cannot check the recordings of {host}"))?;
        print(&report, &format!("{host}  "), out)?;
        ok &= report.ok();
    }
    Ok(ok)
}

/// One line per finding, then the totals; each line starts with `prefix`.
fn print(report: &Report, prefix: &str, out: &mut dyn Write) -> Result<()> {
    for (id, what) in &report.modified {
        writeln!(out, "{prefix}MODIFIED  {id}  {what}")?;
    }
    for seal in &report.missing {
        writeln!(out, "{prefix}MISSING   a sealed recording was removed (its seal {seal} is referenced but not found)")?;
    }
    for id in &report.unsealed {
        writeln!(
            out,
            "{prefix}UNSEALED  {id}  (still recording, or the recorder stopped before sealing it)"
        )?;
    }
    writeln!(
        out,
        "{prefix}{} intact, {} modified, {} missing, {} unsealed",
        report.intact.len(),
        report.modified.len(),
        report.missing.len(),
        report.unsealed.len()
    )?;
    Ok(())
}
