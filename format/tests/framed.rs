//! zstd framing: frame index, seeking, truncation, and `zstdcat` validity.

mod common;

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use sshlog_format::cast::{CastReader, CastVersion, Event, Header};
use sshlog_format::framed::{
    open_cast_at, read_frame_index, FrameOptions, FramedCastWriter, INDEX_FRAME_LEN,
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
            let (h, it) = open_cast_at(Cursor::new(bytes.clone()), t).unwrap();
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
        let (_, it) = open_cast_at(Cursor::new(bytes.clone()), 99_000_000).unwrap();
        assert_eq!(it.count(), 0);
    }
}

#[test]
fn seek_in_plain_zstd_file_reads_from_start() {
    let text = b"{\"version\":2,\"width\":1,\"height\":1}\n[1.0,\"o\",\"a\"]\n";
    let bytes = zstd::encode_all(&text[..], 3).unwrap();
    assert!(matches!(
        read_frame_index(Cursor::new(&bytes)),
        Err(FormatError::Framing(_))
    ));
    let (_, it) = open_cast_at(Cursor::new(bytes), 5_000_000).unwrap();
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
            let (_, it) = open_cast_at(Cursor::new(part.to_vec()), 4_000_000).unwrap();
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
