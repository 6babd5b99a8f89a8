//! `webhook_action`: an HTTP request per event, by default a POST of the
//! event JSON; `body_template` makes the body from `{{field}}` placeholders.
//! With the sshlog agent's option names (`webhook_url`, `do_get_request`)
//! the agent's payload is sent: as a JSON body, or for a GET as query
//! parameters (`?event_type=…&username=…`, nested values as JSON).

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::{as_string, Fields};
use crate::template::Template;
use crate::worker::{Action, Handled};
use crate::yaml::Value;

use super::http::{url_of, Client, HttpOptions};

const METHODS: &[&str] = &["POST", "PUT", "PATCH", "GET", "DELETE"];

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body_template: Option<Template>,
    pub http: HttpOptions,
    /// Configured with the sshlog agent's names (`webhook_url`,
    /// `do_get_request`): the body is the agent's payload, and a GET carries
    /// it as query parameters.
    pub agent: bool,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let url = f.require_either(d, "url", "webhook_url", "webhook_action");
        let agent = url.is_some_and(|(k, _)| k == "webhook_url");
        let url = url.and_then(|(key, n)| url_of(d, n, key));
        let get = f.get("do_get_request").is_some();
        let do_get = f.bool_or(d, "do_get_request", false);
        let agent = agent || get;
        let method = match f.get("method") {
            None if do_get => Some("GET".to_owned()),
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
            agent,
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
        let payload = if self.cfg.agent { &d.agent } else { &d.json };
        let body = match &self.cfg.body_template {
            Some(t) => t.render(d),
            None => payload.to_string(),
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
        let no_body = matches!(self.cfg.method.as_str(), "GET" | "DELETE");
        let url = if no_body && self.cfg.agent {
            with_query(&self.cfg.url, payload)
        } else {
            self.cfg.url.clone()
        };
        let body = (!no_body).then_some(body);
        self.client.send(
            &self.cfg.method,
            &url,
            &headers,
            body.as_deref().map(str::as_bytes),
        )?;
        Ok(Handled::Sent)
    }
}

/// `url` with the payload's top-level fields as query parameters.
pub fn with_query(url: &str, payload: &serde_json::Value) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let serde_json::Value::Object(m) = payload {
        for (k, v) in m {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            q.append_pair(k, &text);
        }
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_get_requests_carry_the_payload_in_the_query() {
        let p = serde_json::json!({"event_type": "connection_close", "username": "m hill", "tcp_info": {"client_port": 1}});
        assert_eq!(
            with_query("http://h/x", &p),
            "http://h/x?event_type=connection_close&username=m+hill&tcp_info=%7B%22client_port%22%3A1%7D"
        );
        assert!(with_query("http://h/x?a=1", &p).starts_with("http://h/x?a=1&event_type="));
    }
}
