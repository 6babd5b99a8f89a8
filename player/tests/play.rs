//! `sshlog play` / `sshlog-play` as a user runs them: the real binaries on
//! casts written here with the format library; stdout must be exactly the
//! recorded output bytes.

use sshlog_format::cast::{CastVersion, CastWriter, Event, Header};
use sshlog_format::framed::{read_frame_index, FrameOptions, FramedCastWriter};
use sshlog_format::layout::session_paths;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");
const SSHLOG_PLAY: &str = env!("CARGO_BIN_EXE_sshlog-play");

fn out(t_ms: u64, data: &[u8]) -> Event {
    Event::Output {
        time_us: t_ms * 1000,
        data: data.to_vec(),
    }
}

/// Output with awkward bytes: invalid UTF-8, a two-byte `é` and a
/// four-byte emoji split across events, escape sequences, CR LF, input
/// and markers in between (not played).
fn tricky_events() -> Vec<Event> {
    vec![
        out(0, b"\x1b[1mbold\x1b[0m\r\n"),
        out(10, b"caf\xc3"),
        out(20, b"\xa9 \xf0\x9f"),
        Event::Input {
            time_us: 25_000,
            data: b"typed".to_vec(),
        },
        out(30, b"\x98\x80 ok\r\n"),
        Event::Marker {
            time_us: 35_000,
            label: "mark".into(),
        },
        out(40, b"bad \xff\xfe bytes \xc3\x28\r\n"),
        Event::Resize {
            time_us: 45_000,
            cols: 100,
            rows: 30,
        },
        out(50, b"\x00\x07end"),
    ]
}

fn output_bytes(events: &[Event]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in events {
        if let Event::Output { data, .. } = e {
            v.extend_from_slice(data);
        }
    }
    v
}

fn write_plain(path: &Path, version: CastVersion, events: &[Event]) {
    let header = Header::new(version, 80, 24);
    let mut w = CastWriter::new(Vec::new(), &header).expect("writer");
    for e in events {
        w.write_event(e).expect("event");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write cast");
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
    std::fs::write(path, w.finish().expect("finish")).expect("write cast");
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("SSHLOG_LOG_DIR")
        .env_remove("SSHLOG_SOCKET")
        .output()
        .expect("run binary")
}

fn ok_stdout(o: &Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "failed: {:?}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout.clone()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn plays_exact_bytes_of_v2_v3_plain_and_framed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = tricky_events();
    let want = output_bytes(&events);
    let mut files: Vec<PathBuf> = Vec::new();
    for (v, name) in [(CastVersion::V2, "v2"), (CastVersion::V3, "v3")] {
        let plain = dir.path().join(format!("{name}.cast"));
        write_plain(&plain, v, &events);
        files.push(plain);
        let framed = dir.path().join(format!("{name}.cast.zst"));
        write_framed(&framed, v, &events, 40);
        files.push(framed);
    }
    for f in &files {
        for bin in [SSHLOG, SSHLOG_PLAY] {
            let args: Vec<&str> = if bin == SSHLOG {
                vec!["play", path_str(f), "--speed", "1000"]
            } else {
                vec![path_str(f), "--speed", "1000"]
            };
            let got = ok_stdout(&run(bin, &args));
            assert_eq!(got, want, "{} via {bin}", f.display());
        }
    }
}

#[test]
fn plays_asciicast_v1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("v1.json");
    std::fs::write(
        &f,
        r#"{"version":1,"width":80,"height":24,"duration":1.5,"stdout":[[0.1,"hello "],[0.2,"w\u00f6rld\r\n"]]}"#,
    )
    .expect("write");
    let got = ok_stdout(&run(SSHLOG, &["play", path_str(&f), "--speed", "1000"]));
    assert_eq!(got, "hello wörld\r\n".as_bytes());
}

/// 20 outputs, one per second, in frames of one or two events.
fn numbered(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| out(i * 1000, format!("line {i:02}\r\n").as_bytes()))
        .collect()
}

fn lines_from(first: u64, last: u64) -> Vec<u8> {
    (first..=last)
        .flat_map(|i| format!("line {i:02}\r\n").into_bytes())
        .collect()
}

#[test]
fn from_skips_earlier_output_in_all_time_syntaxes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let framed = dir.path().join("n.cast.zst");
    write_framed(&framed, CastVersion::V3, &numbered(20), 30);
    let plain = dir.path().join("n.cast");
    write_plain(&plain, CastVersion::V2, &numbered(20));
    for f in [&framed, &plain] {
        for from in ["15", "0:15", "15s", "0m15s", "14.5"] {
            let got = ok_stdout(&run(
                SSHLOG,
                &["play", path_str(f), "--speed", "1000", "--from", from],
            ));
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&lines_from(15, 19)),
                "{} --from {from}",
                f.display()
            );
        }
        let got = ok_stdout(&run(
            SSHLOG,
            &[
                "play",
                path_str(f),
                "--speed",
                "1000",
                "--from",
                "3",
                "--to",
                "0:05",
            ],
        ));
        assert_eq!(got, lines_from(3, 5), "{} --from 3 --to 0:05", f.display());
        let past = ok_stdout(&run(
            SSHLOG,
            &["play", path_str(f), "--speed", "1000", "--from", "1h"],
        ));
        assert!(past.is_empty());
    }
}

/// `--from` enters a `.cast.zst` through the frame index: a damaged frame
/// before the start position does not matter.
#[test]
fn from_seeks_past_a_damaged_early_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("damaged.cast.zst");
    write_framed(&f, CastVersion::V2, &numbered(20), 30);
    let mut bytes = std::fs::read(&f).expect("read");
    let frames = read_frame_index(std::io::Cursor::new(&bytes)).expect("index");
    assert!(
        frames.len() > 5,
        "expected many frames, got {}",
        frames.len()
    );
    // Garble the middle of frame 1's compressed data.
    let victim = &frames[1];
    let mid = (victim.offset + victim.compressed_len / 2) as usize;
    for b in &mut bytes[mid..mid + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(&f, &bytes).expect("write");
    let got = ok_stdout(&run(
        SSHLOG,
        &["play", path_str(&f), "--speed", "1000", "--from", "10"],
    ));
    assert_eq!(got, lines_from(10, 19));
}

#[test]
fn timing_is_scaled_and_idle_time_is_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("slow.cast");
    write_plain(
        &f,
        CastVersion::V2,
        &[out(0, b"a"), out(1000, b"b"), out(600_000, b"c")],
    );
    // 1 s + min(599 s, 1.5 s) = 2.5 s of recording at speed 4: 0.625 s.
    let t = Instant::now();
    let got = ok_stdout(&run(
        SSHLOG_PLAY,
        &[path_str(&f), "--speed", "4", "--idle-time-limit", "1.5"],
    ));
    let took = t.elapsed();
    assert_eq!(got, b"abc");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(10),
        "took {took:?}"
    );
}

#[test]
fn session_ids_are_looked_up_in_the_log_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = uuid::Uuid::now_v7();
    let started = sshlog_format::layout::session_id_time(id).expect("v7 time");
    let paths = session_paths(dir.path(), started, id);
    std::fs::create_dir_all(&paths.dir).expect("mkdir");
    let events = tricky_events();
    write_framed(&paths.cast, CastVersion::V2, &events, 64 * 1024);
    let id_s = id.to_string();
    let want = output_bytes(&events);
    let log_dir = path_str(dir.path());
    assert_eq!(
        ok_stdout(&run(
            SSHLOG,
            &["--log-dir", log_dir, "play", &id_s, "--speed", "1000"]
        )),
        want
    );
    assert_eq!(
        ok_stdout(&run(
            SSHLOG,
            &["play", &id_s, "--log-dir", log_dir, "--speed", "1000"]
        )),
        want
    );
    assert_eq!(
        ok_stdout(&run(
            SSHLOG_PLAY,
            &["--log-dir", log_dir, &id_s, "--speed", "1000"]
        )),
        want
    );
    let via_env = Command::new(SSHLOG_PLAY)
        .args([&id_s, "--speed", "1000"])
        .env("SSHLOG_LOG_DIR", dir.path())
        .output()
        .expect("run");
    assert_eq!(ok_stdout(&via_env), want);

    // An id without a recording: one line naming the expected path.
    let other = uuid::Uuid::now_v7().to_string();
    let o = run(SSHLOG, &["--log-dir", log_dir, "play", &other]);
    let err = one_line_error(&o);
    assert!(
        err.starts_with(&format!("sshlog: no recording of session {other}: ")),
        "{err}"
    );
}

/// Asserts failure with exactly one line on stderr, and returns it.
fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success(), "unexpectedly succeeded");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.ends_with('\n'));
    err.trim_end().to_string()
}

#[test]
fn missing_and_garbage_files_give_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.cast");
    let err = one_line_error(&run(SSHLOG, &["play", path_str(&missing)]));
    assert_eq!(
        err,
        format!(
            "sshlog: cannot open {}: No such file or directory",
            missing.display()
        )
    );
    let err = one_line_error(&run(SSHLOG_PLAY, &[path_str(&missing)]));
    assert!(err.starts_with("sshlog-play: cannot open "), "{err}");

    let garbage = dir.path().join("garbage.cast");
    std::fs::write(&garbage, b"\x01\x02 this is not\n an asciicast\n").expect("write");
    let err = one_line_error(&run(SSHLOG, &["play", path_str(&garbage)]));
    assert!(
        err.starts_with(&format!("sshlog: cannot play {}: ", garbage.display())),
        "{err}"
    );

    let empty = dir.path().join("empty.cast");
    std::fs::write(&empty, b"").expect("write");
    let err = one_line_error(&run(SSHLOG, &["play", path_str(&empty)]));
    assert!(err.contains("no asciicast header"), "{err}");

    // zstd magic followed by junk.
    let bad_zst = dir.path().join("bad.cast.zst");
    std::fs::write(&bad_zst, b"\x28\xb5\x2f\xfd junk junk junk junk").expect("write");
    let err = one_line_error(&run(SSHLOG, &["play", path_str(&bad_zst)]));
    assert!(err.starts_with("sshlog: cannot play "), "{err}");

    let err = one_line_error(&run(SSHLOG, &["play", path_str(dir.path())]));
    assert!(err.ends_with("it is a directory"), "{err}");

    // Bad event lines after a good header: an error naming the line, after
    // the output before it was played.
    let bad_line = dir.path().join("badline.cast");
    std::fs::write(
        &bad_line,
        "{\"version\":2,\"width\":80,\"height\":24}\n[0.1,\"o\",\"ok\"]\n[oops\n[0.3,\"o\",\"x\"]\n",
    )
    .expect("write");
    let o = run(SSHLOG, &["play", path_str(&bad_line), "--speed", "1000"]);
    assert_eq!(o.stdout, b"ok");
    let err = one_line_error(&o);
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn bad_arguments_are_rejected() {
    let o = run(SSHLOG, &["play", "x.cast", "--from", "later"]);
    assert_eq!(o.status.code(), Some(2), "clap usage errors exit with 2");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid time 'later'"), "{err}");
    let o = run(SSHLOG, &["play", "x.cast", "--speed", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = one_line_error(&run(
        SSHLOG,
        &["play", "x.cast", "--from", "5", "--to", "2"],
    ));
    assert!(err.contains("--to"), "{err}");
}

#[test]
fn help_has_examples() {
    for args in [&["--help"][..], &["play", "--help"], &["watch", "--help"]] {
        let o = run(SSHLOG, args);
        assert!(o.status.success());
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("EXAMPLES:"), "{args:?}: {text}");
    }
    let o = run(SSHLOG_PLAY, &["--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--idle-time-limit"));
}
