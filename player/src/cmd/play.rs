//! `sshlog play` / `sshlog-play`: writes a recording's output bytes to
//! stdout with the recorded timing (scaled by `--speed`, pauses capped by
//! `--idle-time-limit`), optionally from/to a position. `.cast.zst` files
//! are entered at `--from` through their frame index (`open_cast_at`), so
//! starting late in a long recording does not decode what comes before.
//! On a terminal, playback is interactive instead ([`crate::interactive`]).

use crate::cli::PlayArgs;
use crate::control::io_message;
use anyhow::{anyhow, bail, Result};
use sshlog_format::cast::{is_zstd, open_cast_reader, CastReader, DynBufRead, Event, Header};
use sshlog_format::framed::{open_cast_at, open_cast_at_frames, SeekedCastReader};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Timing settings of one playback.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Speed factor (> 0).
    pub speed: f64,
    /// Longest pause between two outputs, in recording time.
    pub idle_limit: Option<Duration>,
    /// Start position (µs since the recording start).
    pub from_us: u64,
    /// End position (µs), inclusive.
    pub to_us: Option<u64>,
}

impl Timing {
    /// Settings from the command line; the recording's own
    /// `idle_time_limit` applies unless `--idle-time-limit` is given.
    pub fn new(args: &PlayArgs, header: &Header) -> Timing {
        let header_limit = header
            .idle_time_limit
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        Timing {
            speed: args.speed,
            idle_limit: args.idle_time_limit.or(header_limit),
            from_us: args.from.map_or(0, as_micros),
            to_us: args.to.map(as_micros),
        }
    }
}

fn as_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Bytes a framed cast is read from (a file, or an object in the store).
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The event stream of an opened recording (one per playback, so the size
/// of the salvaging reader's buffers inline does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// A `.cast.zst`, entered through its frame index.
    Framed(SeekedCastReader<Box<dyn ReadSeek>>),
    /// A plain `.cast` (or a stream without an index).
    Plain(CastReader<DynBufRead>),
}

impl Source {
    fn next_event(&mut self) -> Option<sshlog_format::Result<Event>> {
        match self {
            Source::Framed(r) => r.next(),
            Source::Plain(r) => r.next(),
        }
    }

    /// Whether the recording ended in an incomplete line (still being
    /// written, or cut short by a crash).
    pub fn truncated(&self) -> bool {
        match self {
            Source::Framed(r) => r.truncated(),
            Source::Plain(r) => r.truncated(),
        }
    }
}

/// Opens `path`, positioned at `from_us` when it is a framed `.cast.zst`
/// (plain casts are read from the start).
pub fn open(path: &Path, from_us: u64) -> Result<(Header, Source)> {
    let shown = path.display();
    let mut file =
        File::open(path).map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
    if meta.is_dir() {
        bail!("cannot play {shown}: it is a directory");
    }
    let mut magic = Vec::with_capacity(4);
    (&mut file)
        .take(4)
        .read_to_end(&mut magic)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| anyhow!("cannot read {shown}: {}", io_message(&e)))?;
    let bad = |e: sshlog_format::FormatError| anyhow!("cannot play {shown}: {e}");
    if is_zstd(&magic) {
        let (header, r) = open_cast_at(
            Box::new(file) as Box<dyn ReadSeek>,
            from_us,
            &shown.to_string(),
        )
        .map_err(bad)?;
        Ok((header, Source::Framed(r)))
    } else {
        let r = open_cast_reader(file).map_err(bad)?;
        Ok((r.header().clone(), Source::Plain(r)))
    }
}

/// What a playback did.
#[derive(Debug, Default, PartialEq)]
pub struct Played {
    /// Output events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The recording ended in an incomplete line.
    pub truncated: bool,
}

/// Plays the recording named by `args.file` to `out`.
pub fn run(args: &PlayArgs, log_dir: &Path, out: &mut dyn Write) -> Result<Played> {
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if t < f {
            bail!("--to ({t:?}) is before --from ({f:?})");
        }
    }
    let from_us = args.from.map_or(0, as_micros);
    let interactive = crate::interactive::wanted(args);
    let (header, mut source, shown) = match &args.store {
        // From the store: the frame index, then the frames played, by range
        // requests; nothing is downloaded whole.
        Some(url) => {
            let (obj, frames) = crate::search::store::StoreSource::open(url)?.remote(&args.file)?;
            let shown = format!("{} in the store", args.file);
            if interactive {
                let rec = crate::seekable::SeekableCast::open_remote(obj, frames)?;
                return crate::interactive::play(args, &rec, &shown);
            }
            let (header, r) =
                open_cast_at_frames(Box::new(obj) as Box<dyn ReadSeek>, &frames, from_us, &shown)
                    .map_err(|e| anyhow!("cannot play {shown}: {e}"))?;
            (header, Source::Framed(r), shown)
        }
        None => {
            let path = crate::locate::resolve(&args.file, log_dir)?;
            if interactive {
                return crate::interactive::run(args, &path);
            }
            let (header, source) = open(&path, from_us)?;
            (header, source, path.display().to_string())
        }
    };
    let timing = Timing::new(args, &header);
    let mut sleep = |d: Duration| std::thread::sleep(d);
    let played = play(&mut source, &timing, out, &mut sleep)
        .map_err(|e| anyhow!("cannot play {shown}: {e:#}"))?;
    if played.truncated {
        eprintln!(
            "sshlog: note: {shown} ends in an incomplete event (still being recorded, or cut short)"
        );
    }
    Ok(played)
}

/// Writes the output events of `source` to `out`, waiting between them
/// with `sleep` (a parameter so tests can record the pauses).
pub fn play(
    source: &mut Source,
    timing: &Timing,
    out: &mut dyn Write,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Played> {
    let start = Instant::now();
    let mut played = Played::default();
    // Recording time of the previous output (or the start position), and
    // the playback position (µs of recording time, pauses capped).
    let mut prev_us = timing.from_us;
    let mut position_us: u64 = 0;
    while let Some(ev) = source.next_event() {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                // Show what was played before the damage, then fail.
                let _ = out.flush();
                return Err(e.into());
            }
        };
        let t = ev.time_us();
        if timing.to_us.is_some_and(|to| t > to) {
            break;
        }
        let Event::Output { data, .. } = ev else {
            continue;
        };
        if t < timing.from_us {
            continue;
        }
        let mut gap = t.saturating_sub(prev_us);
        if let Some(limit) = timing.idle_limit {
            gap = gap.min(as_micros(limit));
        }
        prev_us = t;
        position_us = position_us.saturating_add(gap);
        let due = Duration::from_secs_f64(position_us as f64 / 1e6 / timing.speed);
        let elapsed = start.elapsed();
        if due > elapsed {
            out.flush()?;
            sleep(due - elapsed);
        }
        out.write_all(&data)?;
        played.events += 1;
        played.bytes += data.len() as u64;
    }
    out.flush()?;
    played.truncated = source.truncated();
    Ok(played)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshlog_format::cast::{CastVersion, CastWriter};

    fn out_ev(t: u64, s: &[u8]) -> Event {
        Event::Output {
            time_us: t,
            data: s.to_vec(),
        }
    }

    fn plain_source(events: &[Event]) -> Source {
        let header = Header::new(CastVersion::V2, 80, 24);
        let mut w = CastWriter::new(Vec::new(), &header).expect("writer");
        for e in events {
            w.write_event(e).expect("write");
        }
        let bytes = w.finish().expect("finish");
        Source::Plain(open_cast_reader(std::io::Cursor::new(bytes)).expect("reader"))
    }

    fn timing(speed: f64, limit: Option<f64>, from: u64, to: Option<u64>) -> Timing {
        Timing {
            speed,
            idle_limit: limit.map(Duration::from_secs_f64),
            from_us: from,
            to_us: to,
        }
    }

    /// Plays with a fake sleep that returns at once; returns the output and
    /// the requested pauses in ms. As the real clock barely moves, each
    /// pause is the event's due time.
    fn run_fake(events: &[Event], t: &Timing) -> (Vec<u8>, Vec<u64>) {
        let mut src = plain_source(events);
        let mut out = Vec::new();
        let mut requested = Vec::new();
        let mut sleep = |d: Duration| requested.push(d.as_millis() as u64);
        play(&mut src, t, &mut out, &mut sleep).expect("plays");
        (out, requested)
    }

    fn near(got: u64, want: u64) -> bool {
        got <= want && got + 50 >= want
    }

    fn events() -> Vec<Event> {
        vec![
            out_ev(1_000_000, b"a"),
            Event::Input {
                time_us: 1_500_000,
                data: b"x".to_vec(),
            },
            out_ev(2_000_000, b"b"),
            out_ev(12_000_000, b"c"),
        ]
    }

    #[test]
    fn output_only_in_order() {
        let (out, _) = run_fake(&events(), &timing(1000.0, None, 0, None));
        assert_eq!(out, b"abc");
    }

    #[test]
    fn pauses_follow_the_recording_scaled_by_speed() {
        let (_, p) = run_fake(&events(), &timing(2.0, None, 0, None));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            near(p[0], 500) && near(p[1], 1000) && near(p[2], 6000),
            "{p:?}"
        );
    }

    #[test]
    fn idle_limit_caps_long_pauses() {
        // Due times: 1 s, 2 s, 2 s + min(10 s, 2 s) = 4 s.
        let (_, p) = run_fake(&events(), &timing(1.0, Some(2.0), 0, None));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            near(p[0], 1000) && near(p[1], 2000) && near(p[2], 4000),
            "{p:?}"
        );
    }

    #[test]
    fn from_and_to_select_a_range() {
        let (out, p) = run_fake(&events(), &timing(1.0, None, 1_800_000, Some(2_000_000)));
        assert_eq!(out, b"b");
        // Playback starts at --from: "b" is due 0.2 s later.
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(near(p[0], 200), "{p:?}");
        let (out, _) = run_fake(&events(), &timing(1000.0, None, 0, Some(1_999_999)));
        assert_eq!(out, b"a");
    }

    #[test]
    fn header_idle_limit_is_the_default() {
        let args = PlayArgs {
            file: "x".into(),
            speed: 1.0,
            idle_time_limit: None,
            from: None,
            to: None,
            no_keys: false,
            store: None,
        };
        let mut h = Header::new(CastVersion::V2, 80, 24);
        h.idle_time_limit = Some(1.5);
        assert_eq!(
            Timing::new(&args, &h).idle_limit,
            Some(Duration::from_millis(1500))
        );
        let args = PlayArgs {
            idle_time_limit: Some(Duration::from_secs(3)),
            ..args
        };
        assert_eq!(
            Timing::new(&args, &h).idle_limit,
            Some(Duration::from_secs(3))
        );
    }
}
