//! `syslog_action`: RFC 5424 messages to a syslog server over UDP (one
//! datagram each) or TCP (RFC 6587 octet counting: `LEN SP MSG`).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG` with MSGID the
//! event type and SD `[sshlog@32473 type=".." session_id=".." user=".." ...]`.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::SecondsFormat;
use serde_json::Value;

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::template::{hostname, Template};
use crate::worker::{Action, Handled};

/// Private enterprise number of the structured-data id (RFC 5612's example
/// number, for documentation use).
pub const SD_ID: &str = "sshlog@32473";

const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

const SEVERITIES: &[(&str, u8)] = &[
    ("emerg", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

/// Fields put in the structured data, when the event has them.
const SD_FIELDS: &[&str] = &[
    "type",
    "session_id",
    "user",
    "client_ip",
    "tty",
    "pid",
    "exit_code",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub transport: Transport,
    pub facility: u8,
    pub severity: u8,
    pub app_name: String,
    pub hostname: Option<String>,
    pub structured_data: bool,
    pub message_template: Option<Template>,
    /// Configured with the sshlog agent's names (`server_address`, `port`,
    /// `udp`, `output_json`, `program_name`): the message is the agent's line
    /// (or, with `output_json`, its payload as JSON) and PROCID the
    /// connection's sshd pid, as the agent sent them.
    pub agent: Option<AgentStyle>,
}

/// How the agent formatted its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStyle {
    pub output_json: bool,
}

fn pick(
    f: &mut Fields<'_>,
    d: &mut Diag,
    key: &'static str,
    table: &[(&str, u8)],
    default: u8,
) -> Option<u8> {
    let Some(n) = f.get(key) else {
        return Some(default);
    };
    // The agent gave facilities and severities as numbers.
    if let crate::yaml::Value::Int(i) = n.value {
        let max = table.iter().map(|(_, v)| *v).max().unwrap_or(0);
        if (0..=i64::from(max)).contains(&i) {
            return Some(i as u8);
        }
        d.err(n.pos, format!("`{key}`: {i} is out of range 0..={max}"));
        return None;
    }
    let s = crate::fields::as_string(d, n, key)?;
    match table.iter().find(|(name, _)| *name == s) {
        Some((_, v)) => Some(*v),
        None => {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            d.err(
                n.pos,
                format!("`{key}`: unknown value `{s}` (valid: {})", names.join(", ")),
            );
            None
        }
    }
}

fn token(
    d: &mut Diag,
    f: &mut Fields<'_>,
    key: &'static str,
    default: Option<&str>,
    max: usize,
) -> Option<Option<String>> {
    let Some(n) = f.get(key) else {
        return Some(default.map(str::to_owned));
    };
    let s = crate::fields::as_string(d, n, key)?;
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
        d.err(
            n.pos,
            format!("`{key}`: must be 1 to {max} printable ASCII characters without spaces"),
        );
        return None;
    }
    Some(Some(s))
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let server = super::server(f, d, "syslog_action", 514);
        let udp = f.get("udp").is_some().then(|| f.bool_or(d, "udp", true));
        let output_json = f.get("output_json").is_some();
        let output_json = output_json.then(|| f.bool_or(d, "output_json", false));
        let program_name = f.get("program_name").is_some();
        let agent = server.as_ref().is_some_and(|(_, a)| *a)
            || udp.is_some()
            || output_json.is_some()
            || program_name;
        let transport = match f.get("transport") {
            None if udp == Some(false) => Some(Transport::Tcp),
            None => Some(Transport::Udp),
            Some(n) => match crate::fields::as_string(d, n, "transport")?.as_str() {
                "udp" => Some(Transport::Udp),
                "tcp" => Some(Transport::Tcp),
                other => {
                    d.err(
                        n.pos,
                        format!("`transport`: unknown value `{other}` (valid: udp, tcp)"),
                    );
                    None
                }
            },
        };
        // The agent's default facility was 3 (system daemons).
        let facility = pick(f, d, "facility", FACILITIES, if agent { 3 } else { 4 });
        let severity = pick(f, d, "severity", SEVERITIES, 6);
        let app_key = match f.either(d, "app_name", "program_name") {
            Some((k, _)) => k,
            None => "app_name",
        };
        let app_name = token(d, f, app_key, Some("sshlog"), 48);
        let host = token(d, f, "hostname", None, 255);
        let structured_data = f.bool_or(d, "structured_data", !agent);
        let message_template = super::template(f, d, "message_template")?;
        Some(Config {
            server: server?.0,
            transport: transport?,
            facility: facility?,
            severity: severity?,
            app_name: app_name?.unwrap_or_else(|| "sshlog".into()),
            hostname: host?,
            structured_data,
            message_template,
            agent: agent.then_some(AgentStyle {
                output_json: output_json.unwrap_or(false),
            }),
        })
    }
}

fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One RFC 5424 message (without framing).
pub fn format_message(cfg: &Config, d: &Delivery, host: &str, procid: u32) -> String {
    let pri = u16::from(cfg.facility) * 8 + u16::from(cfg.severity);
    let ts = d.record.ts.to_rfc3339_opts(SecondsFormat::Micros, true);
    let msgid = d.record.event.type_name();
    let msgid: String = msgid
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let msgid = if msgid.is_empty() { "-".into() } else { msgid };
    let sd = if cfg.structured_data {
        let mut sd = format!("[{SD_ID}");
        for k in SD_FIELDS {
            let v = match d.json.get(*k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            sd.push_str(&format!(" {k}=\"{}\"", sd_escape(&v)));
        }
        sd.push(']');
        sd
    } else {
        "-".into()
    };
    let msg = match (&cfg.message_template, cfg.agent) {
        (Some(t), _) => t.render(d),
        (None, Some(a)) if a.output_json => d.agent.to_string(),
        (None, Some(_)) => crate::agent::text::line(&d.agent),
        (None, None) => crate::template::summary(d),
    };
    let procid = match (cfg.agent, d.agent.get("ptm_pid").and_then(Value::as_i64)) {
        (Some(_), Some(pid)) if pid > 0 => pid.to_string(),
        _ => procid.to_string(),
    };
    let msg: String = msg
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {ts} {host} {} {procid} {msgid} {sd} {msg}",
        cfg.app_name
    )
}

pub struct Syslog {
    cfg: Config,
    host: String,
    udp: Option<(UdpSocket, SocketAddr)>,
    tcp: Option<TcpStream>,
}

const IO_TIMEOUT: Duration = Duration::from_secs(5);

impl Syslog {
    pub fn new(cfg: Config) -> Syslog {
        let host = cfg.hostname.clone().unwrap_or_else(|| {
            let h: String = hostname()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .collect();
            if h.is_empty() {
                "-".into()
            } else {
                h
            }
        });
        Syslog {
            cfg,
            host,
            udp: None,
            tcp: None,
        }
    }

    fn resolve(&self) -> anyhow::Result<SocketAddr> {
        self.cfg
            .server
            .to_socket_addrs()
            .with_context(|| format!("resolving {}", self.cfg.server))?
            .next()
            .with_context(|| format!("{} has no address", self.cfg.server))
    }

    fn send_udp(&mut self, msg: &str) -> anyhow::Result<()> {
        if self.udp.is_none() {
            let addr = self.resolve()?;
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let sock = UdpSocket::bind(bind).context("binding UDP socket")?;
            self.udp = Some((sock, addr));
        }
        let Some((sock, addr)) = &self.udp else {
            bail!("no UDP socket");
        };
        if let Err(e) = sock.send_to(msg.as_bytes(), addr) {
            self.udp = None;
            return Err(e).context("sending UDP datagram");
        }
        Ok(())
    }

    fn send_tcp(&mut self, msg: &str) -> anyhow::Result<()> {
        let frame = format!("{} {msg}", msg.len());
        for attempt in 0..2 {
            if self.tcp.is_none() {
                let addr = self.resolve()?;
                let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
                    .with_context(|| format!("connecting to {addr}"))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                self.tcp = Some(s);
            }
            let Some(s) = self.tcp.as_mut() else {
                bail!("no TCP connection");
            };
            match s.write_all(frame.as_bytes()) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.tcp = None;
                    if attempt == 1 {
                        return Err(e).context("sending over TCP");
                    }
                }
            }
        }
        Ok(())
    }
}

impl Action for Syslog {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let msg = format_message(&self.cfg, d, &self.host, std::process::id());
        match self.cfg.transport {
            Transport::Udp => self.send_udp(&msg)?,
            Transport::Tcp => self.send_tcp(&msg)?,
        }
        Ok(Handled::Sent)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use sshlog_format::{Record, SessionEvent};

    use super::*;
    use crate::context::EventContext;
    use crate::yaml::parse;

    fn config(yaml: &str) -> Result<Config, Vec<String>> {
        let node = parse(yaml).expect("yaml").expect("doc");
        let mut d = Diag::new(Path::new("s.yaml"));
        let mut f = Fields::of(&mut d, &node, "action").expect("map");
        let c = Config::parse(&mut f, &mut d);
        f.finish(&mut d, "syslog_action", "option");
        match c {
            Some(c) if d.errors.is_empty() => Ok(c),
            _ => Err(d.errors.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn rfc5424_line() {
        let cfg =
            config("server: 127.0.0.1:514\nfacility: local3\nseverity: warning\n").expect("valid");
        let ts = Utc
            .with_ymd_and_hms(2023, 11, 28, 10, 57, 17)
            .single()
            .expect("ts");
        let record = Record::new(
            ts,
            None,
            SessionEvent::ConnectionAuthFailed {
                user: Some("ro\"ot]".into()),
                client_ip: "198.51.100.7".into(),
                client_port: 40022,
                method: Some("password".into()),
                sshd_pid: 1790,
            },
        );
        let ctx = EventContext::default();
        let d = Delivery::new(record, ctx, Arc::from("e"));
        assert_eq!(
            format_message(&cfg, &d, "host1", 77),
            "<156>1 2023-11-28T10:57:17.000000Z host1 sshlog 77 connection_auth_failed \
             [sshlog@32473 type=\"connection_auth_failed\" user=\"ro\\\"ot\\]\" client_ip=\"198.51.100.7\"] \
             connection_auth_failed (1790) ro\"ot] from 198.51.100.7:40022 via password"
        );
    }

    #[test]
    fn bad_options() {
        let e = config("server: nope\ntransport: sctp\nfacility: mail2\n").expect_err("bad");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("s.yaml:1:9: `server`: expected host:port"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("s.yaml:2:12: `transport`: unknown value `sctp`"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("s.yaml:3:11: `facility`: unknown value `mail2`"),
            "{e:?}"
        );
    }
}
