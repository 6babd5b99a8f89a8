//! A throw-away `/usr/sbin/sshd -D` on 127.0.0.1 and a free port, with its
//! own host key, pid file and log in a temp dir. Dropping it kills the
//! daemon and every process it started (sessions included).
//!
//! Two kinds of configuration:
//! - the harness's own (the default): a generated `sshd_config` with
//!   `UsePAM no`, no motd, `-e` logging: quick and quiet;
//! - [`SshdBuilder::distribution_default`]: the system's own
//!   `/etc/ssh/sshd_config` and PAM stack, with only port, listen address,
//!   host key and pid file overridden on the command line: what users run.
//!
//! Either can log to stderr (`-e`), or through syslog(3) with no syslog
//! socket or with one the test listens on ([`SshdLog`]); and
//! [`SshdBuilder::root`] runs the sshd of another system's root (e.g. a
//! Debian 13 made with debootstrap) in a chroot on this kernel. Syslog set-ups
//! and chroots run in a private mount namespace (see `namespace.rs`).

use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::client::{ScpCommand, SshCommand};
use crate::config::{parse_version, render, ConfigInput};
use crate::namespace::{self, DevLog, HARNESS_DIR_IN_ROOT};
use crate::spawned::run_with_timeout;
use crate::syslog::SyslogReceiver;
use crate::user::TestUser;
use crate::util::{generate_key, owned_temp_dir, random_suffix, ADMIN_TIMEOUT};
use crate::{procfs, stale};

/// Where sshd sends its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshdLog {
    /// `sshd -e`: the log goes to stderr, which the harness redirects to
    /// `<tmp>/sshd.log` (read it with [`Sshd::log_text`]). The default.
    Stderr,
    /// No `-e`: sshd logs through syslog(3), and there is no syslog socket
    /// (as in many containers and minimal hosts): the messages are lost.
    SyslogNoSocket,
    /// No `-e`: sshd logs through syslog(3) to `/dev/log`, a socket the
    /// harness listens on ([`Sshd::log_text`] returns what it received).
    SyslogSocket,
}

/// Options for [`Sshd`]; see [`Sshd::builder`].
#[derive(Debug, Clone)]
pub struct SshdBuilder {
    program: PathBuf,
    extra: Vec<String>,
    log_level: String,
    log: SshdLog,
    password_auth: bool,
    startup_timeout: Duration,
    distribution: bool,
    root: Option<PathBuf>,
}

impl Default for SshdBuilder {
    fn default() -> Self {
        SshdBuilder {
            program: PathBuf::from("/usr/sbin/sshd"),
            extra: Vec::new(),
            log_level: "VERBOSE".to_string(),
            log: SshdLog::Stderr,
            password_auth: false,
            startup_timeout: Duration::from_secs(10),
            distribution: false,
            root: None,
        }
    }
}

impl SshdBuilder {
    /// Adds one `sshd_config` line. Extra lines take precedence over the
    /// harness defaults; a `Match` block is moved to the end of the file.
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Adds several `sshd_config` lines (see [`Self::config_line`]).
    pub fn config_lines<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra.extend(lines.into_iter().map(Into::into));
        self
    }

    /// sshd `LogLevel` (default `VERBOSE`; e.g. `INFO`, `DEBUG3`).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// The system's own `/etc/ssh/sshd_config` and PAM stack instead of the
    /// harness's config: only `Port`, `ListenAddress`, `HostKey` and
    /// `PidFile` are set (with `-o`); config lines, log level and password
    /// auth of this builder are not used.
    pub fn distribution_default(mut self) -> Self {
        self.distribution = true;
        self
    }

    /// Runs the sshd of the system in `root` (its `/usr/sbin/sshd`, config,
    /// PAM stack and users) in a chroot; implies
    /// [`Self::distribution_default`]. Users for it are made with
    /// [`crate::TestUserBuilder::root`].
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self.distribution = true;
        self
    }

    /// Log target (see [`SshdLog`]; default `-e` to the log file).
    pub fn log(mut self, log: SshdLog) -> Self {
        self.log = log;
        self
    }

    /// Enables `PasswordAuthentication` (for users made with
    /// [`crate::TestUserBuilder::password`]).
    pub fn password_auth(mut self, yes: bool) -> Self {
        self.password_auth = yes;
        self
    }

    /// How long to wait for the daemon to listen (default 10 s).
    pub fn startup_timeout(mut self, d: Duration) -> Self {
        self.startup_timeout = d;
        self
    }

    /// The sshd binary (default `/usr/sbin/sshd`; must be absolute, sshd
    /// re-executes itself for every connection).
    pub fn sshd_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = path.into();
        self
    }

    /// Starts the daemon and waits until it listens.
    pub fn start(self) -> Result<Sshd> {
        stale::cleanup_stale_once();
        ensure_privsep_dir()?;
        let dir = owned_temp_dir("sshd")?;
        let host_key = dir.path().join("ssh_host_ed25519_key");
        generate_key(&host_key, "sshlog-harness-host").context("generating host key")?;
        let version = sshd_version(&self.program, self.root.as_deref());
        let config_path = dir.path().join("sshd_config");
        let pid_file = dir.path().join("sshd.pid");
        let log_path = dir.path().join("sshd.log");
        // Paths as sshd sees them (inside the chroot, the temp dir is bound
        // at HARNESS_DIR_IN_ROOT).
        let seen = |p: &Path| -> PathBuf {
            match &self.root {
                Some(_) => Path::new(HARNESS_DIR_IN_ROOT).join(p.file_name().unwrap_or_default()),
                None => p.to_path_buf(),
            }
        };
        let syslog = match self.log {
            SshdLog::SyslogSocket => {
                // Unprivileged children (sftp-server) log themselves: they
                // must reach the socket through the temp dir.
                fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711))
                    .context("chmod harness dir")?;
                Some(SyslogReceiver::bind(&dir.path().join("log.sock"))?)
            }
            _ => None,
        };
        let dev_log = match &syslog {
            Some(r) => DevLog::Socket(seen(r.path())),
            None => DevLog::Absent,
        };
        let namespaced = self.distribution || self.log != SshdLog::Stderr;

        let mut last_log = String::new();
        for _attempt in 0..8 {
            let port = free_port()?;
            let mut argv = vec![self.program.display().to_string(), "-D".to_string()];
            if self.log == SshdLog::Stderr {
                argv.push("-e".into());
            }
            if self.distribution {
                argv.extend(["-f".into(), "/etc/ssh/sshd_config".into()]);
                for o in [
                    format!("Port={port}"),
                    "ListenAddress=127.0.0.1".to_string(),
                    format!("HostKey={}", seen(&host_key).display()),
                    format!("PidFile={}", seen(&pid_file).display()),
                ] {
                    argv.extend(["-o".to_string(), o]);
                }
            } else {
                let text = render(&ConfigInput {
                    port,
                    host_key: &host_key,
                    pid_file: &pid_file,
                    log_level: &self.log_level,
                    password_auth: self.password_auth,
                    extra: &self.extra,
                    version,
                });
                fs::write(&config_path, text)
                    .with_context(|| format!("writing {}", config_path.display()))?;
                argv.extend(["-f".into(), config_path.display().to_string()]);
            }
            let _ = fs::remove_file(&pid_file);
            let log = File::create(&log_path)
                .with_context(|| format!("creating {}", log_path.display()))?;
            let log2 = log.try_clone().context("duplicating log file handle")?;
            let mut cmd = if namespaced {
                namespace::command(self.root.as_deref(), dir.path(), &dev_log, &argv)
            } else {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            };
            cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
            let mut child = cmd
                .spawn()
                .with_context(|| format!("spawning {}", self.program.display()))?;
            match wait_ready(&mut child, port, &pid_file, &log_path, self.startup_timeout) {
                Ok(Ready::Yes) => {
                    return Ok(Sshd {
                        child,
                        port,
                        dir,
                        log_path,
                        config_path,
                        log: self.log,
                        syslog,
                        version,
                        stopped: false,
                    })
                }
                // sshd has exited already; try another port.
                Ok(Ready::PortTaken) => last_log = read_log(&log_path),
                Err(e) => {
                    kill_child_tree(&mut child);
                    return Err(e);
                }
            }
        }
        bail!("sshd could not bind a free port after several tries; last log:\n{last_log}")
    }
}

enum Ready {
    Yes,
    PortTaken,
}

/// A running throw-away sshd. See the crate docs.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
    port: u16,
    dir: TempDir,
    log_path: PathBuf,
    config_path: PathBuf,
    log: SshdLog,
    syslog: Option<SyslogReceiver>,
    version: Option<(u32, u32)>,
    stopped: bool,
}

impl Sshd {
    /// Starts an sshd with the default options.
    pub fn start() -> Result<Sshd> {
        Self::builder().start()
    }

    /// Options: extra config lines, log level and target, password auth.
    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The pid of the listening sshd.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temp dir holding config, keys, pid file and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `(major, minor)` of the OpenSSH server, e.g. `(10, 0)`.
    pub fn version(&self) -> Option<(u32, u32)> {
        self.version
    }

    /// The generated `sshd_config` (unused with the distribution's own).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file (sshd's stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Where sshd logs.
    pub fn log_target(&self) -> SshdLog {
        self.log
    }

    /// The log so far (lossy UTF-8): sshd's stderr, and what the test's
    /// syslog socket received ([`SshdLog::SyslogSocket`]).
    pub fn log_text(&self) -> Result<String> {
        let bytes = fs::read(&self.log_path)
            .with_context(|| format!("reading {}", self.log_path.display()))?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(r) = &self.syslog {
            text += &r.text();
        }
        Ok(text)
    }

    /// Waits until the log contains `needle` and returns the whole log;
    /// errors (quoting the log) after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.log_text()?;
            if text.contains(needle) {
                return Ok(text);
            }
            if Instant::now() >= deadline {
                bail!("sshd log did not mention {needle:?} within {timeout:?}; log:\n{text}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// All processes started by this sshd (connection handlers, sessions,
    /// shells), from a `/proc` snapshot.
    pub fn descendant_pids(&self) -> Vec<u32> {
        procfs::descendants(self.child.id() as i32)
            .into_iter()
            .map(|p| p as u32)
            .collect()
    }

    /// An `ssh` client for `user` with its authorized key.
    pub fn ssh(&self, user: &TestUser) -> SshCommand {
        SshCommand::new(self.port, user.name(), user.key_path())
    }

    /// An `ssh` client for `user` with a freshly generated key that is not
    /// authorized (login must fail).
    pub fn ssh_with_wrong_key(&self, user: &TestUser) -> Result<SshCommand> {
        let key = self
            .dir
            .path()
            .join(format!("wrong_key_{}", random_suffix(8)));
        generate_key(&key, "sshlog-harness-wrong-key")?;
        Ok(SshCommand::new(self.port, user.name(), &key))
    }

    /// An `scp` client for `user`.
    pub fn scp(&self, user: &TestUser) -> ScpCommand {
        ScpCommand::new(self.port, user.name(), user.key_path())
    }

    /// Kills the daemon and all its processes now (also done on drop).
    pub fn stop(mut self) {
        self.kill_all();
    }

    fn kill_all(&mut self) {
        if !self.stopped {
            kill_child_tree(&mut self.child);
            self.stopped = true;
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Waits until the freshly spawned sshd listens, or reports that it exited
/// because the port was taken meanwhile.
fn wait_ready(
    child: &mut Child,
    port: u16,
    pid_file: &Path,
    log_path: &Path,
    timeout: Duration,
) -> Result<Ready> {
    let deadline = Instant::now() + timeout;
    let pid = child.id();
    loop {
        if let Some(status) = child.try_wait().context("polling sshd")? {
            let log = read_log(log_path);
            if log.contains("Address already in use") || log.contains("Cannot bind any address") {
                return Ok(Ready::PortTaken);
            }
            bail!("sshd exited during startup ({status}); log:\n{log}");
        }
        // sshd writes its pid file only after it has bound and is
        // listening; check the socket too, without connecting (a probe
        // connection would show up in the log and to the recorder).
        let pid_ok = fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            == Some(pid);
        if pid_ok && is_listening(port) {
            return Ok(Ready::Yes);
        }
        if Instant::now() >= deadline {
            bail!(
                "sshd not listening on port {port} within {timeout:?}; log:\n{}",
                read_log(log_path)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Freezes and kills an sshd and everything it started, then reaps it.
fn kill_child_tree(child: &mut Child) {
    procfs::kill_tree(child.id() as i32, true, Duration::from_secs(5));
    let _ = child.kill();
    let _ = child.wait();
}

fn read_log(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Creates `/run/sshd` (sshd's privilege-separation chroot) if missing.
fn ensure_privsep_dir() -> Result<()> {
    let p = Path::new("/run/sshd");
    if !p.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(p)
            .context("creating /run/sshd")?;
    }
    Ok(())
}

/// A port that was free on 127.0.0.1 a moment ago.
pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr().context("local_addr")?.port())
}

/// Whether `/proc/net/tcp` shows a LISTEN socket on 127.0.0.1:`port`.
pub(crate) fn is_listening(port: u16) -> bool {
    let Ok(text) = fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let want = format!("0100007F:{port:04X}");
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == want && f[3] == "0A"
    })
}

/// The OpenSSH version of the server binary (`sshd -V`, else `ssh -V`),
/// inside `root` when given.
fn sshd_version(program: &Path, root: Option<&Path>) -> Option<(u32, u32)> {
    for (prog, arg) in [(program, "-V"), (Path::new("ssh"), "-V")] {
        let mut cmd = match root {
            Some(r) => {
                let mut c = Command::new("chroot");
                c.arg(r).arg(prog);
                c
            }
            None => Command::new(prog),
        };
        if let Ok(out) = run_with_timeout(cmd.arg(arg), "version", b"", ADMIN_TIMEOUT) {
            let text = format!("{}{}", out.stderr_text(), out.stdout_text());
            if let Some(v) = parse_version(&text) {
                return Some(v);
            }
        }
    }
    None
}
