//! Byte-exact text: holding back UTF-8 sequences split across chunks and the
//! base64 companion events (`"b"` / `"B"`) for chunks that are not UTF-8.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Companion event code restoring the exact bytes of the preceding `"o"`.
pub const OUTPUT_BYTES_CODE: &str = "b";
/// Companion event code restoring the exact bytes of the preceding `"i"`.
pub const INPUT_BYTES_CODE: &str = "B";

/// Length of an incomplete (but so far valid) UTF-8 sequence at the end of
/// `bytes`, i.e. how many trailing bytes to hold back until more data
/// arrives. 0 when the chunk ends on a character boundary or with bytes that
/// can never become valid.
pub fn incomplete_suffix_len(bytes: &[u8]) -> usize {
    let start = bytes.len().saturating_sub(3);
    for i in (start..bytes.len()).rev() {
        let b = bytes[i];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for the lead byte
        }
        if b < 0xC0 {
            return 0; // ASCII (or stray continuation run): nothing to hold
        }
        return match std::str::from_utf8(&bytes[i..]) {
            Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => bytes.len() - i,
            _ => 0,
        };
    }
    0
}

/// Decode a companion payload, accepting it only if it matches the lossy
/// `text` of the event it follows.
pub fn decode_companion(payload: &str, text: &[u8]) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(payload).ok()?;
    (String::from_utf8_lossy(&bytes).as_bytes() == text).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_only_valid_prefixes() {
        let euro = "€".as_bytes(); // e2 82 ac
        assert_eq!(incomplete_suffix_len(b"abc"), 0);
        assert_eq!(incomplete_suffix_len(&euro[..1]), 1);
        assert_eq!(incomplete_suffix_len(&euro[..2]), 2);
        assert_eq!(incomplete_suffix_len(euro), 0);
        assert_eq!(incomplete_suffix_len(&[b'a', 0xF0, 0x9F, 0x98]), 3);
        assert_eq!(incomplete_suffix_len(&[0xFF]), 0);
        assert_eq!(incomplete_suffix_len(&[0xE0, 0x80]), 0); // overlong, never valid
        assert_eq!(incomplete_suffix_len(&[0x80, 0x80, 0x80]), 0);
        assert_eq!(incomplete_suffix_len(&[]), 0);
    }

    #[test]
    fn companion_matches_only_its_text() {
        let text = "a\u{FFFD}";
        let b64 = STANDARD.encode([b'a', 0xFF]);
        assert_eq!(
            decode_companion(&b64, text.as_bytes()),
            Some(vec![b'a', 0xFF])
        );
        assert_eq!(decode_companion(&b64, b"other"), None);
        assert_eq!(decode_companion("!!", text.as_bytes()), None);
    }
}
