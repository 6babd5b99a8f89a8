//! A real terminal for tests: a program (usually `ssh -tt`) running in a
//! private tmux server, typed into key by key as a person types, and read
//! back from the screen. Every wait is bounded; dropping it kills the server.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::spawned::{run_checked, run_with_timeout};
use crate::util::owned_temp_dir;

/// How long one tmux command may take.
const TMUX_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two typed keys.
const KEY_DELAY: Duration = Duration::from_millis(15);

/// A program in a tmux pane of its own tmux server.
#[derive(Debug)]
pub struct Terminal {
    socket: PathBuf,
    _dir: TempDir,
}

impl Terminal {
    /// Starts `program args...` in a `cols`×`rows` terminal. The pane stays
    /// after the program exits, so its last screen can still be read.
    pub fn start(argv: &[OsString], cols: u16, rows: u16) -> Result<Terminal> {
        let dir = owned_temp_dir("tmux")?;
        let t = Terminal {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        let mut cmd = t.tmux();
        cmd.args(["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .args(argv);
        cmd.env("TERM", "xterm-256color");
        run_checked(&mut cmd, "tmux new-session", b"", TMUX_TIMEOUT)?;
        run_checked(
            t.tmux()
                .args(["set-option", "-t", "t", "remain-on-exit", "on"]),
            "tmux set-option",
            b"",
            TMUX_TIMEOUT,
        )?;
        Ok(t)
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    /// Types `text` key by key, then Enter.
    pub fn type_line(&self, text: &str) -> Result<()> {
        for ch in text.chars() {
            run_checked(
                self.tmux()
                    .args(["send-keys", "-t", "t", "-l"])
                    .arg(ch.to_string()),
                "tmux send-keys",
                b"",
                TMUX_TIMEOUT,
            )?;
            thread::sleep(KEY_DELAY);
        }
        run_checked(
            self.tmux().args(["send-keys", "-t", "t", "Enter"]),
            "tmux send-keys Enter",
            b"",
            TMUX_TIMEOUT,
        )?;
        Ok(())
    }

    /// The visible screen and scrollback as text.
    pub fn screen(&self) -> Result<String> {
        let out = run_checked(
            self.tmux()
                .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "t"]),
            "tmux capture-pane",
            b"",
            TMUX_TIMEOUT,
        )?;
        Ok(out.stdout_text())
    }

    /// Waits until the screen shows `needle` at least `count` times and
    /// returns the screen; errors (quoting it) after `timeout`.
    pub fn wait_for(&self, needle: &str, count: usize, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen()?;
            if screen.matches(needle).count() >= count {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                bail!("the terminal did not show {needle:?} {count} time(s) within {timeout:?}; screen:\n{screen}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the program in the pane has exited.
    pub fn wait_exit(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = run_with_timeout(
                self.tmux()
                    .args(["display-message", "-p", "-t", "t", "#{pane_dead}"]),
                "tmux display-message",
                b"",
                TMUX_TIMEOUT,
            )
            .context("asking tmux whether the program ended")?;
            // No server any more also means the program is gone.
            if !out.success() || out.stdout_text().trim() == "1" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the terminal's program did not exit within {timeout:?}; screen:\n{}",
                    self.screen().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = run_with_timeout(
            self.tmux().arg("kill-server"),
            "tmux kill-server",
            b"",
            TMUX_TIMEOUT,
        );
    }
}
