//! `email_action`: one e-mail per event through an SMTP server, as the sshlog
//! agent sent them: `sender`, `recipient` (one address or a list),
//! `subject` and `body` (templates), `smtp_server`, `smtp_port`, and an
//! optional login (`username`, `password`). The connection is upgraded with
//! STARTTLS (`starttls: false` for a plain local relay); `tls_ca_file` adds a
//! CA to trust besides the public roots.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::{as_strings, as_uint, Fields};
use crate::template::Template;
use crate::worker::{Action, Handled};

/// Subject when none is given.
pub const DEFAULT_SUBJECT: &str = "sshlog on {{hostname}}: {{event_type}}";
/// Body when none is given.
pub const DEFAULT_BODY: &str = "{{summary}}\n";

#[derive(Debug, Clone)]
pub struct Config {
    pub sender: Mailbox,
    pub recipients: Vec<Mailbox>,
    pub subject: Template,
    pub body: Template,
    pub server: String,
    pub port: u16,
    pub login: Option<(String, String)>,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

fn mailbox(d: &mut Diag, text: &str, pos: crate::yaml::Pos, key: &str) -> Option<Mailbox> {
    match text.parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            d.err(pos, format!("`{key}`: not an e-mail address `{text}`: {e}"));
            None
        }
    }
}

fn template_or(
    f: &mut Fields<'_>,
    d: &mut Diag,
    key: &'static str,
    default: &str,
) -> Option<Template> {
    match super::template(f, d, key)? {
        Some(t) => Some(t),
        None => Template::parse(default).ok(),
    }
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let what = "email_action";
        let sender = f
            .require(d, "sender", what)
            .and_then(|n| Some((crate::fields::as_string(d, n, "sender")?, n.pos)))
            .and_then(|(s, pos)| mailbox(d, &s, pos, "sender"));
        let recipients = f.require(d, "recipient", what).and_then(|n| {
            let list = as_strings(d, n, "recipient")?;
            let parsed: Option<Vec<Mailbox>> = list
                .iter()
                .map(|(s, pos)| mailbox(d, s, *pos, "recipient"))
                .collect();
            parsed.filter(|v| !v.is_empty())
        });
        let subject = template_or(f, d, "subject", DEFAULT_SUBJECT);
        let body = template_or(f, d, "body", DEFAULT_BODY);
        let server = f.req_string(d, "smtp_server", what);
        let port = match f.get("smtp_port") {
            None => Some(25),
            Some(n) => as_uint(d, n, "smtp_port", 65535).map(|p| p as u16),
        };
        let username = f.string(d, "username");
        let password = f.string(d, "password");
        let login = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                let pos = f.pos();
                d.err(
                    pos,
                    "`username` and `password` go together: give both or neither",
                );
                return None;
            }
        };
        let starttls = f.bool_or(d, "starttls", true);
        let ca_file = f.string(d, "tls_ca_file").map(PathBuf::from);
        let timeout = Duration::from_millis(f.uint_or(d, "timeout_ms", 30_000, 600_000).max(1));
        if login.is_some() && !starttls {
            let pos = f.pos();
            d.err(pos, "`username`/`password` need `starttls` (the password would cross the network in clear)");
            return None;
        }
        Some(Config {
            sender: sender?,
            recipients: recipients?,
            subject: subject?,
            body: body?,
            server: server?,
            port: port?,
            login,
            starttls,
            ca_file,
            timeout,
        })
    }
}

pub struct Email {
    cfg: Config,
    transport: Option<SmtpTransport>,
}

impl Email {
    pub fn new(cfg: Config) -> Email {
        Email {
            cfg,
            transport: None,
        }
    }

    fn transport(&self) -> anyhow::Result<SmtpTransport> {
        let c = &self.cfg;
        let tls = if c.starttls {
            let mut params = TlsParameters::builder(c.server.clone());
            if let Some(path) = &c.ca_file {
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
                params = params.add_root_certificate(cert);
            }
            Tls::Required(params.build().context("TLS set-up")?)
        } else {
            Tls::None
        };
        let mut b = SmtpTransport::builder_dangerous(c.server.clone())
            .port(c.port)
            .tls(tls)
            .timeout(Some(c.timeout));
        if let Some((user, pass)) = &c.login {
            b = b.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(b.build())
    }
}

impl Action for Email {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let mut m = Message::builder()
            .from(self.cfg.sender.clone())
            .subject(self.cfg.subject.render(d).replace(['\r', '\n'], " "));
        for to in &self.cfg.recipients {
            m = m.to(to.clone());
        }
        let message = m
            .body(self.cfg.body.render(d))
            .context("building the message")?;
        if self.transport.is_none() {
            self.transport = Some(self.transport()?);
        }
        let Some(t) = &self.transport else {
            anyhow::bail!("no SMTP transport");
        };
        if let Err(e) = t.send(&message) {
            self.transport = None;
            return Err(e).context(format!(
                "sending through {}:{}",
                self.cfg.server, self.cfg.port
            ));
        }
        Ok(Handled::Sent)
    }
}
