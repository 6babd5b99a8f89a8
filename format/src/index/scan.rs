//! [`scan_cast`]: a fast, streaming pass over the output and markers of a
//! cast, for indexing and full-text search.
//!
//! [`CastReader`](crate::cast::CastReader) builds a `serde_json::Value` per
//! line; this decodes the common line shape `[TIME,"CODE","DATA"]` directly
//! (one `memchr` per escape), and hands everything else to serde_json. It
//! follows the reader's rules: v2 absolute and v3 relative times, `b`
//! companions restore non-UTF-8 output bytes, an unterminated unparsable
//! last line ends the scan quietly. A malformed line elsewhere also ends
//! the scan (reported in [`ScanSummary::damaged_line`]) instead of failing:
//! what came before it is still searchable.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::cast::{is_zstd, open_cast_file, parse_time, CastVersion, Event, Header};
use crate::error::{FormatError, Result};

/// What [`scan_cast`] reports, in recording order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEvent<'a> {
    /// Output bytes (exact, companions applied).
    Output {
        /// µs since the recording start.
        time_us: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// A marker (sshlog writes one at each interactive command).
    Marker {
        /// µs since the recording start.
        time_us: u64,
        /// Its label (the command line).
        label: &'a str,
    },
}

/// How a scan ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSummary {
    /// The cast header.
    pub header: Header,
    /// Time of the last event read (µs).
    pub last_time_us: u64,
    /// Total output bytes reported.
    pub output_bytes: u64,
    /// The file ended in an incomplete line or a truncated zstd frame.
    pub truncated: bool,
    /// The callback asked to stop.
    pub stopped: bool,
    /// Line number of a malformed line that ended the scan.
    pub damaged_line: Option<u64>,
}

const READ_BUF: usize = 256 * 1024;

/// Scan the `.cast.zst` (or plain `.cast`) at `path`, calling `f` for each
/// output and marker event until it returns `Break`.
pub fn scan_cast<F>(path: &Path, f: F) -> Result<ScanSummary>
where
    F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
{
    let file = File::open(path)?;
    let mut raw = BufReader::with_capacity(128 * 1024, file);
    if !is_zstd(raw.fill_buf()?) {
        return scan_lines(&mut raw, path, f);
    }
    // Frame by frame: a damaged frame is skipped (and reported), not the end.
    let dec = crate::framed::salvaging_decoder(raw, &path.display().to_string())?;
    let mut lines = BufReader::with_capacity(READ_BUF, dec);
    let mut summary = scan_lines(&mut lines, path, f)?;
    summary.truncated |= lines.get_ref().cut_off();
    Ok(summary)
}

fn scan_lines<R, F>(lines: &mut R, path: &Path, f: F) -> Result<ScanSummary>
where
    R: BufRead,
    F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
{
    let mut scanner = Scanner::default();
    let mut line = Vec::with_capacity(4096);
    // Header: the first non-blank line.
    let header = loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Err(FormatError::Empty);
        }
        scanner.line_no += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => break Header::from_json(v).map_err(FormatError::Header)?,
            // A multi-line JSON document: asciicast v1, read by the library.
            Err(e) if e.is_eof() => return scan_v1(path, f),
            Err(source) => {
                return Err(FormatError::Json {
                    line: scanner.line_no,
                    source,
                })
            }
        }
    };
    scanner.v3 = header.version == CastVersion::V3;
    scanner.run(lines, &mut line, f, header)
}

fn scan_v1<F>(path: &Path, mut f: F) -> Result<ScanSummary>
where
    F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
{
    let reader = open_cast_file(path)?;
    let mut summary = ScanSummary {
        header: reader.header().clone(),
        last_time_us: 0,
        output_bytes: 0,
        truncated: false,
        stopped: false,
        damaged_line: None,
    };
    for ev in reader {
        let flow = match ev? {
            Event::Output { time_us, data } => {
                summary.last_time_us = time_us;
                summary.output_bytes += data.len() as u64;
                f(ScanEvent::Output {
                    time_us,
                    data: &data,
                })
            }
            Event::Marker { time_us, label } => {
                summary.last_time_us = time_us;
                f(ScanEvent::Marker {
                    time_us,
                    label: &label,
                })
            }
            other => {
                summary.last_time_us = other.time_us();
                ControlFlow::Continue(())
            }
        };
        if flow.is_break() {
            summary.stopped = true;
            break;
        }
    }
    Ok(summary)
}

#[derive(Default)]
struct Scanner {
    v3: bool,
    line_no: u64,
    last_us: u64,
    /// Decoded data of the current line.
    data: Vec<u8>,
    /// An output event waiting for a possible `b` companion.
    pending: Vec<u8>,
    pending_time: Option<u64>,
    output_bytes: u64,
}

/// One decoded event line.
struct Line<'a> {
    time_us: u64,
    code: &'a [u8],
    /// `data` holds the decoded string (false: data was not a string).
    string: bool,
}

impl Scanner {
    fn run<R: BufRead, F>(
        mut self,
        lines: &mut R,
        line: &mut Vec<u8>,
        mut f: F,
        header: Header,
    ) -> Result<ScanSummary>
    where
        F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
    {
        let mut summary = ScanSummary {
            header,
            last_time_us: 0,
            output_bytes: 0,
            truncated: false,
            stopped: false,
            damaged_line: None,
        };
        // Lines are parsed in place in the reader's buffer; only a line
        // that spans two fills is copied (into `line`).
        line.clear();
        loop {
            let buf = lines.fill_buf()?;
            if buf.is_empty() {
                if !line.is_empty() {
                    let last = std::mem::take(line);
                    self.line(&last, false, &mut f, &mut summary);
                }
                break;
            }
            let (used, stop) = match memchr::memchr(b'\n', buf) {
                Some(i) if line.is_empty() => {
                    (i + 1, self.line(&buf[..=i], true, &mut f, &mut summary))
                }
                Some(i) => {
                    line.extend_from_slice(&buf[..=i]);
                    let whole = std::mem::take(line);
                    let stop = self.line(&whole, true, &mut f, &mut summary);
                    *line = whole;
                    line.clear();
                    (i + 1, stop)
                }
                None => {
                    line.extend_from_slice(buf);
                    (buf.len(), false)
                }
            };
            lines.consume(used);
            if stop {
                break;
            }
        }
        if !summary.stopped {
            let _ = self.flush(&mut f);
        }
        summary.last_time_us = self.last_us;
        summary.output_bytes = self.output_bytes;
        Ok(summary)
    }

    /// Handle one line; true when the scan must end.
    fn line<F>(&mut self, line: &[u8], complete: bool, f: &mut F, summary: &mut ScanSummary) -> bool
    where
        F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
    {
        self.line_no += 1;
        let text = line.trim_ascii();
        if text.is_empty() || (self.v3 && text[0] == b'#') {
            return false;
        }
        let mut data = std::mem::take(&mut self.data);
        data.clear();
        let parsed = parse_fast(text, &mut data).or_else(|| parse_slow(text, &mut data));
        let Some(ev) = parsed else {
            self.data = data;
            if complete {
                summary.damaged_line = Some(self.line_no);
            } else {
                summary.truncated = true;
            }
            return true;
        };
        let time_us = if self.v3 {
            self.last_us.saturating_add(ev.time_us)
        } else {
            ev.time_us
        };
        self.last_us = time_us;
        let flow = self.event(time_us, ev.code, ev.string, &data, f);
        self.data = data;
        if flow.is_break() {
            summary.stopped = true;
            return true;
        }
        false
    }

    fn event<F>(
        &mut self,
        time_us: u64,
        code: &[u8],
        string: bool,
        data: &[u8],
        f: &mut F,
    ) -> ControlFlow<()>
    where
        F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
    {
        if code == b"b" && string && self.pending_time == Some(time_us) {
            if let Some(bytes) = companion(data, &self.pending) {
                self.pending = bytes;
            }
            return self.flush(f);
        }
        self.flush(f)?;
        match code {
            b"o" if string => {
                self.pending.clear();
                self.pending.extend_from_slice(data);
                self.pending_time = Some(time_us);
                ControlFlow::Continue(())
            }
            b"m" if string => {
                let label = String::from_utf8_lossy(data);
                f(ScanEvent::Marker {
                    time_us,
                    label: &label,
                })
            }
            _ => ControlFlow::Continue(()),
        }
    }

    fn flush<F>(&mut self, f: &mut F) -> ControlFlow<()>
    where
        F: FnMut(ScanEvent<'_>) -> ControlFlow<()>,
    {
        match self.pending_time.take() {
            Some(time_us) => {
                self.output_bytes += self.pending.len() as u64;
                f(ScanEvent::Output {
                    time_us,
                    data: &self.pending,
                })
            }
            None => ControlFlow::Continue(()),
        }
    }
}

/// The exact bytes of a `b` companion, if it belongs to `text`.
fn companion(payload: &[u8], text: &[u8]) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(payload).ok()?;
    (String::from_utf8_lossy(&bytes).as_bytes() == text).then_some(bytes)
}

fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    i
}

/// `[TIME,"CODE","DATA"]` without serde_json; `None` for anything else.
fn parse_fast<'a>(s: &'a [u8], data: &mut Vec<u8>) -> Option<Line<'a>> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let i = skip_spaces(s, 1);
    let comma = i + memchr::memchr(b',', s.get(i..)?)?;
    let time_us = fast_time(s[i..comma].trim_ascii())?;
    let i = skip_spaces(s, comma + 1);
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let code_end = i + 1 + memchr::memchr2(b'"', b'\\', s.get(i + 1..)?)?;
    if s[code_end] != b'"' {
        return None;
    }
    let code = &s[i + 1..code_end];
    let i = skip_spaces(s, code_end + 1);
    if s.get(i) != Some(&b',') {
        return None;
    }
    let i = skip_spaces(s, i + 1);
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let end = i + 1 + decode_string(s.get(i + 1..)?, data)?;
    let i = skip_spaces(s, end);
    if s.get(i) != Some(&b']') || s.len() != i + 1 {
        return None;
    }
    Some(Line {
        time_us,
        code,
        string: true,
    })
}

/// Any other valid event line, through serde_json.
fn parse_slow<'a>(s: &'a [u8], data: &mut Vec<u8>) -> Option<Line<'a>> {
    let Value::Array(items) = serde_json::from_slice::<Value>(s).ok()? else {
        return None;
    };
    let [time, code, value, ..] = items.as_slice() else {
        return None;
    };
    let time_us = parse_time(time)?;
    let code = code.as_str()?;
    // The code must be a slice of `s`: find it there (it was written
    // without escapes in every case the fast path rejected for other
    // reasons; an escaped code is simply treated as unknown).
    let code: &'a [u8] = find_sub(s, code.as_bytes()).unwrap_or(b"?");
    let string = match value {
        Value::String(v) => {
            data.extend_from_slice(v.as_bytes());
            true
        }
        _ => false,
    };
    Some(Line {
        time_us,
        code,
        string,
    })
}

fn find_sub<'a>(hay: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(hay, needle)?;
    Some(&hay[at..at + needle.len()])
}

/// Seconds with up to six decimals as µs, exactly; other number forms via
/// f64 like the cast reader.
fn fast_time(s: &[u8]) -> Option<u64> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &s[s.len()..]),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(int) || int.len() > 12 || !(frac.is_empty() || digits(frac)) {
        return None;
    }
    if frac.len() > 6 {
        let v: Value = serde_json::from_slice(s).ok()?;
        return parse_time(&v);
    }
    let mut us: u64 = 0;
    for &d in int {
        us = us * 10 + u64::from(d - b'0');
    }
    let mut f: u64 = 0;
    for i in 0..6 {
        f = f * 10 + frac.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    Some(us * 1_000_000 + f)
}

/// Decode a JSON string body (after the opening quote) into `out`; returns
/// the length consumed including the closing quote.
fn decode_string(s: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut i = 0;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &s[i..])?;
        out.extend_from_slice(&s[i..j]);
        if s[j] == b'"' {
            return Some(j + 1);
        }
        let esc = *s.get(j + 1)?;
        i = j + 2;
        let byte = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut cp = hex4(s.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    if s.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(s.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                let c = char::from_u32(cp)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(byte);
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(h).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(s: &str) -> Option<(u64, String, Vec<u8>)> {
        let mut d = Vec::new();
        let l = parse_fast(s.as_bytes(), &mut d)?;
        Some((l.time_us, String::from_utf8_lossy(l.code).into_owned(), d))
    }

    #[test]
    fn fast_path_decodes_like_serde() {
        let cases = [
            r#"[1.250000,"o","plain"]"#,
            r#"[0.5, "o", "sp\"ace\\s \n\r\t\u001b[0m \u00e9 \ud83d\ude00 caf\u00e9"]"#,
            r#"[12,"m","ls -la"]"#,
            r#"[3.1,"o","/\/"]"#,
        ];
        for c in cases {
            let (t, code, data) = fast(c).unwrap_or_else(|| panic!("{c}"));
            let v: Vec<Value> = serde_json::from_str(c).expect("json");
            assert_eq!(Some(t), parse_time(&v[0]), "{c}");
            assert_eq!(code, v[1].as_str().expect("code"));
            assert_eq!(data, v[2].as_str().expect("data").as_bytes(), "{c}");
        }
        for bad in [
            r#"[1.0,"o",5]"#,
            r#"[-1,"o","x"]"#,
            r#"[1e3,"o","x"]"#,
            r#"[1,"o","x"] x"#,
            r#"[1,"o","\ud800"]"#,
            r#"{"a":1}"#,
        ] {
            assert!(fast(bad).is_none(), "{bad}");
        }
        assert_eq!(fast_time(b"1.2345678"), Some(1_234_568));
    }
}
