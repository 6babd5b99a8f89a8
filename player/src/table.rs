//! Plain-text tables: columns sized to their content, squeezed to the
//! terminal width by truncating the flexible columns with `…`, control
//! characters escaped so cell contents cannot drive the terminal.

use crate::style::Style;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Space between columns.
const GAP: &str = "  ";

/// One column of a [`Table`].
#[derive(Debug, Clone)]
pub struct Column {
    /// Heading.
    pub title: &'static str,
    /// Right-align (numbers).
    pub right: bool,
    /// The narrowest this column may be squeezed to (never narrower than
    /// its heading); `None`: never squeezed.
    pub min_width: Option<usize>,
}

impl Column {
    /// A left-aligned column that keeps its width.
    pub fn fixed(title: &'static str) -> Column {
        Column {
            title,
            right: false,
            min_width: None,
        }
    }

    /// A left-aligned column that may shrink down to `min` characters.
    pub fn flex(title: &'static str, min: usize) -> Column {
        Column {
            title,
            right: false,
            min_width: Some(min),
        }
    }

    /// Right-aligned instead.
    pub fn right(mut self) -> Column {
        self.right = true;
        self
    }
}

/// A table of text cells.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; control characters are escaped, missing cells are empty.
    pub fn push(&mut self, cells: Vec<String>) {
        let mut row: Vec<String> = cells.iter().map(|c| escape_controls(c)).collect();
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    /// Column widths so that a line fits in `max_width` (if given and
    /// possible): flexible columns give up space, widest first.
    pub fn widths(&self, max_width: Option<usize>) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r[i].width())
                    .chain([c.title.width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let Some(max) = max_width else {
            return widths;
        };
        let gaps = GAP.len() * self.columns.len().saturating_sub(1);
        let mut total: usize = widths.iter().sum::<usize>() + gaps;
        while total > max {
            let candidate = self
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let floor = c.min_width?.max(c.title.width()).max(1);
                    (widths[i] > floor).then(|| (widths[i] - floor, i))
                })
                .max();
            let Some((_, i)) = candidate else { break };
            widths[i] -= 1;
            total -= 1;
        }
        widths
    }

    /// The table as lines (without newlines), headings first.
    pub fn render(&self, max_width: Option<usize>, style: Style) -> Vec<String> {
        let widths = self.widths(max_width);
        let headings: Vec<String> = self.columns.iter().map(|c| c.title.to_string()).collect();
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        out.push(self.line(&headings, &widths, |s| style.bold(s)));
        for row in &self.rows {
            out.push(self.line(row, &widths, |s| s.to_string()));
        }
        out
    }

    fn line(&self, cells: &[String], widths: &[usize], paint: impl Fn(&str) -> String) -> String {
        let mut line = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (cell, col)) in cells.iter().zip(&self.columns).enumerate() {
            let w = widths[i];
            let text = truncate(cell, w);
            let pad = " ".repeat(w.saturating_sub(text.width()));
            if i > 0 {
                line.push_str(GAP);
            }
            if col.right {
                line.push_str(&pad);
                line.push_str(&paint(&text));
            } else {
                line.push_str(&paint(&text));
                if i != last {
                    line.push_str(&pad);
                }
            }
        }
        line.truncate(line.trim_end().len());
        line
    }
}

/// `s` cut to at most `width` terminal columns, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > width - 1 {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// Control characters (newline, escape, DEL, C1, ...) shown as escapes
/// (`\n`, `\u{1b}`) so a value is always one harmless line.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new(vec![
            Column::fixed("USER"),
            Column::flex("CMD", 6),
            Column::fixed("PID").right(),
        ]);
        t.push(vec!["alice".into(), "vim /etc/hosts".into(), "1801".into()]);
        t.push(vec!["bob".into(), "ls".into(), "7".into()]);
        t
    }

    #[test]
    fn columns_fit_their_content() {
        let lines = table().render(None, Style::plain());
        assert_eq!(
            lines,
            [
                "USER   CMD              PID",
                "alice  vim /etc/hosts  1801",
                "bob    ls                 7",
            ]
        );
    }

    #[test]
    fn flexible_column_is_truncated_to_fit() {
        let lines = table().render(Some(22), Style::plain());
        assert_eq!(
            lines,
            [
                "USER   CMD         PID",
                "alice  vim /etc…  1801",
                "bob    ls            7",
            ]
        );
        for l in &lines {
            assert!(l.width() <= 22, "{l:?} is wider than 22");
        }
    }

    #[test]
    fn squeezing_stops_at_the_minimum() {
        let t = table();
        assert_eq!(t.widths(Some(5)), [5, 6, 4]);
        let lines = t.render(Some(5), Style::plain());
        assert_eq!(lines[1], "alice  vim /…  1801");
    }

    #[test]
    fn headings_are_never_truncated() {
        let mut t = Table::new(vec![Column::flex("LAST COMMAND", 4)]);
        t.push(vec!["a very long command line".into()]);
        assert_eq!(t.widths(Some(8)), [12]);
    }

    #[test]
    fn colour_does_not_change_the_layout() {
        let plain = table().render(Some(22), Style::plain());
        let coloured = table().render(Some(22), Style { color: true });
        assert_eq!(
            coloured[0],
            "\x1b[1mUSER\x1b[0m   \x1b[1mCMD\x1b[0m         \x1b[1mPID\x1b[0m"
        );
        assert_eq!(plain[1..], coloured[1..]);
    }

    #[test]
    fn truncate_counts_terminal_columns() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello", 4), "hel…");
        assert_eq!(truncate("hello", 1), "…");
        assert_eq!(truncate("hello", 0), "");
        // Wide characters take two columns each.
        assert_eq!(truncate("日本語テキスト", 7), "日本語…");
        assert_eq!(truncate("日本語", 6), "日本語");
        assert_eq!(truncate("日本語", 5), "日本…");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\nb"), "a\\nb");
        assert_eq!(escape_controls("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape_controls("plain"), "plain");
        let mut t = Table::new(vec![Column::fixed("X")]);
        t.push(vec!["\x1b]0;pwned\x07".into()]);
        let lines = t.render(None, Style::plain());
        assert!(!lines[1].contains('\x1b'));
    }

    #[test]
    fn missing_cells_are_empty() {
        let mut t = Table::new(vec![Column::fixed("A"), Column::fixed("B")]);
        t.push(vec!["x".into()]);
        assert_eq!(t.render(None, Style::plain()), ["A  B", "x"]);
    }
}
