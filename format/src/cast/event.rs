//! Cast events and their time representation (microseconds, printed with
//! six decimals).

use serde_json::Value;

/// One cast event. Times are microseconds since the recording start
/// (absolute, also for v3 files whose lines store intervals).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Terminal output (`"o"`), exact bytes.
    Output {
        /// Event time.
        time_us: u64,
        /// Exact bytes written to the terminal.
        data: Vec<u8>,
    },
    /// Keyboard input (`"i"`), exact bytes.
    Input {
        /// Event time.
        time_us: u64,
        /// Exact bytes typed.
        data: Vec<u8>,
    },
    /// Terminal resize (`"r"`, data `"COLSxROWS"`).
    Resize {
        /// Event time.
        time_us: u64,
        /// New width.
        cols: u16,
        /// New height.
        rows: u16,
    },
    /// Marker (`"m"`).
    Marker {
        /// Event time.
        time_us: u64,
        /// Marker label (may be empty).
        label: String,
    },
    /// Session exit (`"x"`, asciicast v3).
    Exit {
        /// Event time.
        time_us: u64,
        /// Exit status.
        status: i32,
    },
    /// Any other event code, kept verbatim.
    Other {
        /// Event time.
        time_us: u64,
        /// Event code.
        code: String,
        /// Event data.
        data: Value,
    },
}

impl Event {
    /// The event time in microseconds since the recording start.
    pub fn time_us(&self) -> u64 {
        match self {
            Event::Output { time_us, .. }
            | Event::Input { time_us, .. }
            | Event::Resize { time_us, .. }
            | Event::Marker { time_us, .. }
            | Event::Exit { time_us, .. }
            | Event::Other { time_us, .. } => *time_us,
        }
    }

    /// The asciicast event code.
    pub fn code(&self) -> &str {
        match self {
            Event::Output { .. } => "o",
            Event::Input { .. } => "i",
            Event::Resize { .. } => "r",
            Event::Marker { .. } => "m",
            Event::Exit { .. } => "x",
            Event::Other { code, .. } => code,
        }
    }

    /// Same event with a different time.
    pub fn with_time(mut self, t: u64) -> Self {
        match &mut self {
            Event::Output { time_us, .. }
            | Event::Input { time_us, .. }
            | Event::Resize { time_us, .. }
            | Event::Marker { time_us, .. }
            | Event::Exit { time_us, .. }
            | Event::Other { time_us, .. } => *time_us = t,
        }
        self
    }
}

/// Largest time (seconds) accepted on read; guards the conversion to
/// microseconds against overflow.
const MAX_SECONDS: f64 = 1.0e12;

/// Format microseconds as seconds with exactly six decimals.
pub fn format_time(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// A recording time as a clock: `M:SS.d`, or `H:MM:SS.d` from an hour on
/// (rounded down to tenths).
pub fn format_clock(us: u64) -> String {
    let tenths = us / 100_000;
    let (h, m, s, d) = (
        tenths / 36_000,
        tenths / 600 % 60,
        tenths / 10 % 60,
        tenths % 10,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{d}")
    } else {
        format!("{m}:{s:02}.{d}")
    }
}

/// Parse a JSON time value (seconds) into microseconds.
pub fn parse_time(v: &Value) -> Option<u64> {
    let f = v.as_f64()?;
    if !f.is_finite() || !(0.0..MAX_SECONDS).contains(&f) {
        return None;
    }
    Some((f * 1_000_000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_and_parse_are_inverse() {
        for us in [
            0u64,
            1,
            999_999,
            1_000_000,
            1_234_567,
            86_400_000_000 * 365 * 30 + 7,
        ] {
            let s = format_time(us);
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(parse_time(&v), Some(us), "{s}");
        }
        assert_eq!(format_time(1_500_000), "1.500000");
    }

    #[test]
    fn bad_times_rejected() {
        for s in ["-1", "1e300", "\"1\"", "null"] {
            let v: Value = serde_json::from_str(s).unwrap();
            assert_eq!(parse_time(&v), None, "{s}");
        }
    }
}
