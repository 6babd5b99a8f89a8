//! `--since` / `--until` values: absolute (`2026-11-28T10:00:00Z`,
//! `2026-11-28 10:00`, `2026-11-28`, local time unless an offset is given)
//! or relative to now (`45m`, `2h`, `3d`, `1w`, `1h30m`), plus `today` and
//! `yesterday` (local midnight).

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

const SYNTAX: &str = "expected a time like 2h, 3d, 45m, 2026-11-28 10:00, 2026-11-28 or RFC 3339";

/// Parse `s` as of `now`.
pub fn parse_when(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let bad = || format!("invalid time '{s}': {SYNTAX}");
    if t.is_empty() {
        return Err(bad());
    }
    if let Some(d) = relative(t) {
        return now.checked_sub_signed(d).ok_or_else(bad);
    }
    match t {
        "now" => return Ok(now),
        "today" => return local_midnight(now.with_timezone(&Local).date_naive()).ok_or_else(bad),
        "yesterday" => {
            let day = now
                .with_timezone(&Local)
                .date_naive()
                .pred_opt()
                .ok_or_else(bad)?;
            return local_midnight(day).ok_or_else(bad);
        }
        _ => {}
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return local(naive).ok_or_else(bad);
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return local_midnight(day).ok_or_else(bad);
    }
    Err(bad())
}

fn local(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn local_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    local(day.and_hms_opt(0, 0, 0)?)
}

/// `45m`, `2h`, `3d`, `1w`, `90s`, `1h30m`, `1.5h`: units largest first.
fn relative(s: &str) -> Option<Duration> {
    if !s.ends_with(|c: char| c.is_ascii_alphabetic())
        || !s.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let mut rest = s;
    let mut total = 0.0f64;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (rank, secs) = match &rest[..u] {
            "w" => (4, 604_800.0),
            "d" => (3, 86_400.0),
            "h" => (2, 3600.0),
            "m" | "min" => (1, 60.0),
            "s" => (0, 1.0),
            _ => return None,
        };
        if rank >= last_rank {
            return None;
        }
        last_rank = rank;
        total += value * secs;
        rest = &rest[u..];
    }
    (total.is_finite() && total < 1e11).then(|| Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    #[test]
    fn relative_times() {
        let at = |s| parse_when(s, now()).unwrap();
        assert_eq!(at("2h"), now() - Duration::hours(2));
        assert_eq!(at("3d"), now() - Duration::days(3));
        assert_eq!(at("45m"), now() - Duration::minutes(45));
        assert_eq!(at("1h30m"), now() - Duration::minutes(90));
        assert_eq!(at("1w"), now() - Duration::days(7));
        assert_eq!(at("now"), now());
    }

    #[test]
    fn absolute_times() {
        let at = |s| parse_when(s, now()).unwrap();
        assert_eq!(
            at("2026-11-27T10:00:00Z"),
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
        );
        assert_eq!(
            at("2026-11-27T12:00:00+02:00"),
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
        );
        let local = |y, mo, d, h, mi| {
            Local
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .earliest()
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(at("2026-11-28 10:00"), local(2026, 11, 28, 10, 0));
        assert_eq!(at("2026-11-28"), local(2026, 11, 28, 0, 0));
    }

    #[test]
    fn garbage_is_explained() {
        for bad in ["", "soon", "2x", "h2", "30m1h", "2026-13-01", "-2h"] {
            let e = parse_when(bad, now()).unwrap_err();
            assert!(e.contains("2h, 3d"), "{bad}: {e}");
        }
    }
}
