//! The real `sshlogd` for tests and benchmarks: a temporary settings file,
//! action directory, control socket and (unless told otherwise) log directory;
//! started, asked, restarted and stopped with every wait bounded.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long sshlogd may take to answer a ping after it was started.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or stopped) sshlogd; SIGTERM on drop.
pub struct Sshlogd {
    /// Settings, the action directory, daemon logs, the socket, and the
    /// recordings unless [`Sshlogd::start_in`] put them elsewhere.
    pub dir: tempfile::TempDir,
    /// The control socket.
    pub socket: PathBuf,
    logs: Option<PathBuf>,
    bin: PathBuf,
    child: Option<Child>,
    /// Environment variables for the next [`Sshlogd::spawn`].
    pub env: Vec<(String, String)>,
    /// Extra command-line arguments for the next [`Sshlogd::spawn`].
    pub args: Vec<String>,
    /// Its kernel half, kept across [`Sshlogd::spawn`]s (a restart takes it
    /// over, as on a real host) and removed on drop.
    pub bpf: crate::TestBpfDir,
}

impl Sshlogd {
    /// Starts `bin` with this settings file content and waits until it answers.
    pub fn start(bin: impl Into<PathBuf>, settings: &str) -> Result<Sshlogd> {
        Self::launch(bin.into(), None, settings)
    }

    /// Like [`Sshlogd::start`], recording into `logs` (e.g. a small filesystem).
    pub fn start_in(bin: impl Into<PathBuf>, logs: &Path, settings: &str) -> Result<Sshlogd> {
        Self::launch(bin.into(), Some(logs), settings)
    }

    fn launch(bin: PathBuf, logs: Option<&Path>, settings: &str) -> Result<Sshlogd> {
        crate::stale::cleanup_stale_once();
        let dir = tempfile::Builder::new().prefix("sshlogd-test-").tempdir()?;
        std::fs::write(dir.path().join("sshlogd.yaml"), settings)?;
        let mut d = Sshlogd {
            socket: dir.path().join("sshlogd.sock"),
            dir,
            logs: logs.map(Path::to_path_buf),
            bin,
            child: None,
            env: Vec::new(),
            args: Vec::new(),
            bpf: crate::TestBpfDir::new(),
        };
        d.spawn()?;
        Ok(d)
    }

    /// The action configuration directory this sshlogd reads (never /etc/sshlog).
    pub fn conf_dir(&self) -> PathBuf {
        self.dir.path().join("conf.d")
    }

    /// Where the recordings and event.log go.
    pub fn log_dir(&self) -> &Path {
        self.logs.as_deref().unwrap_or(self.dir.path())
    }

    /// Starts sshlogd (again) on the same directories and waits until it answers.
    pub fn spawn(&mut self) -> Result<()> {
        let conf = self.conf_dir();
        std::fs::create_dir_all(&conf)?;
        let log_path = self.dir.path().join(format!("daemon-{}.log", now_ms()));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&self.bin)
            .arg("--log-dir")
            .arg(self.log_dir())
            .arg("--socket")
            .arg(&self.socket)
            .arg("--config")
            .arg(self.dir.path().join("sshlogd.yaml"))
            .arg("--config-dir")
            .arg(&conf)
            .args(&self.args)
            // An environment variable, not --bpf-dir: benchmarks also run
            // sshlogd binaries older than the option.
            .env("SSHLOG_BPF_DIR", self.bpf.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.ping() {
                return Ok(());
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                bail!(
                    "sshlogd exited during start-up ({st}): {}",
                    self.daemon_logs()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "sshlogd did not answer within {START_TIMEOUT:?}: {}",
                    self.daemon_logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Pid of the running daemon (0 when stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Everything the daemon wrote to stdout/stderr, over all its starts.
    pub fn daemon_logs(&self) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("daemon-"))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// One control-socket request line; the first reply line as JSON.
    pub fn request(&self, line: &str) -> std::io::Result<Value> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(line.as_bytes())?;
        s.write_all(b"\n")?;
        let mut out = String::new();
        BufReader::new(s).read_line(&mut out)?;
        serde_json::from_str(&out).map_err(std::io::Error::other)
    }

    /// Times the capture thread was raised to real-time priority (from
    /// `stats`; 0 when the daemon does not answer).
    pub fn capture_boosts(&self) -> u64 {
        self.request(r#"{"cmd":"stats"}"#)
            .ok()
            .and_then(|v| v["stats"]["capture_boosts"].as_u64())
            .unwrap_or(0)
    }

    /// True when the daemon answers `ping`.
    pub fn ping(&self) -> bool {
        self.request(r#"{"cmd":"ping"}"#)
            .is_ok_and(|v| v["ok"] == Value::Bool(true))
    }

    /// SIGHUP: reload the action configuration.
    pub fn hup(&self) {
        self.signal(libc::SIGHUP);
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (bounded; SIGKILL as a last resort): recordings are
    /// closed cleanly.
    pub fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Sshlogd {
    fn drop(&mut self) {
        // Then `bpf` is dropped: the kernel half goes too.
        self.stop();
    }
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessUsage {
    /// User + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Of which in the kernel (system time).
    pub system_seconds: f64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// Resident set now (VmRSS), KiB.
    pub rss_kib: u64,
    /// Private memory now (RssAnon), KiB.
    pub rss_anon_kib: u64,
}

/// Reads [`ProcessUsage`] of `pid`.
pub fn process_usage(pid: u32) -> Result<ProcessUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let field = |i: usize| -> Result<f64> { Ok(f.get(i).context("short stat")?.parse::<f64>()?) };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let system_seconds = field(12)? / ticks;
    let cpu_seconds = field(11)? / ticks + system_seconds;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(ProcessUsage {
        cpu_seconds,
        system_seconds,
        peak_rss_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
        rss_anon_kib: kib("RssAnon:"),
    })
}

/// The first lines of a benchmark's Markdown table, with a row for the
/// sshlogd settings text when there is one.
pub fn table_header(settings: &str) -> String {
    let mut out = String::from("| figure | value |\n|---|---|\n");
    if !settings.trim().is_empty() {
        out += &format!(
            "| sshlogd settings | `{}` |\n",
            settings.trim().replace('\n', "; ")
        );
    }
    out
}

/// Every file below `dir` (recursively; unreadable directories are skipped).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_this_process_is_plausible() {
        let u = process_usage(std::process::id()).expect("usage");
        assert!(u.cpu_seconds >= u.system_seconds && u.system_seconds >= 0.0);
        assert!(u.rss_kib > 0 && u.peak_rss_kib >= u.rss_kib);
    }

    #[test]
    fn table_header_names_the_settings() {
        assert_eq!(table_header(""), "| figure | value |\n|---|---|\n");
        assert!(table_header("a: 1\nb: 2\n").ends_with("| sshlogd settings | `a: 1; b: 2` |\n"));
    }

    #[test]
    fn files_under_walks_subdirectories() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("a/b")).expect("mkdir");
        std::fs::write(d.path().join("a/b/c"), "x").expect("write");
        std::fs::write(d.path().join("top"), "y").expect("write");
        let mut got = files_under(d.path());
        got.sort();
        assert_eq!(got, vec![d.path().join("a/b/c"), d.path().join("top")]);
    }

    #[test]
    fn a_binary_that_exits_is_reported_with_its_output() {
        // /bin/false "starts" and exits at once: the error says so.
        let err = Sshlogd::start("/bin/false", "")
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("exited during start-up"), "{err}");
    }
}
