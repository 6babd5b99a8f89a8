//! `sshlogd`: records every SSH session on this host with eBPF.

use clap::Parser;
use sshlog_recorder::settings::{Settings, DEFAULT_CONFIG};
use std::path::PathBuf;

/// Record every SSH session of the local OpenSSH server, passively, with eBPF.
///
/// sshlogd watches sshd and its children through kernel tracepoints. For every
/// session it writes a zstd-compressed asciicast (`zstdcat X.cast.zst | asciinema
/// cat -` shows it) and a JSON-lines event sidecar under LOG_DIR/sessions/YYYY/MM/DD/,
/// and one line per event to LOG_DIR/event.log. `sshlog` talks to it over the
/// control socket. Run as root; sshd needs no change.
#[derive(Debug, Parser)]
#[command(
    name = "sshlogd",
    version,
    after_help = "FILES:\n  /etc/sshlog/sshlogd.yaml   settings (optional)\n  /etc/sshlog/conf.d/        actions (YAML)\n  /var/log/sshlog/           recordings and event.log\n  /run/sshlog/sshlogd.sock   control socket\n\n\
ENVIRONMENT (besides the options' own):\n  SSHLOG_ENABLE_SESSION_INJECTION=1   allow `sshlog attach` to type (allow_injection)\n  \
SSHLOG_ENABLE_DIAGNOSTIC_WEB=1      start the web console too, as user SSHLOG_WEB_USER\n                                      with password SSHLOG_WEB_PASS (not admin/admin)"
)]
struct Cli {
    /// Settings file (YAML). A missing default file means built-in defaults.
    #[arg(long, env = "SSHLOG_CONFIG", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Where recordings and the event log go (overrides the settings file).
    #[arg(long, env = "SSHLOG_LOG_DIR")]
    log_dir: Option<PathBuf>,
    /// Control socket path (overrides the settings file).
    #[arg(long, env = "SSHLOG_SOCKET")]
    socket: Option<PathBuf>,
    /// Kernel ring buffer size in MiB.
    #[arg(long)]
    ring_buffer_mb: Option<u32>,
    /// Directory of YAML action files (events, triggers, filters, actions).
    #[arg(long, env = "SSHLOG_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// Directory of plugin executables for `plugin_action`.
    #[arg(long, env = "SSHLOG_PLUGINS_DIR")]
    plugins_dir: Option<PathBuf>,
    /// Also record keystrokes (off by default: typed passwords would be kept).
    #[arg(long)]
    capture_input: bool,
    /// Log filter, e.g. `info`, `debug`, `sshlog_recorder=trace`.
    #[arg(long, env = "SSHLOG_LOG", default_value = "info")]
    log: String,
    /// Log at debug level (the same as `--log debug`).
    #[arg(long)]
    debug: bool,
    /// Append the log to FILE instead of stderr (plain text, no colours).
    #[arg(long, value_name = "FILE", env = "SSHLOG_LOGFILE")]
    logfile: Option<PathBuf>,
}

/// `SSHLOG_ENABLE_...` set to 1, true or yes (the sshlog agent's switches).
fn env_on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "True"))
}

/// Colours in the log only on a terminal, never with `NO_COLOR` set (a file, a
/// pipe or the journal gets plain text).
fn log_colours() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = if cli.debug { "debug" } else { cli.log.as_str() };
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    match &cli.logfile {
        Some(path) => {
            let file = match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("sshlogd: cannot open the log file {}: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            };
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .init();
        }
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(log_colours())
            .init(),
    }
    let explicit =
        std::env::var_os("SSHLOG_CONFIG").is_some() || cli.config.as_os_str() != DEFAULT_CONFIG;
    let result = Settings::load(&cli.config, explicit).and_then(|mut s| {
        if let Some(d) = cli.log_dir {
            s.log_dir = d;
        }
        if let Some(p) = cli.socket {
            s.socket = p;
        }
        let config_dir_explicit = cli.config_dir.is_some();
        if let Some(d) = cli.config_dir {
            s.config_dir = d;
        }
        if let Some(d) = cli.plugins_dir {
            s.plugins_dir = d;
        }
        if let Some(r) = cli.ring_buffer_mb {
            s.ring_buffer_mb = r;
        }
        s.capture_input |= cli.capture_input;
        s.allow_injection |= env_on("SSHLOG_ENABLE_SESSION_INJECTION");
        let prepared = sshlog_recorder::daemon::prepare(s, config_dir_explicit)?;
        // Capture runs on this (possibly real-time) thread with a runtime of its
        // own, which drives its own I/O and timers; the control socket is served
        // by normal-priority workers.
        let control = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sshlog-control")
            .enable_all()
            .build()?;
        let capture = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        capture.block_on(sshlog_recorder::daemon::run(
            prepared,
            control.handle().clone(),
        ))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sshlogd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
