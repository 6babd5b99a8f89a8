//! Times on the command line and in tables: parsing `90`, `1:30`, `1m30s`
//! (positions in a recording), speeds, and printing ages such as `3s ago`.

use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

const TIME_SYNTAX: &str = "expected seconds (90, 2.5), [[H:]M:]S (1:30) or units (1m30s, 500ms)";

/// Largest accepted time: 100 years, far beyond any recording, small
/// enough that microsecond arithmetic cannot overflow.
const MAX_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

/// Parses a position in a recording: `90`, `2.5`, `1:30`, `1:02:03.5`,
/// `1m30s`, `2h`, `1h2m3s`, `500ms`.
pub fn parse_time(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("empty time: {TIME_SYNTAX}"));
    }
    let secs = if t.contains(':') {
        parse_colon(t)
    } else if t.ends_with(|c: char| c.is_ascii_alphabetic()) {
        parse_units(t)
    } else {
        parse_number(t)
    }
    .ok_or_else(|| format!("invalid time '{s}': {TIME_SYNTAX}"))?;
    seconds_to_duration(secs).ok_or_else(|| format!("invalid time '{s}': out of range"))
}

/// A non-negative decimal number without sign, exponent, `inf` or `nan`.
fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || !s.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse::<f64>().ok()
}

fn parse_colon(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let (last, rest) = parts.split_last()?;
    let mut total = 0.0;
    for p in rest {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total * 60.0 + p.parse::<f64>().ok()?;
    }
    let secs = parse_number(last)?;
    if secs >= 60.0 {
        return None;
    }
    Some(total * 60.0 + secs)
}

fn parse_units(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value = parse_number(&rest[..num_len])?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (rank, factor) = match &rest[..unit_len] {
            "h" => (3, 3600.0),
            "m" | "min" => (2, 60.0),
            "s" => (1, 1.0),
            "ms" => (0, 0.001),
            _ => return None,
        };
        // Units must come largest first and at most once: `1m30s`, not `30s1m`.
        if rank >= last_rank {
            return None;
        }
        last_rank = rank;
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn seconds_to_duration(secs: f64) -> Option<Duration> {
    (secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs))
        .then(|| Duration::from_micros((secs * 1e6).round() as u64))
}

/// clap value parser for TIME arguments.
pub fn parse_time_arg(s: &str) -> Result<Duration, String> {
    parse_time(s)
}

/// clap value parser for `--idle-time-limit`: a time, e.g. `2`, `0.5`, `1m`.
pub fn parse_time_limit(s: &str) -> Result<Duration, String> {
    parse_time(s)
}

/// clap value parser for `--speed`: a finite number > 0.
pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1e9 => Ok(x),
        _ => Err(format!(
            "invalid speed '{s}': expected a number greater than 0 (e.g. 2 or 0.5)"
        )),
    }
}

/// How long ago `then` was, as of `now`: `3s ago`, `5m ago`, `2h ago`,
/// `4d ago`; `now` for times in the future (clock skew) or under a second.
pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    match secs {
        s if s < 1 => "now".to_string(),
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// `t` in the time zone `tz` as `YYYY-MM-DD HH:MM:SS`.
pub fn local_time<Tz: TimeZone>(t: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.with_timezone(tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secs(s: &str) -> f64 {
        parse_time(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .as_secs_f64()
    }

    #[test]
    fn plain_seconds() {
        assert_eq!(secs("90"), 90.0);
        assert_eq!(secs("0"), 0.0);
        assert_eq!(secs("2.5"), 2.5);
        assert_eq!(secs(" 7 "), 7.0);
        assert_eq!(parse_time(".5"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn colon_forms() {
        assert_eq!(secs("1:30"), 90.0);
        assert_eq!(secs("0:05"), 5.0);
        assert_eq!(secs("1:02:03"), 3723.0);
        assert_eq!(secs("1:30.25"), 90.25);
        assert_eq!(secs("90:00"), 5400.0);
    }

    #[test]
    fn unit_forms() {
        assert_eq!(secs("1m30s"), 90.0);
        assert_eq!(secs("2h"), 7200.0);
        assert_eq!(secs("1h2m3s"), 3723.0);
        assert_eq!(secs("45s"), 45.0);
        assert_eq!(secs("1.5m"), 90.0);
        assert_eq!(parse_time("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_time("1s500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "-1", "1:", ":30", "1:60", "1:2:3:4", "a", "1x", "1m1m", "30s1m", "1e3", "inf",
            "nan", "1..2", ".", "1:-5", "m", "1 m",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
        let e = parse_time("soon").unwrap_err();
        assert!(e.contains("'soon'") && e.contains("1:30"), "{e}");
        assert!(parse_time("99999999999999999999").is_err());
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("2"), Ok(2.0));
        assert_eq!(parse_speed("0.25"), Ok(0.25));
        for bad in ["0", "-2", "inf", "NaN", "fast", ""] {
            assert!(parse_speed(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ages() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let at = |s: i64| now - chrono::Duration::seconds(s);
        assert_eq!(ago(now, at(0)), "now");
        assert_eq!(ago(now, at(-30)), "now");
        assert_eq!(ago(now, at(3)), "3s ago");
        assert_eq!(ago(now, at(59)), "59s ago");
        assert_eq!(ago(now, at(60)), "1m ago");
        assert_eq!(ago(now, at(3599)), "59m ago");
        assert_eq!(ago(now, at(7200)), "2h ago");
        assert_eq!(ago(now, at(3 * 86_400 + 5)), "3d ago");
    }

    #[test]
    fn local_time_format() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 23, 4, 5).unwrap();
        assert_eq!(local_time(t, &Utc), "2024-05-01 23:04:05");
        let plus2 = chrono::FixedOffset::east_opt(7200).unwrap();
        assert_eq!(local_time(t, &plus2), "2024-05-02 01:04:05");
    }
}
