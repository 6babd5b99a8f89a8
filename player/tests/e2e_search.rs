//! End-to-end: sshlogd indexes recordings as they finish; `sshlog search` finds
//! them through the index by user, command, exit code and output.

mod common;

use common::*;
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::time::{Duration, Instant};

#[test]
fn recordings_are_indexed_as_they_finish_and_searchable() {
    if !require_root_or_skip("e2e_search") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let word = format!("needle-{}", random_suffix(8));
    let out = sshd
        .ssh(&user)
        .run(&format!("/bin/echo {word}; /bin/false; exit 0"))
        .expect("ssh");
    assert_eq!(out.code(), Some(0));

    // The index gets the session shortly after it closes.
    let deadline = Instant::now() + WAIT;
    loop {
        let indexed = std::fs::read_dir(rec.dir.path().join("index"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .contains(user.name())
            });
        if indexed {
            break;
        }
        assert!(Instant::now() < deadline, "not indexed: {}", rec.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    let search = |args: &[&str]| {
        let mut c = sshlog(&rec);
        c.arg("search").args(args);
        let o = c.output().expect("sshlog search");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = search(&["--user", user.name(), "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        !stderr.contains("not indexed"),
        "found through the index: {stderr}"
    );
    let (code, stdout, _) = search(&["--user", user.name(), "--cmd", "false", "--exit-code", "1"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout, _) = search(&["--user", user.name(), "--output", &word]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains(&word), "{stdout}");
    let (code, _, _) = search(&["--user", user.name(), "--output", "no-such-text-anywhere"]);
    assert_eq!(code, Some(1));
}
