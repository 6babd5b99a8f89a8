//! `sshlog-docgen OUTDIR`: the man pages (`OUTDIR/man/`: sshlog(1) and one
//! page per subcommand, sshlog-play(1), sshlogd(8)) and the bash, zsh and fish
//! completions (`OUTDIR/completions/`) of the three programs, generated from
//! their clap definitions so that they never drift from `--help`; the
//! configuration page sshlogd.yaml(5) is written by hand (`docs/man/`) and
//! copied beside them.

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use std::fs;
use std::path::Path;

fn write_page(dir: &Path, cmd: clap::Command, section: &str) -> Result<()> {
    let name = cmd.get_name().to_string();
    let man = clap_mangen::Man::new(cmd).section(section);
    let mut out = Vec::new();
    man.render(&mut out)?;
    let path = dir.join(format!("{name}.{section}"));
    fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))
}

fn pages(dir: &Path) -> Result<()> {
    let mut sshlog = sshlog_player::cli::SshlogCli::command();
    sshlog.build();
    for sub in sshlog.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("sshlog-{}", sub.get_name());
        write_page(
            dir,
            sub.clone().name(name).version(env!("CARGO_PKG_VERSION")),
            "1",
        )?;
    }
    write_page(dir, sshlog, "1")?;
    // After `sshlog play`'s page: sshlog-play(1) is the program's.
    write_page(dir, sshlog_player::cli::PlayCli::command(), "1")?;
    write_page(dir, sshlog_recorder::cli::Cli::command(), "8")
}

fn completions(dir: &Path) -> Result<()> {
    let programs = [
        sshlog_player::cli::SshlogCli::command(),
        sshlog_player::cli::PlayCli::command(),
        sshlog_recorder::cli::Cli::command(),
    ];
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let sub = dir.join(shell.to_string());
        fs::create_dir_all(&sub)?;
        for cmd in &programs {
            let mut cmd = cmd.clone();
            let name = cmd.get_name().to_string();
            // The names bash-completion, zsh and fish look for.
            let file = match shell {
                Shell::Zsh => format!("_{name}"),
                Shell::Fish => format!("{name}.fish"),
                _ => name.clone(),
            };
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, &name, &mut out);
            let path = sub.join(file);
            fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .context("usage: sshlog-docgen OUTDIR")?;
    let out = Path::new(&out);
    let man = out.join("man");
    fs::create_dir_all(&man)?;
    pages(&man)?;
    let config_page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man/sshlogd.yaml.5");
    fs::copy(&config_page, man.join("sshlogd.yaml.5"))
        .with_context(|| format!("cannot copy {}", config_page.display()))?;
    completions(&out.join("completions"))?;
    Ok(())
}
