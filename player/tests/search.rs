//! `sshlog search` and `sshlog index` as a user runs them, on a corpus
//! written here with the format library the way sshlogd writes it (framed
//! cast with a marker per command, sidecar), across several days, users,
//! clients, commands, exit codes and outputs.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use sshlog_format::cast::{CastVersion, Event, Header, SshlogMeta};
use sshlog_format::framed::{read_frame_index, FrameOptions, FramedCastWriter};
use sshlog_format::layout::{session_paths, SessionPaths};
use sshlog_format::sidecar::{write_record, Record, SessionEvent};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};
use uuid::Uuid;

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

struct Cmd {
    at_ms: u64,
    argv: &'static str,
    exit: i32,
}

struct Spec {
    start: DateTime<Utc>,
    user: &'static str,
    ip: &'static str,
    cmds: Vec<Cmd>,
    /// (ms, bytes, cut a frame after this event)
    output: Vec<(u64, &'static [u8], bool)>,
    extra: Vec<SessionEvent>,
    cast: bool,
    /// The connection's sshd pid.
    pid: u32,
}

impl Spec {
    fn new(start: DateTime<Utc>, user: &'static str, ip: &'static str) -> Spec {
        Spec {
            start,
            user,
            ip,
            cmds: Vec::new(),
            output: Vec::new(),
            extra: Vec::new(),
            cast: true,
            pid: 1000,
        }
    }
    fn cmd(mut self, at_ms: u64, argv: &'static str, exit: i32) -> Spec {
        self.cmds.push(Cmd { at_ms, argv, exit });
        self
    }
    fn out(mut self, at_ms: u64, data: &'static [u8]) -> Spec {
        self.output.push((at_ms, data, false));
        self
    }
    fn out_then_cut(mut self, at_ms: u64, data: &'static [u8]) -> Spec {
        self.output.push((at_ms, data, true));
        self
    }
    fn event(mut self, e: SessionEvent) -> Spec {
        self.extra.push(e);
        self
    }
    fn pid(mut self, pid: u32) -> Spec {
        self.pid = pid;
        self
    }
    fn no_cast(mut self) -> Spec {
        self.cast = false;
        self
    }
}

fn id_at(t: DateTime<Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp() as u64,
        t.timestamp_subsec_nanos(),
    );
    Uuid::new_v7(ts)
}

/// Write one session like sshlogd: the header time is rounded down to the
/// second (the start is recovered from the first command's marker).
fn write(root: &Path, s: &Spec) -> (String, SessionPaths) {
    let id = id_at(s.start);
    let paths = session_paths(root, s.start, id);
    std::fs::create_dir_all(&paths.dir).unwrap();
    let client = if s.ip.contains(':') {
        format!("[{}]:40000", s.ip)
    } else {
        format!("{}:40000", s.ip)
    };
    if s.cast {
        let mut header = Header::new(CastVersion::V2, 80, 24);
        header.timestamp = Some(s.start.timestamp());
        header.set_sshlog_meta(&SshlogMeta {
            session_id: Some(id),
            sshd_pid: Some(s.pid),
            tty: Some("/dev/pts/0".into()),
            user: Some(s.user.into()),
            client: Some(client),
            segment: Some(0),
            previous_segment: None,
            root: None,
        });
        let mut w = FramedCastWriter::new(
            File::create(&paths.cast).unwrap(),
            &header,
            FrameOptions::default(),
        )
        .unwrap();
        let mut events: Vec<(u64, Event, bool)> = s
            .output
            .iter()
            .map(|(ms, d, cut)| {
                (
                    *ms,
                    Event::Output {
                        time_us: ms * 1000,
                        data: d.to_vec(),
                    },
                    *cut,
                )
            })
            .collect();
        for c in &s.cmds {
            let marker = Event::Marker {
                time_us: c.at_ms * 1000,
                label: c.argv.into(),
            };
            events.push((c.at_ms, marker, false));
        }
        events.sort_by_key(|e| e.0);
        for (_, e, cut) in &events {
            w.write_event(e).unwrap();
            if *cut {
                w.flush_frame().unwrap();
            }
        }
        w.finish().unwrap();
    }
    let mut sc = File::create(&paths.events).unwrap();
    let mut put = |ms: i64, ev: SessionEvent| {
        let rec = Record::new(s.start + Duration::milliseconds(ms), Some(id), ev);
        write_record(&mut sc, &rec).unwrap();
    };
    put(
        20,
        SessionEvent::ConnectionEstablished {
            user: s.user.into(),
            client_ip: s.ip.into(),
            client_port: 40000,
            server_port: 22,
            tty: Some("/dev/pts/0".into()),
            sshd_pid: s.pid,
            existing_login: false,
            root: None,
        },
    );
    for (i, c) in s.cmds.iter().enumerate() {
        let argv: Vec<String> = c.argv.split(' ').map(String::from).collect();
        let pid = 2000 + i as u32;
        put(
            c.at_ms as i64,
            SessionEvent::CommandStart {
                pid,
                ppid: 1001,
                uid: 1000,
                user: Some(s.user.into()),
                argv: argv.clone(),
                argv_truncated: false,
                filename: argv[0].clone(),
                cwd: None,
            },
        );
        put(
            c.at_ms as i64 + 5,
            SessionEvent::CommandFinish {
                pid,
                exit_code: Some(c.exit),
                signal: None,
                duration_ms: 5,
                argv,
            },
        );
    }
    for e in &s.extra {
        put(100, e.clone());
    }
    put(
        120_000,
        SessionEvent::ConnectionClose {
            user: s.user.into(),
            sshd_pid: s.pid,
            duration_ms: 120_000,
            bytes_in: 0,
            bytes_out: 0,
        },
    );
    (id.to_string(), paths)
}

struct Corpus {
    dir: tempfile::TempDir,
    /// Session ids by name.
    s1: String,
    s2: String,
    s3: String,
    s4: String,
    s5: String,
    s6: String,
    paths: Vec<SessionPaths>,
}

fn corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ms = Duration::milliseconds;
    let day = |d, h| Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap();
    let now = Utc::now();
    let specs = [
        Spec::new(day(26, 9) + ms(300), "alice", "192.0.2.10")
            .cmd(1000, "ls -la", 0)
            .cmd(5500, "/usr/bin/nmap -sS 10.0.0.0/24", 0)
            .out(1100, b"total 0\r\n")
            .out(5600, b"Starting Nmap 7.93 ( https://nmap.org )\r\n"),
        Spec::new(day(27, 14) + ms(700), "bob", "198.51.100.7")
            .cmd(2000, "cat /etc/shadow", 1)
            .out(2100, b"cat: /etc/shadow: Permission denied\r\n")
            .event(SessionEvent::FileUpload {
                path: "/home/bob/x".into(),
                size: 3,
                user: Some("bob".into()),
                pid: 3000,
                program: "scp".into(),
            }),
        // The password line is split across two output events in two frames.
        Spec::new(day(28, 10), "alice", "2001:db8::5")
            .cmd(3000, "sudo rm -rf /tmp/x", 0)
            .out(3100, b"\x1b[1m$\x1b[0m ")
            .out_then_cut(10_000, b"the pass")
            .out(10_500, b"word is hunter2\r\n"),
        Spec::new(now - Duration::hours(1), "carol", "192.0.2.99")
            .cmd(500, "nmap localhost", 1)
            .out(600, b"nothing here\r\n"),
        Spec::new(now - Duration::hours(5), "dave", "203.0.113.5")
            .cmd(1200, "make", 2)
            .out(60_000, b"error: build failed\r\n")
            .event(SessionEvent::DataLoss {
                bytes_dropped: 10,
                events_dropped: 1,
                reason: "ring buffer full".into(),
            }),
        Spec::new(now - Duration::days(3), "erin", "192.0.2.200").no_cast(),
    ];
    let written: Vec<(String, SessionPaths)> = specs.iter().map(|s| write(root, s)).collect();
    // The split really spans two frames.
    let frames = read_frame_index(File::open(&written[2].1.cast).unwrap()).unwrap();
    assert!(frames.len() >= 3, "{frames:?}");
    let ids: Vec<String> = written.iter().map(|w| w.0.clone()).collect();
    Corpus {
        dir,
        s1: ids[0].clone(),
        s2: ids[1].clone(),
        s3: ids[2].clone(),
        s4: ids[3].clone(),
        s5: ids[4].clone(),
        s6: ids[5].clone(),
        paths: written.into_iter().map(|w| w.1).collect(),
    }
}

fn sshlog(root: &Path, args: &[&str]) -> Output {
    Command::new(SSHLOG)
        .arg("--log-dir")
        .arg(root)
        .args(args)
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .env_remove("SSHLOG_LOG_DIR")
        .output()
        .expect("run sshlog")
}

fn search(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    sshlog(root, &all)
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The ids found (exit status 0 required when any, 1 when none).
fn ids(root: &Path, args: &[&str]) -> Vec<String> {
    let mut a = args.to_vec();
    a.push("--json");
    let o = search(root, &a);
    let code = o.status.code();
    let found: Vec<String> = json_lines(&o)
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    let want = if found.is_empty() { 1 } else { 0 };
    assert_eq!(
        code,
        Some(want),
        "{args:?}: stderr {}",
        String::from_utf8_lossy(&o.stderr)
    );
    found
}

/// Offsets of the hits of each session: (id, command offsets, output offsets).
fn hits(root: &Path, args: &[&str]) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut a = args.to_vec();
    a.push("--json");
    let o = search(root, &a);
    json_lines(&o)
        .iter()
        .map(|v| {
            let offs = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["offset"].as_str().unwrap().to_string())
                    .collect()
            };
            (
                v["id"].as_str().unwrap().to_string(),
                offs("commands"),
                offs("output"),
            )
        })
        .collect()
}

/// Ids in start order (UUIDv7 ids sort by start time).
fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn none() -> Vec<String> {
    Vec::new()
}

/// Every criterion alone and combined: exactly the right sessions.
fn check_all_criteria(c: &Corpus) {
    let r = c.dir.path();
    // --cmd: glob on the name, on the line, on the line without the path; regex.
    assert_eq!(ids(r, &["--cmd", "nmap"]), sorted(&[&c.s1, &c.s4]));
    assert_eq!(ids(r, &["--cmd", "cat /etc/*"]), [c.s2.as_str()]);
    assert_eq!(ids(r, &["--cmd", "nmap -sS *"]), [c.s1.as_str()]);
    assert_eq!(ids(r, &["--cmd", "/^sudo .*rm -rf/"]), [c.s3.as_str()]);
    assert_eq!(ids(r, &["--cmd", "/shadow$/"]), [c.s2.as_str()]);
    assert_eq!(ids(r, &["--cmd", "nma"]), none());
    // --user
    assert_eq!(ids(r, &["--user", "alice"]), [c.s1.as_str(), c.s3.as_str()]);
    assert_eq!(ids(r, &["-u", "erin"]), [c.s6.as_str()]);
    // --since / --until, relative and absolute (TZ=UTC).
    assert_eq!(ids(r, &["--since", "2h"]), [c.s4.as_str()]);
    assert_eq!(ids(r, &["--since", "6h", "--until", "2h"]), [c.s5.as_str()]);
    assert_eq!(ids(r, &["--since", "4d", "--until", "1d"]), [c.s6.as_str()]);
    assert_eq!(
        ids(
            r,
            &["--since", "2025-03-27 00:00", "--until", "2025-03-28 23:59"]
        ),
        [c.s2.as_str(), c.s3.as_str()]
    );
    assert_eq!(
        ids(r, &["--until", "2025-03-26T23:59:59Z"]),
        [c.s1.as_str()]
    );
    assert_eq!(
        ids(
            r,
            &[
                "--since",
                "2025-03-28T10:00:00.001Z",
                "--until",
                "2025-03-29"
            ]
        ),
        none()
    );
    // --client: one address, v4 and v6 networks.
    assert_eq!(
        ids(r, &["--client", "192.0.2.0/24"]),
        sorted(&[&c.s1, &c.s4, &c.s6])
    );
    assert_eq!(ids(r, &["--client", "198.51.100.7"]), [c.s2.as_str()]);
    assert_eq!(ids(r, &["--client", "2001:db8::/32"]), [c.s3.as_str()]);
    assert_eq!(ids(r, &["--client", "10.0.0.0/8"]), none());
    // --exit-code, alone and for the same command as --cmd.
    assert_eq!(ids(r, &["--exit-code", "1"]), sorted(&[&c.s2, &c.s4]));
    assert_eq!(
        ids(r, &["--cmd", "nmap", "--exit-code", "1"]),
        [c.s4.as_str()]
    );
    assert_eq!(ids(r, &["--cmd", "ls", "--exit-code", "1"]), none());
    assert_eq!(ids(r, &["--exit-code", "2"]), [c.s5.as_str()]);
    // --event
    assert_eq!(ids(r, &["--event", "file_upload"]), [c.s2.as_str()]);
    assert_eq!(ids(r, &["--event", "data_loss"]), [c.s5.as_str()]);
    assert_eq!(
        ids(r, &["--event", "command_start,file_upload"]),
        [c.s2.as_str()]
    );
    assert_eq!(ids(r, &["-e", "file_upload", "-e", "data_loss"]), none());
    // --output: text, regex, case, the split line.
    assert_eq!(ids(r, &["--output", "Permission denied"]), [c.s2.as_str()]);
    assert_eq!(
        ids(r, &["--output", "password is hunter2"]),
        [c.s3.as_str()]
    );
    assert_eq!(ids(r, &["--output", "/hunter[0-9]/"]), [c.s3.as_str()]);
    assert_eq!(
        ids(r, &["--output", "/(Nmap|build) /"]),
        sorted(&[&c.s1, &c.s5])
    );
    assert_eq!(ids(r, &["--output", "STARTING NMAP"]), none());
    assert_eq!(
        ids(r, &["-i", "--output", "STARTING NMAP"]),
        [c.s1.as_str()]
    );
    assert_eq!(ids(r, &["--output", "not in any output"]), none());
    // Combinations.
    assert_eq!(
        ids(r, &["--user", "alice", "--output", "Nmap"]),
        [c.s1.as_str()]
    );
    assert_eq!(
        ids(
            r,
            &["--user", "alice", "--cmd", "nmap", "--client", "192.0.2.10"]
        ),
        [c.s1.as_str()]
    );
    assert_eq!(ids(r, &["--user", "bob", "--cmd", "nmap"]), none());
    assert_eq!(
        ids(
            r,
            &[
                "--client",
                "192.0.2.0/24",
                "--since",
                "1d",
                "--exit-code",
                "1"
            ]
        ),
        [c.s4.as_str()]
    );
    assert_eq!(
        ids(
            r,
            &[
                "--event",
                "file_upload",
                "--output",
                "/denied$/",
                "--until",
                "2025-03-28"
            ]
        ),
        [c.s2.as_str()]
    );
    // --limit keeps the first sessions.
    assert_eq!(
        ids(r, &["--user", "alice", "--limit", "1"]),
        [c.s1.as_str()]
    );
    assert_eq!(
        ids(r, &["--output", "/./", "-n", "2"]),
        [c.s1.as_str(), c.s2.as_str()]
    );
}

/// Hit positions: commands from the sidecar, output from the cast.
fn check_hit_times(c: &Corpus) {
    let r = c.dir.path();
    let mut want = vec![
        (c.s1.clone(), vec!["+0:05.5".to_string()], vec![]),
        (c.s4.clone(), vec!["+0:00.5".to_string()], vec![]),
    ];
    want.sort();
    assert_eq!(hits(r, &["--cmd", "nmap"]), want);
    assert_eq!(
        hits(r, &["--output", "Permission denied"]),
        [(c.s2.clone(), vec![], vec!["+0:02.1".to_string()])]
    );
    // The split match is reported where it starts (first event), a regex
    // match inside the second event at that event's time.
    assert_eq!(
        hits(r, &["--output", "password is hunter2"]),
        [(c.s3.clone(), vec![], vec!["+0:10.0".to_string()])]
    );
    assert_eq!(
        hits(r, &["--output", "/hunter[0-9]/"]),
        [(c.s3.clone(), vec![], vec!["+0:10.5".to_string()])]
    );
    assert_eq!(
        hits(r, &["--cmd", "sudo*", "--output", "pass"]),
        [(
            c.s3.clone(),
            vec!["+0:03.0".to_string()],
            vec!["+0:10.0".to_string()]
        )]
    );
    assert_eq!(
        hits(r, &["--output", "build failed"]),
        [(c.s5.clone(), vec![], vec!["+1:00.0".to_string()])]
    );
    // Text output: session line, then one line per hit with its context.
    let o = search(r, &["--output", "password is"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let head: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        head[2..6],
        ["alice", "[2001:db8::5]:40000", "/dev/pts/0", c.s3.as_str()]
    );
    assert_eq!(head[6], c.paths[2].cast.to_str().unwrap());
    assert_eq!(lines[1], "  +0:10.0  | $ the password is hunter2");
}

fn all_ids(c: &Corpus) -> Vec<String> {
    sorted(&[&c.s1, &c.s2, &c.s3, &c.s4, &c.s5, &c.s6])
}

#[test]
fn search_without_and_with_the_index() {
    let c = corpus();
    let r = c.dir.path();
    // No index yet: sidecars are read, with a note.
    let o = search(r, &["--user", "alice"]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("have no index") && err.contains("sshlog index"),
        "{err}"
    );
    check_all_criteria(&c);
    check_hit_times(&c);
    let queries: Vec<Vec<&str>> = vec![
        vec!["--json"],
        vec!["--cmd", "nmap", "--json"],
        vec!["--output", "hunter", "--json"],
        vec!["--exit-code", "1"],
        vec!["--output", "/e/", "--cmd", "*"],
    ];
    let before: Vec<Vec<u8>> = queries.iter().map(|q| search(r, q).stdout).collect();
    assert_eq!(ids(r, &[]), all_ids(&c));

    // Build the index.
    let o = sshlog(r, &["index"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(
        msg.starts_with("indexed 6 sessions (6 read, 0 unchanged)"),
        "{msg}"
    );
    assert!(r.join("index").is_dir());

    // Same answers, no note.
    let o = search(r, &["--user", "alice"]);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    check_all_criteria(&c);
    check_hit_times(&c);
    let after: Vec<Vec<u8>> = queries.iter().map(|q| search(r, q).stdout).collect();
    assert_eq!(before, after);
    let no_index: Vec<Vec<u8>> = queries
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q.push("--no-index");
            search(r, &q).stdout
        })
        .collect();
    assert_eq!(no_index, after);

    // Indexing again changes nothing.
    let files = |r: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(r.join("index"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let snapshot = files(r);
    let o = sshlog(r, &["index"]);
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(
        msg.starts_with("indexed 6 sessions (0 read, 6 unchanged)"),
        "{msg}"
    );
    assert!(msg.contains("(0 index files written)"), "{msg}");
    assert_eq!(files(r), snapshot);
    let o = sshlog(r, &["index", "--rebuild", r.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(files(r), snapshot, "a rebuild gives the same files");
}

#[test]
fn the_output_filter_skips_sessions_without_the_text() {
    let c = corpus();
    let r = c.dir.path();
    assert!(sshlog(r, &["index", "-q"]).status.success());
    // Ruin s1's cast without changing its size: only a search that opens
    // it notices.
    let cast = &c.paths[0].cast;
    let len = std::fs::metadata(cast).unwrap().len() as usize;
    std::fs::write(cast, vec![b'x'; len]).unwrap();
    assert_eq!(ids(r, &["--output", "Permission denied"]), [c.s2.as_str()]);
    let o = search(r, &["--output", "Permission denied", "--no-index"]);
    assert_eq!(o.status.code(), Some(2), "the damaged cast is an error");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("sshlog: cannot read ") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(
        json_lines(&search(
            r,
            &["--output", "Permission denied", "--no-index", "--json"]
        ))
        .len(),
        1
    );
}

#[test]
fn sessions_missing_from_the_index_are_still_found() {
    let c = corpus();
    let r = c.dir.path();
    assert!(sshlog(r, &["index", "-q"]).status.success());
    // A session recorded after the index was built (e.g. still live).
    let late = write(
        r,
        &Spec::new(
            Utc.with_ymd_and_hms(2025, 3, 27, 15, 0, 0).unwrap(),
            "zoe",
            "192.0.2.1",
        )
        .cmd(100, "nmap -p 22 host", 0),
    );
    let o = search(r, &["--cmd", "nmap", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 sessions are not in the index yet"), "{err}");
    let found: Vec<String> = json_lines(&o)
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found, sorted(&[&c.s1, &late.0, &c.s4]));
}

#[test]
fn exit_status_and_errors() {
    let c = corpus();
    let r = c.dir.path();
    let o = search(r, &["--user", "nobody"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    for bad in [
        vec!["--cmd", "/(/"],
        vec!["--output", "/[/"],
        vec!["--since", "soon"],
        vec!["--client", "300.1.1.1"],
        vec!["--event", "Bad-Type"],
    ] {
        let o = search(r, &bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("sshlog: ") && err.lines().count() == 1,
            "{bad:?}: {err}"
        );
    }
    let o = search(&r.join("missing"), &["--user", "alice"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no recordings in") && err.contains("--log-dir"),
        "{err}"
    );
    // Usage errors are clap's (2 as well).
    assert_eq!(search(r, &["--exit-code", "x"]).status.code(), Some(2));
    let o = sshlog(&r.join("missing"), &["index"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_agents_ssh_pid_names_play_export_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
    let (one, _) = write(
        root,
        &Spec::new(t0, "ann", "192.0.2.1")
            .pid(1352)
            .cmd(100, "whoami", 0)
            .out(200, b"ann\r\n"),
    );
    let (older, _) = write(
        root,
        &Spec::new(t0 + Duration::hours(1), "bob", "192.0.2.2")
            .pid(4242)
            .cmd(100, "ls", 0),
    );
    let (newer, _) = write(
        root,
        &Spec::new(t0 + Duration::hours(2), "bob", "192.0.2.2")
            .pid(4242)
            .cmd(100, "ls", 0),
    );
    for name in ["ssh_1352", "ssh_1352.cast"] {
        let o = sshlog(root, &["export", name, "--format", "txt"]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("ann"), "{name}");
    }
    let o = sshlog(root, &["play", "ssh_1352"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(contains(&o.stdout, b"ann\r\n"));

    let o = sshlog(root, &["play", "ssh_4242"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 recordings of sshd pid 4242 (latest first)"),
        "{err}"
    );
    let (a, b) = (
        err.find(&newer).expect("newer listed"),
        err.find(&older).expect("older listed"),
    );
    assert!(a < b, "latest first: {err}");

    let o = sshlog(root, &["play", "ssh_999"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no recording of sshd pid 999"));

    assert_eq!(ids(root, &["--pid", "ssh_4242"]), sorted(&[&older, &newer]));
    assert_eq!(ids(root, &["--pid", "1352"]), vec![one.clone()]);
    let o = search(root, &["--pid", "ssh_x"]);
    assert_eq!(o.status.code(), Some(2));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
