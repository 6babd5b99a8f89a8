//! Interoperability with the real `asciinema` (2.x) and `zstdcat` binaries.
//! Missing tools fail these tests when `CI=true` and skip them otherwise.

mod common;

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Stdio};

use sshlog_format::cast::{CastReader, CastVersion, Event, Header};
use sshlog_format::framed::{read_frame_index, FrameOptions, FramedCastWriter};
use sshlog_format::read_cast_file;

fn tools() -> bool {
    // `asciinema cat` insists on a controlling tty; `script` provides a pty.
    ["asciinema", "zstdcat", "script"]
        .iter()
        .all(|t| common::require_tool(t).is_some())
}

fn asciinema(dir: &Path) -> Command {
    let mut c = Command::new("asciinema");
    c.env("ASCIINEMA_CONFIG_HOME", dir.join("asciinema-config"))
        .stdin(Stdio::null());
    c
}

/// `asciinema cat FILE` run under `script` (it opens /dev/tty); returns
/// (success, stdout bytes).
fn asciinema_cat(dir: &Path, cast: &Path) -> (bool, Vec<u8>) {
    let o = Command::new("script")
        .args([
            "-qec",
            &format!("asciinema cat '{}'", cast.display()),
            "/dev/null",
        ])
        .env("ASCIINEMA_CONFIG_HOME", dir.join("asciinema-config"))
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    (o.status.success(), o.stdout)
}

fn zstdcat_to(src: &Path, dst: &Path) -> bool {
    let out = std::fs::File::create(dst).unwrap();
    Command::new("zstdcat")
        .arg(src)
        .stdout(out)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn out(t: u64, s: &[u8]) -> Event {
    Event::Output {
        time_us: t,
        data: s.to_vec(),
    }
}

/// Events exercising split characters and invalid UTF-8.
fn tricky_events() -> Vec<Event> {
    let euro = "€".as_bytes();
    let mut ev = vec![
        out(100_000, b"hello "),
        out(200_000, &[b'w', euro[0], euro[1]]),
        Event::Input {
            time_us: 250_000,
            data: b"x\xff".to_vec(),
        },
        out(300_000, &[euro[2], b'!', b'\r', b'\n']),
        out(400_000, b"bad \xff\xfe byte\r\n"),
        Event::Resize {
            time_us: 450_000,
            cols: 100,
            rows: 30,
        },
        Event::Marker {
            time_us: 460_000,
            label: "m1".into(),
        },
    ];
    for i in 0..200u64 {
        ev.push(out(500_000 + i * 10_000, format!("row {i}\r\n").as_bytes()));
    }
    ev
}

fn lossy_output(events: &[Event]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for e in events {
        if let Event::Output { data, .. } = e {
            bytes.extend_from_slice(data);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned().into_bytes()
}

#[test]
fn asciinema_cat_plays_our_framed_cast() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("s.cast.zst");
    let plain = dir.path().join("s.cast");
    let mut h = Header::new(CastVersion::V2, 80, 24);
    h.timestamp = Some(1_700_000_000);
    let opts = FrameOptions {
        max_frame_bytes: 512,
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(std::fs::File::create(&zst).unwrap(), &h, opts).unwrap();
    let events = tricky_events();
    for e in &events {
        w.write_event(e).unwrap();
    }
    w.finish().unwrap();

    assert!(zstdcat_to(&zst, &plain));
    let (ok, printed) = asciinema_cat(dir.path(), &plain);
    assert!(
        ok,
        "asciinema cat failed: {}",
        String::from_utf8_lossy(&printed)
    );
    assert_eq!(
        String::from_utf8_lossy(&printed),
        String::from_utf8_lossy(&lossy_output(&events))
    );

    // Our reader restores the exact bytes from the same file.
    let (_, back) = read_cast_file(&zst).unwrap();
    let exact: Vec<u8> = back
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let want: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(exact, want);

    // Truncate in the middle of a frame: the zstdcat prefix still plays.
    let bytes = std::fs::read(&zst).unwrap();
    let frames = read_frame_index(Cursor::new(&bytes)).unwrap();
    assert!(frames.len() > 3);
    let f = frames[frames.len() / 2];
    let cut = &bytes[..(f.offset + f.compressed_len / 2) as usize];
    let cut_path = dir.path().join("cut.cast.zst");
    std::fs::write(&cut_path, cut).unwrap();
    assert!(
        !zstdcat_to(&cut_path, &plain),
        "zstdcat reports the truncation"
    );
    let (ok, printed) = asciinema_cat(dir.path(), &plain);
    assert!(
        ok,
        "asciinema cat failed on prefix: {}",
        String::from_utf8_lossy(&printed)
    );
    let text = std::fs::read(&plain).unwrap();
    let r = CastReader::new(Cursor::new(text)).unwrap();
    let prefix = r.collect::<Result<Vec<_>, _>>().unwrap();
    assert!(!prefix.is_empty() && prefix.len() < events.len());
    assert_eq!(printed, lossy_output(&prefix));
    let (_, from_file) = read_cast_file(&cut_path).unwrap();
    assert_eq!(from_file, prefix);
}

#[test]
fn reads_casts_recorded_by_asciinema() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("rec.cast");
    let status = asciinema(dir.path())
        .args(["rec", "-q", "--overwrite", "-c"])
        .arg(r"printf 'hi\342\202\254\n'; sleep 0.2; printf 'second line\n'; exit 3")
        .arg(&cast)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success() || status.code() == Some(3), "{status:?}");
    let (h, events) = read_cast_file(&cast).unwrap();
    assert_eq!(h.version, CastVersion::V2);
    assert!(h.width > 0 && h.height > 0);
    assert!(h.timestamp.is_some());
    let mut output = Vec::new();
    let mut last = 0;
    for e in &events {
        assert!(e.time_us() >= last, "times are monotonic");
        last = e.time_us();
        if let Event::Output { data, .. } = e {
            output.extend_from_slice(data);
        }
    }
    assert_eq!(String::from_utf8(output).unwrap(), "hi€\r\nsecond line\r\n");
    assert!(last >= 150_000, "the sleep shows in the timing: {last}");

    // Re-encode as framed v3 and v2 and read back the same events.
    for v in [CastVersion::V2, CastVersion::V3] {
        let mut h2 = h.clone();
        h2.version = v;
        let mut w = FramedCastWriter::new(Vec::new(), &h2, FrameOptions::default()).unwrap();
        for e in &events {
            w.write_event(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        let path = dir.path().join("re.cast.zst");
        std::fs::write(&path, bytes).unwrap();
        let (h3, back) = read_cast_file(&path).unwrap();
        assert_eq!(h3.width, h.width);
        assert_eq!(h3.env, h.env);
        assert_eq!(back, events);
    }
}
