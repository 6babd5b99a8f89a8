//! sshlogd keeps only the capabilities it needs after loading its programs, and
//! creates recordings 0640 in 0750 directories, for the `sshlog` group if any.

mod common;

use common::Recorder;
use sshlog_harness::{require_root_or_skip, Sshd, TestUser};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

fn cap_eff(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hex = s
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff")
        .trim()
        .to_string();
    u64::from_str_radix(&hex, 16).expect("hex")
}

#[test]
fn keeps_only_the_needed_capabilities_and_private_files() {
    if !require_root_or_skip("privileges") {
        return;
    }
    let rec = Recorder::start();
    let expected: u64 = sshlog_recorder::privileges::KEPT
        .iter()
        .map(|c| 1u64 << c.index())
        .sum();
    assert_eq!(
        cap_eff(rec.pid()),
        expected,
        "effective capabilities after start-up"
    );
    assert_eq!(expected.count_ones(), 7);

    // It still records (the e2e suite as a whole runs with these capabilities).
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    sshd.ssh(&user).run("echo caps").expect("ssh");
    let sessions = rec.wait_closed(user.name(), 1, Duration::from_secs(30));
    for f in [&sessions[0].cast, &sessions[0].events] {
        let m = std::fs::metadata(f).expect("file");
        assert_eq!(m.permissions().mode() & 0o777, 0o640, "{}", f.display());
        assert_eq!(m.uid(), 0);
    }
    let dir = sessions[0].cast.parent().expect("day dir");
    assert_eq!(
        std::fs::metadata(dir).expect("dir").permissions().mode() & 0o777,
        0o750
    );
    let sock = std::fs::metadata(&rec.socket).expect("socket");
    assert_eq!(sock.permissions().mode() & 0o777, 0o660);
}

/// (rt_priority, policy) of one thread, fields 40 and 41 of its stat line.
fn sched_of(pid: u32, tid: u32) -> (u32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 40 and 41 of the line are 38 and 39 after the command name.
    (
        f[37].parse().expect("rt_priority"),
        f[38].parse().expect("policy"),
    )
}

/// The nice value of thread `tid` of `pid`.
fn nice_of(pid: u32, tid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    // Field 19 of the line is 16 after the command name.
    rest.split_whitespace()
        .nth(16)
        .and_then(|f| f.parse().ok())
        .expect("nice")
}

/// Waits (10 s at most) until the capture thread (the main thread) of `pid`
/// runs at `nice`: it is lowered once the daemon's other threads are started.
fn wait_for_nice(pid: u32, nice: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while nice_of(pid, pid) != nice {
        assert!(
            Instant::now() < deadline,
            "capture thread at nice {}, not {nice}",
            nice_of(pid, pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn capture_thread_is_boosted_to_real_time_only_while_behind() {
    if !require_root_or_skip("capture_thread_real_time") {
        return;
    }
    const SCHED_OTHER: u32 = 0;
    const SCHED_RR: u32 = 2;
    // A 64 KiB ring: a fast session puts the capture thread behind at once.
    let rec = Recorder::start_with("ring_buffer_mb: 0\n");
    let pid = rec.pid();
    assert_eq!(sched_of(pid, pid), (0, SCHED_OTHER), "idle: normal");
    assert_eq!(nice_of(pid, pid), 0);
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert_eq!(
        stats["stats"]["capture_scheduling"], "nice 0 (SCHED_RR 1 when behind)",
        "{stats}"
    );
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let out = sshd
        .ssh(&user)
        .no_tty()
        .timeout(Duration::from_secs(120))
        .run("head -c 50000000 /dev/zero")
        .expect("ssh");
    assert_eq!(out.code(), Some(0));
    // Other capabilities are gone by now: the boost uses the kept CAP_SYS_NICE.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
        if stats["stats"]["capture_boosts"].as_u64() >= Some(1) {
            assert!(
                !stats["stats"]["capture_scheduling"]
                    .as_str()
                    .unwrap_or("")
                    .contains("refused"),
                "{stats}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never boosted: {stats}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every other thread stays normal, boosted or not.
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let tid: u32 = e
            .expect("task")
            .file_name()
            .to_string_lossy()
            .parse()
            .expect("tid");
        if tid != pid {
            assert_eq!(sched_of(pid, tid), (0, SCHED_OTHER), "thread {tid}");
        }
    }
    // (The return to normal after 30 s of keeping up is a unit test.)
    drop(rec);

    // capture_always_realtime: real-time from the start.
    let rec = Recorder::start_with("capture_always_realtime: true\n");
    assert_eq!(sched_of(rec.pid(), rec.pid()), (1, SCHED_RR));
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert_eq!(
        stats["stats"]["capture_scheduling"], "SCHED_RR 1 (always)",
        "{stats}"
    );
    drop(rec);

    // capture_priority: 0 never boosts.
    let rec = Recorder::start_with("capture_priority: 0\n");
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert_eq!(
        stats["stats"]["capture_scheduling"], "nice 0 (capture_priority: 0)",
        "{stats}"
    );
    drop(rec);

    // capture_nice: the capture thread alone is lowered, once the threads
    // started with the daemon (control socket, finisher) exist.
    let rec = Recorder::start_with("capture_nice: 19\n");
    let pid = rec.pid();
    wait_for_nice(pid, 19);
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    assert_eq!(
        stats["stats"]["capture_scheduling"], "nice 19 (SCHED_RR 1 when behind)",
        "{stats}"
    );
    let others: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .filter_map(|e| e.ok()?.file_name().to_string_lossy().parse().ok())
        .filter(|&tid| tid != pid)
        .map(|tid| nice_of(pid, tid))
        .collect();
    assert!(
        others.iter().filter(|&&n| n == 0).count() >= 2,
        "threads started before the capture thread was lowered: {others:?}"
    );
    // A SIGHUP reload starts the action workers from the capture thread:
    // they run at nice 0 (a positive nice value survives reset-on-fork),
    // and the capture thread is lowered again.
    std::fs::create_dir_all(rec.conf_dir()).expect("conf.d");
    std::fs::write(
        rec.conf_dir().join("log.yaml"),
        format!(
            "events:\n  - event: logins\n    triggers: [connection_established]\n    actions:\n      - action: log\n        plugin: eventlogfile_action\n        log_file_path: {}\n",
            rec.dir.path().join("logins.log").display()
        ),
    )
    .expect("config");
    rec.hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    let workers = loop {
        let workers: Vec<(String, i32)> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("tasks")
            .filter_map(|e| e.ok()?.file_name().to_string_lossy().parse::<u32>().ok())
            .filter_map(|tid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).ok()?;
                comm.starts_with("action")
                    .then(|| (comm.trim().to_string(), nice_of(pid, tid)))
            })
            .collect();
        if !workers.is_empty() {
            break workers;
        }
        assert!(Instant::now() < deadline, "no action worker after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(workers.iter().all(|(_, n)| *n == 0), "{workers:?}");
    wait_for_nice(pid, 19);
}
