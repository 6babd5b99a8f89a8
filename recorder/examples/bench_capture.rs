//! Capture benchmark (run by `tools/bench-capture`): throughput of `cat` of a large
//! file through `ssh -tt` to a local sshd, without and with sshlogd recording, and
//! sshlogd's CPU time and peak RSS while it records. Prints a Markdown table.
//!
//! The runs go in rounds: one without sshlogd and one with each settings
//! given, back to back, the order rotated from round to round; a ratio is
//! the median of the rounds' ratios. On a noisy machine the throughput
//! drifts by tens of percent within minutes, and a round sees the same
//! drift on every side. Several settings are so compared in one run.
//!
//! Then, unless `SSHLOG_BENCH_PEERS=0`, the same `cat` recorded inside the
//! session by the tools a user would pick instead (`script`, `asciinema rec`,
//! `tlog-rec`, those installed), each timed by `/usr/bin/time` in the session
//! (its CPU minus that of the bare `cat`) and compared with the same bare `cat`.
//!
//! Usage: bench_capture SSHLOGD_BINARY [MEGABYTES] [RUNS] [SETTINGS_YAML...]

use anyhow::{bail, Context, Result};
use sshlog_harness::{
    files_under, process_usage, require_root_or_skip, table_header, Sshd, Sshlogd, TestUser,
};
use std::io::Write;
use std::os::unix::fs::chown;
use std::time::{Duration, Instant};

fn printable_file(user: &TestUser, bytes: usize) -> Result<std::path::PathBuf> {
    let path = user.home().join("bench.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut written = 0;
    let mut line = Vec::with_capacity(101);
    while written < bytes {
        line.clear();
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(b' ' + (x % 95) as u8);
        }
        line.push(b'\n');
        f.write_all(&line)?;
        written += line.len();
    }
    f.flush()?;
    chown(&path, Some(user.uid()), Some(user.gid()))?;
    Ok(path)
}

/// Median seconds of `runs` transfers.
fn transfer(
    sshd: &Sshd,
    user: &TestUser,
    path: &std::path::Path,
    runs: usize,
) -> Result<(f64, usize)> {
    let (t, bytes, _) = timed(sshd, user, &format!("cat {}", path.display()), runs)?;
    Ok((t, bytes))
}

/// Median seconds of `runs` runs of `command` through `ssh -tt`, the bytes
/// it printed, and the median CPU seconds `/usr/bin/time` reported in the
/// session (when the command is run under it).
fn timed(sshd: &Sshd, user: &TestUser, command: &str, runs: usize) -> Result<(f64, usize, f64)> {
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = sshd
            .ssh(user)
            .timeout(Duration::from_secs(600))
            .run(command)?;
        times.push(t.elapsed().as_secs_f64());
        if out.code() != Some(0) {
            bail!("ssh {command} failed: {}", out.stderr_text());
        }
        bytes = out.stdout.len();
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = text.lines().rev().find(|l| l.contains("BENCHCPU ")) {
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            cpu.push(v.iter().sum());
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a: &f64, b| a.total_cmp(b));
    let cpu = cpu.get(cpu.len() / 2).copied().unwrap_or(0.0);
    Ok((times[times.len() / 2], bytes, cpu))
}

/// The recorders a user could run inside the session instead, if installed:
/// (name, command template with FILE and OUT).
fn peers() -> Vec<(String, String)> {
    let have = |bin: &str| std::path::Path::new(bin).exists();
    let mut p = Vec::new();
    if have("/usr/bin/script") {
        p.push((
            "script (util-linux)".into(),
            "script -q -c 'cat FILE' OUT".into(),
        ));
    }
    if have("/usr/bin/asciinema") {
        let v = std::process::Command::new("/usr/bin/asciinema")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        p.push((
            format!("asciinema rec ({v})"),
            "asciinema rec -q --overwrite -c 'cat FILE' OUT".into(),
        ));
    }
    // asciinema 3 from crates.io, built by tools/bench-capture outside the
    // clone (SSHLOG_ASCIINEMA3 names another binary).
    let cache = std::env::var("SSHLOG_TEST_CACHE").unwrap_or("/var/cache/sshlog-test".into());
    let a3 = std::env::var("SSHLOG_ASCIINEMA3")
        .unwrap_or_else(|_| format!("{cache}/asciinema3/bin/asciinema"));
    if have(&a3) {
        let v = std::process::Command::new(&a3)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        p.push((
            format!("asciinema rec ({v}, crates.io)"),
            format!("{a3} rec -q --overwrite -c 'cat FILE' OUT"),
        ));
    }
    if have("/usr/bin/tlog-rec") {
        // tlog-rec adds a utmp record and gives up ("Failed setting up the
        // I/O tap") when /var/run/utmp does not exist, as in a fresh
        // container: create it as login(1)'s setup would.
        let utmp = std::path::Path::new("/var/run/utmp");
        if !utmp.exists() {
            let made = std::fs::File::create(utmp).and_then(|_| {
                std::process::Command::new("chgrp")
                    .args(["utmp", "/var/run/utmp"])
                    .status()?;
                std::fs::set_permissions(utmp, std::os::unix::fs::PermissionsExt::from_mode(0o664))
            });
            if let Err(e) = made {
                eprintln!("cannot create /var/run/utmp for tlog-rec: {e}");
            }
        }
        p.push((
            "tlog-rec (file writer)".into(),
            "tlog-rec --limit-action=pass -w file -o OUT cat FILE".into(),
        ));
    }
    p
}

/// One recorded run, by a freshly started sshlogd.
struct Recorded {
    /// Seconds of the transfer.
    secs: f64,
    /// sshlogd's CPU seconds for it (its start excluded), and the part of
    /// them spent in the kernel.
    cpu: f64,
    system: f64,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    boosts: u64,
    /// Bytes of `.cast.zst` it wrote.
    stored: u64,
}

/// The `cat` recorded by an sshlogd started with `settings`, which is
/// stopped and removed (with its kernel half) afterwards.
fn recorded(
    sshd: &Sshd,
    user: &TestUser,
    path: &std::path::Path,
    bin: &str,
    settings: &str,
) -> Result<(Recorded, usize)> {
    let mut daemon = Sshlogd::start(bin, settings)?;
    let idle = process_usage(daemon.pid())?;
    let (secs, bytes) = transfer(sshd, user, path, 1)?;
    std::thread::sleep(Duration::from_millis(1500)); // let the last frames land
    let end = process_usage(daemon.pid())?;
    let boosts = daemon.capture_boosts();
    daemon.stop();
    let mut stored = 0u64;
    for e in files_under(daemon.log_dir()) {
        if e.to_string_lossy().ends_with(".cast.zst") {
            stored += std::fs::metadata(&e)?.len();
        }
    }
    let run = Recorded {
        secs,
        cpu: end.cpu_seconds - idle.cpu_seconds,
        system: end.system_seconds - idle.system_seconds,
        idle_rss_kib: idle.rss_kib,
        peak_rss_kib: end.peak_rss_kib,
        boosts,
        stored,
    };
    Ok((run, bytes))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .context("usage: bench_capture SSHLOGD [MB] [RUNS] [SETTINGS_YAML...]")?;
    let mb: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(50);
    let runs: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if runs == 0 {
        bail!("RUNS must be at least 1");
    }
    if !require_root_or_skip("bench_capture") {
        bail!("needs root");
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let path = printable_file(&user, mb * 1024 * 1024)?;
    // One or more settings, compared side by side (default settings: none).
    let mut all_settings: Vec<String> = args.iter().skip(4).cloned().collect();
    if all_settings.is_empty() {
        all_settings.push(String::new());
    }
    let n = all_settings.len();
    // Each round: the bare run and one run per settings, back to back, the
    // order rotated from round to round.
    let mut bases = Vec::new();
    let mut runs_of: Vec<Vec<Recorded>> = (0..n).map(|_| Vec::new()).collect();
    let mut bytes = 0;
    for round in 0..runs {
        for k in 0..=n {
            match (k + round) % (n + 1) {
                0 => bases.push(transfer(&sshd, &user, &path, 1)?.0),
                i => {
                    let (r, b) = recorded(&sshd, &user, &path, bin, &all_settings[i - 1])?;
                    bytes = b;
                    runs_of[i - 1].push(r);
                }
            }
        }
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let base = median(bases.clone());
    let mut summary = Vec::new();
    for (settings, recs) in all_settings.iter().zip(&runs_of) {
        let rec = median(recs.iter().map(|r| r.secs).collect());
        let ratios: Vec<f64> = bases.iter().zip(recs).map(|(b, r)| b / r.secs).collect();
        let ratio = median(ratios.clone());
        let cpu = median(recs.iter().map(|r| r.cpu).collect());
        let system = median(recs.iter().map(|r| r.system).collect());
        let stored: u64 = recs.iter().map(|r| r.stored).sum();
        let boosts: u64 = recs.iter().map(|r| r.boosts).sum();
        let idle_rss = recs.iter().map(|r| r.idle_rss_kib).max().unwrap_or(0);
        let peak_rss = recs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
        print!("{}", table_header(settings));
        println!("| output per session | {mib:.1} MiB through `ssh -tt host cat FILE` |");
        println!(
            "| runs | {runs} rounds: a run without sshlogd and one with each of {n} settings (a freshly started sshlogd), back to back, the order rotated |"
        );
        println!(
            "| throughput without sshlogd (median) | {:.1} MiB/s ({base:.2} s) |",
            mib / base
        );
        println!(
            "| throughput with sshlogd recording (median) | {:.1} MiB/s ({rec:.2} s) |",
            mib / rec
        );
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| ratio with/without (median of the rounds' ratios) | {ratio:.2} (rounds: {}) |",
            each.join(", ")
        );
        println!("| capture thread raised to real-time priority (times) | {boosts} |");
        println!(
            "| sshlogd CPU per {mib:.0} MiB (median) | {cpu:.2} s (in the kernel: {system:.2} s) |"
        );
        println!(
            "| sshlogd RSS idle / peak | {:.1} MiB / {:.1} MiB |",
            idle_rss as f64 / 1024.0,
            peak_rss as f64 / 1024.0
        );
        println!(
            "| compressed casts on disk | {:.1} MiB for {:.1} MiB recorded ({:.1}x) |",
            stored as f64 / 1048576.0,
            mib * runs as f64,
            mib * runs as f64 * 1048576.0 / stored.max(1) as f64
        );
        println!();
        summary.push((rec, ratio, cpu));
    }
    let (rec, ratio, cpu) = summary[0];
    if std::env::var("SSHLOG_BENCH_PEERS").as_deref() == Ok("0") {
        return Ok(());
    }
    // The peers, with sshlogd stopped, against a bare `cat` timed the same way.
    let time = "/usr/bin/time -f 'BENCHCPU %U %S'";
    let file = path.display().to_string();
    let (bare, _, bare_cpu) = timed(&sshd, &user, &format!("{time} cat {file}"), runs)?;
    println!();
    println!("| recorder (same `cat`, median of {runs}) | throughput | ratio to no recording | recorder CPU per run |");
    println!("|---|---|---|---|");
    println!("| none | {:.1} MiB/s | 1.00 | — |", mib / bare);
    println!(
        "| sshlogd (first settings above) | {:.1} MiB/s | {:.2} | {:.2} s |",
        mib / rec,
        ratio,
        cpu
    );
    for (name, template) in peers() {
        let out = user.home().join("peer.rec");
        let cmd = template
            .replace("FILE", &file)
            .replace("OUT", &out.display().to_string());
        match timed(&sshd, &user, &format!("{time} {cmd}"), runs) {
            Ok((t, _, cpu)) => println!(
                "| {name} | {:.1} MiB/s | {:.2} | {:.2} s |",
                mib / t,
                bare / t,
                (cpu - bare_cpu).max(0.0)
            ),
            Err(e) => println!("| {name} | failed: {e} | | |"),
        }
        let _ = std::fs::remove_file(&out);
    }
    Ok(())
}
