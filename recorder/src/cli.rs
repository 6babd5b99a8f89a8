//! `sshlogd`'s command line (clap), in the library so that its man page and
//! shell completions are generated from this one definition.

use clap::Parser;
use std::path::PathBuf;

use crate::settings::DEFAULT_CONFIG;

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
    after_help = "FILES:\n  /etc/sshlog/sshlogd.yaml   settings (optional)\n  /etc/sshlog/conf.d/        actions (YAML)\n  /var/log/sshlog/           recordings and event.log\n  /run/sshlog/sshlogd.sock   control socket\n  /sys/fs/bpf/sshlog/        the kernel half, kept across restarts (--unload)\n\n\
ENVIRONMENT (besides the options' own):\n  SSHLOG_ENABLE_SESSION_INJECTION=1   allow `sshlog attach` to type (allow_injection)\n  \
SSHLOG_ENABLE_DIAGNOSTIC_WEB=1      start the web console too, as user SSHLOG_WEB_USER\n                                      with password SSHLOG_WEB_PASS (not admin/admin)"
)]
pub struct Cli {
    /// Settings file (YAML). A missing default file means built-in defaults.
    #[arg(long, env = "SSHLOG_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Where recordings and the event log go (overrides the settings file).
    #[arg(long, env = "SSHLOG_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    /// Control socket path (overrides the settings file).
    #[arg(long, env = "SSHLOG_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Print the public seal key (for `sshlog verify --key`) and exit; the
    /// key pair is made at first start.
    #[arg(long)]
    pub print_seal_key: bool,
    /// Kernel ring buffer size in MiB.
    #[arg(long)]
    pub ring_buffer_mb: Option<u32>,
    /// Directory of YAML action files (events, triggers, filters, actions).
    #[arg(long, env = "SSHLOG_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// Directory of plugin executables for `plugin_action`.
    #[arg(long, env = "SSHLOG_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Also record keystrokes (off by default: typed passwords would be kept).
    #[arg(long)]
    pub capture_input: bool,
    /// Log filter, e.g. `info`, `debug`, `sshlog_recorder=trace`.
    #[arg(long, env = "SSHLOG_LOG", default_value = "info")]
    pub log: String,
    /// Log at debug level (the same as `--log debug`).
    #[arg(long)]
    pub debug: bool,
    /// bpffs directory of the pinned kernel half (overrides the settings file).
    #[arg(long, env = "SSHLOG_BPF_DIR")]
    pub bpf_dir: Option<PathBuf>,
    /// Remove the kernel half (detach the programs, free the maps and the
    /// ring buffer) left pinned by sshlogd for the next start, then exit. Run
    /// it after stopping sshlogd for good; what the ring still held is lost.
    #[arg(long)]
    pub unload: bool,
    /// Append the log to FILE instead of stderr (plain text, no colours).
    #[arg(long, value_name = "FILE", env = "SSHLOG_LOGFILE")]
    pub logfile: Option<PathBuf>,
}

/// `SSHLOG_ENABLE_...` set to 1, true or yes (the sshlog agent's switches).
pub fn env_on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "True"))
}
