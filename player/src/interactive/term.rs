//! The real terminal during interactive playback: raw mode, the alternate
//! screen and a hidden cursor while [`TerminalGuard`] lives, restored when
//! it is dropped, on panic (a panic hook) and — through the caller's stop
//! flag — on SIGTERM, SIGHUP and SIGINT.

use anyhow::{Context, Result};
use std::io::{self, Write};
use std::sync::Once;

/// Leaves the alternate screen, shows the cursor, resets attributes.
const RESTORE: &[u8] = b"\x1b[0m\x1b[?25h\x1b[?1049l";
/// Enters the alternate screen, hides the cursor, clears.
const ENTER: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";

/// Puts the terminal back as it was (idempotent, errors ignored: this runs
/// on the way out, when nothing better can be done).
pub fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let mut out = io::stdout();
    let _ = out.write_all(RESTORE);
    let _ = out.flush();
}

/// Interactive mode of the terminal, for as long as it lives.
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Raw mode on, alternate screen, cursor hidden.
    pub fn enter() -> Result<TerminalGuard> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let guard = TerminalGuard(());
        let mut out = io::stdout();
        out.write_all(ENTER)?;
        out.flush()?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
