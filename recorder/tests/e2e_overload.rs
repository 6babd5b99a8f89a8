//! A fast session overloading a tiny ring buffer: every byte is recorded or
//! reported lost. In a test binary of its own: every sshlogd on the machine
//! records every session, so this flood would overflow the rings of tests
//! running beside it (they would report the loss, but their byte-for-byte
//! assertions would fail).

mod common;

use common::Recorder;
use sshlog_harness::{require_root_or_skip, Sshd, TestUser};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn overload_of_a_tiny_ring_buffer_is_counted_never_silent() {
    if !require_root_or_skip("overload_drops_counted") {
        return;
    }
    // A 64 KiB ring buffer and a fast session without a pty: sshlogd falls behind.
    let rec = Recorder::start_with("ring_buffer_mb: 0\n");
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let out = sshd
        .ssh(&user)
        .no_tty()
        .timeout(Duration::from_secs(240))
        .run("head -c 200000000 /dev/zero")
        .expect("ssh");
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout.len(), 200_000_000);
    let sessions = rec.wait_closed(user.name(), 1, WAIT);
    let s = &sessions[0];
    let recorded = s.output().len() as u64;
    let lost: u64 = s
        .of_type("data_loss")
        .map(|r| r["bytes_dropped"].as_u64().unwrap_or(0))
        .sum();
    eprintln!("recorded {recorded} bytes, reported lost {lost} bytes");
    assert_eq!(
        recorded + lost,
        out.stdout.len() as u64,
        "every byte is recorded or reported lost"
    );
    if lost > 0 {
        let (_, events) = s.cast_events();
        assert!(
            events.iter().any(|e| matches!(e, sshlog_format::Event::Marker { label, .. } if label.contains("bytes lost"))),
            "the gap is marked in the cast"
        );
    }
}
