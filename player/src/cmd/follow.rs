//! `sshlog follow` and `sshlog attach`: watch a live session from the recorder.
//!
//! The daemon flushes the session's cast and answers with the output offset the
//! file now ends at; we rebuild the current screen by feeding the file's output
//! into a vt100 terminal of the session's size, draw it, then copy the live
//! output chunks (which start exactly at that offset) to stdout until the session
//! ends. `attach` adds keystroke injection (see `attach.rs`).

use crate::control::{check_ok, io_message, parse_answer, Connection};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};
use sshlog_format::cast::Event;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the daemon said when following started.
#[derive(Debug, Clone)]
pub struct Hello {
    pub session_id: String,
    pub offset: u64,
    pub cols: u16,
    pub rows: u16,
    pub user: Option<String>,
    pub tty: Option<String>,
}

/// An open follow stream.
pub struct Follower {
    conn: Connection,
    pub hello: Hello,
    next: u64,
}

/// How a follow ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    SessionClosed,
    Stopped,
}

impl Follower {
    /// Asks the daemon to follow `target` (tty, session id or `pid:N`).
    pub fn start(socket: &Path, target: &str) -> Result<(Follower, Vec<u8>)> {
        let mut conn = Connection::connect(socket)?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.send(&json!({"cmd": "follow", "target": target}))?;
        let v = conn.read_answer()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        let hello = Hello {
            session_id: s("session_id").ok_or_else(|| anyhow!("answer without session_id: {v}"))?,
            offset: v.get("offset").and_then(Value::as_u64).unwrap_or(0),
            cols: v.get("cols").and_then(Value::as_u64).unwrap_or(80) as u16,
            rows: v.get("rows").and_then(Value::as_u64).unwrap_or(24) as u16,
            user: s("user"),
            tty: s("tty"),
        };
        let cast = s("cast").ok_or_else(|| anyhow!("answer without cast path: {v}"))?;
        let before = output_until(Path::new(&cast), hello.offset)?;
        // Short reads let the caller notice Ctrl+C promptly.
        conn.set_read_timeout(Some(Duration::from_millis(200)))?;
        let next = hello.offset;
        Ok((Follower { conn, hello, next }, before))
    }

    /// Copies live output to `out` until the session ends or `stop` is set.
    pub fn stream(&mut self, out: &mut dyn Write, stop: &AtomicBool) -> Result<Ended> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut buf = Vec::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(Ended::Stopped);
            }
            match self.conn.read_line_into(&mut buf) {
                Ok(false) => bail!("sshlogd closed the connection (daemon stopped?)"),
                Ok(true) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue; // partial line stays in buf
                }
                Err(e) => bail!("lost the connection to sshlogd: {}", io_message(&e)),
            }
            let v = parse_answer(&buf)?;
            buf.clear();
            if v.get("ok").is_some() {
                check_ok(&v)?;
            }
            if let Some(o) = v.get("o").and_then(Value::as_str) {
                let data = b64.decode(o).context("bad output chunk from sshlogd")?;
                let offset = v.get("offset").and_then(Value::as_u64).unwrap_or(self.next);
                if offset > self.next {
                    eprintln!(
                        "sshlog: {} bytes of output were missed (follower too slow)",
                        offset - self.next
                    );
                }
                self.next = offset + data.len() as u64;
                out.write_all(&data)?;
                out.flush()?;
            } else if v.get("end").is_some() {
                return Ok(Ended::SessionClosed);
            } else if let Some(n) = v.get("lagged").and_then(Value::as_u64) {
                eprintln!("sshlog: fell behind the session; {n} updates were dropped");
            }
        }
    }
}

/// The session's output bytes from the start of its cast up to `offset`.
fn output_until(cast: &Path, offset: u64) -> Result<Vec<u8>> {
    let (_, events) = sshlog_format::read_cast_file(cast)
        .with_context(|| format!("cannot read the live cast {}", cast.display()))?;
    let mut out = Vec::new();
    for e in events {
        if let Event::Output { data, .. } = e {
            out.extend_from_slice(&data);
        }
    }
    out.truncate(offset as usize);
    Ok(out)
}

/// The screen a terminal of `cols`×`rows` shows after `output`.
pub fn screen(output: &[u8], cols: u16, rows: u16) -> vt100::Parser {
    let mut p = vt100::Parser::new(rows.max(1), cols.max(1), 0);
    p.process(output);
    p
}

/// Draws the current screen: with escape codes on a terminal, as plain text
/// (trailing blank lines trimmed) otherwise.
pub fn draw_screen(out: &mut dyn Write, parser: &vt100::Parser, tty: bool) -> Result<()> {
    if tty {
        out.write_all(b"\x1b[H\x1b[2J")?;
        out.write_all(&parser.screen().contents_formatted())?;
        out.write_all(&parser.screen().cursor_state_formatted())?;
    } else {
        let text = parser.screen().contents();
        out.write_all(text.trim_end_matches('\n').as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `sshlog follow TARGET`.
pub fn run(socket: &Path, target: &str, stop: &Arc<AtomicBool>) -> Result<()> {
    let (mut f, before) = Follower::start(socket, target)?;
    let tty = io::stdout().is_terminal();
    eprintln!(
        "sshlog: following {} ({}{}) read-only; Ctrl+C leaves",
        f.hello.session_id,
        f.hello.user.as_deref().unwrap_or("?"),
        f.hello
            .tty
            .as_deref()
            .map(|t| format!(" on {t}"))
            .unwrap_or_default()
    );
    let mut out = io::stdout().lock();
    draw_screen(&mut out, &screen(&before, f.hello.cols, f.hello.rows), tty)?;
    match f.stream(&mut out, stop)? {
        Ended::SessionClosed => eprintln!("\r\nsshlog: the session ended"),
        Ended::Stopped => {}
    }
    Ok(())
}
