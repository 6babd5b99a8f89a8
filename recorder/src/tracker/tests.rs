//! Unit tests of the tracker, driven by synthetic kernel events.

use super::*;
use crate::kernel_events::Header as KHeader;

#[test]
fn strips_terminal_escapes() {
    let s = "\x1b[?2004h\x1b]0;bob@vm: ~\x07bob@vm:~$ ls\r\n\x1b[01;34mdir\x1b[0m\r\n";
    assert_eq!(strip_escapes(s), "bob@vm:~$ ls\ndir\n");
}

#[derive(Default)]
struct VecSink(Vec<Record>);
impl Sink for VecSink {
    fn emit(&mut self, rec: &Record, _ctx: &SessionContext) {
        self.0.push(rec.clone());
    }
}

/// Keeps every record with the output attributed to it (command_finish).
#[derive(Default)]
struct FinishSink(Vec<(Record, Option<String>)>);
impl Sink for FinishSink {
    fn emit(&mut self, rec: &Record, ctx: &SessionContext) {
        self.0.push((rec.clone(), ctx.command_output.clone()));
    }
    fn wants(&self, event_type: &str) -> bool {
        event_type == "command_finish"
    }
}

const CONN: u32 = u32::MAX - 10; // no such process: /proc lookups find nothing

fn h(pid: u32, ppid: u32, ts_ns: u64) -> KHeader {
    KHeader {
        pid,
        conn: CONN,
        ppid,
        ts_ns,
    }
}

/// An exec of `filename` with `argv` (cwd /root, uid 0).
fn exec(h: KHeader, filename: &str, argv: &[&str], session_leader: bool) -> KernelEvent {
    KernelEvent::Exec(crate::kernel_events::Exec {
        h,
        uid: 0,
        gid: 0,
        comm: filename.rsplit('/').next().unwrap_or(filename).into(),
        filename: filename.into(),
        argv: argv.iter().map(|a| a.to_string()).collect(),
        argv_truncated: false,
        cwd: Some("/root".into()),
        session_leader,
    })
}

/// sshd's read of `text` from the pty master (fd 9, pts 7), begun at
/// `start_ns`, returned at `h.ts_ns`.
fn pty_read(h: KHeader, start_ns: u64, text: &[u8]) -> KernelEvent {
    KernelEvent::Data {
        h,
        start_ns,
        fd: 9,
        input: false,
        stream: Stream::Pty,
        pts: Some(7),
        data: text.to_vec(),
    }
}

/// Connection `CONN` from `base` on: sshd's session child (CONN - 3) forks
/// the user's login shell (CONN - 1), a session leader, at `base + 1_000`.
fn log_in(t: &mut Tracker, base: u64, sink: &mut dyn Sink) {
    t.handle(KernelEvent::ConnNew(h(CONN, 1, base)), sink);
    t.handle(KernelEvent::Fork(h(CONN - 3, CONN, base + 500)), sink);
    t.handle(KernelEvent::Fork(h(CONN - 1, CONN - 3, base + 600)), sink);
    let bash = exec(
        h(CONN - 1, CONN - 3, base + 1_000),
        "/bin/bash",
        &["-bash"],
        true,
    );
    t.handle(bash, sink);
}

fn tracker(dir: &std::path::Path) -> Tracker {
    Tracker::new(Options {
        log_dir: dir.to_path_buf(),
        frame: FrameOptions::default(),
        capture_input: false,
        allow_injection: false,
        allow_kill: false,
        outbound_ignore: Vec::new(),
        after_finish: None,
        sealer: std::sync::Arc::new(crate::sealer::Sealer::new(
            Some(sshlog_format::seal::SealKey::from_seed([5; 32])),
            dir,
        )),
    })
}

#[test]
fn dropped_bytes_become_a_data_loss_event_and_a_visible_marker() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let mut sink = VecSink::default();
    let base = Clock::mono_now();
    log_in(&mut t, base, &mut sink);
    let data = pty_read(h(CONN - 2, CONN, base + 2_000), base + 1_900, b"before\r\n");
    t.handle(data, &mut sink);
    let lost = ConnCounters {
        dropped_bytes: 500,
        dropped_events: 2,
        ..Default::default()
    };
    t.tick(&HashMap::from([(CONN, lost)]), &mut sink);
    // The same counters again are not a new loss.
    t.tick(&HashMap::from([(CONN, lost)]), &mut sink);
    t.handle(
        KernelEvent::Exit {
            h: h(CONN, 1, base + 9_000),
            status: 0,
        },
        &mut sink,
    );
    t.tick(&HashMap::new(), &mut sink); // the close happens at the next tick

    let types: Vec<&str> = sink.0.iter().map(|r| r.event.type_name()).collect();
    assert_eq!(
        types,
        [
            "connection_established",
            "command_start",
            "data_loss",
            "connection_close"
        ],
        "{types:?}"
    );
    match &sink.0[2].event {
        SessionEvent::DataLoss {
            bytes_dropped,
            events_dropped,
            ..
        } => {
            assert_eq!((*bytes_dropped, *events_dropped), (500, 2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t.stats.bytes_dropped, 500);
    t.shutdown(); // waits for the finisher thread (sync, seal, index)
    let cast = crate::tests_support::only_file(dir.path(), ".cast.zst");
    let (_, events) = sshlog_format::read_cast_file(&cast).unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Output { data, .. } if data == b"before\r\n")));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Marker { label, .. } if label.contains("500 bytes lost"))));
    let sidecar =
        std::fs::read_to_string(crate::tests_support::only_file(dir.path(), ".events.jsonl"))
            .unwrap();
    assert_eq!(sidecar.lines().count(), 5);
    assert!(
        sidecar
            .lines()
            .last()
            .is_some_and(|l| l.contains("\"type\":\"seal\"")),
        "{sidecar}"
    );
    let report = sshlog_format::seal::verify_dir(dir.path(), &Default::default()).unwrap();
    assert!(report.ok() && report.intact.len() == 1, "{report:?}");
    assert!(
        !dir.path()
            .join("state")
            .join(format!("{CONN}.json"))
            .exists(),
        "live state removed at close"
    );
}

#[test]
fn a_connection_that_never_logs_in_is_an_auth_failure_not_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let mut sink = VecSink::default();
    let base = Clock::mono_now();
    t.handle(KernelEvent::ConnNew(h(CONN, 1, base)), &mut sink);
    let text =
        "Connection closed by authenticating user eve 127.0.0.1 port 4242 [preauth]".to_string();
    t.handle(
        KernelEvent::Log {
            h: h(CONN, 1, base + 10),
            text: text.clone(),
        },
        &mut sink,
    );
    t.handle(
        KernelEvent::Log {
            h: h(CONN, 1, base + 20),
            text,
        },
        &mut sink,
    );
    t.handle(
        KernelEvent::Exit {
            h: h(CONN, 1, base + 30),
            status: 0,
        },
        &mut sink,
    );
    t.tick(&HashMap::new(), &mut sink);
    assert_eq!(sink.0.len(), 1);
    match &sink.0[0].event {
        SessionEvent::ConnectionAuthFailed { user, method, .. } => {
            assert_eq!(user.as_deref(), Some("eve"));
            assert_eq!(*method, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !dir.path().join("sessions").exists(),
        "no recording for a failed login"
    );
}

#[test]
fn a_reused_connection_pid_closes_the_old_connection_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let mut sink = VecSink::default();
    let base = Clock::mono_now();
    t.handle(KernelEvent::ConnNew(h(CONN, 1, base)), &mut sink);
    let data = |ts| pty_read(h(CONN - 2, CONN, ts), ts, b"first\r\n");
    t.handle(data(base + 1_000), &mut sink);
    // The exit was never seen (e.g. lost while the ring was full), and the
    // kernel starts a new connection with the same pid.
    t.handle(KernelEvent::ConnNew(h(CONN, 1, base + 5_000)), &mut sink);
    let types: Vec<&str> = sink.0.iter().map(|r| r.event.type_name()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "connection_close").count(),
        1,
        "{types:?}"
    );
    t.handle(data(base + 6_000), &mut sink);
    let established = sink
        .0
        .iter()
        .filter(|r| r.event.type_name() == "connection_established")
        .count();
    assert_eq!(established, 2, "a second recording for the new connection");
}

/// sshd took bash's last bytes before the command ran, but its read
/// returned (and went into the ring) only after the command had exited:
/// that read does not end the command's output; the next one, which holds
/// what the command printed, does.
#[test]
fn a_read_begun_before_the_exit_does_not_end_the_commands_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let mut sink = FinishSink::default();
    let base = Clock::mono_now();
    let read = |start_ns, ts, text: &[u8]| pty_read(h(CONN - 2, CONN, ts), start_ns, text);
    log_in(&mut t, base, &mut sink);
    t.handle(read(base + 1_500, base + 2_000, b"$ "), &mut sink);
    let echo = exec(
        h(CONN - 5, CONN - 1, base + 10_000),
        "/bin/echo",
        &["/bin/echo", "42"],
        false,
    );
    t.handle(echo, &mut sink);
    let exit = KernelEvent::Exit {
        h: h(CONN - 5, CONN - 1, base + 20_000),
        status: 0,
    };
    t.handle(exit, &mut sink);
    // Begun before the echo ran, returned after it exited.
    t.handle(
        read(base + 9_000, base + 21_000, b"\x1b[?2004l\r"),
        &mut sink,
    );
    t.handle(read(base + 22_000, base + 23_000, b"42\r\n"), &mut sink);
    t.handle(read(base + 24_000, base + 25_000, b"$ "), &mut sink);
    let finish = sink
        .0
        .iter()
        .find(|(r, _)| {
            matches!(&r.event, SessionEvent::CommandFinish { argv, .. } if argv[0] == "/bin/echo")
        })
        .expect("command_finish of echo");
    assert_eq!(finish.1.as_deref(), Some("\x1b[?2004l\r42\r\n"));
}
