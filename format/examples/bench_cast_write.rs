//! The cast writing path alone, in memory: what sshlogd does per output
//! byte after the ring buffer (cast lines with JSON escaping, zstd frames,
//! the search index's trigram filter), timed stage by stage on one core,
//! and the size of the result. For `tools/bench-write`.
//!
//! Usage: `bench_cast_write KIND MIB [LEVEL] [FRAME_KIB] [OUT]` (level and
//! frame size default to sshlogd's). KIND is
//! `terminal` (the corpus generator's lines: `ls -l`, logs, `ps`…) or
//! `printable` (random printable ASCII, as `tools/bench-capture` cats).
//! Reads arrive as `cat` through a pty gives them: 4 KiB every 80 µs,
//! coalesced as sshlogd does (5 ms). With OUT the cast is also written there.

use sshlog_format::cast::{CastVersion, CastWriter, Event, Header};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_format::generate::{line, Rng};
use sshlog_format::index::GramBuilder;
use std::time::Instant;

fn reads(kind: &str, mib: usize) -> Option<Vec<Vec<u8>>> {
    let total = mib << 20;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut text = String::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut made = 0;
    while made < total {
        match kind {
            "terminal" => {
                text.clear();
                line(&mut rng, &mut text);
                buf.extend_from_slice(text.as_bytes());
            }
            "printable" => {
                for _ in 0..100 {
                    buf.push(b' ' + rng.below(95) as u8);
                }
                buf.push(b'\n');
            }
            _ => return None,
        }
        while buf.len() >= 4096 {
            let rest = buf.split_off(4096);
            made += buf.len();
            out.push(std::mem::replace(&mut buf, rest));
        }
    }
    Some(out)
}

/// Best of three runs of `f`, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map(String::as_str).unwrap_or("terminal");
    let num = |i: usize, d: i64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let mib = num(2, 50) as usize;
    let defaults = FrameOptions::default();
    let opts = FrameOptions {
        level: num(3, i64::from(defaults.level)) as i32,
        max_frame_bytes: (num(4, (defaults.max_frame_bytes >> 10) as i64) as usize) << 10,
        coalesce_us: 5000,
        ..FrameOptions::default()
    };
    let Some(reads) = reads(kind, mib) else {
        return Err(format!("KIND is terminal or printable, not {kind}").into());
    };
    let bytes: usize = reads.iter().map(Vec::len).sum();
    let header = Header::new(CastVersion::V2, 120, 40);
    let events = || {
        reads.iter().enumerate().map(|(i, d)| Event::Output {
            time_us: i as u64 * 80,
            data: d.clone(),
        })
    };
    let mut plain = 0;
    let lines = best(|| {
        let mut w = CastWriter::new(Vec::with_capacity(bytes * 2), &header).expect("header");
        for e in events() {
            w.write_event(&e).expect("in memory");
        }
        plain = w.finish().expect("in memory").len();
    });
    let mut cast = Vec::new();
    let framed = best(|| {
        let mut w = FramedCastWriter::new(Vec::new(), &header, opts).expect("header");
        for e in events() {
            w.write_event(&e).expect("in memory");
        }
        cast = w.finish().expect("in memory");
    });
    let copy = best(|| {
        for e in events() {
            std::hint::black_box(e);
        }
    });
    let grams = best(|| {
        let mut g = GramBuilder::new();
        for d in &reads {
            g.push(d);
        }
        std::hint::black_box(g.finish());
    });
    if let Some(out) = args.get(5) {
        std::fs::write(out, &cast)?;
    }
    let rate = |s: f64| bytes as f64 / (1 << 20) as f64 / s;
    println!(
        "input: {kind}, {:.1} MiB in {} reads",
        bytes as f64 / (1 << 20) as f64,
        reads.len()
    );
    println!(
        "options: zstd level {}, frames of {} KiB",
        opts.level,
        opts.max_frame_bytes >> 10
    );
    println!("| stage | seconds (best of 3) | MiB/s |");
    println!("|---|---|---|");
    println!(
        "| cast lines (JSON escaping, no compression) | {:.3} | {:.0} |",
        lines - copy,
        rate(lines - copy)
    );
    println!(
        "| framed cast (lines, state, zstd frames) | {:.3} | {:.0} |",
        framed - copy,
        rate(framed - copy)
    );
    println!("| trigram filter | {grams:.3} | {:.0} |", rate(grams));
    println!(
        "sizes: plain cast {plain} bytes, .cast.zst {} bytes ({:.2}x smaller)",
        cast.len(),
        plain as f64 / cast.len() as f64
    );
    Ok(())
}
