//! Real OpenSSH clients against the throw-away sshd: `ssh -tt` (one-shot
//! commands, scripted interactive shells, long-running sessions) and `scp`.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::spawned::{Output, Spawned};
use crate::terminal::Terminal;
use crate::util::owned_temp_dir;

/// A running `ssh` client (see [`SshCommand::spawn`]).
pub type SshSession = Spawned;

/// Default time limit for one client run.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `-o` options every client gets: no config files, no host-key
/// prompts or records, no interactive prompts, only the given key.
fn base_options(batch: bool) -> Vec<String> {
    vec![
        "StrictHostKeyChecking=no".to_string(),
        "UserKnownHostsFile=/dev/null".to_string(),
        format!("BatchMode={}", if batch { "yes" } else { "no" }),
        "LogLevel=ERROR".to_string(),
        "IdentitiesOnly=yes".to_string(),
        "ConnectTimeout=10".to_string(),
    ]
}

/// Password login through `SSH_ASKPASS` (BatchMode must be off for it).
#[derive(Debug, Clone)]
struct Askpass {
    _dir: Arc<TempDir>,
    script: PathBuf,
}

impl Askpass {
    fn new(password: &str) -> Result<Askpass> {
        let dir = owned_temp_dir("askpass")?;
        let script = dir.path().join("askpass.sh");
        let quoted = password.replace('\'', r"'\''");
        fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{quoted}'\n"))
            .with_context(|| format!("writing {}", script.display()))?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod {}", script.display()))?;
        Ok(Askpass {
            _dir: Arc::new(dir),
            script,
        })
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env("SSH_ASKPASS", &self.script)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0");
    }
}

/// Builder for one `ssh` client command line:
/// `ssh -tt -F /dev/null -i KEY -p PORT -o StrictHostKeyChecking=no
/// -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR
/// -o IdentitiesOnly=yes -o ConnectTimeout=10 [-o EXTRA]... user@127.0.0.1 [cmd]`.
#[derive(Debug, Clone)]
pub struct SshCommand {
    port: u16,
    user: String,
    key: Option<PathBuf>,
    options: Vec<String>,
    tty: bool,
    timeout: Duration,
    term: Option<String>,
    line_delay: Duration,
    askpass: Option<Askpass>,
}

impl SshCommand {
    /// A client for `user@127.0.0.1:port` with private key `key`.
    pub fn new(port: u16, user: &str, key: &Path) -> SshCommand {
        SshCommand {
            port,
            user: user.to_string(),
            key: Some(key.to_path_buf()),
            options: Vec::new(),
            tty: true,
            timeout: DEFAULT_CLIENT_TIMEOUT,
            term: Some("xterm".to_string()),
            line_delay: Duration::ZERO,
            askpass: None,
        }
    }

    /// Adds `-o OPTION` (e.g. `"ServerAliveInterval=5"`).
    pub fn option(mut self, opt: impl Into<String>) -> Self {
        self.options.push(opt.into());
        self
    }

    /// Uses another private key.
    pub fn key(mut self, key: impl Into<PathBuf>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Logs in with a password (via `SSH_ASKPASS`) instead of the key; the
    /// sshd needs [`crate::SshdBuilder::password_auth`].
    pub fn password(mut self, password: &str) -> Result<Self> {
        self.askpass = Some(Askpass::new(password)?);
        self.key = None;
        self.options
            .push("PreferredAuthentications=password".to_string());
        self.options.push("PubkeyAuthentication=no".to_string());
        self.options.push("NumberOfPasswordPrompts=1".to_string());
        Ok(self)
    }

    /// Drops `-tt` (no remote pty).
    pub fn no_tty(mut self) -> Self {
        self.tty = false;
        self
    }

    /// Time limit for [`Self::run`] / [`Self::run_script`] (default 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// `TERM` sent for the remote pty (default `xterm`; `None` leaves the
    /// environment's value).
    pub fn term(mut self, term: Option<&str>) -> Self {
        self.term = term.map(str::to_string);
        self
    }

    /// Pause between lines in [`Self::run_script`] (default none: all lines
    /// are typed ahead at once).
    pub fn line_delay(mut self, d: Duration) -> Self {
        self.line_delay = d;
        self
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The arguments after `ssh`.
    pub fn args(&self, remote_cmd: Option<&str>) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        if self.tty {
            a.push("-tt".into());
        }
        a.push("-F".into());
        a.push("/dev/null".into());
        if let Some(k) = &self.key {
            a.push("-i".into());
            a.push(k.into());
        }
        a.push("-p".into());
        a.push(self.port.to_string().into());
        for o in base_options(self.askpass.is_none())
            .iter()
            .chain(&self.options)
        {
            a.push("-o".into());
            a.push(o.into());
        }
        a.push(format!("{}@127.0.0.1", self.user).into());
        if let Some(c) = remote_cmd {
            a.push(c.into());
        }
        a
    }

    /// The full `ssh` command (environment included), not yet started.
    pub fn command(&self, remote_cmd: Option<&str>) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.args(remote_cmd));
        if let Some(t) = &self.term {
            cmd.env("TERM", t);
        }
        if let Some(a) = &self.askpass {
            a.apply(&mut cmd);
        }
        cmd
    }

    /// Starts the client; `None` means no remote command, i.e. a login
    /// shell. Stdin stays open (a pipe) until closed or the session ends.
    pub fn spawn(&self, remote_cmd: Option<&str>) -> Result<SshSession> {
        Spawned::spawn(
            &mut self.command(remote_cmd),
            format!("ssh {}@127.0.0.1:{} {:?}", self.user, self.port, remote_cmd),
        )
    }

    /// Starts the client in a real terminal (a tmux pane of `cols`×`rows`)
    /// to be typed into as a person types (see [`Terminal`]); `None` means
    /// a login shell.
    pub fn terminal(&self, remote_cmd: Option<&str>, cols: u16, rows: u16) -> Result<Terminal> {
        let mut argv: Vec<OsString> = vec!["env".into()];
        if let Some(t) = &self.term {
            argv.push(format!("TERM={t}").into());
        }
        argv.push("ssh".into());
        argv.extend(self.args(remote_cmd));
        Terminal::start(&argv, cols, rows)
    }

    /// Runs `remote_cmd` and returns status and the exact bytes received.
    /// Stdin is held open (not EOF) until the command ends. Errors (after
    /// killing the client) when it takes longer than the timeout.
    pub fn run(&self, remote_cmd: &str) -> Result<Output> {
        let mut s = self.spawn(Some(remote_cmd))?;
        s.wait_timeout(self.timeout)
    }

    /// Starts a login shell (no remote command, so sshd gives it a pty),
    /// types `lines` (each followed by `\n`, optionally paced by
    /// [`Self::line_delay`]) and returns what the client received. The
    /// script must end the shell itself (e.g. with `exit 7`).
    pub fn run_script<S: AsRef<str>>(&self, lines: &[S]) -> Result<Output> {
        let mut s = self.spawn(None)?;
        for (i, l) in lines.iter().enumerate() {
            if i > 0 && !self.line_delay.is_zero() {
                s.pause_stdin(self.line_delay)?;
            }
            s.send_line(l.as_ref())?;
        }
        s.wait_timeout(self.timeout)
    }
}

/// Builder for `scp -F /dev/null -P PORT -i KEY -o ... SRC DST`.
#[derive(Debug, Clone)]
pub struct ScpCommand {
    port: u16,
    user: String,
    key: PathBuf,
    options: Vec<String>,
    legacy: bool,
    timeout: Duration,
}

impl ScpCommand {
    /// An scp client for `user@127.0.0.1:port` with private key `key`.
    pub fn new(port: u16, user: &str, key: &Path) -> ScpCommand {
        ScpCommand {
            port,
            user: user.to_string(),
            key: key.to_path_buf(),
            options: Vec::new(),
            legacy: false,
            timeout: DEFAULT_CLIENT_TIMEOUT,
        }
    }

    /// Adds `-o OPTION`.
    pub fn option(mut self, opt: impl Into<String>) -> Self {
        self.options.push(opt.into());
        self
    }

    /// `-O`: the legacy SCP protocol (remote `scp -t`) instead of SFTP.
    pub fn legacy(mut self, yes: bool) -> Self {
        self.legacy = yes;
        self
    }

    /// Time limit (default 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    fn args(&self, src: &OsString, dst: &OsString) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["-F".into(), "/dev/null".into()];
        if self.legacy {
            a.push("-O".into());
        }
        a.push("-P".into());
        a.push(self.port.to_string().into());
        a.push("-i".into());
        a.push(self.key.clone().into());
        for o in base_options(true).iter().chain(&self.options) {
            a.push("-o".into());
            a.push(o.into());
        }
        a.push(src.clone());
        a.push(dst.clone());
        a
    }

    fn remote(&self, path: &str) -> OsString {
        format!("{}@127.0.0.1:{path}", self.user).into()
    }

    fn run(&self, src: OsString, dst: OsString) -> Result<Output> {
        let mut cmd = Command::new("scp");
        cmd.args(self.args(&src, &dst));
        let mut s = Spawned::spawn(&mut cmd, format!("scp {src:?} {dst:?}"))?;
        s.close_stdin();
        s.wait_timeout(self.timeout)
    }

    /// Copies local `src` to `remote_path` on the server.
    pub fn upload(&self, src: &Path, remote_path: &str) -> Result<Output> {
        self.run(src.into(), self.remote(remote_path))
    }

    /// Copies `remote_path` from the server to local `dst`.
    pub fn download(&self, remote_path: &str, dst: &Path) -> Result<Output> {
        self.run(self.remote(remote_path), dst.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_command_line_shape() {
        let c =
            SshCommand::new(2222, "sshlogt_x", Path::new("/k/id")).option("ServerAliveInterval=5");
        let args: Vec<String> = c
            .args(Some("echo hi"))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("-tt -F /dev/null -i /k/id -p 2222 -o StrictHostKeyChecking=no"));
        assert!(joined.contains("-o BatchMode=yes"));
        assert!(joined.contains("-o ServerAliveInterval=5"));
        assert!(joined.ends_with("sshlogt_x@127.0.0.1 echo hi"));
        assert!(!c.no_tty().args(None).iter().any(|a| a == "-tt"));
    }

    #[test]
    fn scp_command_line_shape() {
        let c = ScpCommand::new(2222, "u", Path::new("/k")).legacy(true);
        let args: Vec<String> = c
            .args(&"a".into(), &c.remote("b"))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..6], ["-F", "/dev/null", "-O", "-P", "2222", "-i"]);
        assert_eq!(args[args.len() - 1], "u@127.0.0.1:b");
    }
}
