//! Bytes → text for the browser: terminal output arrives in chunks that
//! may split a UTF-8 character; [`Utf8Chunker`] holds such a tail back
//! until the next chunk (invalid bytes become U+FFFD). Also HTML escaping.

use sshlog_format::cast::incomplete_suffix_len;

/// Turns a byte stream into text chunks without splitting characters.
#[derive(Debug, Default)]
pub struct Utf8Chunker {
    held: Vec<u8>,
}

impl Utf8Chunker {
    /// The text of `data` (after what was held back), holding back an
    /// incomplete character at its end.
    pub fn push(&mut self, data: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(data);
        let keep = incomplete_suffix_len(&buf);
        self.held = buf.split_off(buf.len() - keep);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// `s` escaped for HTML text and double-quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_are_joined() {
        let mut c = Utf8Chunker::default();
        let e = "é".as_bytes();
        assert_eq!(c.push(&[b'a', e[0]]), "a");
        assert_eq!(c.push(&[e[1], b'b']), "éb");
        assert_eq!(c.push(&[0xff, b'c']), "\u{fffd}c");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
