//! `statsd_action`: metrics in the StatsD line protocol over UDP, all the
//! lines of one event in one datagram (`\n`-separated).
//!
//! | event | metrics |
//! |---|---|
//! | connection_established | `PREFIX.logins:1\|c`, `PREFIX.active_sessions:N\|g` |
//! | connection_auth_failed | `PREFIX.auth_failures:1\|c` |
//! | connection_close | `PREFIX.logouts:1\|c`, `PREFIX.session_duration:MS\|ms`, `PREFIX.bytes_in:N\|c`, `PREFIX.bytes_out:N\|c`, `PREFIX.active_sessions:N\|g` |
//! | command_start | `PREFIX.commands:1\|c` |
//! | command_finish | `PREFIX.command_duration:MS\|ms`, `PREFIX.command_failures:1\|c` (non-zero exit or signal) |
//! | file_upload | `PREFIX.uploads:1\|c`, `PREFIX.upload_bytes:N\|c` |
//! | data_loss | `PREFIX.data_loss:1\|c`, `PREFIX.data_loss_bytes:N\|c`, `PREFIX.data_loss_events:N\|c` |
//! | terminal_injection | `PREFIX.injections:1\|c`, `PREFIX.injected_bytes:N\|c` |
//! | outbound_connection_start | `PREFIX.outbound_connections:1\|c` |
//! | outbound_connection_end | `PREFIX.outbound_duration:MS\|ms` |
//!
//! `active_sessions` counts the sessions seen starting minus those seen
//! closing since the daemon started.
//!
//! Configured with the sshlog agent's names, the agent's metrics are sent
//! instead: one counter per event named after its type, with DogStatsD tags
//! ([`agent_metric`]).

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use anyhow::{bail, Context as _};
use sshlog_format::SessionEvent;

use serde_json::Value;

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::template::hostname;
use crate::worker::{Action, Handled};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: String,
    pub prefix: String,
    /// Configured with the sshlog agent's names (`server_address`, `port`,
    /// `statsd_prefix`): send the agent's metrics instead (see [`agent_metric`]).
    pub agent: bool,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let server = super::server(f, d, "statsd_action", 8125);
        let prefix_key = f.either(d, "prefix", "statsd_prefix");
        let agent_prefix = prefix_key.is_some_and(|(k, _)| k == "statsd_prefix");
        let prefix = match prefix_key {
            None => Some("sshlog".to_owned()),
            Some((key, n)) => crate::fields::as_string(d, n, key).and_then(|p| {
                let ok = p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if ok {
                    Some(p.trim_end_matches('.').to_owned())
                } else {
                    d.err(
                        n.pos,
                        format!("`{key}`: `{p}` may only hold letters, digits, `.`, `_` and `-`"),
                    );
                    None
                }
            }),
        };
        let (server, agent_server) = server?;
        Some(Config {
            server,
            prefix: prefix?,
            agent: agent_server || agent_prefix,
        })
    }
}

pub struct Statsd {
    cfg: Config,
    sock: Option<(UdpSocket, SocketAddr)>,
    active: i64,
}

impl Statsd {
    pub fn new(cfg: Config) -> Statsd {
        Statsd {
            cfg,
            sock: None,
            active: 0,
        }
    }

    /// The metric lines for an event (empty when it has none).
    pub fn metrics(&mut self, d: &Delivery) -> Vec<String> {
        if self.cfg.agent {
            return agent_metric(&self.cfg.prefix, &d.agent, &hostname())
                .into_iter()
                .collect();
        }
        let p = &self.cfg.prefix;
        let c = |name: &str, n: u64| format!("{p}.{name}:{n}|c");
        let ms = |name: &str, n: u64| format!("{p}.{name}:{n}|ms");
        match &d.record.event {
            SessionEvent::ConnectionEstablished { .. } => {
                self.active += 1;
                vec![
                    c("logins", 1),
                    format!("{p}.active_sessions:{}|g", self.active),
                ]
            }
            SessionEvent::ConnectionAuthFailed { .. } => vec![c("auth_failures", 1)],
            SessionEvent::ConnectionClose {
                duration_ms,
                bytes_in,
                bytes_out,
                ..
            } => {
                self.active = (self.active - 1).max(0);
                vec![
                    c("logouts", 1),
                    ms("session_duration", *duration_ms),
                    c("bytes_in", *bytes_in),
                    c("bytes_out", *bytes_out),
                    format!("{p}.active_sessions:{}|g", self.active),
                ]
            }
            SessionEvent::CommandStart { .. } => vec![c("commands", 1)],
            SessionEvent::CommandFinish {
                duration_ms,
                exit_code,
                signal,
                ..
            } => {
                let mut v = vec![ms("command_duration", *duration_ms)];
                if signal.is_some() || exit_code.is_some_and(|e| e != 0) {
                    v.push(c("command_failures", 1));
                }
                v
            }
            SessionEvent::FileUpload { size, .. } => {
                vec![c("uploads", 1), c("upload_bytes", *size)]
            }
            SessionEvent::DataLoss {
                bytes_dropped,
                events_dropped,
                ..
            } => vec![
                c("data_loss", 1),
                c("data_loss_bytes", *bytes_dropped),
                c("data_loss_events", *events_dropped),
            ],
            SessionEvent::TerminalInjection { bytes, .. } => {
                vec![c("injections", 1), c("injected_bytes", *bytes)]
            }
            SessionEvent::OutboundConnectionStart { .. } => vec![c("outbound_connections", 1)],
            SessionEvent::OutboundConnectionEnd { duration_ms, .. } => {
                vec![ms("outbound_duration", *duration_ms)]
            }
            _ => Vec::new(),
        }
    }
}

/// The sshlog agent's metric for an event (its payload `p`):
/// `PREFIX.EVENT_TYPE:1|c|#hostname:H,user:U,pid:SSHD_PID` plus
/// `client_ip`/`client_port` for connection events, `command` for commands
/// and `upload_file` for uploads. Terminal updates send nothing.
pub fn agent_metric(prefix: &str, p: &Value, host: &str) -> Option<String> {
    let ty = p.get("event_type").and_then(Value::as_str)?;
    if ty == "terminal_update" {
        return None;
    }
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    // DogStatsD tags end at `,` and `|`.
    let tag = |k: &str, v: String| format!("{k}:{}", v.replace([',', '|', '\n'], "_"));
    let mut tags = vec![
        tag("hostname", host.to_owned()),
        tag("user", text(p.get("username"))),
        tag("pid", text(p.get("ptm_pid"))),
    ];
    if let Some(t) = p.get("tcp_info") {
        tags.push(tag("client_ip", text(t.get("client_ip"))));
        tags.push(tag("client_port", text(t.get("client_port"))));
    }
    match ty {
        "command_start" | "command_finish" => tags.push(tag("command", text(p.get("filename")))),
        "file_upload" => tags.push(tag("upload_file", text(p.get("target_path")))),
        _ => {}
    }
    Some(format!("{prefix}.{ty}:1|c|#{}", tags.join(",")))
}

impl Action for Statsd {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let lines = self.metrics(d);
        if lines.is_empty() {
            return Ok(Handled::Skipped);
        }
        if self.sock.is_none() {
            let addr = self
                .cfg
                .server
                .to_socket_addrs()
                .with_context(|| format!("resolving {}", self.cfg.server))?
                .next()
                .with_context(|| format!("{} has no address", self.cfg.server))?;
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            self.sock = Some((UdpSocket::bind(bind).context("binding UDP socket")?, addr));
        }
        let Some((sock, addr)) = &self.sock else {
            bail!("no UDP socket");
        };
        if let Err(e) = sock.send_to(lines.join("\n").as_bytes(), addr) {
            self.sock = None;
            return Err(e).context("sending metrics");
        }
        Ok(Handled::Sent)
    }
}
