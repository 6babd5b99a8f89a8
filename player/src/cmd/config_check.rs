//! `sshlog config check [DIR]`: validates the YAML action configuration exactly as
//! sshlogd does at start and on SIGHUP, printing `file:line:col: message` lines.

use anyhow::{bail, Result};
use std::io::Write;
use std::path::Path;

pub fn run(dir: &Path, plugins_dir: &Path, out: &mut dyn Write) -> Result<()> {
    match sshlog_actions::check_dir(dir, plugins_dir) {
        Ok(summary) => {
            writeln!(out, "{}: {summary}", dir.display())?;
            Ok(())
        }
        Err(errors) => {
            for e in &errors.0 {
                writeln!(out, "{e}")?;
            }
            bail!("{} error(s) in {}", errors.0.len(), dir.display())
        }
    }
}
