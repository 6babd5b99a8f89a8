//! `eventlogfile_action`: one line per event (the format of
//! `sshlog_format::human_line`, as in the global `event.log`) appended to a
//! file rotated by size; with `output_json` (the sshlog agent's option) the
//! agent's payload as JSON instead. A path that is sshlogd's own event log
//! shares sshlogd's writer (see [`SharedEventLog`]).

use std::path::PathBuf;

use anyhow::Context as _;
use sshlog_format::human_line;

use crate::context::Delivery;
use crate::error::Diag;
use crate::event_log::{EventLog, SharedEventLog};
use crate::fields::Fields;
use crate::worker::{Action, Handled};

#[derive(Clone)]
pub struct Config {
    pub log_file_path: PathBuf,
    pub max_size_mb: u64,
    pub number_of_log_files: u32,
    /// The sshlog agent's `output_json`: each line is `TIME: ` and the
    /// agent's payload as JSON, as the agent wrote it.
    pub output_json: bool,
    /// Set when `log_file_path` is sshlogd's own event log: lines go through
    /// its writer, and the lines sshlogd writes itself are not written twice.
    pub shared: Option<std::sync::Arc<SharedEventLog>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("log_file_path", &self.log_file_path)
            .field("output_json", &self.output_json)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag, cx: &super::ParseCx<'_>) -> Option<Config> {
        let path = f.req_string(d, "log_file_path", "eventlogfile_action");
        let max_size_mb = f.uint_or(d, "max_size_mb", 10, 1 << 20).max(1);
        let number_of_log_files = f.uint_or(d, "number_of_log_files", 5, 1000).max(1) as u32;
        let output_json = f.bool_or(d, "output_json", false);
        let log_file_path = PathBuf::from(path?);
        let shared = cx.event_log.filter(|l| l.is(&log_file_path)).cloned();
        Some(Config {
            log_file_path,
            max_size_mb,
            number_of_log_files,
            output_json,
            shared,
        })
    }
}

/// The line written for `d`.
pub fn line(cfg: &Config, d: &Delivery) -> String {
    if cfg.output_json {
        let time = d.record.ts.with_timezone(&chrono::Local);
        format!("{}: {}", time.format("%Y-%m-%d %H:%M:%S"), d.agent)
    } else {
        human_line(&d.record)
    }
}

/// The file is opened on the first event (and again after an error).
pub struct EventLogFile {
    cfg: Config,
    log: Option<EventLog>,
}

impl EventLogFile {
    pub fn new(cfg: Config) -> EventLogFile {
        EventLogFile { cfg, log: None }
    }
}

impl Action for EventLogFile {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let path = &self.cfg.log_file_path;
        if let Some(shared) = &self.cfg.shared {
            // sshlogd writes this very line for every stored event already.
            let transient = d.record.event.type_name() == "terminal_update";
            if self.cfg.output_json || transient {
                shared
                    .write_line(&line(&self.cfg, d))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            return Ok(Handled::Sent);
        }
        if self.log.is_none() {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let log = EventLog::open(
                path,
                self.cfg.max_size_mb * 1024 * 1024,
                self.cfg.number_of_log_files,
            )
            .with_context(|| format!("opening {}", path.display()))?;
            self.log = Some(log);
        }
        let Some(log) = self.log.as_mut() else {
            return Ok(Handled::Skipped);
        };
        if let Err(e) = log.write_line(&line(&self.cfg, d)) {
            self.log = None;
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        Ok(Handled::Sent)
    }
}
