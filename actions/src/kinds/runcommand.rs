//! `runcommand_action` (also by the sshlog agent's name `run_command_action`):
//! runs a program per event, without a shell unless `shell: true`. The
//! program and its arguments are a list, or as the agent wrote them, the
//! program in `command` and its arguments in `args` (and `timeout` in
//! seconds, 60 when not given). The event JSON goes to its stdin (one line) and its
//! fields to `SSHLOG_*` environment variables; `{{field}}` placeholders in
//! the arguments are filled in (not with `shell: true`: use the variables
//! there). The program is killed after `timeout_ms`; a non-zero exit counts
//! as failed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::{as_strings, Fields};
use crate::template::Template;
use crate::worker::{Action, Handled};

#[derive(Debug, Clone)]
pub struct Config {
    pub program: Program,
    pub timeout: Duration,
}

/// What to run.
#[derive(Debug, Clone)]
pub enum Program {
    /// Program and arguments, with `{{field}}` placeholders.
    Argv(Vec<Template>),
    /// A command line for `/bin/sh -c` (a list is joined by spaces).
    Shell(String),
}

/// Timeout of a command configured the sshlog agent's way without one.
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let shell = f.bool_or(d, "shell", false);
        let timeout_ms = f.get("timeout_ms").is_some();
        let timeout = Duration::from_millis(f.uint_or(d, "timeout_ms", 10_000, 86_400_000).max(1));
        // The agent's `timeout`, in seconds.
        let agent_timeout = f.get("timeout").and_then(|n| {
            if timeout_ms {
                d.err(
                    n.pos,
                    "`timeout` (seconds) and `timeout_ms` are the same option; give one",
                );
            }
            crate::fields::as_uint(d, n, "timeout", 86_400)
        });
        let args = match f.get("args") {
            Some(n) => Some(as_strings(d, n, "args")?),
            None => None,
        };
        let n = f.require(d, "command", "runcommand_action")?;
        let parts = as_strings(d, n, "command")?;
        if parts.is_empty() || parts[0].0.is_empty() {
            d.err(n.pos, "`command`: the program is missing");
            return None;
        }
        let one_string = matches!(n.value, crate::yaml::Value::Str(_));
        // The agent's form: `command` names the program, `args` its arguments.
        let agent = one_string && !shell;
        if agent && args.is_none() && parts[0].0.trim().contains(char::is_whitespace) {
            d.err(
                n.pos,
                "`command`: without `shell: true` give the program alone (arguments in `args`) or a list, e.g. [\"/usr/bin/logger\", \"-t\", \"sshlog\"]",
            );
            return None;
        }
        let timeout = match agent_timeout {
            Some(secs) => Duration::from_secs(secs.max(1)),
            None if agent && !timeout_ms => AGENT_TIMEOUT,
            None => timeout,
        };
        if shell {
            if let Some(a) = &args {
                let pos = a.first().map_or(n.pos, |(_, p)| *p);
                d.err(
                    pos,
                    "`args`: not used with `shell: true` (give the whole command line)",
                );
                return None;
            }
            let line: Vec<String> = parts.into_iter().map(|(s, _)| s).collect();
            return Some(Config {
                program: Program::Shell(line.join(" ")),
                timeout,
            });
        }
        let mut command = Vec::new();
        let all = parts.into_iter().chain(args.unwrap_or_default());
        for (s, pos) in all {
            match Template::parse(&s) {
                Ok(t) => command.push(t),
                Err(e) => {
                    d.err(pos, format!("`command`: {e}"));
                    return None;
                }
            }
        }
        Some(Config {
            program: Program::Argv(command),
            timeout,
        })
    }
}

/// The `SSHLOG_*` variables for an event: every top-level field of the event
/// JSON as `SSHLOG_<FIELD>` (strings verbatim, lists of strings joined by
/// spaces, other values as JSON, nulls left out), plus `SSHLOG_EVENT_TYPE`,
/// `SSHLOG_EVENT_NAME` and `SSHLOG_EVENT_JSON`.
pub fn env_vars(d: &Delivery) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(m) = &d.json {
        for (k, v) in m {
            let val = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Array(a) if a.iter().all(Value::is_string) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            out.push((format!("SSHLOG_{}", k.to_ascii_uppercase()), val));
        }
    }
    out.push((
        "SSHLOG_EVENT_TYPE".into(),
        d.record.event.type_name().into(),
    ));
    out.push(("SSHLOG_EVENT_NAME".into(), d.event_name.to_string()));
    out.push(("SSHLOG_EVENT_JSON".into(), d.json.to_string()));
    out.retain(|(k, v)| !k.contains(['\0', '=']) && !v.contains('\0'));
    out
}

pub struct RunCommand {
    cfg: Config,
    label: String,
}

impl RunCommand {
    pub fn new(cfg: Config, label: &str) -> RunCommand {
        RunCommand {
            cfg,
            label: label.to_owned(),
        }
    }
}

/// Log each line of a child's output on a thread of its own.
pub fn log_lines(label: String, stream: impl Read + Send + 'static, what: &'static str) {
    let spawned = std::thread::Builder::new()
        .name(format!("{what} {label}"))
        .spawn(move || {
            for line in BufReader::new(stream).lines() {
                match line {
                    Ok(l) => tracing::info!(action = %label, "{what}: {l}"),
                    Err(_) => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start output thread: {e}");
    }
}

/// Wait for `child` until `deadline`, killing it then.
pub fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> anyhow::Result<std::process::ExitStatus> {
    loop {
        if let Some(st) = child.try_wait().context("waiting for command")? {
            return Ok(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Action for RunCommand {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let mut cmd = match &self.cfg.program {
            Program::Shell(line) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(line);
                c
            }
            Program::Argv(templates) => {
                let argv: Vec<String> = templates.iter().map(|t| t.render(d)).collect();
                let Some((prog, args)) = argv.split_first() else {
                    bail!("empty command");
                };
                let mut c = Command::new(prog);
                c.args(args);
                c
            }
        };
        cmd.envs(env_vars(d))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting command")?;
        if let Some(out) = child.stdout.take() {
            log_lines(self.label.clone(), out, "stdout");
        }
        if let Some(err) = child.stderr.take() {
            log_lines(self.label.clone(), err, "stderr");
        }
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = d.json.to_string();
            line.push('\n');
            // On a thread: a command that does not read must not block us.
            let _ = std::thread::Builder::new()
                .name(format!("stdin {}", self.label))
                .spawn(move || {
                    let _ = stdin.write_all(line.as_bytes());
                });
        }
        let status = wait_until(&mut child, Instant::now() + self.cfg.timeout)?;
        if !status.success() {
            bail!("command exited with {status}");
        }
        Ok(Handled::Sent)
    }
}
