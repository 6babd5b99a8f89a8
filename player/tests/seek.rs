//! Seeking: the screen rebuilt at time T from the nearest sync point
//! (`SeekableCast::screen_at`) equals the screen after replaying everything up
//! to T, for framed (v2, v3) and plain casts full of clears, alternate
//! screens, resets, resizes and scrolling; late seeks decode only a few
//! frames thanks to the terminal state in the index records; and files
//! whose records lack it (or carry a wrong one) still seek correctly.

use sshlog_format::cast::{CastVersion, CastWriter, Event, Header};
use sshlog_format::framed::{
    read_frame_index, FrameOptions, FramedCastWriter, FLAG_ALT_SCREEN, FLAG_STATE, INDEX_FRAME_LEN,
};
use sshlog_player::render;
use sshlog_player::seekable::SeekableCast;
use std::path::Path;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A session: shell commands with scrolling output, `clear`, full-screen
/// programs on the alternate screen (with their own clears), a `top`-like
/// program redrawing with cursor movement, resets and window resizes.
fn session(seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    let mut t = 0u64;
    let mut events = Vec::new();
    let out = |t: u64, s: String| Event::Output {
        time_us: t,
        data: s.into_bytes(),
    };
    for cmd in 0..60 {
        t += 100_000 + rng.below(400_000);
        events.push(Event::Marker {
            time_us: t,
            label: format!("cmd {cmd}"),
        });
        match rng.below(7) {
            0 => events.push(out(t, "\x1b[H\x1b[2J\x1b[3J".into())),
            1 => {
                events.push(out(t, "\x1b[?1049h\x1b[H\x1b[2J".into()));
                for k in 0..rng.below(6) {
                    t += 50_000;
                    let s = format!("\x1b[H\x1b[2J\x1b[7mvim {cmd}.{k}\x1b[0m\r\n~\r\n~ line {k}");
                    events.push(out(t, s));
                }
                t += 50_000;
                events.push(out(t, "\x1b[?1049l".into()));
            }
            2 => {
                events.push(out(t, "\x1b[H\x1b[2J".into()));
                for k in 0..rng.below(5) {
                    t += 30_000;
                    let s = format!(
                        "\x1b[1;1Htop - {k}\x1b[K\x1b[3;5H{:>5}\x1b[{};1H\x1b[32mproc {k}\x1b[0m",
                        rng.below(99_999),
                        4 + rng.below(10)
                    );
                    events.push(out(t, s));
                }
            }
            3 => {
                let (cols, rows) = (40 + rng.below(60) as u16, 10 + rng.below(20) as u16);
                events.push(Event::Resize {
                    time_us: t,
                    cols,
                    rows,
                });
            }
            4 if rng.below(3) == 0 => events.push(out(t, "\x1bc".into())),
            _ => {}
        }
        t += 10_000;
        events.push(out(t, format!("\x1b[1m$\x1b[0m command-{cmd} --flag\r\n")));
        for line in 0..rng.below(40) {
            t += 1_000 + rng.below(20_000);
            let width = rng.below(130) as usize;
            let text: String = (0..width)
                .map(|i| char::from(b'a' + ((i as u64 + line + cmd) % 26) as u8))
                .collect();
            events.push(out(t, format!("{line:03} {text}\r\n")));
        }
    }
    events
}

fn write_framed(path: &Path, version: CastVersion, events: &[Event], frame_bytes: usize) {
    let header = Header::new(version, 80, 24);
    let opts = FrameOptions {
        max_frame_bytes: frame_bytes,
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &header, opts).expect("writer");
    for e in events {
        w.write_event(e).expect("event");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write");
}

fn write_plain(path: &Path, events: &[Event]) {
    let header = Header::new(CastVersion::V2, 80, 24);
    let mut w = CastWriter::new(Vec::new(), &header).expect("writer");
    for e in events {
        w.write_event(e).expect("event");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write");
}

/// What must match: text, cursor, size, alternate screen.
fn state(vt: &vt100::Parser) -> (String, (u16, u16), (u16, u16), bool) {
    let s = vt.screen();
    (
        s.contents(),
        s.cursor_position(),
        s.size(),
        s.alternate_screen(),
    )
}

/// Times to check: each event time, just before and just after it.
fn probe_times(events: &[Event]) -> Vec<u64> {
    let mut times: Vec<u64> = events
        .iter()
        .flat_map(|e| {
            let t = e.time_us();
            [t.saturating_sub(1), t, t + 1]
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    // Every event boundary of the first 200, then a sample (debug builds
    // are slow).
    let (head, tail) = times.split_at(times.len().min(600));
    head.iter()
        .copied()
        .chain(tail.iter().copied().step_by(7))
        .collect()
}

fn check_all(path: &Path, events: &[Event]) {
    let rec = SeekableCast::open(path).expect("open");
    let times = probe_times(events);
    // Replaying incrementally is the reference.
    let mut reference = render::terminal(24, 80, 0);
    let mut next = 0;
    for &t in &times {
        while next < events.len() && events[next].time_us() <= t {
            render::apply(&mut reference, &events[next]);
            next += 1;
        }
        let (seeked, _) = rec.screen_at(t).expect("seek");
        assert_eq!(
            state(&seeked),
            state(&reference),
            "{}: screen at {t} µs",
            path.display()
        );
    }
}

#[test]
fn screen_at_equals_a_full_replay_for_framed_and_plain_casts() {
    let dir = tempfile::tempdir().expect("tempdir");
    for seed in [1, 42] {
        let events = session(seed);
        for (version, frame) in [(CastVersion::V2, 300), (CastVersion::V3, 2000)] {
            let f = dir.path().join(format!("s{seed}-{version:?}.cast.zst"));
            write_framed(&f, version, &events, frame);
            check_all(&f, &events);
        }
        let plain = dir.path().join(format!("s{seed}.cast"));
        write_plain(&plain, &events);
        check_all(&plain, &events);
    }
}

#[test]
fn replay_from_start_is_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = session(3);
    let f = dir.path().join("r.cast.zst");
    write_framed(&f, CastVersion::V2, &events, 500);
    let rec = SeekableCast::open(&f).expect("open");
    for t in [0, 1_000_000, 5_000_000, u64::MAX] {
        let full = rec.replay_from_start(t).expect("replay");
        let (seeked, _) = rec.screen_at(t).expect("seek");
        assert_eq!(state(&seeked), state(&full), "at {t}");
    }
}

/// After a seek, the playhead continues with the first event after T and
/// playing on gives the same final screen as a full replay.
#[test]
fn playback_continues_after_a_seek() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = session(11);
    let f = dir.path().join("p.cast.zst");
    write_framed(&f, CastVersion::V3, &events, 400);
    let rec = SeekableCast::open(&f).expect("open");
    let end = rec.replay_from_start(u64::MAX).expect("replay");
    let t = events[events.len() / 3].time_us();
    let (mut vt, mut head) = rec.screen_at(t).expect("seek");
    let first = head.peek(&rec).expect("peek").expect("an event").clone();
    let want_first = events
        .iter()
        .find(|e| e.time_us() > t)
        .expect("later event");
    assert_eq!(&first, want_first);
    while let Some(ev) = head.peek(&rec).expect("peek") {
        render::apply(&mut vt, ev);
        head.advance();
    }
    assert_eq!(state(&vt), state(&end));
}

/// 2000 screens of 20 rows, one per second, each starting with a clear;
/// `extra` events are inserted at their times.
fn screens(extra: &[Event]) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    for screen in 1..=2000u64 {
        let mut s = String::from("\x1b[H\x1b[2J");
        for row in 0..20 {
            s.push_str(&format!("screen {screen} row {row} {}\r\n", "x".repeat(40)));
        }
        events.push(Event::Output {
            time_us: screen * 1_000_000,
            data: s.into_bytes(),
        });
    }
    events.extend_from_slice(extra);
    events.sort_by_key(Event::time_us);
    events
}

/// A late seek reads only a few frames: the index records give the
/// terminal state at the start of each frame, so nothing before the sync
/// point is decompressed.
#[test]
fn late_seeks_read_few_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("long.cast.zst");
    write_framed(&f, CastVersion::V2, &screens(&[]), 4096);
    let rec = SeekableCast::open(&f).expect("open");
    let frames = rec.chunk_count() as u64;
    assert!(frames > 500, "{frames} frames");
    let (vt, _) = rec.screen_at(1_998_500_000).expect("seek");
    assert!(vt.screen().contents().starts_with("screen 1998 row 0 "));
    let first = rec.stats();
    assert!(first.frames_parsed <= 3, "{first:?} for {frames} frames");
    assert!(first.frames_decompressed <= 3, "{first:?}");
    let (vt, _) = rec.screen_at(1_990_500_000).expect("seek");
    assert!(vt.screen().contents().starts_with("screen 1990 row 0 "));
    let second = rec.stats();
    assert!(
        second.frames_decompressed - first.frames_decompressed <= 3,
        "{first:?} then {second:?}"
    );
}

/// Rewrites the flags of every index record of `path` whose frame number
/// passes `which` with `patch`.
fn patch_records(path: &Path, which: impl Fn(usize) -> bool, patch: impl Fn(u16) -> u16) {
    let mut bytes = std::fs::read(path).expect("read");
    let frames = read_frame_index(std::io::Cursor::new(&bytes)).expect("index");
    for (i, f) in frames.iter().enumerate().filter(|(i, _)| which(*i)) {
        let at = f.offset as usize - INDEX_FRAME_LEN + 14;
        let flags = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        bytes[at..at + 2].copy_from_slice(&patch(flags).to_le_bytes());
        assert!(f.start_state.is_some(), "frame {i} has a state");
    }
    std::fs::write(path, bytes).expect("write");
}

/// As an older writer left them: no state in the records.
fn strip_states(path: &Path, which: impl Fn(usize) -> bool) {
    patch_records(path, which, |f| f & !(FLAG_STATE | FLAG_ALT_SCREEN));
}

/// A shell session over a long time: scrolling logs, `top`-like screens
/// (a clear, then redraws), vim-like programs on the alternate screen (with
/// their own clears) and a few resizes near the start.
fn long_session(commands: u64) -> Vec<Event> {
    let mut rng = Rng(7);
    let mut t = 0u64;
    let mut events = Vec::new();
    let out = |t: u64, s: String| Event::Output {
        time_us: t,
        data: s.into_bytes(),
    };
    for cmd in 0..commands {
        t += 1_000_000;
        events.push(out(t, format!("$ command {cmd}\r\n")));
        match rng.below(12) {
            0 | 1 => {
                for k in 0..10 {
                    t += 100_000;
                    let clear = if k == 0 { "\x1b[H\x1b[2J" } else { "\x1b[H" };
                    let rows: String = (0..20)
                        .map(|r| {
                            format!(
                                "\x1b[{};1Htop {cmd}.{k} {r:>3} {}\x1b[K",
                                r + 1,
                                rng.below(1000)
                            )
                        })
                        .collect();
                    events.push(out(t, format!("{clear}{rows}")));
                }
            }
            2 => {
                t += 100_000;
                events.push(out(t, "\x1b[?1049h\x1b[H\x1b[2J".into()));
                for k in 0..15 {
                    t += 100_000;
                    let s = format!("\x1b[H\x1b[2Jvim {cmd}.{k}\r\n~ {}\r\n~", "v".repeat(60));
                    events.push(out(t, s));
                }
                t += 100_000;
                events.push(out(t, "\x1b[?1049l".into()));
            }
            // Resizes early on only: a seek through an index without
            // states then looks back a long way for the size.
            3 if cmd < commands / 10 => events.push(Event::Resize {
                time_us: t,
                cols: 60 + rng.below(60) as u16,
                rows: 15 + rng.below(20) as u16,
            }),
            _ => {
                for line in 0..(20 + rng.below(60)) {
                    t += 5_000;
                    events.push(out(t, format!("{cmd}:{line} {}\r\n", "log ".repeat(10))));
                }
            }
        }
    }
    events
}

/// A seek anywhere late in a long recording decompresses a bounded number
/// of frames (those from the sync point on), where an index without states
/// makes the first seek decompress nearly all of them; both give the screen
/// of a full replay.
#[test]
fn a_seek_into_a_long_recording_decompresses_a_bounded_number_of_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = long_session(1500);
    let f = dir.path().join("long.cast.zst");
    write_framed(&f, CastVersion::V3, &events, 4096);
    let old = dir.path().join("old.cast.zst");
    std::fs::copy(&f, &old).expect("copy");
    strip_states(&old, |_| true);
    let end = events.last().expect("events").time_us();
    let frames = SeekableCast::open(&f).expect("open").chunk_count() as u64;
    assert!(frames > 1000, "{frames} frames");
    for back in [0, 7_300_000, 30_000_000, 61_100_000, 200_000_000] {
        let t = end - back;
        let rec = SeekableCast::open(&f).expect("open");
        let (seeked, _) = rec.screen_at(t).expect("seek");
        let stats = rec.stats();
        assert!(stats.frames_decompressed <= 40, "{stats:?} at {t}");
        assert_eq!(stats.frames_decompressed, stats.frames_parsed, "at {t}");
        let reference = rec.replay_from_start(t).expect("replay");
        assert_eq!(state(&seeked), state(&reference), "at {t}");
        let rec_old = SeekableCast::open(&old).expect("open");
        let (seeked_old, _) = rec_old.screen_at(t).expect("seek");
        assert_eq!(state(&seeked_old), state(&reference), "old index, at {t}");
        assert!(
            rec_old.stats().frames_decompressed > frames / 2,
            "{:?} at {t}",
            rec_old.stats()
        );
    }
}

/// Files from older versions (no state in the records), and files mixing
/// records with and without it, seek as correctly.
#[test]
fn records_without_state_are_searched_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    for seed in [1, 42] {
        let events = session(seed);
        let f = dir.path().join(format!("old{seed}.cast.zst"));
        write_framed(&f, CastVersion::V2, &events, 300);
        strip_states(&f, |_| true);
        check_all(&f, &events);
        let f = dir.path().join(format!("mixed{seed}.cast.zst"));
        write_framed(&f, CastVersion::V3, &events, 300);
        strip_states(&f, |i| i % 3 != 0);
        check_all(&f, &events);
    }
}

/// A recorded state that disagrees with the emulator is noticed when the
/// frames after the sync point are emulated: the records are then ignored
/// and the seek is redone the old way.
#[test]
fn a_wrong_recorded_state_is_noticed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("wrong.cast.zst");
    write_framed(&f, CastVersion::V2, &screens(&[]), 4096);
    let frames = SeekableCast::open(&f).expect("open").chunk_count();
    // The last 20 frames claim the alternate screen.
    patch_records(&f, |i| i + 20 >= frames, |f| f | FLAG_ALT_SCREEN);
    let rec = SeekableCast::open(&f).expect("open");
    let t = 1_999_500_000;
    let (vt, _) = rec.screen_at(t).expect("seek");
    assert!(vt.screen().contents().starts_with("screen 1999 row 0 "));
    let reference = rec.replay_from_start(t).expect("replay");
    assert_eq!(state(&vt), state(&reference));
    let stats = rec.stats();
    assert!(
        stats.frames_decompressed >= frames as u64,
        "searched without the records: {stats:?}"
    );
}

/// With a resize and a full-screen program shortly before, the search
/// stops there.
#[test]
fn a_nearby_resize_and_screen_switch_end_the_search() {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = [
        Event::Resize {
            time_us: 1_995_100_000,
            cols: 100,
            rows: 30,
        },
        Event::Output {
            time_us: 1_995_200_000,
            data: b"\x1b[?1049h\x1b[H\x1b[2Jvim\x1b[?1049l".to_vec(),
        },
    ];
    let events = screens(&extra);
    let f = dir.path().join("near.cast.zst");
    write_framed(&f, CastVersion::V3, &events, 4096);
    let rec = SeekableCast::open(&f).expect("open");
    let t = 1_998_500_000;
    let (vt, _) = rec.screen_at(t).expect("seek");
    assert_eq!(vt.screen().size(), (30, 100));
    let stats = rec.stats();
    assert!(stats.frames_decompressed <= 12, "{stats:?}");
    assert_eq!(
        vt.screen().contents(),
        rec.replay_from_start(t)
            .expect("replay")
            .screen()
            .contents()
    );
}

/// Markers are found forwards and backwards across frames.
#[test]
fn markers_around_a_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = session(5);
    let f = dir.path().join("m.cast.zst");
    write_framed(&f, CastVersion::V2, &events, 300);
    let rec = SeekableCast::open(&f).expect("open");
    let markers: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Marker { time_us, label } => Some((*time_us, label.clone())),
            _ => None,
        })
        .collect();
    let (t3, _) = &markers[3];
    assert_eq!(
        rec.next_marker(*t3).expect("next"),
        Some(markers[4].clone())
    );
    assert_eq!(
        rec.next_marker(t3 - 1).expect("next"),
        Some(markers[3].clone())
    );
    assert_eq!(
        rec.prev_marker(*t3).expect("prev"),
        Some(markers[2].clone())
    );
    assert_eq!(
        rec.prev_marker(t3 + 1).expect("prev"),
        Some(markers[3].clone())
    );
    assert_eq!(rec.prev_marker(markers[0].0).expect("prev"), None);
    let last = markers.last().expect("markers");
    assert_eq!(rec.next_marker(last.0).expect("next"), None);
}
