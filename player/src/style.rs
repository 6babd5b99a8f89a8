//! Terminal styling: whether to colour (stdout is a terminal and `NO_COLOR`
//! is unset) and the few ANSI styles used, plus the terminal width.

use std::io::IsTerminal;

/// Output styling decided once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Whether ANSI colours are emitted.
    pub color: bool,
}

impl Style {
    /// Colours only when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// No colours (tests, pipes).
    pub fn plain() -> Style {
        Style { color: false }
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Bold text (table headings).
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }

    /// Dim text (timestamps).
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }

    /// Highlighted text (event types, user names).
    pub fn accent(&self, s: &str) -> String {
        self.wrap("36", s)
    }

    /// Warnings.
    pub fn warn(&self, s: &str) -> String {
        self.wrap("33", s)
    }
}

/// Width available for tables: the terminal's width when stdout is a
/// terminal, else `$COLUMNS` if set, else unlimited (`None`: pipes get
/// whole values).
pub fn output_width() -> Option<usize> {
    if std::io::stdout().is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
            return Some(usize::from(w));
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_nothing() {
        let s = Style::plain();
        assert_eq!(s.bold("x"), "x");
        assert_eq!(s.accent("y"), "y");
    }

    #[test]
    fn colour_style_wraps_and_resets() {
        let s = Style { color: true };
        assert_eq!(s.bold("x"), "\x1b[1mx\x1b[0m");
        assert_eq!(s.dim("t"), "\x1b[2mt\x1b[0m");
    }
}
