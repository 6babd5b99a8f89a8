//! `sessionlog_action`: one plain-text log per session under
//! `log_directory`, named as the sshlog agent named them, `ssh_<sshd pid>.log`
//! (or with `file_names: user_session`, `<user>_<session id>.log`), holding
//! the terminal text of the session's `terminal_update` events, with a
//! `--- <timestamp> ---` line at most every `timestamp_frequency_seconds`
//! (0 or the agent's -1, the default: none). `connection_established` / `connection_close` events, when
//! triggered, write a header and a footer line; the footer closes the file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use sshlog_format::SessionEvent;

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::worker::{Action, Handled};

/// Files kept open at once; the least recently used is closed beyond that.
const MAX_OPEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub log_directory: PathBuf,
    pub timestamp_frequency_seconds: u64,
    pub file_names: FileNames,
}

/// How a session's log file is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNames {
    /// `ssh_<sshd pid>.log` (the sshlog agent's names).
    SshdPid,
    /// `<user>_<session id>.log`.
    UserSession,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let dir = f.req_string(d, "log_directory", "sessionlog_action");
        let freq = match f.get("timestamp_frequency_seconds") {
            None => Some(0),
            // The agent's "never".
            Some(n) if n.value == crate::yaml::Value::Int(-1) => Some(0),
            Some(n) => crate::fields::as_uint(d, n, "timestamp_frequency_seconds", 86_400 * 365),
        };
        let file_names = match f.string(d, "file_names").as_deref() {
            None | Some("sshd_pid") => Some(FileNames::SshdPid),
            Some("user_session") => Some(FileNames::UserSession),
            Some(other) => {
                let pos = f.pos();
                d.err(
                    pos,
                    format!(
                        "`file_names`: unknown value `{other}` (valid: sshd_pid, user_session)"
                    ),
                );
                None
            }
        };
        Some(Config {
            log_directory: PathBuf::from(dir?),
            timestamp_frequency_seconds: freq?,
            file_names: file_names?,
        })
    }
}

struct Open {
    file: File,
    last_stamp: Option<DateTime<Utc>>,
    last_use: u64,
}

pub struct SessionLog {
    cfg: Config,
    open: HashMap<String, Open>,
    uses: u64,
}

impl SessionLog {
    pub fn new(cfg: Config) -> SessionLog {
        SessionLog {
            cfg,
            open: HashMap::new(),
            uses: 0,
        }
    }

    /// File name of a session's log.
    pub fn file_name(&self, d: &Delivery) -> String {
        match (self.cfg.file_names, d.ctx.sshd_pid) {
            (FileNames::SshdPid, Some(pid)) => format!("ssh_{pid}.log"),
            _ => Self::user_session_name(d),
        }
    }

    /// `<user>_<session id>.log`.
    fn user_session_name(d: &Delivery) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let user = clean(d.str_field("user").unwrap_or("unknown"));
        let id = match (d.record.session_id, d.ctx.sshd_pid) {
            (Some(id), _) => id.to_string(),
            (None, Some(pid)) => format!("sshd-{pid}"),
            (None, None) => "no-session".into(),
        };
        format!("{user}_{id}.log")
    }

    fn file(&mut self, d: &Delivery) -> anyhow::Result<&mut Open> {
        let name = self.file_name(d);
        self.uses += 1;
        if !self.open.contains_key(&name) {
            if self.open.len() >= MAX_OPEN {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, o)| o.last_use)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.open.remove(&k);
                }
            }
            let dir = &self.cfg.log_directory;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(&name);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            self.open.insert(
                name.clone(),
                Open {
                    file,
                    last_stamp: None,
                    last_use: 0,
                },
            );
        }
        let o = self.open.get_mut(&name).context("session log vanished")?;
        o.last_use = self.uses;
        Ok(o)
    }
}

fn stamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Action for SessionLog {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let freq = self.cfg.timestamp_frequency_seconds;
        let ts = d.record.ts;
        let mut text = String::new();
        let close = match &d.record.event {
            SessionEvent::TerminalUpdate { text: t } => {
                let o = self.file(d)?;
                let due = o
                    .last_stamp
                    .is_none_or(|last| (ts - last).num_seconds() >= freq as i64);
                if freq > 0 && due {
                    text.push_str(&format!("\n--- {} ---\n", stamp(ts)));
                    o.last_stamp = Some(ts);
                }
                text.push_str(t);
                false
            }
            SessionEvent::ConnectionEstablished {
                user,
                client_ip,
                tty,
                ..
            } => {
                text = format!(
                    "=== session of {user} from {client_ip}{} started {} ===\n",
                    tty.as_deref()
                        .map(|t| format!(" on {t}"))
                        .unwrap_or_default(),
                    stamp(ts)
                );
                false
            }
            SessionEvent::ConnectionClose { duration_ms, .. } => {
                text = format!(
                    "\n=== session ended {} after {}s ===\n",
                    stamp(ts),
                    duration_ms / 1000
                );
                true
            }
            _ => return Ok(Handled::Skipped),
        };
        let o = self.file(d)?;
        o.file
            .write_all(text.as_bytes())
            .context("writing session log")?;
        if close {
            let name = self.file_name(d);
            self.open.remove(&name);
        }
        Ok(Handled::Sent)
    }
}
