//! Fleet search benchmark (`tools/bench-fleet`): a real Garage on 127.0.0.1
//! holds generated fleets of growing size, and `sshlog search --store`
//! answers metadata queries over them.
//!
//! Usage: `bench_fleet SSHLOG HOSTS SESSIONS_PER_HOST DAYS RUNS`.
//! Index entries are built by the format library from real generated
//! sessions (cast and sidecar, as sshlogd writes them), then replicated
//! with new ids, times and hosts: each host has `SESSIONS_PER_HOST` sessions
//! spread over the last `DAYS` days, in day catalogs as the hosts'
//! uploaders leave them; the entries of the last compaction interval
//! (`COMPACT_EVERY`, 10 minutes) are loose, as just before a compaction. Searches
//! read only the index (no cast is needed), so no casts are uploaded. Four
//! fleet sizes are measured to show how the cost grows: hosts/10 and hosts,
//! times sessions/10 and sessions. Prints a Markdown section.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use sshlog_fleet::catalog::put_day;
use sshlog_fleet::uploader::IndexObject;
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use sshlog_format::generate::{id_at, session, Corpus, Rng};
use sshlog_format::index::{build_session, GramEntry, IndexEntry};
use sshlog_harness::Garage;

/// Real sessions the fleet's entries are made from.
const TEMPLATES: u64 = 200;
/// Store requests in flight while populating.
const PUTS_AT_ONCE: usize = 32;

type Template = (IndexEntry, Option<GramEntry>);

fn templates(dir: &Path) -> Result<Vec<Template>> {
    let corpus = Corpus {
        sessions: TEMPLATES,
        bytes_per_session: 8 << 10,
        ..Corpus::default()
    };
    (0..TEMPLATES)
        .map(|n| {
            let g = session(dir, n, &corpus)?;
            let cast = g.events.with_file_name(format!("{}.cast.zst", g.id));
            let b = build_session(dir, &g.events, Some(&cast), true)?;
            Ok((b.entry, b.grams))
        })
        .collect()
}

/// Session `n` of `host`, made from a template; the sessions of a host
/// are spread evenly over the `days` days before `now`.
fn synth(
    t: &[Template],
    host: usize,
    n: u64,
    per_host: u64,
    now: DateTime<Utc>,
    days: u32,
) -> Template {
    let mut rng = Rng((host as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n + 1) | 1);
    let (mut e, mut g) = t[rng.below(t.len() as u64) as usize].clone();
    let span = i64::from(days) * 86_400_000;
    let start = now - Duration::milliseconds(span)
        + Duration::milliseconds(n as i64 * span / per_host as i64 + rng.below(1000) as i64);
    let length = e.end - e.start;
    e.id = id_at(start, &mut rng);
    e.start = start;
    e.end = start + length;
    // Every 20th session is alice's, 3 % run nmap (as in the templates).
    if n.is_multiple_of(20) {
        e.user = Some("alice".into());
    } else if e.user.as_deref() == Some("alice") {
        e.user = Some("bob".into());
    }
    e.cast = Some(format!(
        "sessions/{}/{}.cast.zst",
        start.format("%Y/%m/%d"),
        e.id
    ));
    if let Some(g) = &mut g {
        g.id = e.id;
    }
    (e, g)
}

fn host_name(h: usize) -> String {
    format!("host-{h:04}")
}

/// Writes the fleet; returns (objects, bytes).
async fn populate(
    store: &FleetStore,
    t: &[Template],
    hosts: usize,
    per_host: u64,
    days: u32,
) -> Result<(u64, u64)> {
    let now = Utc::now();
    let last_compaction = now - Duration::from_std(sshlog_fleet::uploader::COMPACT_EVERY)?;
    let mut work = Vec::new();
    for h in 0..hosts {
        let mut by_day: std::collections::BTreeMap<(NaiveDate, bool), Vec<Template>> =
            Default::default();
        for n in 0..per_host {
            let s = synth(t, h, n, per_host, now, days);
            if s.0.start <= now {
                let loose = s.0.start > last_compaction;
                by_day
                    .entry((s.0.start.date_naive(), loose))
                    .or_default()
                    .push(s);
            }
        }
        work.extend(
            by_day
                .into_iter()
                .map(move |((day, loose), s)| (h, day, loose, s)),
        );
    }
    let sizes: Vec<(u64, u64)> = futures::stream::iter(work)
        .map(|(h, day, loose, sessions)| async move {
            let host = host_name(h);
            if !loose {
                let (entries, grams): (Vec<_>, Vec<_>) = sessions.into_iter().unzip();
                let grams: Vec<GramEntry> = grams.into_iter().flatten().collect();
                put_day(store, &host, day, &entries, &grams).await?;
                let e = store.head(&store.layout.catalog(&host, day)).await?.size;
                let g = store
                    .head(&store.layout.catalog_grams(&host, day))
                    .await?
                    .size;
                return Ok::<_, anyhow::Error>((2, e + g));
            }
            let (mut n, mut bytes) = (0, 0);
            for (entry, grams) in sessions {
                let key = store.layout.index_entry(&host, day, entry.id);
                let body = serde_json::to_vec(&IndexObject { entry, grams })?;
                bytes += body.len() as u64;
                n += 1;
                store.put_bytes(&key, body).await?;
            }
            Ok((n, bytes))
        })
        .buffer_unordered(PUTS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(sizes.iter().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1)))
}

/// Median seconds of `runs` runs of `sshlog --json search --store URL ARGS`,
/// and the number of sessions found.
fn time_search(sshlog: &str, url: &str, args: &[String], runs: usize) -> Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(sshlog)
            .args(["--json", "search", "--store", url])
            .args(args)
            .output()?;
        times.push(t.elapsed().as_secs_f64());
        if !matches!(out.status.code(), Some(0 | 1)) {
            bail!(
                "sshlog search {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        found = out.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], found))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_fleet SSHLOG HOSTS SESSIONS_PER_HOST DAYS RUNS";
    let sshlog = args.get(1).context(usage)?.clone();
    let num = |i: usize, d: u64| -> Result<u64> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()
            .context(usage)?
            .unwrap_or(d))
    };
    let (hosts, per_host, days, runs) = (
        num(2, 100)? as usize,
        num(3, 10_000)?,
        num(4, 90)? as u32,
        num(5, 5)? as usize,
    );
    let garage = Garage::start()?;
    let tmp = tempfile::tempdir()?;
    let t = templates(tmp.path())?;
    let rt = sshlog_fleet::fleet::runtime()?;
    let yesterday = (Utc::now().date_naive() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let queries: Vec<(&str, Vec<String>)> = vec![
        (
            "one user, all hosts, last 7 days",
            vec![
                "--user".into(),
                "alice".into(),
                "--since".into(),
                "7d".into(),
            ],
        ),
        (
            "one host, last 31 days",
            vec![
                "--host".into(),
                host_name(0),
                "--since".into(),
                "31d".into(),
            ],
        ),
        (
            "all hosts, one day",
            vec![
                "--since".into(),
                yesterday.clone(),
                "--until".into(),
                format!("{yesterday}T23:59:59Z"),
            ],
        ),
        (
            "one command, all hosts, all days",
            vec![
                "--cmd".into(),
                "nmap".into(),
                "--since".into(),
                format!("{days}d"),
            ],
        ),
    ];
    let mut sizes = vec![
        (hosts.div_ceil(10), per_host.div_ceil(10)),
        (hosts, per_host.div_ceil(10)),
        (hosts.div_ceil(10), per_host),
        (hosts, per_host),
    ];
    sizes.dedup();
    println!("## Fleet search");
    println!();
    println!(
        "Command: `tools/bench-fleet {hosts} {per_host} {days} {runs}` — a one-node Garage on 127.0.0.1; \
         each host's sessions spread over the last {days} days, past days compacted into day catalogs, \
         the last 10 minutes' entries loose (as just before a compaction); `sshlog --json search --store` run {runs} times per query (median, wall clock, \
         process start included)."
    );
    println!();
    println!("| hosts × sessions per host | index objects | index bytes | written in | query | sessions found | median |");
    println!("|---|---|---|---|---|---|---|");
    for (h, s) in sizes {
        let prefix = format!("f{h}x{s}");
        let url = garage.store_url(&prefix)?;
        let settings = StoreSettings::from_url(&url)?;
        let store = FleetStore::connect(&settings, &Credentials::load(&settings)?)?;
        let started = Instant::now();
        let (objects, bytes) = rt.block_on(populate(&store, &t, h, s, days))?;
        let took = started.elapsed().as_secs_f64();
        for (name, q) in &queries {
            let (median, found) = time_search(&sshlog, &url, q, runs)?;
            println!(
                "| {h} × {s} | {objects} | {:.1} MiB | {took:.0} s | {name} | {found} | {median:.2} s |",
                bytes as f64 / (1 << 20) as f64
            );
        }
    }
    Ok(())
}
