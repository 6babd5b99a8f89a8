//! `sshlogd`: records every SSH session on this host with eBPF.

use clap::Parser;
use sshlog_recorder::cli::{env_on, Cli};
use sshlog_recorder::settings::{Settings, DEFAULT_CONFIG};

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
        // Under systemd the journal stamps each line itself.
        None if std::env::var_os("JOURNAL_STREAM").is_some() => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .without_time()
            .init(),
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
        if let Some(d) = cli.bpf_dir {
            s.bpf_dir = d;
        }
        let key = s.seal_key.get_or_insert_with(|| {
            cli.config
                .parent()
                .unwrap_or(std::path::Path::new("/"))
                .join("seal.key")
        });
        if cli.print_seal_key {
            return sshlog_recorder::seal_key::print_public(key);
        }
        if cli.unload {
            let n = sshlog_recorder::handover::unload(&s.bpf_dir)?;
            eprintln!(
                "sshlogd: removed the kernel half from {} ({n} pinned state director{})",
                s.bpf_dir.display(),
                if n == 1 { "y" } else { "ies" }
            );
            return Ok(());
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
