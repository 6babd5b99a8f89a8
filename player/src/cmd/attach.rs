//! `sshlog attach`: follow a live session and, when sshlogd allows injection,
//! type into it. Keystrokes go to the daemon as `inject` requests; Ctrl+Q leaves
//! (and in read-only mode Ctrl+C too). The terminal is put in raw mode while
//! attached and restored on every way out, panics included.

use crate::cmd::follow::{draw_screen, screen, Ended, Follower};
use crate::control;
use anyhow::Result;
use sshlog_control::{Ack, Request};
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const CTRL_Q: u8 = 0x11;
const CTRL_C: u8 = 0x03;

/// Raw mode for as long as it lives.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Whether the daemon lets us type: an empty injection is checked like a real one.
fn injection_allowed(socket: &Path, target: &str) -> Result<bool> {
    let probe = Request::Inject {
        target: target.to_string(),
        data: Vec::new(),
    };
    match control::request::<Ack>(socket, &probe) {
        Ok(_) => Ok(true),
        Err(e) if e.to_string().contains("injection is disabled") => Ok(false),
        Err(e) => Err(e),
    }
}

/// `sshlog attach TARGET`; `readonly` (`-r`) never types.
pub fn run(socket: &Path, target: &str, readonly: bool, stop: &Arc<AtomicBool>) -> Result<()> {
    let can_type = !readonly && injection_allowed(socket, target)?;
    let (mut f, before) = Follower::start(socket, target)?;
    let tty = io::stdout().is_terminal();
    let mode = match (can_type, readonly) {
        (true, _) => "interactive: your keystrokes go to the session",
        (false, true) => "read-only (--readonly)",
        (false, false) => "read-only: injection is disabled in sshlogd (allow_injection)",
    };
    eprint!(
        "sshlog: attached to {} ({mode}); Ctrl+Q leaves\r\n",
        f.hello.session_id
    );
    let _raw = if io::stdin().is_terminal() {
        Some(RawMode::enable()?)
    } else {
        None
    };
    let mut out = io::stdout().lock();
    draw_screen(&mut out, &screen(&before, f.hello.cols, f.hello.rows), tty)?;

    let keys_stop = Arc::clone(stop);
    let socket: PathBuf = socket.to_path_buf();
    let session = f.hello.session_id.to_string();
    std::thread::spawn(move || forward_keys(&socket, &session, can_type, &keys_stop));

    let ended = f.stream(&mut out, stop);
    drop(out);
    match ended? {
        Ended::SessionClosed => eprint!("\r\nsshlog: the session ended\r\n"),
        Ended::Stopped => eprint!("\r\nsshlog: detached\r\n"),
    }
    Ok(())
}

/// Reads stdin and injects it, until Ctrl+Q (or Ctrl+C when read-only) or EOF.
fn forward_keys(socket: &Path, session: &str, can_type: bool, stop: &AtomicBool) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                // End of input: nothing more to type; keep following.
                return;
            }
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        let leave = chunk
            .iter()
            .position(|&b| b == CTRL_Q || (!can_type && b == CTRL_C));
        if let Some(i) = leave {
            chunk = &chunk[..i];
        }
        if can_type && !chunk.is_empty() {
            let req = Request::Inject {
                target: session.to_string(),
                data: chunk.to_vec(),
            };
            if let Err(e) = control::request::<Ack>(socket, &req) {
                eprint!("\r\nsshlog: {e:#}\r\n");
            }
        }
        if leave.is_some() {
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}
