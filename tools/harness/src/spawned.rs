//! A running child process with captured stdout/stderr, a non-blocking stdin
//! writer, and only time-bounded waits. Used for `ssh`, `scp` and the admin
//! commands (`useradd`, `ssh-keygen`, ...).

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The finished result of a command: exit status and the exact bytes it
/// wrote. For `ssh -tt` the remote side's stdout and stderr both arrive on
/// the client's `stdout` (they share the remote pty); `stderr` holds the
/// client's own diagnostics.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// The exit code, `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether the exit status was 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `stdout` decoded lossily as UTF-8.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// `stderr` decoded lossily as UTF-8.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One captured output stream: a reader thread appending to a shared buffer.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    handle: Option<JoinHandle<()>>,
}

impl Capture {
    fn start(mut src: impl Read + Send + 'static) -> Capture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let handle = thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match src.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => match sink.lock() {
                        Ok(mut b) => b.extend_from_slice(&chunk[..n]),
                        Err(_) => break,
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        Capture {
            buf,
            handle: Some(handle),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.buf.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Waits (bounded) for the reader to see EOF, then returns everything.
    /// A grandchild still holding the pipe open would otherwise block us.
    fn finish(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        if let Some(h) = self.handle.take() {
            while !h.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        self.snapshot()
    }
}

/// What the stdin writer thread is asked to do.
enum StdinMsg {
    Data(Vec<u8>),
    Pause(Duration),
}

/// A running child process. Dropping it SIGKILLs and reaps the child.
///
/// Writes to stdin are queued to a writer thread, so they never block the
/// caller; stdin stays open until [`Spawned::close_stdin`] or the end.
pub struct Spawned {
    what: String,
    child: Child,
    stdin: Option<Sender<StdinMsg>>,
    stdout: Capture,
    stderr: Capture,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Spawns `cmd` with all three standard streams piped. `what` names the
    /// command in error messages.
    pub fn spawn(cmd: &mut Command, what: impl Into<String>) -> Result<Spawned> {
        let what = what.into();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {what}"))?;
        let stdin = child.stdin.take().map(start_writer);
        let stdout = child.stdout.take().map(Capture::start);
        let stderr = child.stderr.take().map(Capture::start);
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what}: stdout/stderr pipes missing");
        };
        Ok(Spawned {
            what,
            child,
            stdin,
            stdout,
            stderr,
            status: None,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Queues bytes for the child's stdin (never blocks).
    pub fn write(&mut self, bytes: impl Into<Vec<u8>>) -> Result<()> {
        let tx = self
            .stdin
            .as_ref()
            .with_context(|| format!("{}: stdin already closed", self.what))?;
        tx.send(StdinMsg::Data(bytes.into()))
            .with_context(|| format!("{}: stdin writer has stopped", self.what))
    }

    /// Queues `line` followed by `\n`.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        self.write(format!("{line}\n"))
    }

    /// Queues a pause: later writes reach the child only after `d`.
    pub fn pause_stdin(&mut self, d: Duration) -> Result<()> {
        let tx = self
            .stdin
            .as_ref()
            .with_context(|| format!("{}: stdin already closed", self.what))?;
        tx.send(StdinMsg::Pause(d))
            .with_context(|| format!("{}: stdin writer has stopped", self.what))
    }

    /// Closes stdin (after everything queued so far has been written).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Everything the child wrote to stdout so far.
    pub fn stdout_so_far(&self) -> Vec<u8> {
        self.stdout.snapshot()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr_so_far(&self) -> Vec<u8> {
        self.stderr.snapshot()
    }

    /// Waits until stdout contains `needle`; errors after `timeout` or when
    /// the child exits without having printed it.
    pub fn wait_for_stdout(&mut self, needle: &[u8], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if contains(&self.stdout.snapshot(), needle) {
                return Ok(());
            }
            let exited = self.poll()?.is_some();
            if exited {
                // Give the reader a moment to drain the pipe.
                let out = self.stdout.finish(Duration::from_secs(2));
                if contains(&out, needle) {
                    return Ok(());
                }
                bail!(
                    "{}: exited without printing {:?}; stdout so far: {:?}",
                    self.what,
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&out)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{}: {:?} not seen within {timeout:?}; stdout so far: {:?}",
                    self.what,
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.stdout.snapshot())
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn poll(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.what))?;
        }
        Ok(self.status)
    }

    /// Waits up to `timeout` for the child to exit; `None` if it still runs.
    pub fn try_wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_millis(2);
        loop {
            if let Some(st) = self.poll()? {
                return Ok(Some(st));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the child to exit and returns its output.
    /// On expiry the child is killed and an error carrying the partial
    /// output is returned.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Output> {
        match self.try_wait_timeout(timeout)? {
            Some(status) => Ok(self.collect(status)),
            None => {
                self.kill();
                bail!(
                    "{} did not finish within {timeout:?} (killed); stdout: {:?}; stderr: {:?}",
                    self.what,
                    String::from_utf8_lossy(&self.stdout.snapshot()),
                    String::from_utf8_lossy(&self.stderr.snapshot())
                )
            }
        }
    }

    fn collect(&mut self, status: ExitStatus) -> Output {
        self.stdin = None;
        Output {
            status,
            stdout: self.stdout.finish(Duration::from_secs(2)),
            stderr: self.stderr.finish(Duration::from_secs(2)),
        }
    }

    /// SIGKILLs the child (if still running) and reaps it.
    pub fn kill(&mut self) {
        self.stdin = None;
        if self.status.is_none() {
            let _ = self.child.kill();
            // SIGKILL cannot be ignored, so this wait is short.
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_writer(mut stdin: ChildStdin) -> Sender<StdinMsg> {
    let (tx, rx) = mpsc::channel::<StdinMsg>();
    thread::spawn(move || {
        for msg in rx {
            match msg {
                StdinMsg::Data(bytes) => {
                    if stdin.write_all(&bytes).and_then(|_| stdin.flush()).is_err() {
                        break;
                    }
                }
                StdinMsg::Pause(d) => thread::sleep(d),
            }
        }
        // Dropping `stdin` here closes the pipe.
    });
    tx
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `cmd` to completion with `input` on stdin (then EOF), bounded by
/// `timeout`; the child is killed on expiry.
pub fn run_with_timeout(
    cmd: &mut Command,
    what: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<Output> {
    let mut p = Spawned::spawn(cmd, what)?;
    if !input.is_empty() {
        p.write(input.to_vec())?;
    }
    p.close_stdin();
    p.wait_timeout(timeout)
}

/// Like [`run_with_timeout`], but a non-zero exit is an error that quotes
/// stderr.
pub fn run_checked(
    cmd: &mut Command,
    what: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<Output> {
    let out = run_with_timeout(cmd, what, input, timeout)?;
    if !out.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            out.stderr_text().trim()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_feeds_stdin() {
        let out = run_with_timeout(
            Command::new("cat").arg("-"),
            "cat",
            b"hi there",
            Duration::from_secs(5),
        )
        .expect("cat runs");
        assert!(out.success());
        assert_eq!(out.stdout, b"hi there");
    }

    #[test]
    fn timeout_kills() {
        let start = Instant::now();
        let err = run_with_timeout(
            Command::new("sleep").arg("30"),
            "sleep",
            b"",
            Duration::from_millis(200),
        )
        .expect_err("must time out");
        assert!(format!("{err:#}").contains("did not finish"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn wait_for_stdout_sees_marker() {
        let mut p = Spawned::spawn(
            Command::new("sh").args(["-c", "read x; echo got-$x; exec sleep 30"]),
            "sh",
        )
        .expect("spawn sh");
        p.send_line("42").expect("write");
        p.wait_for_stdout(b"got-42", Duration::from_secs(5))
            .expect("marker");
        assert!(p
            .try_wait_timeout(Duration::from_millis(50))
            .expect("poll")
            .is_none());
    }
}
