//! Property tests: byte-exact round trips through every writer, and sidecar
//! round trips keeping unknown fields.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};
use sshlog_format::cast::{open_cast_reader, CastReader, CastVersion, CastWriter, Event, Header};
use sshlog_format::framed::{open_cast_at, FrameOptions, FramedCastWriter};
use sshlog_format::sidecar::{read_sidecar, write_record, Record, SessionEvent};
use uuid::Uuid;

/// A payload: random bytes, or a UTF-8 string (often non-ASCII) possibly
/// split inside a character into two consecutive chunks.
fn pieces() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| vec![b]),
        "[a-z€é😀\u{7f}\r\n\u{1b}]{0,6}".prop_map(|s| vec![s.into_bytes()]),
        ("[€é😀ab]{1,4}", any::<prop::sample::Index>()).prop_map(|(s, i)| {
            let b = s.into_bytes();
            let cut = i.index(b.len() + 1);
            vec![b[..cut].to_vec(), b[cut..].to_vec()]
        }),
    ]
}

/// Events with non-decreasing times.
fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..4, 0u64..3_000_000, pieces()), 0..40).prop_map(|units| {
        let mut t = 0;
        let mut out = Vec::new();
        for (kind, dt, pieces) in units {
            t += dt;
            for data in pieces {
                out.push(match kind {
                    0 | 1 => Event::Output { time_us: t, data },
                    2 => Event::Input { time_us: t, data },
                    _ => Event::Resize {
                        time_us: t,
                        cols: data.len() as u16 + 1,
                        rows: 24,
                    },
                });
            }
        }
        out
    })
}

fn stream(events: &[Event], input: bool) -> Vec<u8> {
    let mut b = Vec::new();
    for e in events {
        match (e, input) {
            (Event::Output { data, .. }, false) | (Event::Input { data, .. }, true) => {
                b.extend_from_slice(data)
            }
            _ => {}
        }
    }
    b
}

fn same_kind(a: &Event, b: &Event) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn check(written: &[Event], read: &[Event]) -> Result<(), TestCaseError> {
    prop_assert_eq!(stream(written, false), stream(read, false));
    prop_assert_eq!(stream(written, true), stream(read, true));
    // One read event per written event, same kind and time, plus at most two
    // trailing events carrying held-back partial characters.
    prop_assert!(read.len() >= written.len() && read.len() <= written.len() + 2);
    for (w, r) in written.iter().zip(read) {
        prop_assert_eq!(w.time_us(), r.time_us());
        prop_assert!(same_kind(w, r));
        if let Event::Resize { .. } = w {
            prop_assert_eq!(w, r);
        }
    }
    let last = written.last().map_or(0, Event::time_us);
    for r in &read[written.len()..] {
        prop_assert_eq!(r.time_us(), last);
    }
    Ok(())
}

fn read_all(bytes: Vec<u8>) -> Vec<Event> {
    let r = open_cast_reader(Cursor::new(bytes)).expect("header");
    r.collect::<Result<Vec<_>, _>>().expect("events")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plain_roundtrip(evs in events(), v3 in any::<bool>()) {
        let v = if v3 { CastVersion::V3 } else { CastVersion::V2 };
        let mut w = CastWriter::new(Vec::new(), &Header::new(v, 80, 24)).unwrap();
        for e in &evs {
            w.write_event(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        prop_assert!(std::str::from_utf8(&bytes).is_ok(), "casts are UTF-8 text");
        let r = CastReader::new(Cursor::new(bytes)).unwrap();
        prop_assert_eq!(r.header().version, v);
        let back = r.collect::<Result<Vec<_>, _>>().unwrap();
        check(&evs, &back)?;
    }

    #[test]
    fn framed_roundtrip(evs in events(), v3 in any::<bool>(), max in 1usize..400, seek in any::<prop::sample::Index>()) {
        let v = if v3 { CastVersion::V3 } else { CastVersion::V2 };
        let opts = FrameOptions { max_frame_bytes: max, ..FrameOptions::default() };
        let mut w = FramedCastWriter::new(Vec::new(), &Header::new(v, 80, 24), opts).unwrap();
        for e in &evs {
            w.write_event(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        let back = read_all(bytes.clone());
        check(&evs, &back)?;
        // Seeking yields a suffix of the full event list.
        if !back.is_empty() {
            let t = back[seek.index(back.len())].time_us();
            let (_, it) = open_cast_at(Cursor::new(bytes), t, "test").unwrap();
            let tail = it.collect::<Result<Vec<_>, _>>().unwrap();
            prop_assert!(!tail.is_empty());
            prop_assert!(tail[0].time_us() <= t);
            prop_assert_eq!(&tail[..], &back[back.len() - tail.len()..]);
        }
    }

    #[test]
    fn sidecar_roundtrip_keeps_unknown_fields(
        micros in 0i64..4_000_000_000_000_000,
        pid in any::<u32>(),
        argv in prop::collection::vec(".{0,8}", 0..4),
        extra in prop::collection::btree_map("x_[a-z]{1,6}", any::<i64>(), 0..4),
        unknown_type in any::<bool>(),
    ) {
        let ts = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        let event = if unknown_type {
            let mut fields = Map::new();
            fields.insert("pid".into(), pid.into());
            fields.insert("argv".into(), argv.clone().into());
            SessionEvent::Unknown { kind: "future_thing".into(), fields }
        } else {
            SessionEvent::CommandStart {
                pid, ppid: 1, uid: 0, user: None, argv: argv.clone(), argv_truncated: false,
                filename: "/bin/x".into(), cwd: Some("/".into()),
            }
        };
        let mut rec = Record::new(ts, Some(Uuid::now_v7()), event);
        if !unknown_type {
            rec.extra = extra.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
        }
        let mut buf = Vec::new();
        write_record(&mut buf, &rec).unwrap();
        prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = read_sidecar(Cursor::new(buf)).collect::<Result<Vec<_>, _>>().unwrap();
        prop_assert_eq!(back, vec![rec]);
    }
}

/// The fuzz targets' seeds, mutated: readers must never panic and the frame
/// index must only list frames inside the file.
const SEEDS: &[&[u8]] = &[
    include_bytes!("../fuzz/seeds/cast_reader/v1.cast"),
    include_bytes!("../fuzz/seeds/cast_reader/v2.cast"),
    include_bytes!("../fuzz/seeds/cast_reader/v3.cast"),
    include_bytes!("../fuzz/seeds/cast_reader/framed_v2.cast.zst"),
    include_bytes!("../fuzz/seeds/cast_reader/framed_v3.cast.zst"),
    include_bytes!("../fuzz/seeds/sidecar_reader/examples.jsonl"),
];

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (
            prop::sample::select(SEEDS),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(seed, flips, cut)| {
                let mut b = seed.to_vec();
                for (i, v) in flips {
                    let i = i.index(b.len());
                    b[i] = v;
                }
                b.truncate(cut.index(b.len() + 1));
                b
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn readers_never_panic(data in mutated()) {
        use std::io::Read;
        if let Ok(r) = CastReader::new(Cursor::new(&data[..])) {
            r.take(10_000).for_each(drop);
        }
        if let Ok(r) = sshlog_format::cast::decompressing_reader(Cursor::new(data.clone())) {
            if let Ok(r) = CastReader::new(std::io::BufReader::new(r.take(1 << 20))) {
                r.take(10_000).for_each(drop);
            }
        }
        if let Ok(frames) = sshlog_format::framed::read_frame_index(Cursor::new(&data[..])) {
            for f in frames {
                prop_assert!(f.offset + f.compressed_len <= data.len() as u64);
            }
        }
        if let Ok((_, r)) = open_cast_at(Cursor::new(&data[..]), 500_000, "test") {
            r.take(10_000).for_each(drop);
        }
        for rec in read_sidecar(Cursor::new(&data[..])).flatten() {
            let _ = sshlog_format::human_line(&rec);
            let mut line = Vec::new();
            write_record(&mut line, &rec).unwrap();
            let back = read_sidecar(Cursor::new(line)).next().unwrap().unwrap();
            prop_assert_eq!(back.event, rec.event);
            prop_assert_eq!(back.extra, rec.extra);
        }
    }
}
