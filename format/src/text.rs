//! Terminal output as text a person reads: escape sequences removed.

/// Removes ANSI escape sequences (CSI, OSC, two-byte ESC sequences) and carriage
/// returns, keeping the text a person would read.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => match it.next() {
                Some('[') => {
                    // CSI: parameters, then one final byte in 0x40..=0x7e.
                    for d in it.by_ref() {
                        if ('\x40'..='\x7e').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: until BEL or ESC \.
                    while let Some(d) = it.next() {
                        if d == '\x07' {
                            break;
                        }
                        if d == '\x1b' && it.peek() == Some(&'\\') {
                            it.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
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
    }
}
