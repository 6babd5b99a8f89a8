//! Upload benchmark (`tools/bench-fleet`): a running sshlogd empties a spool
//! of generated sessions into a real Garage on 127.0.0.1; its throughput
//! and its CPU (the whole daemon, capture included) while it does.
//!
//! Usage: `bench_upload SSHLOGD [SESSIONS=200] [MIB_PER_SESSION=5]`.
//! The sessions are written with the format library's generator into
//! sshlogd's log directory and queued all at once, as if the store had been
//! down; the clock starts when the uploader reports the backlog and stops
//! when the backlog is empty. Prints a Markdown table.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sshlog_fleet::spool::Spool;
use sshlog_format::generate::{session, Corpus};
use sshlog_harness::{process_usage, require_root_or_skip, Garage, Sshlogd};

/// The longest the upload may take.
const LIMIT: Duration = Duration::from_secs(1800);

fn stats(d: &Sshlogd) -> Result<Value> {
    Ok(d.request(r#"{"cmd":"stats"}"#)?["stats"].clone())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_upload SSHLOGD [SESSIONS] [MIB_PER_SESSION]";
    let bin = args.get(1).context(usage)?;
    let sessions: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let mib: f64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    if !require_root_or_skip("bench_upload") {
        bail!("needs root");
    }
    let garage = Garage::start()?;
    let settings = garage.settings_yaml("upload", "bench-upload")?;
    let mut daemon = Sshlogd::start(bin, &settings)?;
    let log_dir = daemon.log_dir().to_path_buf();
    let corpus = Corpus {
        start: chrono::Utc::now() - chrono::Duration::hours(2),
        days: 0,
        sessions,
        bytes_per_session: (mib * 1024.0 * 1024.0) as u64,
        seed: 7,
    };
    let mut bytes = 0u64;
    let mut raw = 0u64;
    let mut made = Vec::new();
    for n in 0..sessions {
        let g = session(&log_dir, n, &corpus)?;
        bytes += g.cast + std::fs::metadata(&g.events)?.len();
        raw += g.raw;
        made.push(g.events);
    }
    let spool = Spool::new(&log_dir);
    let before = process_usage(daemon.pid())?;
    for events in &made {
        spool.enqueue(events)?;
    }
    let deadline = Instant::now() + LIMIT;
    let mut started = None;
    loop {
        let s = stats(&daemon)?;
        let backlog = s["store_backlog_sessions"].as_u64().unwrap_or(0);
        let uploaded = s["store_uploaded_sessions"].as_u64().unwrap_or(0);
        if started.is_none() && (backlog > 0 || uploaded > 0) {
            started = Some(Instant::now());
        }
        if uploaded >= sessions && backlog == 0 {
            break;
        }
        if let Some(e) = s["store_error"].as_str() {
            bail!("upload failed: {e}");
        }
        if Instant::now() > deadline {
            bail!("not uploaded after {LIMIT:?}: {s}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
    let after = process_usage(daemon.pid())?;
    daemon.stop();
    let cpu = after.cpu_seconds - before.cpu_seconds;
    let mib_sent = bytes as f64 / (1 << 20) as f64;
    println!("## Upload to the fleet store");
    println!();
    println!(
        "Command: `tools/bench-fleet … {sessions} {mib}` (the last two arguments) — sshlogd with a \
         `store:` section pointing at a one-node Garage on 127.0.0.1 uploads {sessions} generated \
         sessions queued at once (cast, sidecar, index entry each; SHA-256 checksums verified by the \
         store, sizes checked with a HEAD)."
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| sessions × terminal output | {sessions} × {mib} MiB ({:.0} MiB) |",
        raw as f64 / (1 << 20) as f64
    );
    println!("| bytes uploaded (casts + sidecars) | {mib_sent:.1} MiB |");
    println!("| wall time | {wall:.1} s |");
    println!(
        "| throughput | {:.1} MiB/s, {:.1} sessions/s |",
        mib_sent / wall,
        sessions as f64 / wall
    );
    println!(
        "| sshlogd CPU while uploading | {cpu:.2} s ({:.0} % of one core; {:.2} s per 100 MiB) |",
        100.0 * cpu / wall,
        cpu * 100.0 / mib_sent
    );
    println!(
        "| sshlogd RSS after / peak | {:.0} / {:.0} MiB |",
        after.rss_kib as f64 / 1024.0,
        after.peak_rss_kib as f64 / 1024.0
    );
    Ok(())
}
