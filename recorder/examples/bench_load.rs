//! Load benchmark (run by `tools/bench-load`): N concurrent `ssh -tt` sessions to a
//! local sshd, each printing a line every 100 ms for S seconds, recorded by
//! sshlogd; checks that every session's recording equals what its client received
//! and reports sshlogd's CPU time and RSS. Prints a Markdown table.
//!
//! Usage: bench_load SSHLOGD_BINARY [SESSIONS=200] [SECONDS=60] [SETTINGS_YAML]
//! (SETTINGS_YAML: sshlogd.yaml text, e.g. `capture_priority: 0`; default none)

use anyhow::{bail, Context, Result};
use sshlog_format::{read_sidecar, SessionEvent};
use sshlog_harness::{
    files_under, process_usage, require_root_or_skip, table_header, Sshd, Sshlogd, TestUser,
};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The barrier opens at the latest after this long, all sessions in or not.
const BARRIER_DEADLINE: Duration = Duration::from_secs(240);

/// Opens the barrier FIFO for writing (releasing every session blocked on it)
/// once `n` bash processes of `uid` exist, or at the deadline.
fn release_when_all_wait(barrier: &std::path::Path, uid: u32, n: usize) {
    let deadline = Instant::now() + BARRIER_DEADLINE;
    loop {
        let waiting = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let p = e.path();
                std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == "bash")
                    && std::fs::read_to_string(p.join("status")).is_ok_and(|st| {
                        st.lines()
                            .find(|l| l.starts_with("Uid:"))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .is_some_and(|u| u == uid.to_string())
                    })
            })
            .count();
        if waiting >= n || Instant::now() > deadline {
            eprintln!(
                "barrier: {waiting} of {n} sessions logged in after {:.0} s; starting",
                (Instant::now() + BARRIER_DEADLINE - deadline).as_secs_f64()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Opening for writing wakes every reader; closing gives them EOF.
    // Non-blocking: with no reader at all this fails instead of waiting.
    use std::os::unix::fs::OpenOptionsExt;
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(barrier),
    );
}

static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .context("usage: bench_load SSHLOGD [SESSIONS] [SECONDS]")?;
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let secs: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(60);
    if !require_root_or_skip("bench_load") {
        bail!("needs root");
    }
    let sshd = Sshd::builder()
        .config_line(format!("MaxStartups {0}:100:{0}", n * 4))
        .config_line("MaxSessions 1000")
        .log_level("INFO")
        .start()?;
    let user = TestUser::create()?;
    let settings = args.get(4).cloned().unwrap_or_default();
    let mut daemon = Sshlogd::start(bin, &settings)?;
    let idle = process_usage(daemon.pid())?;
    let lines = secs * 10;
    // Every session waits at a barrier (opening a FIFO blocks until a writer
    // comes) until all N are logged in, so all N produce output at once.
    let barrier = user.home().join("start-barrier");
    let c = std::ffi::CString::new(barrier.to_string_lossy().as_bytes())?;
    // SAFETY: mkfifo with a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o644) } != 0 {
        bail!("mkfifo: {}", std::io::Error::last_os_error());
    }
    let started = Instant::now();
    let outputs: Vec<(usize, Option<i32>, Vec<u8>)> = std::thread::scope(|s| {
        s.spawn(|| release_when_all_wait(&barrier, user.uid(), n));
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let barrier = barrier.display().to_string();
                let cmd = sshd
                    .ssh(&user)
                    .timeout(BARRIER_DEADLINE + Duration::from_secs(secs + 120));
                // Stagger connections (sshd accepts a burst at a time).
                std::thread::sleep(Duration::from_millis(30));
                s.spawn(move || {
                    let script = format!(
                        "read -r _ < {barrier}; for i in $(seq 1 {lines}); do echo s{k}-line-$i-abcdefghijklmnopqrstuvwxyz0123456789; sleep 0.1; done"
                    );
                    // sshd may refuse a burst of new connections (MaxStartups):
                    // retry like a person would; the retries are reported.
                    let mut attempt = 0;
                    loop {
                        attempt += 1;
                        let o = cmd.run(&script)?;
                        if o.code() == Some(255) && o.stdout.is_empty() && attempt < 10 {
                            RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(500 * attempt));
                            continue;
                        }
                        if o.code() != Some(0) {
                            eprintln!("session {k}: ssh exited {:?}: {}", o.code(), o.stderr_text().trim());
                        }
                        return Ok::<_, anyhow::Error>((k, o.code(), o.stdout));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().and_then(Result::ok))
            .collect()
    });
    let wall = started.elapsed();
    for l in sshd.log_text().unwrap_or_default().lines() {
        if l.contains("syslogin_perform_logout") {
            continue; // no utmp entry for the test user: harmless
        }
        if l.contains("drop")
            || l.contains("MaxStartups")
            || l.contains("error")
            || l.contains("fatal")
        {
            eprintln!("sshd: {l}");
        }
    }
    std::thread::sleep(Duration::from_secs(2)); // last frames and closes
    let end = process_usage(daemon.pid())?;
    let boosts = daemon.capture_boosts();
    daemon.stop();
    let dir = daemon.log_dir();

    // Every client's bytes against its recording.
    let files = files_under(&dir.join("sessions"));
    let casts: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".cast.zst"))
        .collect();
    let peak = peak_concurrency(&files)?;
    let mut recorded: Vec<Vec<u8>> = Vec::new();
    for c in &casts {
        let (_, events) = sshlog_format::read_cast_file(c)?;
        let mut out = Vec::new();
        for e in events {
            if let sshlog_format::Event::Output { data, .. } = e {
                out.extend(data);
            }
        }
        recorded.push(out);
    }
    if let Ok(dump) = std::env::var("BENCH_LOAD_DUMP") {
        let _ = Command::new("cp")
            .arg("-r")
            .arg(daemon.dir.path())
            .arg(format!("{dump}/logs"))
            .status();
    }
    let mut exact = 0;
    let mut total = 0u64;
    let completed = outputs
        .iter()
        .filter(|(_, code, _)| *code == Some(0))
        .count();
    for (k, _, client) in outputs.iter().filter(|(_, code, _)| *code == Some(0)) {
        total += client.len() as u64;
        let tag = format!("s{k}-line-1-");
        if recorded
            .iter()
            .any(|r| r == client && r.windows(tag.len()).any(|w| w == tag.as_bytes()))
        {
            exact += 1;
        } else if let Ok(dump) = std::env::var("BENCH_LOAD_DUMP") {
            let mine: Vec<&Vec<u8>> = recorded
                .iter()
                .filter(|r| r.windows(tag.len()).any(|w| w == tag.as_bytes()))
                .collect();
            let _ = std::fs::write(format!("{dump}/client-{k}"), client);
            for (i, r) in mine.iter().enumerate() {
                let _ = std::fs::write(format!("{dump}/rec-{k}-{i}"), r);
            }
        }
    }
    print!("{}", table_header(&settings));
    println!("| concurrent sessions | {n} (`ssh -tt`, one line every 100 ms each, {secs} s) |");
    println!("| sessions completed by the clients | {} |", outputs.len());
    println!("| sessions open at the same time (peak, from the recordings) | {peak} |");
    println!(
        "| recordings byte-identical to their client's output | {exact} / {} |",
        outputs.len()
    );
    println!(
        "| output recorded | {:.1} MiB in {:.0} s |",
        total as f64 / 1048576.0,
        wall.as_secs_f64()
    );
    println!("| capture thread raised to real-time priority (times) | {boosts} |");
    println!(
        "| sshlogd CPU | {:.2} s ({:.1} % of one core) |",
        end.cpu_seconds - idle.cpu_seconds,
        100.0 * (end.cpu_seconds - idle.cpu_seconds) / wall.as_secs_f64()
    );
    println!(
        "| sshlogd private memory (RssAnon) at start / after the run | {:.1} MiB / {:.1} MiB |",
        idle.rss_anon_kib as f64 / 1024.0,
        end.rss_anon_kib as f64 / 1024.0
    );
    println!(
        "| sshlogd peak RSS (includes the ring buffer, mapped twice) | {:.1} MiB |",
        end.peak_rss_kib as f64 / 1024.0
    );
    if exact != completed {
        bail!(
            "{} of {completed} sessions not recorded exactly",
            completed - exact
        );
    }
    Ok(())
}

/// The largest number of sessions whose [connection_established,
/// connection_close] intervals overlap, from the sidecars.
fn peak_concurrency(files: &[PathBuf]) -> Result<usize> {
    let mut edges: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for f in files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".events.jsonl"))
    {
        let reader = std::io::BufReader::new(std::fs::File::open(f)?);
        for r in read_sidecar(reader).flatten() {
            match r.event {
                SessionEvent::ConnectionEstablished { .. } => edges.push((r.ts, 1)),
                SessionEvent::ConnectionClose { .. } => edges.push((r.ts, -1)),
                _ => {}
            }
        }
    }
    edges.sort();
    let (mut open, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        open += d;
        peak = peak.max(open);
    }
    Ok(peak as usize)
}
