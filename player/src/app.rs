//! Entry points of the two binaries: parse the command line, run the
//! command, and turn an error into one line on stderr and exit status 1.

use crate::cli::{Command, PlayCli, SshlogCli};
use crate::cmd::{attach, follow, play, sessions, stats, watch};
use crate::style::Style;
use anyhow::{Context, Result};
use clap::Parser;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// `main` of `sshlog`.
pub fn sshlog_main() -> ExitCode {
    let mut cli = SshlogCli::parse();
    warn_of_damage("sshlog");
    cli.apply_json();
    if let Command::Search(a) = &cli.command {
        // grep-like exit status: 0 match, 1 none, 2 error.
        return crate::search::main(a, &cli.log_dir);
    }
    finish("sshlog", run_sshlog(cli))
}

/// `main` of `sshlog-play`.
pub fn sshlog_play_main() -> ExitCode {
    let cli = PlayCli::parse();
    warn_of_damage("sshlog-play");
    let mut out = io::stdout().lock();
    finish(
        "sshlog-play",
        play::run(&cli.play, &cli.log_dir, &mut out).map(drop),
    )
}

/// A damaged frame met while reading a cast is skipped; say so on stderr,
/// naming the file and the time it covered.
fn warn_of_damage(program: &'static str) {
    sshlog_format::framed::set_damage_reporter(move |file, damage| {
        eprintln!("{program}: warning: {file}: {damage}; skipped");
    });
}

fn run_sshlog(cli: SshlogCli) -> Result<()> {
    let mut out = io::stdout().lock();
    match &cli.command {
        Command::Sessions(a) => sessions::run(&cli.socket, a, &mut out),
        Command::Stats(a) => stats::run(&cli.socket, a, &mut out),
        Command::Watch(a) => {
            let stop = stop_flag()?;
            watch::run(&cli.socket, a, &mut out, &stop, Style::detect())
        }
        Command::Play(a) => play::run(a, &cli.log_dir, &mut out).map(drop),
        Command::Export(a) => crate::cmd::export::run(a, &cli.log_dir, &mut out),
        Command::Events(a) => {
            if crate::cmd::events::run(a, &mut out)? {
                Ok(())
            } else {
                anyhow::bail!("no events matched")
            }
        }
        Command::Search(a) => crate::search::run(
            a,
            &cli.log_dir,
            &mut out,
            &mut io::stderr(),
            Style::detect(),
        )
        .map(drop),
        Command::Index(a) => crate::cmd::index::run(a, &cli.log_dir, &mut out),
        Command::Follow(a) => {
            drop(out);
            follow::run(&cli.socket, &a.target, &stop_flag()?)
        }
        Command::Attach(a) => {
            drop(out);
            attach::run(&cli.socket, &a.target.target, a.readonly, &stop_flag()?)
        }
        Command::Kill(a) => crate::cmd::kill::run(&cli.socket, &a.target, &mut out),
        Command::Purge(a) => crate::cmd::purge::run(&cli.socket, a, &mut out),
        Command::Web(a) => {
            drop(out);
            crate::web::run(&cli.socket, &cli.log_dir, a)
        }
        Command::Config(crate::cli::ConfigCommand::Check(a)) => {
            crate::cmd::config_check::run(&a.dir, &a.plugins_dir, &mut out)
        }
        Command::Verify(a) => {
            let evidence = crate::cmd::verify::Evidence::load(
                a.key.as_deref(),
                &a.witness,
                a.host.as_deref(),
            )?;
            if let Some(url) = &a.store {
                if crate::cmd::verify::run_store(
                    url,
                    a.host.as_deref(),
                    &evidence,
                    a.quiet,
                    &mut out,
                )? {
                    return Ok(());
                }
                anyhow::bail!("the recordings in the fleet store do not verify (see above)");
            }
            let dir = a.dir.as_deref().unwrap_or(&cli.log_dir);
            if crate::cmd::verify::run(dir, &evidence, &mut out)? {
                Ok(())
            } else {
                anyhow::bail!(
                    "the recordings under {} do not verify (see above)",
                    dir.display()
                )
            }
        }
    }
}

/// A flag set by SIGINT (Ctrl+C), SIGTERM and SIGHUP.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install a signal handler")?;
    }
    Ok(stop)
}

/// Exit status for `result`; errors are printed as `PROG: message` on one
/// line. A closed stdout (`sshlog ... | head`) is not an error.
fn finish(prog: &str, result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = one_line(&format!("{e:#}"));
            let _ = writeln!(io::stderr(), "{prog}: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `s` with line breaks replaced, so an error is always one line.
pub fn one_line(s: &str) -> String {
    s.trim_end().replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line() {
        assert_eq!(one_line("a\nb\r\n"), "a b");
    }

    #[test]
    fn broken_pipe_is_detected_through_context() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
