//! `sshlog export`: asciicast v2 that Debian's asciinema 2.2 plays, v3 that
//! reads back event for event, and text transcripts of what was on the
//! screen (scrolling output, `top`-like cursor drawing, vim-like alternate
//! screens).

use sshlog_format::cast::{read_cast_file, CastVersion, Event, Header};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_format::layout::session_paths;
use std::path::Path;
use std::process::{Command, Output};

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

fn out(t_ms: u64, data: &str) -> Event {
    Event::Output {
        time_us: t_ms * 1000,
        data: data.as_bytes().to_vec(),
    }
}

fn write_framed(path: &Path, cols: u16, rows: u16, events: &[Event]) {
    let mut header = Header::new(CastVersion::V2, cols, rows);
    header.title = Some("export test".into());
    let opts = FrameOptions {
        max_frame_bytes: 200,
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &header, opts).expect("writer");
    for e in events {
        w.write_event(e).expect("event");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write");
}

fn run(args: &[&str]) -> Output {
    Command::new(SSHLOG)
        .args(args)
        .env_remove("SSHLOG_LOG_DIR")
        .output()
        .expect("run sshlog")
}

fn ok(o: Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A shell session with colours, UTF-8, input, markers and a resize.
fn shell_session() -> Vec<Event> {
    vec![
        out(0, "\x1b[1;32malice@host\x1b[0m:~$ "),
        Event::Input {
            time_us: 500_000,
            data: b"ls\r".to_vec(),
        },
        Event::Marker {
            time_us: 600_000,
            label: "ls".into(),
        },
        out(700, "ls\r\n\x1b[34mdir\x1b[0m  café.txt  naïve\r\n"),
        out(800, "\x1b[1;32malice@host\x1b[0m:~$ "),
        Event::Resize {
            time_us: 900_000,
            cols: 100,
            rows: 30,
        },
        out(1000, "echo 'done ✓'\r\ndone ✓\r\n"),
        out(1100, "\x1b[1;32malice@host\x1b[0m:~$ exit\r\n"),
    ]
}

fn output_of(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A tool the test needs: missing means skip, except under CI=true.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is not installed (CI=true: required; tools/test installs it)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

fn without_cr(b: &[u8]) -> Vec<u8> {
    b.iter().copied().filter(|&c| c != b'\r').collect()
}

#[test]
fn asciicast_v2_export_plays_in_asciinema_2() {
    if !have("asciinema") || !have("script") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("s.cast.zst");
    let events = shell_session();
    write_framed(&rec, 80, 24, &events);
    let v2 = dir.path().join("s.cast");
    ok(run(&[
        "export",
        s(&rec),
        "--format",
        "asciicast-v2",
        "-o",
        s(&v2),
    ]));
    let text = std::fs::read_to_string(&v2).expect("read export");
    assert!(
        text.starts_with("{\"version\":2,\"width\":80,\"height\":24"),
        "{text}"
    );
    // asciinema wants a terminal: run it under script(1).
    let cat = Command::new("script")
        .args(["-qec", &format!("asciinema cat {}", s(&v2)), "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("run script");
    assert!(
        cat.status.success(),
        "asciinema cat failed: {}",
        String::from_utf8_lossy(&cat.stderr)
    );
    // The pty turns \n into \r\n: compare without CRs.
    let want = output_of(&events);
    assert_eq!(
        String::from_utf8_lossy(&without_cr(&cat.stdout)),
        String::from_utf8_lossy(&without_cr(&want))
    );
    // And the same screen text as our transcript.
    let mut t = sshlog_player::render::Transcript::new(24, 80, Vec::new());
    t.output(&cat.stdout).expect("feed");
    let seen = String::from_utf8(t.finish().expect("finish")).expect("utf-8");
    let txt = ok(run(&["export", s(&rec), "--format", "txt"]));
    assert_eq!(seen, String::from_utf8_lossy(&txt));
    assert_eq!(
        seen,
        "alice@host:~$ ls\ndir  café.txt  naïve\nalice@host:~$ echo 'done ✓'\ndone ✓\nalice@host:~$ exit\n"
    );
}

#[test]
fn asciicast_v3_export_reads_back_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("s.cast.zst");
    let mut events = shell_session();
    // Bytes that are not UTF-8 survive too.
    events.push(Event::Output {
        time_us: 1_200_000,
        data: b"bad \xff\xfe \xc3(\r\n".to_vec(),
    });
    events.push(Event::Exit {
        time_us: 1_300_000,
        status: 0,
    });
    write_framed(&rec, 80, 24, &events);
    let v3 = dir.path().join("s3.cast");
    ok(run(&[
        "export",
        s(&rec),
        "-f",
        "asciicast-v3",
        "-o",
        s(&v3),
    ]));
    let (h, got) = read_cast_file(&v3).expect("read back");
    assert_eq!(h.version, CastVersion::V3);
    assert_eq!((h.width, h.height), (80, 24));
    assert_eq!(h.title.as_deref(), Some("export test"));
    assert_eq!(got, events);
    // To stdout, with `-o -` or without -o: the same bytes.
    let a = ok(run(&["export", s(&rec), "-f", "asciicast-v3", "-o", "-"]));
    let b = ok(run(&["export", s(&rec), "-f", "asciicast-v3"]));
    assert_eq!(a, std::fs::read(&v3).expect("read"));
    assert_eq!(a, b);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn txt_of_a_top_like_program_is_its_final_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("top.cast.zst");
    let mut events = vec![out(0, "\x1b[H\x1b[2J")];
    for frame in 0..30u64 {
        let t = 100 + frame * 100;
        // Home, overwrite the header, move around with CUP, erase to the
        // end of lines: like top.
        events.push(out(
            t,
            &format!(
                "\x1b[Htop - 10:00:{frame:02} up 1 day\x1b[K\r\nTasks: {} total\x1b[K\x1b[4;1H  PID USER\x1b[K\x1b[5;1H{:>5} root\x1b[K\x1b[6;3H{:>3} alice\x1b[K\x1b[J",
                100 + frame,
                frame * 7,
                frame
            ),
        ));
    }
    write_framed(&rec, 40, 10, &events);
    let txt = ok(run(&["export", s(&rec), "--format", "txt"]));
    assert_eq!(
        String::from_utf8_lossy(&txt),
        "top - 10:00:29 up 1 day\nTasks: 129 total\n\n  PID USER\n  203 root\n   29 alice\n"
    );
}

#[test]
fn txt_of_a_vim_like_program_is_the_screen_it_returns_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("vim.cast.zst");
    let mut events = vec![out(0, "$ ls\r\na  b\r\n$ vim a\r\n")];
    events.push(out(100, "\x1b[?1049h\x1b[22;0;0t\x1b[H\x1b[2J"));
    for k in 0..20u64 {
        events.push(out(
            200 + k * 50,
            &format!(
                "\x1b[1;1Hline {k}\x1b[K\x1b[10;1H\x1b[7m-- INSERT --\x1b[0m\x1b[1;{}H",
                k + 1
            ),
        ));
    }
    events.push(out(
        2000,
        "\x1b[10;1H\x1b[K:wq\r\x1b[?1049l\x1b[23;0;0t\r$ ",
    ));
    write_framed(&rec, 40, 10, &events);
    let txt = ok(run(&["export", s(&rec), "--format", "txt"]));
    assert_eq!(String::from_utf8_lossy(&txt), "$ ls\na  b\n$ vim a\n$\n");
}

#[test]
fn txt_keeps_scrolled_and_cleared_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("long.cast.zst");
    let mut events: Vec<Event> = (0..50u64)
        .map(|i| out(i, &format!("line {i:02}\r\n")))
        .collect();
    events.push(out(100, "$ clear\r\n"));
    events.push(out(110, "\x1b[H\x1b[2J\x1b[3J$ "));
    write_framed(&rec, 20, 5, &events);
    let txt = ok(run(&["export", s(&rec), "--format", "txt"]));
    let want: String = (0..50)
        .map(|i| format!("line {i:02}\n"))
        .chain(["$ clear\n".to_string(), "$\n".to_string()])
        .collect();
    assert_eq!(String::from_utf8_lossy(&txt), want);
}

#[test]
fn sessions_are_looked_up_and_errors_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = uuid::Uuid::now_v7();
    let started = sshlog_format::layout::session_id_time(id).expect("v7 time");
    let paths = session_paths(dir.path(), started, id);
    std::fs::create_dir_all(&paths.dir).expect("mkdir");
    write_framed(&paths.cast, 80, 24, &shell_session());
    let by_id = ok(run(&[
        "--log-dir",
        s(dir.path()),
        "export",
        &id.to_string(),
        "-f",
        "txt",
    ]));
    assert!(String::from_utf8_lossy(&by_id).contains("done ✓"));

    let missing = dir.path().join("missing.cast");
    let o = run(&["export", s(&missing), "-f", "txt"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("sshlog: cannot open "), "{err}");

    let o = run(&["export", s(&missing), "-f", "mp4"]);
    assert_eq!(o.status.code(), Some(2));

    // A failed export to a file leaves nothing behind.
    let garbage = dir.path().join("garbage.cast");
    std::fs::write(&garbage, "{\"version\":2,\"width\":80,\"height\":24}\n[0.1,\"o\",\"ok\"]\n[oops\n[0.3,\"o\",\"x\"]\n").expect("write");
    let target = dir.path().join("out.txt");
    let o = run(&["export", s(&garbage), "-f", "txt", "-o", s(&target)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 3"));
    assert!(!target.exists());
    let leftovers = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains("partial"))
        })
        .count();
    assert_eq!(leftovers, 0);
}
