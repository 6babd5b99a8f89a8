//! zstd framing: frame index, seeking, truncation, and `zstdcat` validity.

mod common;

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use sshlog_format::cast::{CastReader, CastVersion, Event, Header};
use sshlog_format::framed::{
    decode_frame_list, encode_frame_list, open_cast_at, open_cast_at_frames, read_frame_index,
    FrameInfo, FrameOptions, FrameState, FramedCastWriter, FLAG_ALT_SCREEN, FLAG_HEADER,
    FLAG_STATE, INDEX_FRAME_LEN,
};
use sshlog_format::{read_cast_file, FormatError};

fn out(t: u64, s: &str) -> Event {
    Event::Output {
        time_us: t,
        data: s.as_bytes().to_vec(),
    }
}

fn small_frames() -> FrameOptions {
    FrameOptions {
        max_frame_bytes: 200,
        ..FrameOptions::default()
    }
}

/// 100 events, one every 100 ms, in frames of ~200 bytes.
fn sample(version: CastVersion) -> (Vec<u8>, Vec<Event>) {
    let mut h = Header::new(version, 80, 24);
    h.timestamp = Some(1_700_000_000);
    let mut w = FramedCastWriter::new(Vec::new(), &h, small_frames()).unwrap();
    let mut events = Vec::new();
    for i in 0..100u64 {
        let e = out(i * 100_000, &format!("line {i}\r\n"));
        w.write_event(&e).unwrap();
        events.push(e);
    }
    (w.finish().unwrap(), events)
}

#[test]
fn framed_file_decodes_as_one_cast() {
    for v in [CastVersion::V2, CastVersion::V3] {
        let (bytes, events) = sample(v);
        let text = zstd::decode_all(&bytes[..]).unwrap();
        let r = CastReader::new(Cursor::new(text)).unwrap();
        assert_eq!(r.header().version, v);
        assert_eq!(r.collect::<Result<Vec<_>, _>>().unwrap(), events);
    }
}

#[test]
fn index_lists_frames_without_decompressing() {
    let (bytes, _) = sample(CastVersion::V3);
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    assert!(frames.len() > 5, "{}", frames.len());
    assert_eq!(frames[0].index, 0);
    assert_eq!(frames[0].event_count, 0);
    assert_eq!(frames[0].offset, INDEX_FRAME_LEN as u64);
    let mut total = 0;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert!(f.first_time_us <= f.last_time_us);
        let frame = &bytes[f.offset as usize..(f.offset + f.compressed_len) as usize];
        let text = zstd::decode_all(frame).unwrap();
        assert_eq!(text.len() as u64, f.uncompressed_len);
        assert_eq!(text.last(), Some(&b'\n'), "frames hold whole lines");
        total += f.event_count;
    }
    assert_eq!(total, 100);
    let last = frames.last().unwrap();
    assert_eq!(last.offset + last.compressed_len, bytes.len() as u64);
    assert_eq!(last.last_time_us, 9_900_000);
}

#[test]
fn seek_starts_at_the_right_frame() {
    for v in [CastVersion::V2, CastVersion::V3] {
        let (bytes, events) = sample(v);
        let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
        for t in [0, 1, 2_345_678, 5_000_000, 9_900_000] {
            let (h, it) = open_cast_at(Cursor::new(bytes.clone()), t, "test").unwrap();
            assert_eq!(h.version, v);
            let got = it.collect::<Result<Vec<_>, _>>().unwrap();
            let frame = frames
                .iter()
                .find(|f| f.event_count > 0 && f.last_time_us >= t)
                .unwrap();
            assert_eq!(got[0].time_us(), frame.first_time_us, "v={v:?} t={t}");
            assert!(got[0].time_us() <= t.max(frame.first_time_us));
            // Absolute times and contents match the tail of the original.
            assert_eq!(got[..], events[events.len() - got.len()..], "v={v:?} t={t}");
        }
        let (_, it) = open_cast_at(Cursor::new(bytes.clone()), 99_000_000, "test").unwrap();
        assert_eq!(it.count(), 0);
    }
}

#[test]
fn a_frame_list_kept_apart_seeks_like_the_index_in_the_file() {
    let (bytes, _) = sample(CastVersion::V2);
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    let list = encode_frame_list(&frames);
    assert_eq!(decode_frame_list(&list).unwrap(), frames);
    for t in [0, 2_345_678, 9_900_000] {
        let (_, a) = open_cast_at(Cursor::new(bytes.clone()), t, "test").unwrap();
        let (_, b) = open_cast_at_frames(Cursor::new(bytes.clone()), &frames, t, "test").unwrap();
        let a = a.collect::<Result<Vec<_>, _>>().unwrap();
        let b = b.collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(a, b, "t={t}");
    }
    // A damaged list is an error, not a wrong index.
    assert!(decode_frame_list(&list[..list.len() - 1]).is_err());
    let mut bad = list.clone();
    bad[8] ^= 0xFF; // the record tag
    assert!(decode_frame_list(&bad).is_err());
}

#[test]
fn seek_in_plain_zstd_file_reads_from_start() {
    let text = b"{\"version\":2,\"width\":1,\"height\":1}\n[1.0,\"o\",\"a\"]\n";
    let bytes = zstd::encode_all(&text[..], 3).unwrap();
    assert!(matches!(
        read_frame_index(Cursor::new(&bytes)),
        Err(FormatError::Framing(_))
    ));
    let (_, it) = open_cast_at(Cursor::new(bytes), 5_000_000, "test").unwrap();
    assert_eq!(it.count(), 1);
}

#[test]
fn truncated_file_reads_up_to_last_good_event() {
    let (bytes, events) = sample(CastVersion::V3);
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in (1..bytes.len()).step_by(7) {
        let part = &bytes[..cut];
        let idx = read_frame_index(Cursor::new(part)).unwrap();
        assert!(idx.len() <= frames.len());
        assert!(idx
            .iter()
            .all(|f| f.offset + f.compressed_len <= cut as u64));
        let path = dir.path().join("t.cast.zst");
        std::fs::write(&path, part).unwrap();
        match read_cast_file(&path) {
            Ok((_, got)) => assert_eq!(got[..], events[..got.len()], "cut={cut}"),
            Err(e) => {
                let header_end = frames[0].offset + frames[0].compressed_len;
                assert!(cut < header_end as usize, "cut={cut}: {e}");
            }
        }
        if !idx.is_empty() {
            let (_, it) = open_cast_at(Cursor::new(part.to_vec()), 4_000_000, "test").unwrap();
            let got = it.collect::<Result<Vec<_>, _>>().unwrap();
            if let Some(first) = got.first() {
                let start = events.iter().position(|e| e == first).unwrap();
                assert_eq!(got[..], events[start..start + got.len()]);
            }
        }
    }
}

#[test]
fn age_rules_cut_frames() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let opts = FrameOptions {
        max_frame_age: Duration::from_millis(500),
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &h, opts).unwrap();
    assert_eq!(w.frames_written(), 1, "header frame written at once");
    let after_header = w.bytes_written();
    assert!(
        !w.flush_if_older_than(10_000_000).unwrap(),
        "nothing buffered"
    );
    w.write_event(&out(1_000_000, "a")).unwrap();
    assert!(!w.flush_if_older_than(1_400_000).unwrap());
    assert!(w.flush_if_older_than(1_500_000).unwrap());
    assert_eq!(w.frames_written(), 2);
    w.write_event(&out(2_000_000, "b")).unwrap();
    assert!(!w.maybe_flush(Instant::now()).unwrap());
    assert!(w
        .maybe_flush(Instant::now() + Duration::from_secs(1))
        .unwrap());
    assert_eq!(w.frames_written(), 3);
    assert!(w.bytes_written() > after_header);
    assert_eq!(w.buffered_bytes(), 0);
    let bytes = w.finish().unwrap();
    assert_eq!(read_frame_index(Cursor::new(&bytes)).unwrap().len(), 3);
}

#[test]
fn zstdcat_output_is_a_valid_cast_even_when_truncated() {
    let Some(zstdcat) = common::require_tool("zstdcat") else {
        return;
    };
    let (bytes, events) = sample(CastVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.cast.zst");
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    let mid = frames[frames.len() / 2];
    let cut = (mid.offset + mid.compressed_len / 2) as usize;
    for (len, complete) in [(bytes.len(), true), (cut, false)] {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let o = Command::new(&zstdcat).arg(&path).output().unwrap();
        assert_eq!(o.status.success(), complete);
        let r = CastReader::new(Cursor::new(o.stdout)).unwrap();
        let got = r.collect::<Result<Vec<_>, _>>().unwrap();
        if complete {
            assert_eq!(got, events);
        } else {
            assert!(
                got.len()
                    >= frames[..frames.len() / 2]
                        .iter()
                        .map(|f| f.event_count as usize)
                        .sum()
            );
            assert_eq!(got[..], events[..got.len()]);
        }
    }
}

/// A writer that fails after `room` bytes, like a full disk.
struct Full {
    data: Vec<u8>,
    room: usize,
}

impl std::io::Write for Full {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.data.len() >= self.room {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left",
            ));
        }
        let n = b.len().min(self.room - self.data.len());
        self.data.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_frame_write_keeps_the_lines_for_a_retry_and_the_file_stays_valid() {
    use sshlog_format::{CastVersion, Event, FrameOptions, FramedCastWriter, Header};
    let header = Header::new(CastVersion::V2, 80, 24);
    let mut w = FramedCastWriter::new(
        Full {
            data: Vec::new(),
            room: usize::MAX,
        },
        &header,
        FrameOptions::default(),
    )
    .unwrap();
    w.write_event(&Event::Output {
        time_us: 1,
        data: b"first\r\n".to_vec(),
    })
    .unwrap();
    w.flush_frame().unwrap();
    let good = w.bytes_written() as usize;
    // The disk fills up: the next frame fails half-way.
    w.get_mut().room = good + 10;
    w.write_event(&Event::Output {
        time_us: 2,
        data: b"second\r\n".to_vec(),
    })
    .unwrap();
    assert!(w.flush_frame().is_err());
    assert!(w.buffered_bytes() > 0, "lines kept for a retry");
    // The recorder cuts the partial frame off, space returns, the retry works.
    w.get_mut().data.truncate(good);
    w.get_mut().room = usize::MAX;
    w.flush_frame().unwrap();
    let bytes = w.finish().unwrap().data;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.cast.zst");
    std::fs::write(&p, bytes).unwrap();
    let (_, events) = sshlog_format::read_cast_file(&p).unwrap();
    let out: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(out, b"first\r\nsecond\r\n");
}

/// The terminal state at the start of each frame, from replaying `events`
/// with a simple tracker (size, and the plain alternate-screen switches).
fn expected_states(header: &Header, events: &[Event], frames: &[FrameInfo]) -> Vec<FrameState> {
    let mut state = FrameState {
        cols: header.width,
        rows: header.height,
        alt_screen: false,
    };
    let mut want = Vec::new();
    let mut next = 0;
    for f in frames {
        want.push(state);
        for e in &events[next..next + f.event_count as usize] {
            match e {
                Event::Resize { cols, rows, .. } => (state.cols, state.rows) = (*cols, *rows),
                Event::Output { data, .. } => {
                    let text = String::from_utf8_lossy(data);
                    let last = ["\x1b[?1049h", "\x1b[?47h", "\x1b[?1049l", "\x1b[?47l"]
                        .iter()
                        .filter_map(|s| text.rfind(s).map(|at| (at, s.ends_with('h'))))
                        .max();
                    if let Some((_, on)) = last {
                        state.alt_screen = on;
                    }
                }
                _ => {}
            }
        }
        next += f.event_count as usize;
    }
    want
}

#[test]
fn index_records_the_terminal_state_at_the_start_of_each_frame() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let mut events = Vec::new();
    let mut t = 0;
    for i in 0..200u64 {
        t += 10_000;
        events.push(match i % 13 {
            3 => Event::Resize {
                time_us: t,
                cols: 100 + i as u16,
                rows: 30 + (i % 7) as u16,
            },
            5 => out(t, "vim\x1b[?1049h\x1b[H\x1b[2J~\r\n"),
            7 if i % 2 == 0 => out(t, ":q\x1b[?1049l$ "),
            9 => out(t, "\x1b[?47hless"),
            11 => out(t, "\x1b[?47l\x1b[?25h"),
            _ => out(t, &format!("output line {i} \x1b[1mbold\x1b[0m\r\n")),
        });
    }
    let mut w = FramedCastWriter::new(Vec::new(), &h, small_frames()).unwrap();
    for e in &events {
        w.write_event(e).unwrap();
    }
    let bytes = w.finish().unwrap();
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    assert!(frames.len() > 20, "{}", frames.len());
    let want = expected_states(&h, &events, &frames);
    let got: Vec<FrameState> = frames
        .iter()
        .map(|f| f.start_state.expect("state recorded"))
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().any(|s| s.alt_screen), "some frames start on alt");
    assert!(
        got.iter().any(|s| s.cols != 80),
        "some frames after a resize"
    );
    assert_eq!(
        got[0],
        FrameState {
            cols: 80,
            rows: 24,
            alt_screen: false
        }
    );
    for f in &frames {
        let alt = if f.start_state.is_some_and(|s| s.alt_screen) {
            FLAG_ALT_SCREEN
        } else {
            0
        };
        assert_eq!(f.flags & (FLAG_STATE | FLAG_ALT_SCREEN), FLAG_STATE | alt);
        // The record round-trips.
        let record = f.to_skippable_frame();
        assert_eq!(
            FrameInfo::from_payload(&record[8..], f.offset).as_ref(),
            Some(f)
        );
    }
}

#[test]
fn a_switch_split_across_events_and_frames_is_seen() {
    let h = Header::new(CastVersion::V3, 80, 24);
    let mut w = FramedCastWriter::new(Vec::new(), &h, FrameOptions::default()).unwrap();
    w.write_event(&out(1, "x\x1b[?10")).unwrap();
    w.flush_frame().unwrap();
    w.write_event(&out(2, "49hvim")).unwrap();
    w.flush_frame().unwrap();
    w.write_event(&out(3, "~")).unwrap();
    let frames = read_frame_index(Cursor::new(w.finish().unwrap())).unwrap();
    let alt: Vec<bool> = frames
        .iter()
        .map(|f| f.start_state.unwrap().alt_screen)
        .collect();
    // The switch takes effect when its last byte is written.
    assert_eq!(alt, [false, false, false, true]);
}

#[test]
fn dropped_lines_do_not_change_the_recorded_state() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let mut w = FramedCastWriter::new(Vec::new(), &h, FrameOptions::default()).unwrap();
    w.write_event(&Event::Resize {
        time_us: 1,
        cols: 120,
        rows: 40,
    })
    .unwrap();
    w.flush_frame().unwrap();
    w.write_event(&Event::Resize {
        time_us: 2,
        cols: 50,
        rows: 10,
    })
    .unwrap();
    w.write_event(&out(2, "\x1b[?1049h")).unwrap();
    assert!(w.discard_buffered() > 0);
    w.write_event(&out(3, "a")).unwrap();
    let frames = read_frame_index(Cursor::new(w.finish().unwrap())).unwrap();
    let last = frames.last().unwrap().start_state.unwrap();
    assert_eq!((last.cols, last.rows, last.alt_screen), (120, 40, false));
}

#[test]
fn records_without_state_read_as_none() {
    let (mut bytes, _) = sample(CastVersion::V2);
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    assert!(frames.iter().all(|f| f.start_state.is_some()));
    // An older writer left flags bits 1..2 and bytes 60..64 zero.
    for f in &frames {
        let rec = (f.offset - INDEX_FRAME_LEN as u64) as usize;
        let flags = u16::from_le_bytes([bytes[rec + 14], bytes[rec + 15]]);
        let old = flags & !(FLAG_STATE | FLAG_ALT_SCREEN);
        bytes[rec + 14..rec + 16].copy_from_slice(&old.to_le_bytes());
        bytes[rec + 60..rec + 64].fill(0);
    }
    let old = read_frame_index(Cursor::new(&bytes)).unwrap();
    assert_eq!(old.len(), frames.len());
    for (o, f) in old.iter().zip(&frames) {
        assert_eq!(o.start_state, None);
        assert_eq!(
            (
                o.offset,
                o.compressed_len,
                o.event_count,
                o.flags & FLAG_HEADER
            ),
            (
                f.offset,
                f.compressed_len,
                f.event_count,
                f.flags & FLAG_HEADER
            )
        );
        // Encoding a record without state writes zeros there.
        let rec = o.to_skippable_frame();
        assert_eq!(rec[60..64], [0, 0, 0, 0]);
        assert_eq!(u16::from_le_bytes([rec[14], rec[15]]) & FLAG_STATE, 0);
    }
}

/// Reads every event of an in-memory framed cast.
fn events_of(bytes: Vec<u8>) -> Vec<Event> {
    let (_, it) = open_cast_at(Cursor::new(bytes), 0, "test").unwrap();
    it.collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn output_within_the_window_becomes_one_event_with_the_same_bytes() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let opts = FrameOptions {
        coalesce_us: 5_000,
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &h, opts).unwrap();
    // Two runs of reads 1 ms apart, a resize between, a gap of 10 ms, and
    // a two-byte character split across reads.
    for (t, s) in [(1_000, "a"), (2_000, "b"), (3_000, "c")] {
        w.write_event(&out(t, s)).unwrap();
    }
    w.write_event(&Event::Resize {
        time_us: 3_500,
        cols: 100,
        rows: 30,
    })
    .unwrap();
    w.write_event(&out(4_000, "d")).unwrap();
    w.write_event(&Event::Output {
        time_us: 14_000,
        data: b"caf\xc3".to_vec(),
    })
    .unwrap();
    w.write_event(&Event::Output {
        time_us: 15_000,
        data: b"\xa9!".to_vec(),
    })
    .unwrap();
    assert!(w.buffered_bytes() > 0);
    let events = events_of(w.finish().unwrap());
    let lines: Vec<(u64, String)> = events
        .iter()
        .map(|e| match e {
            Event::Output { time_us, data } => (*time_us, String::from_utf8_lossy(data).into()),
            Event::Resize { time_us, .. } => (*time_us, "resize".into()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1_000, "abc".to_string()),
            (3_500, "resize".into()),
            (4_000, "d".into()),
            (14_000, "caf\u{e9}!".into()),
        ]
    );
}

#[test]
fn held_output_is_in_the_next_frame_and_counts_for_its_age() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let opts = FrameOptions {
        coalesce_us: 5_000,
        max_frame_age: Duration::from_millis(100),
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &h, opts).unwrap();
    w.write_event(&out(1_000, "held")).unwrap();
    assert!(!w.maybe_flush(Instant::now()).unwrap(), "too young");
    assert!(w
        .maybe_flush(Instant::now() + Duration::from_millis(150))
        .unwrap());
    let bytes = w.get_ref().clone();
    let events = events_of(bytes);
    assert_eq!(events, [out(1_000, "held")], "a live reader sees it");
}

/// A file system that fills up and frees again.
#[derive(Clone, Default)]
struct Disk {
    full: std::rc::Rc<std::cell::Cell<bool>>,
    bytes: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
}

impl std::io::Write for Disk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.full.get() {
            return Err(std::io::Error::other("No space left on device"));
        }
        self.bytes.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn coalesced_output_survives_a_full_disk() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let opts = FrameOptions {
        coalesce_us: 5_000,
        max_frame_bytes: 64,
        ..FrameOptions::default()
    };
    let disk = Disk::default();
    let mut w = FramedCastWriter::new(disk.clone(), &h, opts).unwrap();
    disk.full.set(true);
    let mut expected = Vec::new();
    let mut failures = 0;
    for i in 0..40u64 {
        let data = format!("line {i:02} of output\r\n");
        expected.extend_from_slice(data.as_bytes());
        // Runs of four reads 1 ms apart, 10 ms between runs.
        if w.write_event(&out(i / 4 * 10_000 + i % 4 * 1_000, &data))
            .is_err()
        {
            failures += 1;
        }
    }
    assert!(failures > 0, "the full disk was noticed");
    disk.full.set(false);
    w.flush_frame().unwrap();
    w.finish().unwrap();
    let bytes = disk.bytes.borrow().clone();
    let got: Vec<u8> = events_of(bytes)
        .into_iter()
        .flat_map(|e| match e {
            Event::Output { data, .. } => data,
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}
