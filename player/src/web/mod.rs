//! `sshlog web`: the web console (axum on tokio), off by default.
//!
//! Modules, one job each:
//! - [`config`]: the settings file and the refusals to start;
//! - [`auth`]: argon2 passwords, login sessions, tokens;
//! - [`ratelimit`]: failed-login limits per IP and per user;
//! - [`security`]: the middleware (login, origin, CSRF, headers);
//! - [`login`]: the login form, logging in and out;
//! - [`daemon`]: the asynchronous client of sshlogd's control socket;
//! - [`api`], [`live`]: the JSON API, SSE events and the live WebSocket;
//! - [`recordings`], [`search`]: reading the log directory; [`fleet`]: the
//!   fleet view, read from the fleet store;
//! - [`pages`], [`assets`]: HTML and the embedded static files;
//! - [`server`]: routes and serving; [`text`]: UTF-8 chunks, HTML escaping.
//!
//! See docs/api.md for the API and the security properties.

pub mod api;
pub mod assets;
pub mod auth;
pub mod config;
pub mod daemon;
pub mod fleet;
pub mod live;
pub mod login;
pub mod pages;
pub mod ratelimit;
pub mod recordings;
pub mod search;
pub mod security;
pub mod server;
pub mod text;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `sshlog web`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Settings file (YAML: enabled, listen, user, password_hash,
    /// session_ttl_minutes, secure_cookies).
    #[arg(long, value_name = "PATH", env = "SSHLOG_WEB_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<WebCommand>,
}

/// Subcommands of `sshlog web`.
#[derive(Debug, Subcommand)]
pub enum WebCommand {
    /// Read a password (from the terminal, or one line of stdin) and print
    /// its argon2 hash, for `password_hash` in the settings file.
    HashPassword,
}

/// `sshlog web [hash-password]`.
pub fn run(socket: &Path, log_dir: &Path, args: &WebArgs) -> Result<()> {
    match args.command {
        Some(WebCommand::HashPassword) => hash_password_command(),
        None => serve(socket, log_dir, args),
    }
}

fn serve(socket: &Path, log_dir: &Path, args: &WebArgs) -> Result<()> {
    let (path, explicit) = config::config_path(args.config.clone());
    let mut raw = config::read(&path, explicit)?;
    let mut env = std::env::var("SSHLOG_ENABLE_WEB").ok();
    if let Some(agent) = config::agent_diagnostic_web()? {
        // The sshlog agent's switch: user and password from the environment,
        // the password hashed here and never kept.
        raw.user = Some(agent.user);
        raw.password_hash = Some(auth::hash_password(&agent.password)?);
        env = Some("1".into());
    }
    let config = config::check(raw, &path, env.as_deref())?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SSHLOG_WEB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let fleet = match &config.store {
        Some(url) => {
            let settings = sshlog_fleet::StoreSettings::from_url(url)?;
            let creds = sshlog_fleet::Credentials::load(&settings)?;
            Some(sshlog_fleet::FleetStore::connect(&settings, &creds)?)
        }
        None => None,
    };
    let state = Arc::new(server::AppState {
        fleet,
        sessions: auth::Sessions::new(config.session_ttl),
        config,
        log_dir: log_dir.to_path_buf(),
        daemon: daemon::Daemon::new(socket),
        limiter: ratelimit::Limiter::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(server::serve(state))
}

fn hash_password_command() -> Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let b = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if a != b {
            bail!("the passwords differ");
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        bail!("empty password");
    }
    let hash = auth::hash_password(&password)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hash}")?;
    Ok(())
}
