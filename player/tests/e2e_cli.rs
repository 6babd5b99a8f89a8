//! End-to-end: the real sshlogd (eBPF) records a real `ssh -tt` session
//! against a throw-away sshd; `sshlog sessions`, `watch`, `stats` and
//! `play` are run as a user would. Needs root; skipped locally without it,
//! a failure in CI (`CI=true`).

mod common;

use common::*;
use sshlog_harness::{random_suffix, require_root_or_skip, Spawned, Sshd, TestUser};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn watch(rec: &Recorder, extra: &[&str]) -> Spawned {
    let mut c = sshlog(rec);
    c.arg("watch").args(extra);
    Spawned::spawn(&mut c, format!("sshlog watch {extra:?}")).expect("start sshlog watch")
}

/// Ctrl+C: SIGINT, then the (bounded) exit.
fn interrupt(p: &mut Spawned) -> sshlog_harness::Output {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(p.pid() as i32, libc::SIGINT) };
    p.wait_timeout(Duration::from_secs(10))
        .expect("sshlog watch stops on SIGINT")
}

#[test]
fn sessions_watch_stats_and_play_against_the_real_daemon() {
    if !require_root_or_skip("sessions_watch_stats_and_play_against_the_real_daemon") {
        return;
    }
    let mut rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut shell = sshd.ssh(&user).spawn(None).expect("ssh login shell");
    let ready = format!("ready-{}", random_suffix(6));
    // The quotes keep the typed echo from matching: only the output does.
    shell
        .send_line(&format!("echo '{}''{}'", &ready[..3], &ready[3..]))
        .expect("type");
    shell
        .wait_for_stdout(ready.as_bytes(), WAIT)
        .expect("shell is up");

    // sessions: the open session, with user, tty and client.
    let s = wait_for_session(&rec, user.name());
    assert!(
        s["tty"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{s}"
    );
    assert!(
        s["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{s}"
    );
    assert!(s["sshd_pid"].as_u64().is_some_and(|p| p > 0), "{s}");
    assert_eq!(s["existing_login"], false);
    let mut c = sshlog(&rec);
    c.arg("sessions");
    let table = run_ok(c);
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{} ", user.name())))
        .unwrap_or_else(|| panic!("no row for {} in:\n{table}", user.name()));
    assert!(
        row.contains(s["tty"].as_str().unwrap_or("?")) && row.contains("127.0.0.1:"),
        "{row}"
    );
    assert!(table.starts_with("USER "), "{table}");

    // watch: command_start events as they happen, filtered by type; a
    // watcher filtering on another user sees nothing.
    let mut w = watch(&rec, &["--type", "command_start"]);
    let mut other = watch(&rec, &["--user", "nobody-in-particular"]);
    let needle = b"executed /bin/echo x";
    let deadline = Instant::now() + WAIT;
    // The watcher may subscribe after the first echo: repeat until seen.
    while !contains(&w.stdout_so_far(), needle) {
        assert!(
            Instant::now() < deadline,
            "watch did not show the command within {WAIT:?}; stdout {:?}, stderr {:?}\n{}",
            String::from_utf8_lossy(&w.stdout_so_far()),
            String::from_utf8_lossy(&w.stderr_so_far()),
            rec.logs()
        );
        shell.send_line("/bin/echo x").expect("type");
        let _ = w.wait_for_stdout(needle, Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_millis(300));
    let seen = String::from_utf8_lossy(&w.stdout_so_far()).into_owned();
    for line in seen.lines() {
        assert!(line.contains(" command_start ("), "not filtered: {line}");
    }
    let line = seen
        .lines()
        .find(|l| l.contains("executed /bin/echo x"))
        .expect("line");
    assert!(line.contains(user.name()), "{line}");
    assert!(
        other.stdout_so_far().is_empty(),
        "user filter leaked: {:?}",
        String::from_utf8_lossy(&other.stdout_so_far())
    );
    let o = interrupt(&mut w);
    assert!(
        o.success(),
        "watch ends with 0 on Ctrl+C: {}",
        o.stderr_text()
    );
    assert!(o.stderr.is_empty(), "{}", o.stderr_text());
    assert!(interrupt(&mut other).success());

    // stats
    let mut c = sshlog(&rec);
    c.arg("stats");
    let stats = run_ok(c);
    assert!(stats.contains("kernel_events"), "{stats}");
    assert!(stats.contains("live_sessions"), "{stats}");

    // play by session id once the session is over: exactly the recorded output.
    let id = s["session_id"].as_str().expect("session id").to_string();
    shell.send_line("exit").expect("type");
    shell.wait_timeout(WAIT).expect("ssh ends");
    let cast = wait_for_close(&rec, &id);
    let (_, events) = sshlog_format::read_cast_file(&cast).expect("cast decodes");
    let mut want = Vec::new();
    for e in events {
        if let sshlog_format::Event::Output { data, .. } = e {
            want.extend_from_slice(&data);
        }
    }
    assert!(contains(&want, ready.as_bytes()));
    let mut c = sshlog(&rec);
    c.args(["play", &id, "--speed", "1000", "--idle-time-limit", "0.1"]);
    let o = c.output().expect("play");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, want);

    // The daemon going away ends watch with an error.
    let mut w = watch(&rec, &[]);
    std::thread::sleep(Duration::from_millis(500));
    rec.stop();
    let o = w
        .wait_timeout(WAIT)
        .expect("watch notices the daemon stopping");
    assert_eq!(o.code(), Some(1));
    let err = o.stderr_text();
    assert!(
        err.starts_with("sshlog: ") && err.lines().count() == 1,
        "{err:?}"
    );
}

/// Waits (bounded) until the sidecar of session `id` has its
/// `connection_close`; returns the cast path.
fn wait_for_close(rec: &Recorder, id: &str) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(events) = find(
            &rec.dir.path().join("sessions"),
            &format!("{id}.events.jsonl"),
        ) {
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            if text.contains("\"type\":\"connection_close\"") {
                return events.with_file_name(format!("{id}.cast.zst"));
            }
        }
        assert!(
            Instant::now() < deadline,
            "session {id} not closed within {WAIT:?}\n{}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
