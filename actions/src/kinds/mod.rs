//! The action kinds (the `plugin:` value of an action) and their options.

pub mod email;
pub mod eventlogfile;
pub mod http;
pub mod message_to_session;
pub mod plugin;
pub mod python_plugin;
pub mod runcommand;
pub mod sessionlog;
pub mod slack;
pub mod statsd;
pub mod syslog;
pub mod webhook;

use std::path::Path;

use super::error::Diag;
use super::fields::Fields;
use super::worker::Action;

/// Every action kind, in documentation order.
pub const KINDS: &[&str] = &[
    "eventlogfile_action",
    "sessionlog_action",
    "webhook_action",
    "slack_action",
    "runcommand_action",
    "syslog_action",
    "statsd_action",
    "message_to_session_action",
    "plugin_action",
    "email_action",
];

/// Other names of kinds (the sshlog agent's spellings) and the kind each is.
pub const ALIASES: &[(&str, &str)] = &[("run_command_action", "runcommand_action")];

/// The kind `name` (one of [`KINDS`] or [`ALIASES`]) is.
pub fn canonical(name: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .copied()
        .find(|k| *k == name)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, k)| *k))
}

/// What option parsing may need to know.
#[derive(Clone, Copy)]
pub struct ParseCx<'a> {
    pub plugins_dir: &'a Path,
    /// sshlogd's own event log, for actions that write to the same file.
    pub event_log: Option<&'a std::sync::Arc<crate::event_log::SharedEventLog>>,
    /// The sshlog agent's Python plugins found in `plugins_dir`.
    pub python: Option<&'a crate::agent::python::Catalog>,
}

/// The validated options of one action.
#[derive(Debug, Clone)]
pub enum KindConfig {
    EventLogFile(eventlogfile::Config),
    SessionLog(sessionlog::Config),
    Webhook(webhook::Config),
    Slack(slack::Config),
    RunCommand(runcommand::Config),
    Syslog(syslog::Config),
    Statsd(statsd::Config),
    MessageToSession(message_to_session::Config),
    Plugin(plugin::Config),
    Email(email::Config),
    PythonPlugin(python_plugin::Config),
}

/// Parse the kind-specific options of an action (`kind` is one of [`KINDS`]).
pub fn parse(kind: &str, f: &mut Fields<'_>, d: &mut Diag, cx: &ParseCx<'_>) -> Option<KindConfig> {
    Some(match kind {
        "eventlogfile_action" => KindConfig::EventLogFile(eventlogfile::Config::parse(f, d, cx)?),
        "sessionlog_action" => KindConfig::SessionLog(sessionlog::Config::parse(f, d)?),
        "webhook_action" => KindConfig::Webhook(webhook::Config::parse(f, d)?),
        "slack_action" => KindConfig::Slack(slack::Config::parse(f, d)?),
        "runcommand_action" => KindConfig::RunCommand(runcommand::Config::parse(f, d)?),
        "syslog_action" => KindConfig::Syslog(syslog::Config::parse(f, d)?),
        "statsd_action" => KindConfig::Statsd(statsd::Config::parse(f, d)?),
        "message_to_session_action" => {
            KindConfig::MessageToSession(message_to_session::Config::parse(f, d)?)
        }
        "plugin_action" => KindConfig::Plugin(plugin::Config::parse(f, d, cx)?),
        "email_action" => KindConfig::Email(email::Config::parse(f, d)?),
        _ => return None,
    })
}

impl KindConfig {
    /// The runtime half; `label` (`event/action`) names it in logs.
    pub fn start(self, label: &str) -> Box<dyn Action> {
        match self {
            KindConfig::EventLogFile(c) => Box::new(eventlogfile::EventLogFile::new(c)),
            KindConfig::SessionLog(c) => Box::new(sessionlog::SessionLog::new(c)),
            KindConfig::Webhook(c) => Box::new(webhook::Webhook::new(c)),
            KindConfig::Slack(c) => Box::new(slack::Slack::new(c)),
            KindConfig::RunCommand(c) => Box::new(runcommand::RunCommand::new(c, label)),
            KindConfig::Syslog(c) => Box::new(syslog::Syslog::new(c)),
            KindConfig::Statsd(c) => Box::new(statsd::Statsd::new(c)),
            KindConfig::MessageToSession(c) => {
                Box::new(message_to_session::MessageToSession::new(c))
            }
            KindConfig::Plugin(c) => Box::new(plugin::Plugin::new(c, label)),
            KindConfig::Email(c) => Box::new(email::Email::new(c)),
            KindConfig::PythonPlugin(c) => Box::new(python_plugin::PythonPlugin::new(c, label)),
        }
    }
}

/// Parse a template option, reporting a bad template at its position.
pub(crate) fn template(
    f: &mut Fields<'_>,
    d: &mut Diag,
    key: &'static str,
) -> Option<Option<super::template::Template>> {
    let Some(n) = f.get(key) else {
        return Some(None);
    };
    let text = super::fields::as_string(d, n, key)?;
    match super::template::Template::parse(&text) {
        Ok(t) => Some(Some(t)),
        Err(e) => {
            d.err(n.pos, format!("`{key}`: {e}"));
            None
        }
    }
}

/// Parse a `host:port` option.
pub(crate) fn host_port(
    f: &mut Fields<'_>,
    d: &mut Diag,
    key: &'static str,
    what: &str,
) -> Option<String> {
    let n = f.require(d, key, what)?;
    let s = super::fields::as_string(d, n, key)?;
    let ok = s
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !ok {
        d.err(n.pos, format!("`{key}`: expected host:port, found `{s}`"));
        return None;
    }
    Some(s)
}

/// The server of a network action: `server: host:port`, or as the sshlog
/// agent wrote it, `server_address` and `port` (default `default_port`).
/// Returns `host:port` and whether the agent's names were used.
pub(crate) fn server(
    f: &mut Fields<'_>,
    d: &mut Diag,
    what: &str,
    default_port: u16,
) -> Option<(String, bool)> {
    let Some(n) = f.get("server_address") else {
        let _ = f.get("port"); // an agent option: named in the valid list
        return host_port(f, d, "server", what).map(|s| (s, false));
    };
    if let Some(s) = f.get("server") {
        d.err(
            s.pos,
            "`server` and `server_address` are the same option; give one",
        );
        return None;
    }
    let host = super::fields::as_string(d, n, "server_address")?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        d.err(
            n.pos,
            format!("`server_address`: expected a host name or address, found `{host}`"),
        );
        return None;
    }
    let port = match f.get("port") {
        None => default_port,
        Some(p) => match super::fields::as_uint(d, p, "port", 65535)? {
            0 => {
                d.err(p.pos, "`port`: 0 is not a port");
                return None;
            }
            p => p as u16,
        },
    };
    // An IPv6 address needs brackets in host:port.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Some((format!("{host}:{port}"), true))
}
