//! `plugin_action`: a long-running executable from the plugins directory,
//! started with the engine and fed one event JSON object per line on its
//! stdin. When it exits or crashes it is started again after a delay that
//! doubles with each quick failure (`restart_delay_ms` up to
//! `max_restart_delay_ms`, reset once it has run for a minute). Its stderr
//! and stdout lines go to the daemon's log. The `config:` option reaches it
//! as JSON in `SSHLOG_PLUGIN_CONFIG`; `SSHLOG_ACTION_NAME` names the action.
//! Delivery is at most once: an event written just before a crash is lost.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::{as_string, Fields};
use crate::worker::{Action, Handled};
use crate::yaml::Value;

use super::runcommand::{log_lines, wait_until};
use super::ParseCx;

/// A plugin that ran this long is considered healthy again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// How long a plugin gets to exit after its stdin is closed at shutdown.
const EXIT_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Full path of the executable.
    pub path: PathBuf,
    pub args: Vec<String>,
    /// The `config:` option as JSON.
    pub config: serde_json::Value,
    pub restart_delay: Duration,
    pub max_restart_delay: Duration,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag, cx: &ParseCx<'_>) -> Option<Config> {
        let path = f.require(d, "executable", "plugin_action").and_then(|n| {
            let name = as_string(d, n, "executable")?;
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                d.err(
                    n.pos,
                    format!(
                        "`executable`: `{name}` must be a file name in the plugins directory ({})",
                        cx.plugins_dir.display()
                    ),
                );
                return None;
            }
            let path = cx.plugins_dir.join(&name);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Some(path),
                Ok(_) => {
                    d.err(
                        n.pos,
                        format!("`executable`: {} is not an executable file", path.display()),
                    );
                    None
                }
                Err(e) => {
                    d.err(n.pos, format!("`executable`: {}: {e}", path.display()));
                    None
                }
            }
        });
        let args = match f.strings(d, "args") {
            Some(v) => v.into_iter().map(|(s, _)| s).collect(),
            None => Vec::new(),
        };
        let config = match f.get("config") {
            None => serde_json::Value::Object(Default::default()),
            Some(n) if matches!(n.value, Value::Map(_)) => n.to_json(),
            Some(n) => {
                d.err(
                    n.pos,
                    format!(
                        "`config`: expected a mapping, found {}",
                        n.value.type_name()
                    ),
                );
                return None;
            }
        };
        let restart_delay =
            Duration::from_millis(f.uint_or(d, "restart_delay_ms", 1000, 3_600_000));
        let max_restart_delay =
            Duration::from_millis(f.uint_or(d, "max_restart_delay_ms", 60_000, 3_600_000));
        Some(Config {
            path: path?,
            args,
            config,
            restart_delay,
            max_restart_delay: max_restart_delay.max(restart_delay),
        })
    }
}

pub struct Plugin {
    cfg: Config,
    label: String,
    child: Option<(Child, ChildStdin)>,
    started_at: Instant,
    next_start: Instant,
    delay: Duration,
    starts: u64,
}

impl Plugin {
    pub fn new(cfg: Config, label: &str) -> Plugin {
        Plugin {
            delay: cfg.restart_delay,
            cfg,
            label: label.to_owned(),
            child: None,
            started_at: Instant::now(),
            next_start: Instant::now(),
            starts: 0,
        }
    }

    /// Note that the plugin is gone and schedule the next start.
    fn gone(&mut self, why: &str) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.started_at.elapsed() >= HEALTHY_AFTER {
            self.delay = self.cfg.restart_delay;
        }
        self.next_start = Instant::now() + self.delay;
        tracing::warn!(action = %self.label, "plugin {why}; restarting in {:?}", self.delay);
        self.delay = (self.delay * 2).min(self.cfg.max_restart_delay);
    }

    /// Start the plugin if it is not running and its restart time has come;
    /// true when it is running.
    fn ensure_running(&mut self) -> bool {
        if let Some((child, _)) = &mut self.child {
            match child.try_wait() {
                Ok(None) => return true,
                Ok(Some(st)) => self.gone(&format!("exited ({st})")),
                Err(e) => self.gone(&format!("cannot be waited for ({e})")),
            }
        }
        if Instant::now() < self.next_start {
            return false;
        }
        let spawned = Command::new(&self.cfg.path)
            .args(&self.cfg.args)
            .env("SSHLOG_PLUGIN_CONFIG", self.cfg.config.to_string())
            .env("SSHLOG_ACTION_NAME", &self.label)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    log_lines(self.label.clone(), out, "stdout");
                }
                if let Some(err) = child.stderr.take() {
                    log_lines(self.label.clone(), err, "stderr");
                }
                let Some(stdin) = child.stdin.take() else {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                };
                self.starts += 1;
                self.started_at = Instant::now();
                tracing::info!(action = %self.label, pid = child.id(), start = self.starts, "plugin started");
                self.child = Some((child, stdin));
                true
            }
            Err(e) => {
                self.gone(&format!("cannot start {} ({e})", self.cfg.path.display()));
                false
            }
        }
    }

    /// Wait for the restart time, then start.
    fn ensure_running_blocking(&mut self) -> bool {
        if !self.ensure_running() {
            std::thread::sleep(self.next_start.saturating_duration_since(Instant::now()));
            return self.ensure_running();
        }
        true
    }
}

impl Action for Plugin {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let mut line = d.json.to_string();
        line.push('\n');
        for _ in 0..2 {
            if !self.ensure_running_blocking() {
                continue;
            }
            let Some((_, stdin)) = self.child.as_mut() else {
                continue;
            };
            match stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush())
            {
                Ok(()) => return Ok(Handled::Sent),
                Err(e) => self.gone(&format!("stopped reading ({e})")),
            }
        }
        bail!("plugin {} is not running", self.cfg.path.display())
    }

    fn idle(&mut self) {
        self.ensure_running();
    }

    fn shutdown(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            if let Err(e) = wait_until(&mut child, Instant::now() + EXIT_GRACE).context("plugin") {
                tracing::warn!(action = %self.label, "{e:#}");
            }
        }
    }
}
