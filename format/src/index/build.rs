//! [`build_session`]: the index entry (and output filter) of one session
//! segment, from its sidecar and its cast.
//!
//! Command times come from the sidecar (wall clock) and are turned into
//! positions in the recording with the recording start. The cast header
//! only has the start in whole seconds, so the start is calibrated with the
//! first marker (written at each interactive command, at the command's
//! recording time) whose label equals the argv of a `command_start`: start
//! = record time − marker time. Without such a marker the header time is
//! used.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::entry::{CommandEntry, GramEntry, IndexEntry, INDEX_VERSION};
use super::filter::GramBuilder;
use super::scan::{scan_cast, ScanEvent};
use crate::error::{FormatError, Result};
use crate::framed::read_frame_index;
use crate::layout::{session_id_from_path, session_id_time};
use crate::sidecar::{read_sidecar, SessionEvent};

/// The result of [`build_session`].
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The metadata entry.
    pub entry: IndexEntry,
    /// The output filter (only when asked for and the session has a cast).
    pub grams: Option<GramEntry>,
}

/// What the sidecar tells.
#[derive(Default)]
struct Sidecar {
    first_ts: Option<DateTime<Utc>>,
    last_ts: Option<DateTime<Utc>>,
    user: Option<String>,
    client_ip: Option<String>,
    client_port: Option<u16>,
    tty: Option<String>,
    sshd_pid: Option<u32>,
    segment: Option<u32>,
    previous_segment: Option<Uuid>,
    closed: bool,
    types: BTreeSet<String>,
    /// (start time, entry without t_us)
    commands: Vec<(DateTime<Utc>, CommandEntry)>,
}

fn read_sidecar_file(path: &Path) -> Result<Sidecar> {
    let mut sc = Sidecar::default();
    let mut running: HashMap<u32, usize> = HashMap::new();
    let file = BufReader::new(File::open(path)?);
    for rec in read_sidecar(file) {
        // Malformed lines are skipped: the rest of the sidecar still counts.
        let Ok(rec) = rec else { continue };
        sc.first_ts.get_or_insert(rec.ts);
        sc.last_ts = Some(sc.last_ts.map_or(rec.ts, |t| t.max(rec.ts)));
        sc.types.insert(rec.event.type_name().to_owned());
        match rec.event {
            SessionEvent::ConnectionEstablished {
                user,
                client_ip,
                client_port,
                tty,
                sshd_pid,
                ..
            } => {
                sc.user.get_or_insert(user);
                sc.client_ip.get_or_insert(client_ip);
                sc.client_port.get_or_insert(client_port);
                if sc.tty.is_none() {
                    sc.tty = tty;
                }
                sc.sshd_pid.get_or_insert(sshd_pid);
            }
            SessionEvent::ConnectionClose { user, sshd_pid, .. } => {
                sc.closed = true;
                if !user.is_empty() {
                    sc.user.get_or_insert(user);
                }
                sc.sshd_pid.get_or_insert(sshd_pid);
            }
            SessionEvent::SegmentStart {
                previous_segment,
                segment,
            } => {
                sc.segment = Some(segment);
                sc.previous_segment = previous_segment;
            }
            SessionEvent::CommandStart {
                pid,
                argv,
                filename,
                ..
            } => {
                let first = argv.first().map(String::as_str).unwrap_or(&filename);
                let name = first.rsplit('/').next().unwrap_or(first).to_owned();
                let joined = if argv.is_empty() {
                    filename.clone()
                } else {
                    argv.join(" ")
                };
                running.insert(pid, sc.commands.len());
                sc.commands.push((
                    rec.ts,
                    CommandEntry {
                        t_us: 0,
                        name,
                        argv: joined,
                        pid,
                        exit: None,
                        signal: None,
                    },
                ));
            }
            SessionEvent::CommandFinish {
                pid,
                exit_code,
                signal,
                ..
            } => {
                if let Some(i) = running.remove(&pid) {
                    let c = &mut sc.commands[i].1;
                    c.exit = exit_code;
                    c.signal = signal;
                }
            }
            _ => {}
        }
    }
    Ok(sc)
}

/// Build the entry of the session whose sidecar is `events_path` (and cast
/// `cast_path`, if it has one). With `with_filter`, the whole cast is read
/// to build the output filter; otherwise it is read only up to the first
/// marker that calibrates the start (see the module docs), so both ways
/// give the same entry.
pub fn build_session(
    log_dir: &Path,
    events_path: &Path,
    cast_path: Option<&Path>,
    with_filter: bool,
) -> Result<Built> {
    let id = session_id_from_path(events_path)
        .or_else(|| cast_path.and_then(session_id_from_path))
        .ok_or_else(|| FormatError::Invalid {
            line: 0,
            message: format!("{} is not named <uuid>.events.jsonl", events_path.display()),
        })?;
    let events_size = std::fs::metadata(events_path)?.len();
    let sc = read_sidecar_file(events_path)?;
    let labels: HashMap<&str, DateTime<Utc>> = sc
        .commands
        .iter()
        .rev()
        .map(|(ts, c)| (c.argv.as_str(), *ts))
        .collect();

    let mut header = None;
    let mut calibrated: Option<DateTime<Utc>> = None;
    let mut grams = None;
    let mut cast_size = 0;
    let mut last_cast_us: Option<u64> = None;
    if let Some(cast) = cast_path {
        cast_size = std::fs::metadata(cast)?.len();
        let mut builder = with_filter.then(GramBuilder::new);
        let summary = scan_cast(cast, |ev| {
            match ev {
                ScanEvent::Output { data, .. } => {
                    // Once the start is known, the rest of the cast is
                    // needed only for a filter that can still be used.
                    let start_known = calibrated.is_some() || labels.is_empty();
                    match builder.as_mut() {
                        Some(b) => {
                            b.push(data);
                            if b.saturated() && start_known {
                                return ControlFlow::Break(());
                            }
                        }
                        None if start_known => return ControlFlow::Break(()),
                        None => {}
                    }
                }
                ScanEvent::Marker { time_us, label } => {
                    if calibrated.is_none() {
                        if let Some(ts) = labels.get(label) {
                            calibrated = Some(*ts - micros(time_us));
                            if builder.is_none() {
                                return ControlFlow::Break(());
                            }
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        if let Some(b) = builder {
            grams = Some(GramEntry {
                id,
                cast_size,
                filter: b.finish(),
            });
        }
        last_cast_us = File::open(cast)
            .ok()
            .and_then(|f| read_frame_index(f).ok())
            .and_then(|frames| frames.last().map(|f| f.last_time_us))
            .or((!summary.stopped).then_some(summary.last_time_us));
        header = Some(summary.header);
    }

    let meta = header.as_ref().and_then(|h| h.sshlog_meta());
    let header_start = header
        .as_ref()
        .and_then(|h| h.timestamp)
        .and_then(|s| DateTime::from_timestamp(s, 0));
    let start = match (calibrated, header_start) {
        // A marker matched to the wrong command would move the start by
        // more than the header's rounding: then trust the header.
        (Some(c), Some(h)) if c >= h - Duration::seconds(1) && c <= h + Duration::seconds(2) => c,
        (Some(c), None) => c,
        _ => header_start
            .or(sc.first_ts)
            .or_else(|| session_id_time(id))
            .unwrap_or_default(),
    };
    let mut end = sc.last_ts.unwrap_or(start).max(start);
    if let Some(us) = last_cast_us {
        end = end.max(start + micros(us));
    }
    let commands = sc
        .commands
        .into_iter()
        .map(|(ts, mut c)| {
            c.t_us = u64::try_from((ts - start).num_microseconds().unwrap_or(0)).unwrap_or(0);
            c
        })
        .collect();
    let (meta_ip, meta_port) = meta
        .as_ref()
        .and_then(|m| m.client.as_deref())
        .map(split_client)
        .unwrap_or((None, None));
    let entry = IndexEntry {
        v: INDEX_VERSION,
        id,
        start,
        end,
        user: sc
            .user
            .filter(|u| !u.is_empty())
            .or_else(|| meta.as_ref().and_then(|m| m.user.clone())),
        client_ip: sc.client_ip.filter(|s| !s.is_empty()).or(meta_ip),
        client_port: sc.client_port.or(meta_port),
        tty: sc.tty.or_else(|| meta.as_ref().and_then(|m| m.tty.clone())),
        sshd_pid: sc
            .sshd_pid
            .or_else(|| meta.as_ref().and_then(|m| m.sshd_pid)),
        segment: sc.segment.or_else(|| meta.as_ref().and_then(|m| m.segment)),
        previous_segment: sc
            .previous_segment
            .or_else(|| meta.as_ref().and_then(|m| m.previous_segment)),
        closed: sc.closed,
        events: sc.types.into_iter().collect(),
        commands,
        cast: cast_path.map(|c| relative(log_dir, c)),
        cast_size,
        events_size,
    };
    Ok(Built { entry, grams })
}

fn micros(us: u64) -> Duration {
    Duration::microseconds(i64::try_from(us).unwrap_or(i64::MAX / 1000))
}

/// `ip:port` or `[v6]:port` → (ip, port).
fn split_client(s: &str) -> (Option<String>, Option<u16>) {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return (Some(sa.ip().to_string()), Some(sa.port()));
    }
    (Some(s.to_owned()), None)
}

fn relative(log_dir: &Path, p: &Path) -> String {
    p.strip_prefix(log_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The day a session belongs to: its day directory (`.../YYYY/MM/DD/`),
/// else the UTC date of its start.
pub fn day_of_session(events_path: &Path, entry: &IndexEntry) -> NaiveDate {
    day_from_path(events_path).unwrap_or_else(|| entry.start.date_naive())
}

/// The day of a day directory path `.../YYYY/MM/DD/<file>`.
pub fn day_from_path(p: &Path) -> Option<NaiveDate> {
    let mut parts = p.parent()?.iter().rev().map(|c| c.to_str());
    let d: u32 = parts.next()??.parse().ok()?;
    let m: u32 = parts.next()??.parse().ok()?;
    let y: i32 = parts.next()??.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_come_from_the_directory() {
        let p =
            Path::new("/x/sessions/2024/02/29/018c1a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b.events.jsonl");
        assert_eq!(day_from_path(p), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(day_from_path(Path::new("/tmp/a.events.jsonl")), None);
    }

    #[test]
    fn clients_split() {
        assert_eq!(
            split_client("192.0.2.1:22"),
            (Some("192.0.2.1".into()), Some(22))
        );
        assert_eq!(
            split_client("[2001:db8::1]:40000"),
            (Some("2001:db8::1".into()), Some(40000))
        );
        assert_eq!(split_client("weird"), (Some("weird".into()), None));
    }
}
