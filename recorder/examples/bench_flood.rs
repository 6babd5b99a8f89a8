//! Flood benchmark (run by `tools/bench-flood`): one SSH session (no pty, the
//! fastest path) printing MEGABYTES of text as fast as sshd can send it, without
//! and with sshlogd recording. Reports the session's output rate and checks the
//! accounting: bytes recorded in the cast + bytes reported lost (`data_loss`
//! events) must equal the bytes the client received. Prints a Markdown table.
//!
//! Usage: bench_flood SSHLOGD_BINARY [MEGABYTES=1000] [SETTINGS_YAML]

use anyhow::{bail, Context, Result};
use sshlog_format::{read_sidecar, Event, SessionEvent};
use sshlog_harness::{
    files_under, process_usage, require_root_or_skip, table_header, Sshd, Sshlogd, TestUser,
};
use std::time::{Duration, Instant};

/// Runs the flood once: (bytes the client received, seconds).
fn flood(sshd: &Sshd, user: &TestUser, bytes: u64) -> Result<(u64, f64)> {
    let t = Instant::now();
    let out = sshd
        .ssh(user)
        .no_tty()
        .option("Ciphers=aes128-gcm@openssh.com")
        .timeout(Duration::from_secs(600))
        .run(&format!(
            "yes 'flood-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ' | head -c {bytes}"
        ))?;
    let secs = t.elapsed().as_secs_f64();
    if out.code() != Some(0) {
        bail!("ssh exited {:?}: {}", out.code(), out.stderr_text());
    }
    Ok((out.stdout.len() as u64, secs))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .context("usage: bench_flood SSHLOGD [MEGABYTES] [SETTINGS_YAML]")?;
    let mb: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let settings = args.get(3).cloned().unwrap_or_default();
    if !require_root_or_skip("bench_flood") {
        bail!("needs root");
    }
    let bytes = mb * 1_000_000;
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let (_, base) = flood(&sshd, &user, bytes)?;

    let mut daemon = Sshlogd::start(bin, &settings)?;
    let idle = process_usage(daemon.pid())?;
    let (got, rec) = flood(&sshd, &user, bytes)?;
    // Let sshlogd catch up and close the recording (bounded).
    let deadline = Instant::now() + Duration::from_secs(300);
    let sidecar = loop {
        let closed = files_under(&daemon.log_dir().join("sessions"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".events.jsonl"))
            .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"connection_close\"")));
        if let Some(p) = closed {
            break p;
        }
        if Instant::now() > deadline {
            bail!("the recording was not closed within 300 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1)); // the last tick's data_loss
    let end = process_usage(daemon.pid())?;
    let boosts = daemon.capture_boosts();
    daemon.stop();

    let mut lost = 0u64;
    let mut losses = 0u64;
    let reader = std::io::BufReader::new(std::fs::File::open(&sidecar)?);
    for r in read_sidecar(reader).flatten() {
        if let SessionEvent::DataLoss { bytes_dropped, .. } = r.event {
            lost += bytes_dropped;
            losses += 1;
        }
    }
    let cast = sidecar.with_file_name(
        sidecar
            .file_name()
            .context("name")?
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    );
    let mut recorded = 0u64;
    let mut markers = 0u64;
    for e in sshlog_format::open_cast_file(&cast)? {
        match e? {
            Event::Output { data, .. } => recorded += data.len() as u64,
            Event::Marker { label, .. } if label.contains("bytes lost") => markers += 1,
            _ => {}
        }
    }
    let rate = |secs: f64| got as f64 / 1e6 / secs;
    print!("{}", table_header(&settings));
    println!("| output of one session (no pty, `yes \\| head -c`) | {mb} MB |");
    println!(
        "| rate without sshlogd | {:.0} MB/s ({base:.2} s) |",
        rate(base)
    );
    println!(
        "| rate while recorded | {:.0} MB/s ({rec:.2} s) |",
        rate(rec)
    );
    println!("| bytes the client received | {got} |");
    println!("| bytes in the recording | {recorded} |");
    println!(
        "| bytes reported lost (data_loss events / gap markers) | {lost} ({losses} / {markers}) |"
    );
    println!(
        "| recorded + reported lost − received | {} |",
        recorded as i64 + lost as i64 - got as i64
    );
    println!("| capture thread raised to real-time priority (times) | {boosts} |");
    println!(
        "| sshlogd CPU | {:.2} s |",
        end.cpu_seconds - idle.cpu_seconds
    );
    if recorded + lost != got {
        bail!("accounting differs: recorded {recorded} + lost {lost} != received {got}");
    }
    Ok(())
}
