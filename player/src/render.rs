//! Terminal emulation with `vt100`: applying cast events to a virtual
//! terminal, its screen as plain text, and [`Transcript`], the
//! screen-rendered text of a whole recording (`sshlog export --format txt`).
//!
//! # The transcript rule
//!
//! Output is fed into a terminal of the recording's size (following its
//! resizes). The transcript is, in order:
//!
//! 1. every line that scrolls off the top of the main screen, when it does;
//! 2. the main screen's lines just before it is cleared (`ESC[2J`, `ESC[J`
//!    with the cursor at home, `ESC c`), so output wiped by `clear` is kept
//!    (skipped when identical to the previous such screen);
//! 3. the screen visible at the end (the alternate screen if a full-screen
//!    program is still running).
//!
//! Full-screen programs that use the alternate screen (vim, less) leave no
//! trace, as in a real terminal's scrollback. Rows wrapped by the terminal
//! are joined back into one line; trailing spaces and trailing blank lines
//! of a screen are dropped.

use sshlog_format::cast::Event;
use std::io::{self, Write};

/// A virtual terminal of `rows` × `cols` (at least 1 × 1).
pub fn terminal(rows: u16, cols: u16, scrollback: usize) -> vt100::Parser {
    vt100::Parser::new(rows.max(1), cols.max(1), scrollback)
}

/// Applies one cast event: output is emulated, resizes resize; other
/// events do not change the screen.
pub fn apply(vt: &mut vt100::Parser, ev: &Event) {
    match ev {
        Event::Output { data, .. } => vt.process(data),
        Event::Resize { cols, rows, .. } => {
            vt.screen_mut().set_size((*rows).max(1), (*cols).max(1))
        }
        _ => {}
    }
}

/// The visible screen as lines: wrapped rows joined, trailing spaces and
/// trailing blank lines dropped.
pub fn screen_lines(screen: &vt100::Screen) -> Vec<String> {
    let (_, cols) = screen.size();
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, row) in screen.rows(0, cols).enumerate() {
        line.push_str(&row);
        let wrapped = u16::try_from(i).is_ok_and(|i| screen.row_wrapped(i));
        if !wrapped {
            lines.push(line.trim_end().to_string());
            line.clear();
        }
    }
    if !line.is_empty() {
        lines.push(line.trim_end().to_string());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The visible screen as text, one `\n`-terminated line per row (see
/// [`screen_lines`]).
pub fn screen_text(screen: &vt100::Screen) -> String {
    screen_lines(screen).into_iter().map(|l| l + "\n").collect()
}

/// Longest run of text processed at once. Each byte can push at most one
/// line into the scrollback, so counting pushes (see [`Transcript`]) needs
/// a scrollback longer than this.
const PIECE: usize = 256;
/// Scrollback kept by the transcript's terminal.
const SCROLLBACK: usize = 4 * PIECE;

/// Streams the screen-rendered text of a recording to a writer (the rule is
/// in the module documentation), in bounded memory.
///
/// vt100 has no "line scrolled off" callback, so pushes into the scrollback
/// are counted through the scroll offset: with the view scrolled back by
/// one line, every line pushed moves the view one line further back. The
/// output is processed in pieces that each start with at most one escape
/// sequence (so the alternate screen can only be switched at a piece's
/// start) and hold at most [`PIECE`] bytes of text.
pub struct Transcript<W: Write> {
    vt: vt100::Parser,
    out: W,
    /// A wrapped row waiting for its continuation.
    pending: String,
    /// The lines written for the last clear.
    last_clear: Vec<String>,
}

impl<W: Write> Transcript<W> {
    /// A transcript of a terminal of `rows` × `cols`, written to `out`.
    pub fn new(rows: u16, cols: u16, out: W) -> Self {
        Transcript {
            vt: terminal(rows, cols, SCROLLBACK),
            out,
            pending: String::new(),
            last_clear: Vec::new(),
        }
    }

    /// Applies one cast event.
    pub fn event(&mut self, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Output { data, .. } => self.output(data),
            _ => {
                apply(&mut self.vt, ev);
                Ok(())
            }
        }
    }

    /// Feeds terminal output.
    pub fn output(&mut self, data: &[u8]) -> io::Result<()> {
        let mut start = 0;
        for esc in memchr::memchr_iter(0x1b, data) {
            if esc > start {
                self.piece(&data[start..esc])?;
            }
            start = esc;
        }
        if start < data.len() {
            self.piece(&data[start..])?;
        }
        Ok(())
    }

    /// Writes the final screen and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let mut lines = screen_lines(self.vt.screen());
        if !self.pending.is_empty() {
            let first = lines.first().map(String::as_str).unwrap_or("");
            let joined = format!("{}{first}", self.pending).trim_end().to_string();
            if lines.is_empty() {
                lines.push(joined);
            } else {
                lines[0] = joined;
            }
        }
        for l in &lines {
            writeln!(self.out, "{l}")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Text with at most one escape sequence, at its start.
    fn piece(&mut self, bytes: &[u8]) -> io::Result<()> {
        let (esc, text) = bytes.split_at(escape_len(bytes));
        if !esc.is_empty() {
            let main = !self.vt.screen().alternate_screen();
            if main && self.clears_screen(esc) {
                self.dump_screen()?;
            }
            if esc == b"\x1bc" {
                // A reset empties the scrollback: nothing to count.
                self.vt.process(esc);
            } else {
                self.counted(esc)?;
            }
        }
        for chunk in text.chunks(PIECE) {
            self.counted(chunk)?;
        }
        Ok(())
    }

    /// Whether the escape sequence `esc` erases the whole screen.
    fn clears_screen(&self, esc: &[u8]) -> bool {
        match esc {
            b"\x1b[2J" | b"\x1bc" => true,
            b"\x1b[J" | b"\x1b[0J" => self.vt.screen().cursor_position() == (0, 0),
            _ => false,
        }
    }

    /// Processes `bytes` and writes the lines they pushed off the main
    /// screen.
    fn counted(&mut self, bytes: &[u8]) -> io::Result<()> {
        let screen = self.vt.screen_mut();
        if screen.alternate_screen() {
            // Text cannot scroll the main screen from here; a switch back
            // happens only in an escape sequence, which pushes nothing.
            self.vt.process(bytes);
            return Ok(());
        }
        screen.set_scrollback(usize::MAX);
        let len_before = screen.scrollback();
        let offset_before = len_before.min(1);
        screen.set_scrollback(offset_before);
        self.vt.process(bytes);
        let screen = self.vt.screen_mut();
        if screen.alternate_screen() {
            // Switched: entering pushes nothing (and resets the offset).
            return Ok(());
        }
        let offset_after = screen.scrollback();
        screen.set_scrollback(usize::MAX);
        let len_after = screen.scrollback();
        let pushed = if offset_before == 0 {
            len_after.saturating_sub(len_before)
        } else {
            offset_after.saturating_sub(1)
        };
        self.write_pushed(pushed)
    }

    /// Writes the newest `n` scrollback lines, oldest first, and returns
    /// the view to the live screen.
    fn write_pushed(&mut self, n: usize) -> io::Result<()> {
        let screen = self.vt.screen_mut();
        let (rows, cols) = screen.size();
        let mut left = n;
        while left > 0 {
            screen.set_scrollback(left);
            let take = left.min(usize::from(rows));
            let texts: Vec<String> = screen.rows(0, cols).take(take).collect();
            for (i, text) in texts.into_iter().enumerate() {
                self.pending.push_str(&text);
                let wrapped = u16::try_from(i).is_ok_and(|i| screen.row_wrapped(i));
                if !wrapped {
                    writeln!(self.out, "{}", self.pending.trim_end())?;
                    self.pending.clear();
                }
            }
            left -= take;
        }
        screen.set_scrollback(0);
        Ok(())
    }

    /// Writes the main screen's lines before a clear.
    fn dump_screen(&mut self) -> io::Result<()> {
        self.vt.screen_mut().set_scrollback(0);
        let mut lines = screen_lines(self.vt.screen());
        if !self.pending.is_empty() {
            let first = lines.first().cloned().unwrap_or_default();
            let joined = format!("{}{first}", self.pending).trim_end().to_string();
            self.pending.clear();
            if lines.is_empty() {
                lines.push(joined);
            } else {
                lines[0] = joined;
            }
        }
        if lines.is_empty() || lines == self.last_clear {
            return Ok(());
        }
        for l in &lines {
            writeln!(self.out, "{l}")?;
        }
        self.last_clear = lines;
        Ok(())
    }
}

/// Length of the escape sequence at the start of `bytes` (0 if it does not
/// start with ESC): a whole CSI sequence, else ESC and the next byte.
fn escape_len(bytes: &[u8]) -> usize {
    match bytes {
        [0x1b, b'[', rest @ ..] => rest
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(bytes.len(), |i| i + 3),
        [0x1b, _, ..] => 2,
        [0x1b] => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(rows: u16, cols: u16, output: &[&[u8]]) -> String {
        let mut t = Transcript::new(rows, cols, Vec::new());
        for o in output {
            t.output(o).expect("feed");
        }
        String::from_utf8(t.finish().expect("finish")).expect("utf-8")
    }

    #[test]
    fn escape_lengths() {
        assert_eq!(escape_len(b"\x1b[2Jabc"), 4);
        assert_eq!(escape_len(b"\x1b[?1049habc"), 8);
        assert_eq!(escape_len(b"\x1bcabc"), 2);
        assert_eq!(escape_len(b"\x1b[12"), 4);
        assert_eq!(escape_len(b"abc"), 0);
    }

    #[test]
    fn scrolled_lines_then_the_final_screen() {
        let out: String = (0..10).map(|i| format!("line {i}   \r\n")).collect();
        let got = transcript(3, 20, &[out.as_bytes(), b"$ "]);
        let want: String = (0..10).map(|i| format!("line {i}\n")).collect::<String>() + "$\n";
        assert_eq!(got, want);
    }

    #[test]
    fn many_lines_in_one_chunk_are_all_kept() {
        let n = 3 * SCROLLBACK + 7;
        let out: String = (0..n).map(|i| format!("{i}\n\r")).collect();
        let got = transcript(5, 10, &[out.as_bytes()]);
        let want: String = (0..n).map(|i| format!("{i}\n")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn wrapped_rows_are_joined() {
        let got = transcript(2, 5, &[b"abcdefghijkl\r\nxy\r\nz"]);
        assert_eq!(got, "abcdefghijkl\nxy\nz\n");
    }

    #[test]
    fn cleared_screens_are_kept_and_cursor_drawing_shows_the_final_screen() {
        let got = transcript(
            4,
            20,
            &[
                b"$ ls\r\na b c\r\n$ top\r\n",
                b"\x1b[H\x1b[2Jload 1\r\ntask 1",
                b"\x1b[1;6H9\x1b[2;6H7\x1b[3;1Hend",
            ],
        );
        assert_eq!(got, "$ ls\na b c\n$ top\nload 9\ntask 7\nend\n");
    }

    #[test]
    fn the_alternate_screen_leaves_no_trace() {
        let got = transcript(
            3,
            20,
            &[
                b"$ vim\r\n",
                b"\x1b[?1049h\x1b[H\x1b[2Jvim 1\r\nvim 2\r\nvim 3\r\nvim 4\r\n",
                b"\x1b[?1049l$ ",
            ],
        );
        assert_eq!(got, "$ vim\n$\n");
        // Still inside at the end: the alternate screen is what is seen.
        let got = transcript(3, 20, &[b"$ vim\r\n\x1b[?1049h\x1b[Hhello"]);
        assert_eq!(got, "hello\n");
    }
}
