//! [`push_json_str`]: a string as a JSON string literal, appended to a byte
//! buffer, escaped exactly as `serde_json` escapes it.
//!
//! Every output byte of a session passes through here, so it is written for
//! the common case: runs of bytes that need no escape are found eight at a
//! time and copied whole. Only `"`, `\` and control characters below 0x20
//! are escaped (`\b \t \n \f \r` by name, the rest as `\u00XX`); DEL and
//! non-ASCII characters are copied as they are.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is below 0x20, `"` or `\`, and
/// perhaps of bytes above such a byte (borrows carry upwards). The lowest
/// set bit is always exact, and a word of bytes that need no escape gives 0.
#[inline]
fn escape_mask(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero(quote) | zero(backslash)) & HIGHS
}

/// The escape of one byte, or `None` when it is copied as it is.
#[inline]
fn escape_of(b: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    static CONTROL: [[u8; 6]; 32] = {
        let mut t = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15]];
            i += 1;
        }
        t
    };
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x09 => b"\\t",
        0x0A => b"\\n",
        0x0C => b"\\f",
        0x0D => b"\\r",
        0..=0x1F => &CONTROL[usize::from(b)],
        _ => return None,
    })
}

/// Appends `s` to `out` as a JSON string literal, quotes included.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // bytes[start..i] need no escape and are not copied yet.
    let mut start = 0;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let mask = escape_mask(u64::from_le_bytes(word));
        if mask == 0 {
            i += 8;
            continue;
        }
        // The first byte to escape; the word is read again after it.
        let j = i + (mask.trailing_zeros() / 8) as usize;
        if let Some(esc) = escape_of(bytes[j]) {
            out.extend_from_slice(&bytes[start..j]);
            out.extend_from_slice(esc);
            start = j + 1;
        }
        i = j + 1;
    }
    for (j, &b) in bytes.iter().enumerate().skip(i) {
        if let Some(esc) = escape_of(b) {
            out.extend_from_slice(&bytes[start..j]);
            out.extend_from_slice(esc);
            start = j + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        push_json_str(&mut out, s);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    #[test]
    fn every_ascii_byte_as_serde_json() {
        for b in 0u8..=0x7F {
            let s = format!("ab{}cdefghij{}", b as char, b as char);
            assert_eq!(
                escaped(&s),
                serde_json::to_string(&s).unwrap(),
                "byte {b:#x}"
            );
        }
    }

    #[test]
    fn terminal_output() {
        let s = "\u{1b}[1;32mok\u{1b}[0m \"quoted\" back\\slash\r\n€ ✓ tab\there\u{7f}";
        assert_eq!(escaped(s), serde_json::to_string(s).unwrap());
        assert_eq!(escaped(""), "\"\"");
    }

    proptest! {
        #[test]
        fn same_as_serde_json(s in "(?s).{0,200}", ascii in proptest::collection::vec(0u8..0x80, 0..200)) {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
            let a = String::from_utf8(ascii).unwrap();
            prop_assert_eq!(escaped(&a), serde_json::to_string(&a).unwrap());
        }
    }
}
