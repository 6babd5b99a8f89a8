//! `sshlog verify [DIR]`: checks the tamper-evidence seals of every recording
//! (see `sshlog_format::seal` and docs/security.md).

use anyhow::{Context, Result};
use sshlog_format::seal::verify_dir;
use std::io::Write;
use std::path::Path;

/// Prints the report; `Ok(false)` when something was modified or removed.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<bool> {
    let report = verify_dir(dir)
        .with_context(|| format!("cannot read recordings under {}", dir.display()))?;
    for (id, what) in &report.modified {
        writeln!(out, "MODIFIED  {id}  {what}")?;
    }
    for seal in &report.missing {
        writeln!(out, "MISSING   a sealed recording was removed (its seal {seal} is referenced but not found)")?;
    }
    for id in &report.unsealed {
        writeln!(
            out,
            "UNSEALED  {id}  (still recording, or the recorder stopped before sealing it)"
        )?;
    }
    writeln!(
        out,
        "{} intact, {} modified, {} missing, {} unsealed",
        report.intact.len(),
        report.modified.len(),
        report.missing.len(),
        report.unsealed.len()
    )?;
    Ok(report.ok())
}
