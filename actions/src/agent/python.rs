//! The sshlog agent's Python plugins (`FilterPlugin` / `ActionPlugin`
//! subclasses in `*.py` files of the plugins directory), run unchanged by
//! python3 in a host process ([`HOST`], `python_host.py`) that provides the
//! modules they import.
//!
//! At load, one `describe` run lists the filters (class `NAME_filter`, used in
//! YAML as `NAME`) and actions (used as `plugin: CLASS`, with `init_action`'s
//! parameters as options). At run time each event with plugin filters has a
//! host process answering "passes?" per event, and each plugin action one
//! running `execute()`; both get the agent's payload, one JSON line per event.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// The host program (see its docstring).
pub const HOST: &str = include_str!("python_host.py");

/// How long `describe` may take.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The Python interpreter: `SSHLOG_PYTHON`, else the distribution's
/// `/usr/bin/python3`, else `python3` from `PATH`.
pub fn interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("SSHLOG_PYTHON") {
        return PathBuf::from(p);
    }
    let system = Path::new("/usr/bin/python3");
    if system.exists() {
        return system.to_path_buf();
    }
    PathBuf::from("python3")
}

/// Whether `dir` holds sshlog agent plugins: `*.py` files (not `_*`) that
/// subclass its `FilterPlugin` or `ActionPlugin`. Other Python files there
/// are `plugin_action` executables and are left alone.
pub fn has_plugins(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with(".py")
                && !n.starts_with('_')
                && !n.starts_with('.')
                && std::fs::read_to_string(e.path())
                    .is_ok_and(|t| t.contains("FilterPlugin") || t.contains("ActionPlugin"))
        })
    })
}

/// One filter plugin.
#[derive(Debug, Clone, Deserialize)]
pub struct FilterInfo {
    pub class: String,
    pub triggers: Vec<String>,
}

/// One parameter of an action plugin's `init_action`.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    pub name: String,
    pub required: bool,
}

/// One action plugin.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionInfo {
    pub params: Vec<Param>,
}

/// What the plugins directory offers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Catalog {
    /// By YAML name (the class name without `_filter`).
    pub filters: HashMap<String, FilterInfo>,
    /// By class name.
    pub actions: HashMap<String, ActionInfo>,
    /// Files that could not be loaded.
    pub errors: Vec<String>,
}

impl Catalog {
    /// Asks python3 what the plugins of `dir` are (`None` without any).
    pub fn of(dir: &Path) -> Option<Result<Catalog, String>> {
        has_plugins(dir).then(|| describe(dir))
    }
}

fn describe(dir: &Path) -> Result<Catalog, String> {
    let mut p = Process::start(dir, &["describe".as_ref(), dir.as_os_str()], "describe")
        .map_err(|e| format!("{e:#}"))?;
    drop(p.stdin.take());
    let line = p
        .read_line(DESCRIBE_TIMEOUT)
        .map_err(|e| format!("listing the Python plugins: {e:#}"))?;
    serde_json::from_str(&line).map_err(|e| format!("unexpected answer from the Python host: {e}"))
}

/// A running host process: requests on stdin, answers on stdout, its stderr
/// in sshlogd's log.
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Process {
    /// Starts the host with `args` (after `-c HOST`); `label` names it in logs.
    pub fn start(dir: &Path, args: &[&std::ffi::OsStr], label: &str) -> anyhow::Result<Process> {
        let python = interpreter();
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(HOST)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {} for the Python plugins", python.display()))?;
        if let Some(err) = child.stderr.take() {
            crate::kinds::runcommand::log_lines(label.to_owned(), err, "python");
        }
        let out = child.stdout.take().context("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("python {label}"))
            .spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("cannot start a reader thread")?;
        let stdin = child.stdin.take();
        Ok(Process {
            child,
            stdin,
            lines,
        })
    }

    fn read_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Ok(l),
            Err(RecvTimeoutError::Timeout) => bail!("no answer within {timeout:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let st = self.child.wait().ok();
                bail!(
                    "the Python host exited ({})",
                    st.map_or("?".into(), |s| s.to_string())
                )
            }
        }
    }

    /// Sends one JSON line and returns the answer line.
    pub fn ask(&mut self, line: &str, timeout: Duration) -> anyhow::Result<String> {
        let stdin = self.stdin.as_mut().context("the Python host is closed")?;
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush())
            .context("the Python host stopped reading")?;
        self.read_line(timeout)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // EOF lets an action's shutdown_action() run; then it is reaped.
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let _ = crate::kinds::runcommand::wait_until(&mut self.child, deadline);
    }
}
