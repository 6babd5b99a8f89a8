//! `webhook_action`: an HTTP request per event, by default a POST of the
//! event JSON; `body_template` makes the body from `{{field}}` placeholders.

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::{as_string, Fields};
use crate::template::Template;
use crate::worker::{Action, Handled};
use crate::yaml::Value;

use super::http::{url, Client, HttpOptions};

const METHODS: &[&str] = &["POST", "PUT", "PATCH", "GET", "DELETE"];

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body_template: Option<Template>,
    pub http: HttpOptions,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let url = url(f, d, "url", "webhook_action");
        let method = match f.get("method") {
            None => Some("POST".to_owned()),
            Some(n) => as_string(d, n, "method").and_then(|m| {
                let up = m.to_ascii_uppercase();
                if METHODS.contains(&up.as_str()) {
                    Some(up)
                } else {
                    d.err(
                        n.pos,
                        format!(
                            "`method`: unknown HTTP method `{m}` (valid: {})",
                            METHODS.join(", ")
                        ),
                    );
                    None
                }
            }),
        };
        let headers = headers(f, d)?;
        let body_template = super::template(f, d, "body_template")?;
        let http = HttpOptions::parse(f, d);
        Some(Config {
            url: url?,
            method: method?,
            headers,
            body_template,
            http,
        })
    }
}

/// The `headers:` mapping (name → value).
pub fn headers(f: &mut Fields<'_>, d: &mut Diag) -> Option<Vec<(String, String)>> {
    let Some(n) = f.get("headers") else {
        return Some(Vec::new());
    };
    let Value::Map(entries) = &n.value else {
        d.err(
            n.pos,
            format!(
                "`headers`: expected a mapping, found {}",
                n.value.type_name()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let name = k.scalar_text();
        let value = match &v.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Bool(_) | Value::Float(_) => v.scalar_text(),
            other => {
                d.err(
                    v.pos,
                    format!(
                        "`headers`: value of `{name}` must be a string, found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
        };
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name || value.contains(['\r', '\n']) {
            d.err(k.pos, format!("`headers`: invalid header `{name}`"));
            return None;
        }
        out.push((name, value));
    }
    Some(out)
}

pub struct Webhook {
    cfg: Config,
    client: Client,
}

impl Webhook {
    pub fn new(cfg: Config) -> Webhook {
        let client = Client::new(cfg.http.clone());
        Webhook { cfg, client }
    }
}

impl Action for Webhook {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let body = match &self.cfg.body_template {
            Some(t) => t.render(d),
            None => d.json.to_string(),
        };
        let mut headers = self.cfg.headers.clone();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            let ct = if self.cfg.body_template.is_some() {
                "text/plain; charset=utf-8"
            } else {
                "application/json"
            };
            headers.push(("Content-Type".into(), ct.into()));
        }
        let body = (!matches!(self.cfg.method.as_str(), "GET" | "DELETE")).then_some(body);
        self.client.send(
            &self.cfg.method,
            &self.cfg.url,
            &headers,
            body.as_deref().map(str::as_bytes),
        )?;
        Ok(Handled::Sent)
    }
}
