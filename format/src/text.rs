//! Terminal output as text a person reads: escape sequences removed.

/// Removes ANSI escape sequences (CSI, OSC and DCS/PM/APC strings, two-byte ESC
/// sequences) and carriage returns from a stream of output chunks; a sequence
/// split across chunks is handled.
#[derive(Debug, Default, Clone)]
pub struct EscapeStripper {
    state: State,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Text,
    /// After ESC.
    Escape,
    /// In a CSI sequence, until its final byte.
    Csi,
    /// In an OSC/DCS/PM/APC string, until BEL or ESC \.
    String,
    /// ESC inside a string (the start of its terminator).
    StringEscape,
}

impl EscapeStripper {
    /// Appends the readable text of `chunk` to `out`.
    pub fn push(&mut self, chunk: &str, out: &mut String) {
        for c in chunk.chars() {
            self.state = match (self.state, c) {
                (State::Text, '\x1b') => State::Escape,
                (State::Text, '\r') => State::Text,
                (State::Text, c) => {
                    out.push(c);
                    State::Text
                }
                (State::Escape, '[') => State::Csi,
                (State::Escape, ']' | 'P' | '_' | '^') => State::String,
                (State::Escape, _) => State::Text,
                (State::Csi, c) if ('\x40'..='\x7e').contains(&c) => State::Text,
                (State::Csi, _) => State::Csi,
                (State::String, '\x07') => State::Text,
                (State::String, '\x1b') => State::StringEscape,
                (State::String, _) => State::String,
                (State::StringEscape, _) => State::Text,
            };
        }
    }
}

/// [`EscapeStripper`] over one complete string.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    EscapeStripper::default().push(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_csi_osc_and_carriage_returns() {
        let s = "\x1b[?2004h\x1b]0;bob@vm: ~\x07bob@vm:~$ ls\r\n\x1b[01;34mdir\x1b[0m\r\n";
        assert_eq!(strip_escapes(s), "bob@vm:~$ ls\ndir\n");
        assert_eq!(strip_escapes("\x1b]0;title\x07x\x1b]2;t\x1b\\y"), "xy");
        assert_eq!(strip_escapes("a\x1bPq#0;1\x1b\\b\x1b7c"), "abc");
    }

    #[test]
    fn sequences_split_across_chunks() {
        let mut s = EscapeStripper::default();
        let mut out = String::new();
        s.push("a\x1b[1;31mb\x1b[0", &mut out);
        s.push("mc\r\n\x1b]0;title\x07d\x1b", &mut out);
        s.push("]2;x\x1b", &mut out);
        s.push("\\e", &mut out);
        assert_eq!(out, "abc\nde");
    }
}
