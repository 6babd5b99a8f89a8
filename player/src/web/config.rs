//! Settings of `sshlog web`: the YAML file (`--config`, default
//! `/etc/sshlog/web.yaml`) and the checks made before the server starts.
//!
//! The console is off unless `enabled: true` or `SSHLOG_ENABLE_WEB=1`, and it
//! never starts without an argon2 `password_hash` (there is no default
//! password).

use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default settings file.
pub const DEFAULT_CONFIG: &str = "/etc/sshlog/web.yaml";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8640";
/// Default login user.
pub const DEFAULT_USER: &str = "admin";
/// Default lifetime of a login, in minutes.
pub const DEFAULT_TTL_MINUTES: u64 = 60;

/// Why the console refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the web console is disabled: set `enabled: true` in {0} or SSHLOG_ENABLE_WEB=1 to start it"
    )]
    Disabled(String),
    #[error(
        "no password_hash in {0}: make one with `sshlog web hash-password` and add it as `password_hash: '<hash>'`"
    )]
    NoPassword(String),
    #[error("password_hash in {0} is not an argon2 PHC string ({1}); make one with `sshlog web hash-password`")]
    BadHash(String, String),
    #[error("invalid listen address '{0}' in {1} (expected IP:PORT, e.g. {DEFAULT_LISTEN})")]
    BadListen(String, String),
    #[error("session_ttl_minutes in {0} must be between 1 and 10080")]
    BadTtl(String),
}

/// The settings file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub session_ttl_minutes: Option<u64>,
    #[serde(default)]
    pub secure_cookies: Option<bool>,
    /// The fleet store to serve the fleet view from (a `--store` URL).
    #[serde(default)]
    pub store: Option<String>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub user: String,
    pub password_hash: String,
    pub session_ttl: Duration,
    pub secure_cookies: bool,
    /// The fleet store URL (`store:`, else `SSHLOG_STORE`), if any.
    pub store: Option<String>,
}

impl WebConfig {
    /// Whether the listen address is reachable from other machines.
    pub fn exposed(&self) -> bool {
        !self.listen.ip().is_loopback()
    }
}

/// Reads the settings file. A missing file is an empty configuration only
/// when it is the default path (not named explicitly).
pub fn read(path: &Path, explicit: bool) -> Result<RawConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(RawConfig::default())
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot read {}: {}",
                path.display(),
                crate::control::io_message(&e)
            ))
        }
    };
    sshlog_actions::yaml::typed::from_text(&text)
        .with_context(|| format!("invalid settings in {}", path.display()))
}

/// Applies defaults and refuses what must not start. `env_enable` is the
/// value of `SSHLOG_ENABLE_WEB`.
pub fn check(
    raw: RawConfig,
    path: &Path,
    env_enable: Option<&str>,
) -> Result<WebConfig, ConfigError> {
    let where_ = path.display().to_string();
    let env_on = matches!(env_enable, Some("1" | "true" | "yes"));
    if !(env_on || raw.enabled == Some(true)) {
        return Err(ConfigError::Disabled(where_));
    }
    let hash = match raw.password_hash.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => return Err(ConfigError::NoPassword(where_)),
    };
    if let Err(e) = argon2::PasswordHash::new(&hash) {
        return Err(ConfigError::BadHash(where_, e.to_string()));
    }
    if !hash.starts_with("$argon2") {
        return Err(ConfigError::BadHash(where_, "not argon2".into()));
    }
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| ConfigError::BadListen(listen_text.clone(), where_.clone()))?;
    let ttl = raw.session_ttl_minutes.unwrap_or(DEFAULT_TTL_MINUTES);
    if !(1..=10080).contains(&ttl) {
        return Err(ConfigError::BadTtl(where_));
    }
    Ok(WebConfig {
        listen,
        user: raw.user.unwrap_or_else(|| DEFAULT_USER.to_string()),
        password_hash: hash,
        session_ttl: Duration::from_secs(ttl * 60),
        // Plain HTTP is only acceptable on loopback: elsewhere cookies are
        // Secure unless explicitly turned off.
        secure_cookies: raw.secure_cookies.unwrap_or(!listen.ip().is_loopback()),
        store: raw
            .store
            .or_else(|| std::env::var("SSHLOG_STORE").ok())
            .filter(|s| !s.trim().is_empty()),
    })
}

/// User and password of the sshlog agent's diagnostic web switch.
pub struct AgentWeb {
    pub user: String,
    pub password: String,
}

/// `SSHLOG_ENABLE_DIAGNOSTIC_WEB=1` with `SSHLOG_WEB_USER` and
/// `SSHLOG_WEB_PASS`, as the sshlog agent read them; `None` when the switch
/// is off. The agent's well-known default admin/admin is refused.
pub fn agent_diagnostic_web() -> anyhow::Result<Option<AgentWeb>> {
    let on = std::env::var("SSHLOG_ENABLE_DIAGNOSTIC_WEB")
        .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "True"));
    if !on {
        return Ok(None);
    }
    let user = std::env::var("SSHLOG_WEB_USER").unwrap_or_else(|_| DEFAULT_USER.to_string());
    let Ok(password) = std::env::var("SSHLOG_WEB_PASS") else {
        anyhow::bail!("SSHLOG_ENABLE_DIAGNOSTIC_WEB is set but SSHLOG_WEB_PASS is not: set a password for the web console");
    };
    agent_web_checked(user, password).map(Some)
}

fn agent_web_checked(user: String, password: String) -> anyhow::Result<AgentWeb> {
    if password.is_empty() {
        anyhow::bail!("SSHLOG_WEB_PASS is empty: set a password for the web console");
    }
    if user == "admin" && password == "admin" {
        anyhow::bail!(
            "SSHLOG_WEB_USER/SSHLOG_WEB_PASS are admin/admin, the sshlog agent's well-known default: \
             the web console does not start with it; choose another password"
        );
    }
    Ok(AgentWeb { user, password })
}

/// The path and whether it was given explicitly.
pub fn config_path(given: Option<PathBuf>) -> (PathBuf, bool) {
    match given {
        Some(p) => (p, true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_default_password_is_refused() {
        let e = agent_web_checked("admin".into(), "admin".into())
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("admin/admin, the sshlog agent's well-known default"),
            "{e}"
        );
        assert!(agent_web_checked("ops".into(), String::new()).is_err());
        let ok = agent_web_checked("admin".into(), "long and unguessable".into()).expect("ok");
        assert_eq!(ok.user, "admin");
    }

    const HASH: &str = "$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$2iG6sXpx6dzHxHzvYvX2bw";

    fn raw(yaml: &str) -> RawConfig {
        sshlog_actions::yaml::typed::from_text(yaml).expect("yaml")
    }

    #[test]
    fn disabled_unless_enabled_or_env() {
        let p = Path::new("/x/web.yaml");
        let r = check(raw(&format!("password_hash: '{HASH}'")), p, None);
        assert!(matches!(r, Err(ConfigError::Disabled(_))));
        assert!(check(raw(&format!("password_hash: '{HASH}'")), p, Some("1")).is_ok());
        assert!(check(
            raw(&format!("enabled: true\npassword_hash: '{HASH}'")),
            p,
            None
        )
        .is_ok());
    }

    #[test]
    fn no_password_is_refused_with_a_hint() {
        let e = check(raw("enabled: true"), Path::new("/x/web.yaml"), None).unwrap_err();
        assert!(e.to_string().contains("sshlog web hash-password"), "{e}");
        let e = check(
            raw("enabled: true\npassword_hash: 'hunter2'"),
            Path::new("/x"),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::BadHash(..)), "{e}");
    }

    #[test]
    fn defaults_and_secure_cookies() {
        let c = check(
            raw(&format!("enabled: true\npassword_hash: '{HASH}'")),
            Path::new("/x"),
            None,
        )
        .expect("ok");
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.user, "admin");
        assert!(!c.secure_cookies);
        assert!(!c.exposed());
        let c = check(
            raw(&format!(
                "enabled: true\nlisten: 0.0.0.0:8640\npassword_hash: '{HASH}'"
            )),
            Path::new("/x"),
            None,
        )
        .expect("ok");
        assert!(c.secure_cookies);
        assert!(c.exposed());
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(sshlog_actions::yaml::typed::from_text::<RawConfig>("enable: true").is_err());
    }
}
