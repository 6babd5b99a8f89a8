//! End-to-end restarts of sshlogd (SIGTERM as systemd and package upgrades
//! do, and kill -9): the kernel half stays pinned and keeps recording into
//! the ring buffer, the next sshlogd takes it over, and sessions continue in
//! linked segments that together hold every byte the client saw; only what a
//! killed sshlogd had read but not yet written can be missing, and that
//! interval is marked. With `handover: false` the downtime is marked instead.

mod common;

use chrono::{DateTime, Utc};
use common::{contains, Recorder, Session};
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// The segments of the one session `sessions` holds, in order, checked to be
/// linked each to the one before.
fn segments(sessions: &[Session]) -> Vec<&Session> {
    let mut segs: Vec<(u32, &Session)> = sessions
        .iter()
        .map(|s| {
            let meta = s.cast_events().0.sshlog_meta().expect("sshlog meta");
            (meta.segment.unwrap_or(0), s)
        })
        .collect();
    segs.sort_by_key(|(n, _)| *n);
    for (k, (n, s)) in segs.iter().enumerate() {
        assert_eq!(*n as usize, k, "segment numbers 0, 1, 2, ...");
        if k > 0 {
            let seg = s.of_type("segment_start").next().expect("segment_start");
            assert_eq!(
                seg["previous_segment"],
                segs[k - 1].1.records[0]["session_id"]
            );
        }
    }
    segs.into_iter().map(|(_, s)| s).collect()
}

fn joined_output(segs: &[&Session]) -> Vec<u8> {
    segs.iter().flat_map(|s| s.output()).collect()
}

/// Waits (bounded) until the recordings of `user` hold `needle`.
fn wait_recorded(rec: &Recorder, user: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !rec
        .sessions_of(user)
        .iter()
        .any(|s| s.cast.exists() && contains(&s.output(), needle.as_bytes()))
    {
        assert!(
            Instant::now() < deadline,
            "{needle} never recorded: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The segment's recording_gap: (from, to, cause).
fn recording_gap(s: &Session) -> (DateTime<Utc>, DateTime<Utc>, String) {
    let gap = s.of_type("recording_gap").next().expect("recording_gap");
    let time = |k: &str| -> DateTime<Utc> {
        gap[k]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {gap}"))
    };
    (
        time("from"),
        time("to"),
        gap["cause"].as_str().unwrap_or("").to_string(),
    )
}

/// A shell loop printing numbered lines every 10 ms for `seconds`.
fn printing_loop(tag: &str, seconds: u32) -> String {
    format!(
        "end=$((SECONDS+{seconds})); i=0; while [ $SECONDS -lt $end ]; do i=$((i+1)); echo {tag}-$i; sleep 0.01; done"
    )
}

/// Runs a session that prints numbered lines for `seconds`; once the
/// recording holds line 5, `meanwhile` does its restarts. Returns the user
/// and what the client received.
fn print_while(
    rec: &mut Recorder,
    seconds: u32,
    meanwhile: impl FnOnce(&mut Recorder),
) -> (TestUser, sshlog_harness::Output) {
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let tag = random_suffix(6);
    let cmd = sshd.ssh(&user).timeout(Duration::from_secs(120));
    let script = printing_loop(&tag, seconds);
    let client = std::thread::scope(|s| {
        let printing = s.spawn(move || cmd.run(&script).expect("ssh"));
        wait_recorded(rec, user.name(), &format!("{tag}-5\r"));
        meanwhile(rec);
        printing.join().expect("thread")
    });
    assert_eq!(client.code(), Some(0));
    rec.wait_closed(user.name(), 1, WAIT);
    (user, client)
}

#[test]
fn sigterm_restarts_under_continuous_output_lose_no_byte() {
    if !require_root_or_skip("sigterm_restarts_lose_no_byte") {
        return;
    }
    let mut rec = Recorder::start();
    let (user, client) = print_while(&mut rec, 9, |rec| {
        for _ in 0..2 {
            rec.stop();
            // Output goes on while no sshlogd runs.
            std::thread::sleep(Duration::from_millis(800));
            rec.spawn();
            std::thread::sleep(Duration::from_millis(800));
        }
    });
    let sessions = rec.sessions_of(user.name());
    let segs = segments(&sessions);
    assert_eq!(segs.len(), 3, "one segment per sshlogd");
    for s in &segs[1..] {
        assert!(
            !s.output().is_empty(),
            "each later segment holds output (the restarts happened while it printed)"
        );
    }
    let recorded = joined_output(&segs);
    eprintln!(
        "segments of {:?} bytes, client {} bytes",
        segs.iter().map(|s| s.output().len()).collect::<Vec<_>>(),
        client.stdout.len()
    );
    assert!(
        recorded == client.stdout,
        "the segments ({} bytes) differ from what the client got ({} bytes)",
        recorded.len(),
        client.stdout.len()
    );
    for s in &segs {
        assert_eq!(s.of_type("recording_gap").count(), 0, "nothing is missing");
        assert_eq!(s.of_type("data_loss").count(), 0);
    }
    let logs = rec.daemon_logs();
    assert_eq!(
        logs.matches("took over the kernel half").count(),
        2,
        "{logs}"
    );
}

#[test]
fn kill_9_restart_keeps_what_the_ring_held_and_marks_only_the_unwritten() {
    if !require_root_or_skip("kill_9_restart") {
        return;
    }
    let mut rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let before = format!("before-{}", random_suffix(8));
    let during = format!("during-{}", random_suffix(8));
    let after = format!("after-{}", random_suffix(8));
    let mut session = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    session.send_line(&format!("echo {before}")).expect("type");
    session
        .wait_for_stdout(
            format!("\r{before}\r\n").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("echo before");
    // The first segment's cast holds the output (frames are written every second).
    wait_recorded(&rec, user.name(), &before);
    rec.kill9();
    session.send_line(&format!("echo {during}")).expect("type");
    session
        .wait_for_stdout(
            format!("\r{during}\r\n").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("echo during");
    rec.spawn();
    session.send_line(&format!("echo {after}")).expect("type");
    session
        .wait_for_stdout(format!("\r{after}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("echo after");
    session.send_line("exit 0").expect("exit");
    let out = session
        .wait_timeout(Duration::from_secs(20))
        .expect("session ends");
    assert_eq!(out.code(), Some(0));

    rec.wait_closed(user.name(), 1, WAIT);
    let sessions = rec.sessions_of(user.name());
    let segs = segments(&sessions);
    assert_eq!(segs.len(), 2, "two segments");
    let (first, second) = (segs[0], segs[1]);
    let est = second
        .of_type("connection_established")
        .next()
        .expect("established");
    assert_eq!(est["existing_login"], true);
    let meta = second.cast_events().0.sshlog_meta().expect("sshlog meta");
    assert_eq!(meta.segment, Some(1));
    assert_eq!(
        serde_json::json!(meta.previous_segment),
        first.records[0]["session_id"]
    );
    // The first segment, cut by kill -9, still decodes.
    assert!(contains(&first.output(), before.as_bytes()));
    // What the session showed while no sshlogd ran was kept by the kernel.
    assert!(
        contains(&second.output(), format!("{during}\r\n").as_bytes()),
        "the line typed while sshlogd was down is recorded"
    );
    assert!(contains(&second.output(), after.as_bytes()));
    // Nothing is recorded twice or out of place: the first segment is the
    // start of what the client saw, the second its end; what lies between
    // (read by the killed sshlogd, not yet written) is marked.
    let (a, b) = (first.output(), second.output());
    assert!(out.stdout.starts_with(&a), "first segment is a prefix");
    assert!(out.stdout.ends_with(&b), "second segment is a suffix");
    assert!(a.len() + b.len() <= out.stdout.len());
    let (from, to, cause) = recording_gap(second);
    assert_eq!(cause, "sshlogd was killed before writing what it had read");
    assert!(from <= to, "{from} .. {to}");
    assert!(
        second
            .markers()
            .iter()
            .any(|m| m.contains("not recorded (sshlogd was killed before writing")),
        "{:?}",
        second.markers()
    );
}

#[test]
fn a_session_made_while_sshlogd_is_stopped_is_recorded_whole_and_unload_detaches() {
    if !require_root_or_skip("session_while_stopped") {
        return;
    }
    let mut rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let word = format!("whole-{}", random_suffix(8));
    rec.stop();
    let out = sshd
        .ssh(&user)
        .run(&format!("echo {word}; exit 4"))
        .expect("ssh");
    assert_eq!(out.code(), Some(4));
    rec.spawn();
    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(
        s.output(),
        out.stdout,
        "recorded from the ring, byte for byte"
    );
    assert_eq!(s.established()["existing_login"], false);
    assert_eq!(s.established()["user"], user.name());
    let close = s.of_type("connection_close").next().expect("close");
    assert_eq!(close["user"], user.name());
    assert_eq!(s.of_type("recording_gap").count(), 0);

    // The kernel half stays pinned after a stop; --unload removes it.
    rec.stop();
    let pinned = sshlog_harness::files_under(rec.bpf.path());
    assert!(
        pinned
            .iter()
            .any(|p| p.to_string_lossy().contains("/links-")),
        "programs stay attached: {pinned:?}"
    );
    let unload = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--unload")
        .arg("--bpf-dir")
        .arg(rec.bpf.path())
        .output()
        .expect("sshlogd --unload");
    assert!(unload.status.success(), "{unload:?}");
    assert!(
        String::from_utf8_lossy(&unload.stderr).contains("removed the kernel half"),
        "{unload:?}"
    );
    assert!(!rec.bpf.path().exists(), "nothing left pinned");
}

#[test]
fn without_handover_the_downtime_is_marked_as_a_gap() {
    if !require_root_or_skip("handover_off_gap") {
        return;
    }
    let mut rec = Recorder::start_with("handover: false\n");
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let before = format!("before-{}", random_suffix(8));
    let during = format!("during-{}", random_suffix(8));
    let mut session = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    session.send_line(&format!("echo {before}")).expect("type");
    wait_recorded(&rec, user.name(), &before);
    rec.stop();
    assert!(
        sshlog_harness::files_under(rec.bpf.path()).is_empty(),
        "nothing stays pinned without handover"
    );
    let typed = chrono::Utc::now();
    session.send_line(&format!("echo {during}")).expect("type");
    session
        .wait_for_stdout(
            format!("\r{during}\r\n").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("echo during");
    rec.spawn();
    session.send_line("exit 0").expect("exit");
    session
        .wait_timeout(Duration::from_secs(20))
        .expect("session ends");
    rec.wait_closed(user.name(), 1, WAIT);
    let sessions = rec.sessions_of(user.name());
    let segs = segments(&sessions);
    assert_eq!(segs.len(), 2);
    assert!(
        !contains(&joined_output(&segs), during.as_bytes()),
        "output made while no sshlogd ran is not there"
    );
    let (from, to, cause) = recording_gap(segs[1]);
    assert_eq!(cause, "sshlogd was stopped");
    assert!(
        from <= typed && typed <= to,
        "the gap {from} .. {to} covers the line typed at {typed}"
    );
}

#[test]
fn a_second_sshlogd_on_the_same_kernel_half_is_refused() {
    if !require_root_or_skip("second_sshlogd_refused") {
        return;
    }
    let rec = Recorder::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("s.yaml"), "# defaults\n").expect("settings");
    let out = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--config")
        .arg(dir.path().join("s.yaml"))
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .arg("--socket")
        .arg(dir.path().join("sock"))
        .arg("--config-dir")
        .arg(dir.path().join("conf.d"))
        .arg("--bpf-dir")
        .arg(rec.bpf.path())
        .output()
        .expect("run sshlogd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(&format!(
            "another sshlogd uses {}",
            rec.bpf.path().display()
        )),
        "{err}"
    );
    assert!(rec.ping(), "the first one still runs");
    let unload = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--unload")
        .arg("--bpf-dir")
        .arg(rec.bpf.path())
        .output()
        .expect("sshlogd --unload");
    assert!(!unload.status.success(), "--unload under a running sshlogd");
    assert!(
        String::from_utf8_lossy(&unload.stderr).contains("another sshlogd uses"),
        "{unload:?}"
    );
    assert!(rec.bpf.path().exists());
}

#[test]
fn kill_9_under_continuous_output_keeps_every_byte_or_marks_the_gap() {
    if !require_root_or_skip("kill_9_continuous") {
        return;
    }
    let mut rec = Recorder::start();
    let (user, client) = print_while(&mut rec, 6, |rec| {
        rec.kill9();
        std::thread::sleep(Duration::from_millis(800));
        rec.spawn();
    });
    let sessions = rec.sessions_of(user.name());
    let segs = segments(&sessions);
    assert_eq!(segs.len(), 2);
    let (a, b) = (segs[0].output(), segs[1].output());
    eprintln!(
        "segments of [{}, {}] bytes, client {} bytes",
        a.len(),
        b.len(),
        client.stdout.len()
    );
    assert!(client.stdout.starts_with(&a), "first segment is a prefix");
    assert!(client.stdout.ends_with(&b), "second segment is a suffix");
    let missing = client.stdout.len() - a.len() - b.len();
    let gap = recording_gap(segs[1]);
    assert!(gap.0 <= gap.1, "{gap:?}");
    // Only what the killed sshlogd had read and not written can be missing:
    // less than one frame's worth (frames are written every second).
    assert!(missing < 64 * 1024, "{missing} bytes missing");
}
