//! End-to-end: `sshlog follow` and `sshlog attach` against the real sshlogd and a
//! real interactive ssh session.

mod common;

use common::*;
use sshlog_harness::{random_suffix, require_root_or_skip, Spawned, Sshd, TestUser};
use std::time::{Duration, Instant};

#[test]
fn follow_shows_the_current_screen_then_live_output_and_ends_with_the_session() {
    if !require_root_or_skip("follow_cli") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut session = open_session(&sshd, &user);
    let before = format!("before-{}", random_suffix(6));
    session.send_line(&format!("echo {before}")).expect("type");
    session
        .wait_for_stdout(
            format!("\r{before}\r\n").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("before");
    let info = wait_for_session(&rec, user.name());
    let tty = info["tty"].as_str().expect("tty").to_string();

    let mut cmd = sshlog(&rec);
    cmd.args(["follow", &tty]);
    let mut follow = Spawned::spawn(&mut cmd, "sshlog follow").expect("start follow");
    // The screen drawn first already shows the earlier output.
    follow
        .wait_for_stdout(before.as_bytes(), Duration::from_secs(10))
        .expect("screen has earlier output");

    let live = format!("live-{}", random_suffix(6));
    let sent = Instant::now();
    session.send_line(&format!("echo {live}")).expect("type");
    follow
        .wait_for_stdout(format!("\r{live}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("live output");
    eprintln!("follow latency (informational): {:?}", sent.elapsed());

    session.send_line("exit").expect("exit");
    session
        .wait_timeout(Duration::from_secs(10))
        .expect("session ends");
    let out = follow
        .wait_timeout(Duration::from_secs(10))
        .expect("follow ends with the session");
    assert_eq!(out.code(), Some(0), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("the session ended"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn attach_is_read_only_by_default_and_types_when_allowed() {
    if !require_root_or_skip("attach_cli") {
        return;
    }
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");

    // Default settings: read-only, says so, Ctrl+Q leaves, nothing typed.
    {
        let rec = Recorder::start();
        let mut session = open_session(&sshd, &user);
        let tty = wait_for_session(&rec, user.name())["tty"]
            .as_str()
            .expect("tty")
            .to_string();
        let mut cmd = sshlog(&rec);
        cmd.args(["attach", &tty])
            .stdin(std::process::Stdio::piped());
        let mut attach = Spawned::spawn(&mut cmd, "sshlog attach").expect("attach");
        attach
            .write(b"echo should-not-run\n\x11".to_vec())
            .expect("keys");
        let out = attach
            .wait_timeout(Duration::from_secs(10))
            .expect("Ctrl+Q detaches");
        assert_eq!(out.code(), Some(0), "{}", out.stderr_text());
        assert!(
            out.stderr_text().contains("read-only"),
            "{}",
            out.stderr_text()
        );
        session.send_line("exit").expect("exit");
        let client = session.wait_timeout(Duration::from_secs(10)).expect("ends");
        assert!(
            !contains(&client.stdout, b"\rshould-not-run\r\n"),
            "read-only attach typed"
        );
    }

    let rec = Recorder::start_with("allow_injection: true\n");
    let mut session = open_session(&sshd, &user);
    let tty = wait_for_session(&rec, user.name())["tty"]
        .as_str()
        .expect("tty")
        .to_string();
    let mut cmd = sshlog(&rec);
    cmd.args(["attach", &tty])
        .stdin(std::process::Stdio::piped());
    let mut attach = Spawned::spawn(&mut cmd, "sshlog attach").expect("attach");
    let word = format!("typed-{}", random_suffix(6));
    attach
        .write(format!("echo {word}\n").into_bytes())
        .expect("keys");
    // The user's own terminal shows the command the administrator typed, and its output.
    session
        .wait_for_stdout(format!("\r{word}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("injected");
    attach
        .wait_for_stdout(format!("\r{word}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("attach sees it");
    attach.write(vec![0x11]).expect("Ctrl+Q");
    let out = attach
        .wait_timeout(Duration::from_secs(10))
        .expect("detaches");
    assert_eq!(out.code(), Some(0), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("interactive"),
        "{}",
        out.stderr_text()
    );
    session.send_line("exit").expect("exit");
    session.wait_timeout(Duration::from_secs(10)).expect("ends");
}
