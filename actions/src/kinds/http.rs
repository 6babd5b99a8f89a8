//! HTTP delivery shared by `webhook_action` and `slack_action`: one request
//! per event with a total timeout, retried with exponential backoff.

use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::error::Diag;
use crate::fields::Fields;

/// Longest pause between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Timeout and retry options (`timeout_ms`, `retries`, `retry_delay_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// Pause before the first retry; doubled for each further one.
    pub retry_delay: Duration,
}

impl HttpOptions {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_millis(f.uint_or(d, "timeout_ms", 5000, 3_600_000).max(1)),
            retries: f.uint_or(d, "retries", 3, 100) as u32,
            retry_delay: Duration::from_millis(f.uint_or(d, "retry_delay_ms", 500, 3_600_000)),
        }
    }
}

/// An `http://` or `https://` URL option.
pub fn url(f: &mut Fields<'_>, d: &mut Diag, key: &'static str, what: &str) -> Option<String> {
    let n = f.require(d, key, what)?;
    url_of(d, n, key)
}

/// `n` as an `http://` or `https://` URL.
pub fn url_of(d: &mut Diag, n: &crate::yaml::Node, key: &str) -> Option<String> {
    let s = crate::fields::as_string(d, n, key)?;
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) || s.chars().any(char::is_whitespace)
    {
        d.err(
            n.pos,
            format!("`{key}`: expected an http:// or https:// URL, found `{s}`"),
        );
        return None;
    }
    Some(s)
}

/// A reusable HTTP client.
pub struct Client {
    agent: ureq::Agent,
    opts: HttpOptions,
}

impl Client {
    pub fn new(opts: HttpOptions) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Client { agent, opts }
    }

    /// Send one request, retrying failures (transport errors and non-2xx
    /// answers) `retries` times with exponential backoff.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<()> {
        let mut delay = self.opts.retry_delay;
        let mut last = None;
        for attempt in 0..=self.opts.retries {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            match self.once(method, url, headers, body) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!(url, attempt, "HTTP attempt failed: {e:#}");
                    last = Some(e);
                }
            }
        }
        let e = last.unwrap_or_else(|| anyhow::anyhow!("no attempt made"));
        Err(e.context(format!(
            "{method} {url}: giving up after {} attempt(s)",
            self.opts.retries + 1
        )))
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<()> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b).context("building request")?),
            None => self.agent.run(req.body(()).context("building request")?),
        };
        let mut resp = resp.context("sending request")?;
        let status = resp.status();
        // Drain the answer so the connection can be reused.
        let _ = resp.body_mut().with_config().limit(64 * 1024).read_to_vec();
        if !status.is_success() {
            bail!("server answered {status}");
        }
        Ok(())
    }
}
