//! `sshlog follow` and `sshlog attach`: watch a live session from the recorder.
//!
//! The daemon flushes the session's cast and answers with the output offset the
//! file now ends at; we rebuild the current screen by feeding the file's output
//! into a vt100 terminal of the session's size, draw it, then copy the live
//! output chunks (which start exactly at that offset) to stdout until the session
//! ends. `attach` adds keystroke injection (see `attach.rs`).

use crate::control::{io_message, Connection};
use anyhow::{bail, Context, Result};
use sshlog_control::{decode_item, FollowHello, FollowItem, Request};
use sshlog_format::cast::Event;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An open follow stream.
pub struct Follower {
    conn: Connection,
    pub hello: FollowHello,
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
        conn.send(&Request::Follow {
            target: target.to_string(),
        })?;
        let hello: FollowHello = conn.read_answer()?;
        let before = output_until(&hello.cast, hello.offset)?;
        // Short reads let the caller notice Ctrl+C promptly.
        conn.set_read_timeout(Some(Duration::from_millis(200)))?;
        let next = hello.offset;
        Ok((Follower { conn, hello, next }, before))
    }

    /// Copies live output to `out` until the session ends or `stop` is set.
    pub fn stream(&mut self, out: &mut dyn Write, stop: &AtomicBool) -> Result<Ended> {
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
            let item: FollowItem = decode_item(&buf)?;
            buf.clear();
            match item {
                FollowItem::Output { data, offset } => {
                    if offset > self.next {
                        eprintln!(
                            "sshlog: {} bytes of output were missed (follower too slow)",
                            offset - self.next
                        );
                    }
                    self.next = offset + data.len() as u64;
                    out.write_all(&data)?;
                    out.flush()?;
                }
                FollowItem::End { .. } => return Ok(Ended::SessionClosed),
                FollowItem::Lagged { lagged } => {
                    eprintln!("sshlog: fell behind the session; {lagged} updates were dropped");
                }
                // The screen is drawn at the size it had when following began.
                FollowItem::Resize { .. } => {}
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
