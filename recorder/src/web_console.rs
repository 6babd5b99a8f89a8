//! The sshlog agent's `SSHLOG_ENABLE_DIAGNOSTIC_WEB=1`: sshlogd starts the
//! web console (`sshlog web`, found next to sshlogd or on `PATH`) as a child
//! that shares its socket and log directory. The console reads
//! `SSHLOG_WEB_USER` / `SSHLOG_WEB_PASS` itself, hashes the password at
//! start and refuses the agent's default admin/admin; whatever it says goes
//! to sshlogd's log. Recording never depends on it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::settings::Settings;

/// The running console; stopped when dropped.
pub struct WebConsole(Child);

/// Whether the agent's switch is on.
pub fn enabled() -> bool {
    std::env::var("SSHLOG_ENABLE_DIAGNOSTIC_WEB")
        .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "True"))
}

fn sshlog_binary() -> PathBuf {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.join("sshlog")))
        .filter(|p| p.is_file());
    sibling.unwrap_or_else(|| PathBuf::from("sshlog"))
}

/// Starts the console when the switch is on.
pub fn start(settings: &Settings) -> Option<WebConsole> {
    if !enabled() {
        return None;
    }
    let bin = sshlog_binary();
    let spawned = Command::new(&bin)
        .arg("--socket")
        .arg(&settings.socket)
        .arg("--log-dir")
        .arg(&settings.log_dir)
        .arg("web")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    match spawned {
        Ok(mut child) => {
            if let Some(err) = child.stderr.take() {
                sshlog_actions::kinds::runcommand::log_lines(
                    "web console".into(),
                    err,
                    "sshlog web",
                );
            }
            tracing::info!(
                pid = child.id(),
                "SSHLOG_ENABLE_DIAGNOSTIC_WEB: started the web console"
            );
            Some(WebConsole(child))
        }
        Err(e) => {
            tracing::warn!(
                "SSHLOG_ENABLE_DIAGNOSTIC_WEB: cannot start {}: {e}",
                bin.display()
            );
            None
        }
    }
}

impl Drop for WebConsole {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
