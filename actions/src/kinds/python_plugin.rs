//! An action of the sshlog agent's Python plugins (`plugin: CLASS`, a
//! subclass of `ActionPlugin` in the plugins directory): its options are
//! `init_action`'s parameters, checked against its signature; each event
//! (the agent's payload) goes to `execute()` in a host process of its own.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::agent::python::{ActionInfo, Process};
use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::worker::{Action, Handled};

use super::ParseCx;

/// The kind shown in stats for these actions.
pub const KIND: &str = "python_plugin";

/// How long one `execute()` may take.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub class: String,
    /// The action's name (the agent's `self.name`).
    pub name: String,
    /// `init_action`'s arguments.
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Config {
    pub fn parse(
        f: &mut Fields<'_>,
        d: &mut Diag,
        cx: &ParseCx<'_>,
        class: &str,
        name: &str,
        info: &ActionInfo,
    ) -> Option<Config> {
        let mut params = serde_json::Map::new();
        let mut ok = true;
        for (key, key_pos, node) in f.take_rest() {
            if info.params.iter().any(|p| p.name == key) {
                params.insert(key, node.to_json());
            } else {
                ok = false;
                let valid: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
                d.err(
                    key_pos,
                    format!(
                        "unknown option `{key}` for {class} (its init_action takes: {})",
                        valid.join(", ")
                    ),
                );
            }
        }
        for p in info.params.iter().filter(|p| p.required) {
            if !params.contains_key(&p.name) {
                ok = false;
                let pos = f.pos();
                d.err(
                    pos,
                    format!("{class}: missing required option `{}`", p.name),
                );
            }
        }
        ok.then(|| Config {
            dir: cx.plugins_dir.to_path_buf(),
            class: class.to_owned(),
            name: name.to_owned(),
            params,
        })
    }
}

pub struct PythonPlugin {
    cfg: Config,
    label: String,
    process: Option<Process>,
}

impl PythonPlugin {
    pub fn new(cfg: Config, label: &str) -> PythonPlugin {
        PythonPlugin {
            cfg,
            label: label.to_owned(),
            process: None,
        }
    }

    fn start(&self) -> anyhow::Result<Process> {
        let params = serde_json::Value::Object(self.cfg.params.clone()).to_string();
        let args: [&std::ffi::OsStr; 5] = [
            "action".as_ref(),
            self.cfg.dir.as_os_str(),
            self.cfg.class.as_ref(),
            self.cfg.name.as_ref(),
            params.as_ref(),
        ];
        Process::start(&self.cfg.dir, &args, &self.label)
    }
}

impl Action for PythonPlugin {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        if self.process.is_none() {
            self.process = Some(self.start()?);
        }
        let Some(p) = self.process.as_mut() else {
            bail!("no Python host");
        };
        match p.ask(&d.agent.to_string(), EXECUTE_TIMEOUT) {
            Ok(a) if a == "ok" => Ok(Handled::Sent),
            Ok(a) => bail!("{}: {}", self.cfg.class, a.trim_start_matches("error: ")),
            Err(e) => {
                // Started again for the next event.
                self.process = None;
                Err(e)
            }
        }
    }

    fn idle(&mut self) {
        if self.process.is_none() {
            match self.start() {
                Ok(p) => self.process = Some(p),
                Err(e) => tracing::warn!(action = %self.label, "{e:#}"),
            }
        }
    }

    fn shutdown(&mut self) {
        self.process = None;
    }
}
