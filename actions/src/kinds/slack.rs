//! `slack_action`: posts `{"text": MESSAGE}` to a Slack incoming-webhook URL
//! (or anything that accepts that body, e.g. Mattermost). The URL is `url`
//! or, as the sshlog agent named it, `slack_webhook_url`.

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::template::Template;
use crate::worker::{Action, Handled};

use super::http::{url_of, Client, HttpOptions};

/// Message when no `message_template` is given.
pub const DEFAULT_MESSAGE: &str = "sshlog on {{hostname}}: {{summary}}";

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub message_template: Template,
    pub http: HttpOptions,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let url = f
            .require_either(d, "url", "slack_webhook_url", "slack_action")
            .and_then(|(key, n)| url_of(d, n, key));
        let message_template = super::template(f, d, "message_template")?;
        let http = HttpOptions::parse(f, d);
        let message_template = match message_template {
            Some(t) => t,
            None => Template::parse(DEFAULT_MESSAGE).ok()?,
        };
        Some(Config {
            url: url?,
            message_template,
            http,
        })
    }
}

pub struct Slack {
    cfg: Config,
    client: Client,
}

impl Slack {
    pub fn new(cfg: Config) -> Slack {
        let client = Client::new(cfg.http.clone());
        Slack { cfg, client }
    }
}

impl Action for Slack {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let body = serde_json::json!({ "text": self.cfg.message_template.render(d) }).to_string();
        let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
        self.client
            .send("POST", &self.cfg.url, &headers, Some(body.as_bytes()))?;
        Ok(Handled::Sent)
    }
}
