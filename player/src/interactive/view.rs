//! Drawing the recorded screen (a `vt100` screen) and a status line on the
//! real terminal. Each row is drawn at an absolute position and clipped to
//! the real terminal's size; only rows that changed are redrawn. The
//! status line goes below the recorded screen when the terminal has room
//! for it.

use std::io::{self, Write};
use unicode_width::UnicodeWidthChar;

/// What is on the real terminal.
pub struct View {
    cols: u16,
    rows: u16,
    drawn: Vec<Vec<u8>>,
    status: String,
}

impl View {
    /// A view of a terminal of `cols` × `rows`, to be drawn in full.
    pub fn new(cols: u16, rows: u16) -> View {
        View {
            cols,
            rows,
            drawn: Vec::new(),
            status: String::new(),
        }
    }

    /// The real terminal changed size: everything is drawn again.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        *self = View::new(cols, rows);
    }

    /// Everything is drawn again on the next [`draw`](Self::draw).
    pub fn invalidate(&mut self) {
        self.drawn.clear();
        self.status.clear();
    }

    /// Brings the real terminal up to date with `screen` and `status`.
    pub fn draw(
        &mut self,
        out: &mut dyn Write,
        screen: &vt100::Screen,
        status: &str,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        let (rec_rows, rec_cols) = screen.size();
        let rows = rec_rows.min(self.rows);
        let width = rec_cols.min(self.cols);
        if self.drawn.is_empty() {
            buf.extend_from_slice(b"\x1b[0m\x1b[H\x1b[2J");
        }
        let full = self.drawn.len() != usize::from(rows);
        if full {
            self.drawn = vec![Vec::new(); usize::from(rows)];
        }
        for (i, row) in screen
            .rows_formatted(0, width)
            .take(usize::from(rows))
            .enumerate()
        {
            if !full && self.drawn[i] == row {
                continue;
            }
            buf.extend_from_slice(format!("\x1b[{};1H\x1b[0m\x1b[2K", i + 1).as_bytes());
            buf.extend_from_slice(&row);
            buf.extend_from_slice(b"\x1b[0m");
            self.drawn[i] = row;
        }
        if rows < self.rows && (full || status != self.status) {
            let line = fit(status, usize::from(self.cols));
            buf.extend_from_slice(
                format!("\x1b[{};1H\x1b[0m\x1b[2K\x1b[7m{line}\x1b[0m", rows + 1).as_bytes(),
            );
            self.status = status.to_string();
        }
        let (r, c) = screen.cursor_position();
        if screen.hide_cursor() || r >= rows || c >= width {
            buf.extend_from_slice(b"\x1b[?25l");
        } else {
            buf.extend_from_slice(format!("\x1b[{};{}H\x1b[?25h", r + 1, c + 1).as_bytes());
        }
        out.write_all(&buf)?;
        out.flush()
    }
}

/// `s` cut to `width` columns.
fn fit(s: &str, width: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn_text(bytes: &[u8], cols: u16, rows: u16) -> String {
        let mut vt = vt100::Parser::new(rows, cols, 0);
        vt.process(bytes);
        vt.screen().contents()
    }

    #[test]
    fn draws_clipped_rows_and_status_then_only_changes() {
        let mut rec = vt100::Parser::new(2, 10, 0);
        rec.process(b"hello\r\nworld 1234");
        let mut view = View::new(8, 4);
        let mut out = Vec::new();
        view.draw(&mut out, rec.screen(), "status line")
            .expect("draw");
        assert_eq!(drawn_text(&out, 8, 4), "hello\nworld 12\nstatus l");
        rec.process(b"\x1b[1;1HJ");
        let mut again = Vec::new();
        view.draw(&mut again, rec.screen(), "status line")
            .expect("draw");
        assert!(!String::from_utf8_lossy(&again).contains("world"));
        out.extend_from_slice(&again);
        assert_eq!(drawn_text(&out, 8, 4), "Jello\nworld 12\nstatus l");
    }
}
