//! The recordings index: entries built from real session files, day files
//! that survive concurrent writers, re-indexing and torn writes.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sshlog_format::cast::{CastVersion, Event, Header, SshlogMeta};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_format::index::filter::trigrams;
use sshlog_format::index::{
    append_session, build_session, day_index_path, index_session, index_session_with_filter,
    read_day, read_day_grams, scan_cast, write_day, GramBuilder, IndexEntry, ScanEvent,
    INDEX_VERSION,
};
use sshlog_format::layout::{session_paths, SessionPaths};
use sshlog_format::read_cast_file;
use sshlog_format::sidecar::{write_record, Record, SessionEvent};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use uuid::Uuid;

fn id_at(t: DateTime<Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp() as u64,
        t.timestamp_subsec_nanos(),
    );
    Uuid::new_v7(ts)
}

struct Cmd<'a> {
    at_ms: u64,
    argv: &'a [&'a str],
    exit: i32,
}

/// A session as sshlogd writes it: framed cast with a marker per command,
/// sidecar with established / start / finish / close records.
fn write_session(
    root: &Path,
    start: DateTime<Utc>,
    user: &str,
    cmds: &[Cmd],
    outputs: &[(u64, &[u8])],
) -> (Uuid, SessionPaths) {
    let id = id_at(start);
    let paths = session_paths(root, start, id);
    fs::create_dir_all(&paths.dir).unwrap();
    let mut header = Header::new(CastVersion::V2, 80, 24);
    header.timestamp = Some(start.timestamp());
    header.set_sshlog_meta(&SshlogMeta {
        session_id: Some(id),
        sshd_pid: Some(4242),
        tty: Some("/dev/pts/1".into()),
        user: Some(user.into()),
        client: Some("192.0.2.7:5555".into()),
        segment: Some(0),
        previous_segment: None,
        root: None,
    });
    let opts = FrameOptions {
        max_frame_bytes: 64,
        ..FrameOptions::default()
    };
    let mut cast =
        FramedCastWriter::new(File::create(&paths.cast).unwrap(), &header, opts).unwrap();
    let mut events: Vec<Event> = outputs
        .iter()
        .map(|(ms, d)| Event::Output {
            time_us: ms * 1000,
            data: d.to_vec(),
        })
        .collect();
    for c in cmds {
        events.push(Event::Marker {
            time_us: c.at_ms * 1000,
            label: c.argv.join(" "),
        });
    }
    events.sort_by_key(Event::time_us);
    for e in &events {
        cast.write_event(e).unwrap();
    }
    cast.finish().unwrap();

    let mut sc = File::create(&paths.events).unwrap();
    let rec = |ts, ev| Record::new(ts, Some(id), ev);
    write_record(
        &mut sc,
        &rec(
            start + Duration::milliseconds(5),
            SessionEvent::ConnectionEstablished {
                user: user.into(),
                client_ip: "192.0.2.7".into(),
                client_port: 5555,
                server_port: 22,
                tty: Some("/dev/pts/1".into()),
                sshd_pid: 4242,
                existing_login: false,
                root: None,
            },
        ),
    )
    .unwrap();
    for (i, c) in cmds.iter().enumerate() {
        let t = start + Duration::milliseconds(c.at_ms as i64);
        let argv: Vec<String> = c.argv.iter().map(|s| s.to_string()).collect();
        let pid = 5000 + i as u32;
        write_record(
            &mut sc,
            &rec(
                t,
                SessionEvent::CommandStart {
                    pid,
                    ppid: 4243,
                    uid: 1000,
                    user: Some(user.into()),
                    argv: argv.clone(),
                    argv_truncated: false,
                    filename: format!("/usr/bin/{}", c.argv[0]),
                    cwd: None,
                },
            ),
        )
        .unwrap();
        write_record(
            &mut sc,
            &rec(
                t + Duration::milliseconds(3),
                SessionEvent::CommandFinish {
                    pid,
                    exit_code: Some(c.exit),
                    signal: None,
                    duration_ms: 3,
                    argv,
                },
            ),
        )
        .unwrap();
    }
    write_record(
        &mut sc,
        &rec(
            start + Duration::seconds(60),
            SessionEvent::ConnectionClose {
                user: user.into(),
                sshd_pid: 4242,
                duration_ms: 60_000,
                bytes_in: 1,
                bytes_out: 2,
            },
        ),
    )
    .unwrap();
    (id, paths)
}

fn start() -> DateTime<Utc> {
    // Not on a whole second: the header's timestamp is rounded down.
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap() + Duration::milliseconds(250)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

#[test]
fn index_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (id, paths) = write_session(
        root,
        start(),
        "alice",
        &[
            Cmd {
                at_ms: 1500,
                argv: &["/usr/bin/nmap", "-sS", "10.0.0.0/24"],
                exit: 0,
            },
            Cmd {
                at_ms: 4000,
                argv: &["false"],
                exit: 1,
            },
        ],
        &[
            (1600, b"Starting Nmap 7.93\r\n"),
            (4100, b"bad \xff byte\r\n"),
        ],
    );
    index_session(root, &paths.events, &paths.cast).unwrap();
    let idx = read_day(root, day()).unwrap().expect("day index exists");
    assert_eq!(idx.bad_lines, 0);
    assert_eq!(idx.entries.len(), 1);
    let e = &idx.entries[0];
    assert_eq!(e.v, INDEX_VERSION);
    assert_eq!(e.id, id);
    assert_eq!(e.start, start(), "start calibrated from the first marker");
    assert_eq!(e.end, start() + Duration::seconds(60));
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(e.client().as_deref(), Some("192.0.2.7:5555"));
    assert_eq!(e.tty.as_deref(), Some("/dev/pts/1"));
    assert_eq!(e.sshd_pid, Some(4242));
    assert!(e.closed);
    assert_eq!(
        e.events,
        [
            "command_finish",
            "command_start",
            "connection_close",
            "connection_established"
        ]
    );
    assert_eq!(e.commands.len(), 2);
    assert_eq!(e.commands[0].name, "nmap");
    assert_eq!(e.commands[0].argv, "/usr/bin/nmap -sS 10.0.0.0/24");
    assert_eq!(e.commands[0].t_us, 1_500_000);
    assert_eq!(e.commands[0].exit, Some(0));
    assert_eq!(e.commands[1].t_us, 4_000_000);
    assert_eq!(e.commands[1].exit, Some(1));
    assert_eq!(e.cast_path(root).unwrap(), paths.cast);
    assert_eq!(e.cast_size, fs::metadata(&paths.cast).unwrap().len());
    assert_eq!(e.events_size, fs::metadata(&paths.events).unwrap().len());

    let grams = read_day_grams(root, day()).unwrap();
    let f = grams[&id].filter.as_ref().expect("filter");
    assert_eq!(grams[&id].cast_size, e.cast_size);
    assert!(f.may_contain(&trigrams(b"starting nmap")));
    assert!(!f.may_contain(&trigrams(b"password incorrect")));

    // Without the filter pass the entry is the same.
    let quick = build_session(root, &paths.events, Some(&paths.cast), false).unwrap();
    assert_eq!(&quick.entry, e);
    assert!(quick.grams.is_none());
}

/// sshlogd feeds the filter as it writes the cast and does not read the
/// cast back: the index files must be those of the read-back, byte for byte,
/// with a multi-byte character split across two reads.
#[test]
fn filter_built_while_writing_gives_the_same_index() {
    let outputs: [(u64, &[u8]); 4] = [
        (1600, b"Starting Nmap 7.93\r\n\xe2\x82"),
        (1601, b"\xac caf\xc3\xa9 \x1b[1mBold\x1b[0m\r\n"),
        (2500, b"\"quoted\" back\\slash\r\n"),
        (4100, b"bad \xff byte\r\n"),
    ];
    let cmds = [Cmd {
        at_ms: 1500,
        argv: &["/usr/bin/nmap", "-sS", "10.0.0.0/24"],
        exit: 0,
    }];
    let read_back = tempfile::tempdir().unwrap();
    let (_, paths) = write_session(read_back.path(), start(), "alice", &cmds, &outputs);
    index_session(read_back.path(), &paths.events, &paths.cast).unwrap();

    let live = tempfile::tempdir().unwrap();
    let copy = |p: &Path| live.path().join(p.strip_prefix(read_back.path()).unwrap());
    fs::create_dir_all(copy(&paths.dir)).unwrap();
    fs::copy(&paths.events, copy(&paths.events)).unwrap();
    fs::copy(&paths.cast, copy(&paths.cast)).unwrap();
    let mut grams = GramBuilder::new();
    for (_, data) in outputs {
        grams.push(data);
    }
    index_session_with_filter(
        live.path(),
        &copy(&paths.events),
        &copy(&paths.cast),
        grams.finish(),
    )
    .unwrap();

    let files = |root: &Path| {
        let dir = root.join("index");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert!(names.len() >= 2, "entries and filters: {names:?}");
        names
            .into_iter()
            .map(|n| (n.clone(), fs::read(dir.join(n)).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(files(live.path()), files(read_back.path()));
}

#[test]
fn scan_matches_the_cast_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let outputs: Vec<(u64, &[u8])> = vec![
        (10, b"caf\xc3"),
        (20, b"\xa9 \xf0\x9f"),
        (30, b"\x98\x80 \"quoted\" \\ \x1b[0m\r\n"),
        (40, b"bad \xff\xfe bytes\r\n"),
    ];
    let (_, paths) = write_session(tmp.path(), start(), "bob", &[], &outputs);
    let (_, events) = read_cast_file(&paths.cast).unwrap();
    let want: Vec<(u64, Vec<u8>)> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Output { time_us, data } => Some((time_us, data)),
            _ => None,
        })
        .collect();
    let mut got = Vec::new();
    let summary = scan_cast(&paths.cast, |ev| {
        if let ScanEvent::Output { time_us, data } = ev {
            got.push((time_us, data.to_vec()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got, want);
    assert!(!summary.truncated);
    let all: Vec<u8> = got.iter().flat_map(|(_, d)| d.clone()).collect();
    let written: Vec<u8> = outputs.iter().flat_map(|(_, d)| d.to_vec()).collect();
    assert_eq!(all, written);
}

fn entry(id: Uuid, n: u64) -> IndexEntry {
    IndexEntry {
        v: INDEX_VERSION,
        id,
        start: start(),
        end: start(),
        user: Some(format!("user{n}")),
        client_ip: None,
        client_port: None,
        tty: None,
        sshd_pid: Some(n as u32),
        segment: None,
        previous_segment: None,
        closed: true,
        events: vec!["command_start".into()],
        commands: Vec::new(),
        cast: None,
        cast_size: 0,
        events_size: n,
    }
}

#[test]
fn concurrent_appends_and_rewrites_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let dir = session_paths(&root, start(), Uuid::nil()).dir;
    fs::create_dir_all(&dir).unwrap();
    const PER_WRITER: u64 = 150;
    let ids: Vec<Vec<Uuid>> = (0..2)
        .map(|_| {
            (0..PER_WRITER)
                .map(|_| {
                    let id = Uuid::now_v7();
                    File::create(dir.join(format!("{id}.events.jsonl"))).unwrap();
                    id
                })
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        for (w, ids) in ids.iter().enumerate() {
            let root = &root;
            s.spawn(move || {
                for (i, id) in ids.iter().enumerate() {
                    append_session(root, day(), &entry(*id, (w as u64) * 1000 + i as u64), None)
                        .unwrap();
                }
            });
        }
        // A rewrite in the middle (what `sshlog index` does) keeps what
        // the appenders wrote before and after it.
        let root = &root;
        s.spawn(move || {
            for _ in 0..5 {
                write_day(root, day(), Vec::new()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        // Readers never see a torn line.
        s.spawn(move || {
            for _ in 0..50 {
                if let Some(d) = read_day(root, day()).unwrap() {
                    assert_eq!(d.bad_lines, 0);
                }
            }
        });
    });
    let d = read_day(&root, day()).unwrap().unwrap();
    assert_eq!(d.bad_lines, 0);
    assert_eq!(d.entries.len(), 2 * PER_WRITER as usize);
}

#[test]
fn reindexing_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cmds = [Cmd {
        at_ms: 700,
        argv: &["ls", "-la"],
        exit: 0,
    }];
    let (_, paths) = write_session(root, start(), "carol", &cmds, &[(800, b"total 0\r\n")]);
    let (_, paths2) = write_session(
        root,
        start() + Duration::seconds(5),
        "dave",
        &cmds,
        &[(800, b"x\r\n")],
    );
    index_session(root, &paths.events, &paths.cast).unwrap();
    index_session(root, &paths2.events, &paths2.cast).unwrap();
    let file = day_index_path(root, day());
    let once = fs::read(&file).unwrap();
    index_session(root, &paths.events, &paths.cast).unwrap();
    index_session(root, &paths2.events, &paths2.cast).unwrap();
    assert_eq!(fs::read(&file).unwrap(), once, "same session, same file");

    // A full rewrite of the same sessions gives the same entries, and is
    // itself idempotent byte for byte.
    let built = |p: &SessionPaths| {
        let b = build_session(root, &p.events, Some(&p.cast), true).unwrap();
        (b.entry, b.grams)
    };
    write_day(root, day(), vec![built(&paths), built(&paths2)]).unwrap();
    let rewritten = fs::read(&file).unwrap();
    assert_eq!(rewritten, once);
    write_day(root, day(), vec![built(&paths2), built(&paths)]).unwrap();
    assert_eq!(fs::read(&file).unwrap(), rewritten);

    // A session that grew is indexed again and supersedes the old entry.
    let mut f = OpenOptions::new().append(true).open(&paths.events).unwrap();
    f.write_all(b"\n").unwrap();
    index_session(root, &paths.events, &paths.cast).unwrap();
    let d = read_day(root, day()).unwrap().unwrap();
    assert_eq!(d.entries.len(), 2);
    assert_eq!(
        d.entries
            .iter()
            .find(|e| e.user.as_deref() == Some("carol"))
            .unwrap()
            .events_size,
        fs::metadata(&paths.events).unwrap().len()
    );
}

#[test]
fn truncated_last_line_is_tolerated() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (id, paths) = write_session(root, start(), "erin", &[], &[(5, b"hi\r\n")]);
    index_session(root, &paths.events, &paths.cast).unwrap();
    let file = day_index_path(root, day());
    // A torn append (crash mid-write) and a garbage line in the middle.
    let mut f = OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(b"{\"v\":1,\"id\":\"0000\n{\"v\":1,\"id\":\"01")
        .unwrap();
    drop(f);
    let d = read_day(root, day()).unwrap().unwrap();
    assert_eq!(d.entries.len(), 1);
    assert_eq!(d.entries[0].id, id);
    assert_eq!(d.bad_lines, 1, "the complete garbage line is counted");
    // The next append starts on a line of its own.
    let (id2, paths2) = write_session(
        root,
        start() + Duration::seconds(1),
        "frank",
        &[],
        &[(5, b"yo\r\n")],
    );
    index_session(root, &paths2.events, &paths2.cast).unwrap();
    let d = read_day(root, day()).unwrap().unwrap();
    let ids: Vec<Uuid> = d.entries.iter().map(|e| e.id).collect();
    assert_eq!(ids, [id, id2]);
    assert_eq!(d.bad_lines, 2);
    // A missing day is not an error.
    assert!(read_day(root, NaiveDate::from_ymd_opt(2001, 1, 1).unwrap())
        .unwrap()
        .is_none());
}

#[test]
fn truncated_cast_is_indexed_up_to_the_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let outputs: Vec<(u64, &[u8])> = (0..50u64)
        .map(|i| (i * 10, &b"line of output text here\r\n"[..]))
        .collect();
    let (_, paths) = write_session(root, start(), "gina", &[], &outputs);
    let len = fs::metadata(&paths.cast).unwrap().len();
    let f = OpenOptions::new().write(true).open(&paths.cast).unwrap();
    f.set_len(len - 7).unwrap();
    let mut n = 0;
    let summary = scan_cast(&paths.cast, |ev| {
        if matches!(ev, ScanEvent::Output { .. }) {
            n += 1;
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(summary.truncated);
    assert!(n > 0 && n < 50, "{n}");
    index_session(root, &paths.events, &paths.cast).unwrap();
    assert_eq!(read_day(root, day()).unwrap().unwrap().entries.len(), 1);
}
