//! End-to-end: recordings made by the real sshlogd are sealed; `sshlog verify`
//! finds them intact, then reports a modified cast and a removed recording.

mod common;

use common::*;
use sshlog_harness::{require_root_or_skip, Sshd, TestUser};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Sidecars of `user`'s recordings once all `n` are sealed.
fn sealed_sidecars(rec: &Recorder, user: &str, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut found = Vec::new();
        for p in walk(&rec.dir.path().join("sessions")) {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if p.to_string_lossy().ends_with(".events.jsonl")
                && text.contains(&format!("\"user\":\"{user}\""))
                && text
                    .lines()
                    .last()
                    .is_some_and(|l| l.contains("\"type\":\"seal\""))
            {
                found.push(p);
            }
        }
        if found.len() >= n {
            found.sort();
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{n} sealed recordings not found: {}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    sshlog_harness::files_under(dir)
}

fn verify(rec: &Recorder) -> (Option<i32>, String) {
    let mut c = sshlog(rec);
    c.arg("verify");
    let o = c.output().expect("sshlog verify");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn verify_detects_modified_and_removed_recordings() {
    if !require_root_or_skip("verify") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    for i in 0..2 {
        let out = sshd.ssh(&user).run(&format!("echo run-{i}")).expect("ssh");
        assert_eq!(out.code(), Some(0));
        sealed_sidecars(&rec, user.name(), i + 1);
    }
    let sidecars = sealed_sidecars(&rec, user.name(), 2);
    let (code, text) = verify(&rec);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        !text.contains("MODIFIED") && !text.contains("MISSING"),
        "{text}"
    );

    // Flip one byte of the first cast.
    let cast = PathBuf::from(
        sidecars[0]
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    );
    let original = std::fs::read(&cast).expect("cast");
    let mut bytes = original.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&cast, &bytes).expect("tamper");
    let (code, text) = verify(&rec);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("MODIFIED") && text.contains("cast changed"),
        "{text}"
    );
    std::fs::write(&cast, &original).expect("restore");
    assert_eq!(verify(&rec).0, Some(0));

    // Remove the first recording entirely: the next one in the chain names it.
    std::fs::remove_file(&cast).expect("rm cast");
    std::fs::remove_file(&sidecars[0]).expect("rm sidecar");
    let (code, text) = verify(&rec);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("MISSING"), "{text}");
}
