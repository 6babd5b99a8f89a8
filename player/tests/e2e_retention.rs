//! End-to-end retention and purge with the real sshlogd on a small tmpfs:
//! under disk pressure the oldest finished recordings are deleted, each with
//! a signed tombstone and a `recording_deleted` event, a session still being
//! written is never touched, and `sshlog verify --key` still proves the
//! chain; `sshlog purge` deletes by id and by user, refuses a live session
//! and leaves the chain verifiable.

mod common;

use common::{open_session, sshlogd_binary, SSHLOG};
use sshlog_harness::{random_suffix, require_root_or_skip, SmallFs, Sshd, Sshlogd, TestUser};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn sshlog(rec: &Sshlogd, args: &[&str]) -> (i32, String) {
    let o = Command::new(SSHLOG)
        .arg("--socket")
        .arg(&rec.socket)
        .arg("--log-dir")
        .arg(rec.log_dir())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("sshlog");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn tombstones(rec: &Sshlogd) -> Vec<serde_json::Value> {
    std::fs::read_to_string(rec.log_dir().join("tombstones.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_until(what: &str, rec: &Sshlogd, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_fraction(dir: &Path) -> f64 {
    let d = sshlog_recorder::retention::Disk::of(dir).expect("statvfs");
    d.free as f64 / d.size as f64
}

#[test]
fn disk_pressure_prunes_the_oldest_and_purge_answers_deletion_requests() {
    if !require_root_or_skip("retention") {
        return;
    }
    let base = tempfile::tempdir().expect("tempdir");
    let logs = base.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let _fs = SmallFs::mount(&logs, "12m").expect("tmpfs");
    let rec = Sshlogd::start_in(
        sshlogd_binary(),
        &logs,
        "retention:\n  min_free_percent: 50\n  check_seconds: 1\n",
    )
    .expect("sshlogd");
    let public = rec.dir.path().join("seal.pub");
    let sshd = Sshd::start().expect("sshd");
    let (writer, bursts) = (
        TestUser::create().expect("user"),
        TestUser::create().expect("user"),
    );
    // The oldest recording of all, still being written throughout.
    let mut live = open_session(&sshd, &writer);

    for i in 0..10 {
        let word = format!("burst-{i}-{}", random_suffix(4));
        let out = sshd
            .ssh(&bursts)
            .run(&format!(
                "echo {word}; head -c 700000 /dev/urandom | base64 -w 100"
            ))
            .expect("ssh");
        assert_eq!(out.code(), Some(0));
        // Sealed (or already deleted by retention): the recording is finished.
        wait_until("the burst sealed", &rec, || {
            let sealed = rec
                .sessions_of(bursts.name())
                .iter()
                .filter(|s| s.of_type("seal").next().is_some())
                .count();
            let buried = tombstones(&rec)
                .iter()
                .filter(|t| t["user"] == bursts.name())
                .count();
            sealed + buried > i
        });
    }
    wait_until("half the disk free again", &rec, || {
        free_fraction(&logs) >= 0.5
    });

    let stones = tombstones(&rec);
    assert!(!stones.is_empty(), "{}", rec.daemon_logs());
    for t in &stones {
        assert_eq!(t["user"], bursts.name(), "only finished recordings: {t}");
        assert!(
            t["reason"]
                .as_str()
                .is_some_and(|r| r.contains("less than 50% of the disk free")),
            "{t}"
        );
        assert!(t["signature"].is_string(), "{t}");
        assert_eq!(
            t["scope"], "host",
            "a space deletion leaves the store's copy: {t}"
        );
    }
    // Oldest first: every deleted burst started before every kept one.
    let kept = rec.sessions_of(bursts.name());
    let newest_deleted = stones
        .iter()
        .filter_map(|t| t["started"].as_str())
        .max()
        .unwrap()
        .to_string();
    for s in &kept {
        let started = s.established()["ts"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            started[..19] >= newest_deleted[..19],
            "{started} kept, {newest_deleted} deleted"
        );
    }
    let open = rec.sessions_of(writer.name());
    assert_eq!(open.len(), 1);
    assert!(
        open[0].cast.exists() && open[0].events.exists(),
        "the live recording stays"
    );
    // One audited event per deletion (reported at sshlogd's next tick).
    let pattern = format!("recording of {} deleted", bursts.name());
    wait_until("every deletion in the event log", &rec, || {
        rec.event_log().matches(&pattern).count() == stones.len()
    });

    let key = public.to_str().unwrap();
    let (code, text) = sshlog(&rec, &["verify", "--key", key]);
    println!("==> retention, then sshlog verify --key seal.pub\n{text}");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} deleted with a tombstone", stones.len())),
        "{text}"
    );
    assert!(text.contains("1 unsealed"), "the live one: {text}");

    // A deletion request for a session still being recorded is refused whole.
    let live_id = open[0].id();
    let (code, text) = sshlog(
        &rec,
        &["purge", &live_id, &kept[0].id(), "--reason", "ticket 1"],
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("no finished recording {live_id}"))
            && text.contains("nothing purged"),
        "{text}"
    );
    assert!(kept[0].events.exists());

    // By id.
    let (code, text) = sshlog(
        &rec,
        &["purge", &kept[0].id(), "--reason", "GDPR request 4711"],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("deleted {}", kept[0].id()))
            && text.contains("purged 1 recording(s)"),
        "{text}"
    );
    assert!(!kept[0].events.exists() && !kept[0].cast.exists());

    // By user, once the live session has ended.
    live.send_line("exit").expect("exit");
    live.wait_timeout(Duration::from_secs(20)).expect("logout");
    rec.wait_closed(writer.name(), 1, Duration::from_secs(30))
        .expect("sealed");
    let (code, text) = sshlog(
        &rec,
        &[
            "purge",
            "--user",
            writer.name(),
            "--before",
            "now",
            "--reason",
            "left",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("purged 1 recording(s)"), "{text}");
    assert!(rec.sessions_of(writer.name()).is_empty());
    let stones = tombstones(&rec);
    let purged = stones
        .iter()
        .find(|t| t["reason"] == "purge by uid 0: GDPR request 4711")
        .expect("the purge's tombstone");
    assert!(
        purged["scope"].is_null(),
        "a purge deletes everywhere: {purged}"
    );
    wait_until("purges are audited", &rec, || {
        rec.event_log().matches("purge by uid 0").count() == 2
    });

    let (code, text) = sshlog(&rec, &["verify", "--key", key]);
    println!("==> purges, then sshlog verify --key seal.pub\n{text}");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} deleted with a tombstone", stones.len())),
        "{text}"
    );
}
