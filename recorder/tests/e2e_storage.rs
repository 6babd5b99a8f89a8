//! End-to-end: the log directory's filesystem fills up mid-session. sshlogd keeps
//! running, reports the failure (stats and a storage_error event), keeps what it
//! could not write, and resumes when space returns; the recording stays decodable
//! and holds the output from before, during and after, and so does its search
//! filter.

mod common;

use common::{contains, Recorder};
use sshlog_format::index::filter::trigrams;
use sshlog_format::index::{day_from_path, read_day_grams};
use sshlog_harness::{random_suffix, require_root_or_skip, SmallFs, Sshd, TestUser};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Fills the filesystem until a write fails.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0x5au8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.flush();
}

fn wait_until(what: &str, rec: &Recorder, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_full_disk_is_reported_survived_and_recovered_from() {
    if !require_root_or_skip("disk_full") {
        return;
    }
    let base = tempfile::tempdir().expect("tempdir");
    let logs = base.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let _fs = SmallFs::mount(&logs, "8m").expect("tmpfs");
    let mut rec = Recorder::start_in(&logs, "# defaults\n");
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut session = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(90))
        .spawn(None)
        .expect("ssh");
    session.send_line("echo ready").expect("type");
    session
        .wait_for_stdout(b"\rready\r\n", Duration::from_secs(10))
        .expect("shell");
    std::thread::sleep(Duration::from_millis(1500)); // the first frames are on disk

    let filler = logs.join("filler");
    fill(&filler);
    let during = format!("during-{}", random_suffix(6));
    session
        .send_line(&format!(
            "echo {during}; head -c 1200000 /dev/urandom | tr -dc '!-~' | fold -w 100"
        ))
        .expect("type");
    session
        .wait_for_stdout(
            format!("\r{during}\r\n").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("during");
    wait_until("storage_error reported", &rec, || {
        rec.request(r#"{"cmd":"stats"}"#)
            .is_ok_and(|v| v["stats"]["storage_error"].is_string())
    });
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert!(stats["stats"]["write_errors"].as_u64() > Some(0), "{stats}");

    // Space returns.
    std::fs::remove_file(&filler).expect("free space");
    wait_until("writes resume", &rec, || {
        rec.request(r#"{"cmd":"stats"}"#)
            .is_ok_and(|v| v["stats"]["storage_error"].is_null())
    });
    let after = format!("after-{}", random_suffix(6));
    session.send_line(&format!("echo {after}")).expect("type");
    session
        .wait_for_stdout(format!("\r{after}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("after");
    session.send_line("exit").expect("exit");
    let client = session.wait_timeout(Duration::from_secs(20)).expect("ends");

    let sessions = rec.wait_closed(user.name(), 1, Duration::from_secs(30));
    let recorded = sessions[0].output();
    assert!(
        contains(&recorded, during.as_bytes()),
        "output written while the disk was full was kept"
    );
    assert!(contains(&recorded, after.as_bytes()));
    if recorded != client.stdout {
        let at = recorded
            .iter()
            .zip(&client.stdout)
            .position(|(a, b)| a != b)
            .unwrap_or(recorded.len().min(client.stdout.len()));
        let show = |v: &[u8]| {
            String::from_utf8_lossy(&v[at.saturating_sub(80)..(at + 80).min(v.len())]).into_owned()
        };
        panic!(
            "nothing lost, nothing corrupted: {} recorded, {} received, first difference at {at}:\nrecorded {:?}\nreceived {:?}",
            recorded.len(),
            client.stdout.len(),
            show(&recorded),
            show(&client.stdout)
        );
    }
    // The search index's filter was fed as the output came, before the cast
    // write that failed: it holds what was written during the outage too.
    let id: uuid::Uuid = sessions[0].id().parse().expect("session id");
    let day = day_from_path(&sessions[0].events).expect("day directory");
    let mut grams = None;
    wait_until("the session is indexed", &rec, || {
        grams = read_day_grams(&logs, day)
            .ok()
            .and_then(|mut g| g.remove(&id));
        grams.is_some()
    });
    let grams = grams.expect("indexed");
    let cast_size = std::fs::metadata(&sessions[0].cast).expect("cast").len();
    assert_eq!(
        grams.cast_size, cast_size,
        "the filter is for the cast as written"
    );
    let filter = grams
        .filter
        .expect("a filter (the output is not too varied)");
    for word in [&during, &after] {
        assert!(filter.may_contain(&trigrams(word.as_bytes())), "{word}");
    }
    // Every trigram of the output, including that of the read whose frame
    // write failed first (random printable text: a read's trigrams are
    // mostly its own, unlike base64's, which 400 KB of output all hold).
    assert!(
        filter.may_contain(&trigrams(&recorded)),
        "output missing from the search filter"
    );

    let log = rec.event_log();
    assert!(log.contains("storage_error cannot write to"), "{log}");
    assert!(log.contains("works again"), "{log}");
    rec.stop();
}
