//! End-to-end robustness of the capture: large output byte for byte, many
//! concurrent sessions kept apart (overload is in `e2e_overload.rs`, restarts
//! and `kill -9` of sshlogd in `e2e_restart.rs`).

mod common;

use common::{contains, Recorder};
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::io::Write;
use std::os::unix::fs::chown;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// 50 MB of random printable ASCII in lines, written into the user's home.
fn printable_file(user: &TestUser, bytes: usize) -> std::path::PathBuf {
    let path = user.home().join("big.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut line = Vec::with_capacity(101);
    let mut written = 0;
    while written < bytes {
        line.clear();
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(b' ' + (x % 95) as u8);
        }
        line.push(b'\n');
        f.write_all(&line).expect("write");
        written += line.len();
    }
    f.flush().expect("flush");
    chown(&path, Some(user.uid()), Some(user.gid())).expect("chown");
    path
}

#[test]
fn fifty_megabytes_through_a_pty_are_recorded_byte_for_byte() {
    if !require_root_or_skip("fifty_megabytes") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let path = printable_file(&user, 50 * 1024 * 1024);
    let out = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(240))
        .run(&format!("cat {}", path.display()))
        .expect("ssh cat");
    assert_eq!(out.code(), Some(0));
    assert!(
        out.stdout.len() > 50 * 1024 * 1024,
        "client got {} bytes",
        out.stdout.len()
    );
    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    let recorded = sessions[0].output();
    assert_eq!(
        recorded.len(),
        out.stdout.len(),
        "recorded length differs from what the client got"
    );
    assert!(
        recorded == out.stdout,
        "recorded bytes differ from what the client got"
    );
    assert!(
        sessions[0].of_type("data_loss").next().is_none(),
        "data loss reported"
    );
    // (The global kernel counters are not checked: a test running in parallel
    // overloads every sshlogd on the machine on purpose.)
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert!(
        stats["stats"]["bytes_recorded"].as_u64() >= Some(out.stdout.len() as u64),
        "{stats}"
    );
}

#[test]
fn twenty_concurrent_sessions_are_recorded_completely_and_separately() {
    if !require_root_or_skip("twenty_concurrent_sessions") {
        return;
    }
    let rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let tag = random_suffix(6);
    let outputs: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|k| {
                let cmd = sshd.ssh(&user).timeout(Duration::from_secs(120));
                let tag = tag.clone();
                s.spawn(move || {
                    let out = cmd
                        .run(&format!(
                            "for i in $(seq 1 300); do echo {tag}-s{k}-line-$i; done"
                        ))
                        .expect("ssh");
                    assert_eq!(out.code(), Some(0));
                    out.stdout
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let sessions = rec.wait_closed(user.name(), 20, WAIT);
    assert_eq!(sessions.len(), 20);
    for (k, client_out) in outputs.iter().enumerate() {
        let mine = format!("{tag}-s{k}-line-1\r");
        let s = sessions
            .iter()
            .find(|s| contains(&s.output(), mine.as_bytes()))
            .unwrap_or_else(|| panic!("no recording holds session {k}"));
        assert_eq!(&s.output(), client_out, "session {k} not recorded exactly");
    }
}
