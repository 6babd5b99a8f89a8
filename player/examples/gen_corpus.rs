//! Generate a corpus of recorded sessions for `tools/bench-search` with the
//! format library's generator ([`sshlog_format::generate`]).
//!
//! Usage: `gen_corpus DIR [SESSIONS] [MIB_PER_SESSION] [SEED]`
//! (defaults 2000, 1, 1): 14 days from 2026-11-01. Prints the totals as
//! `key=value` lines.

use rayon::prelude::*;
use sshlog_format::generate::{session, Corpus, Generated, NEEDLE};
use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: gen_corpus DIR [SESSIONS] [MIB_PER_SESSION] [SEED]");
        return std::process::ExitCode::from(2);
    };
    let num = |i: usize, d: f64| args.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(d);
    let sessions = num(2, 2000.0) as u64;
    let bytes = (num(3, 1.0) * 1024.0 * 1024.0) as u64;
    let seed = num(4, 1.0) as u64;
    let corpus = Corpus {
        sessions,
        bytes_per_session: bytes,
        seed,
        ..Corpus::default()
    };
    let results: Vec<std::io::Result<Generated>> = (0..sessions)
        .into_par_iter()
        .map(|n| session(&dir, n, &corpus))
        .collect();
    let (mut raw, mut cast, mut needle, mut alice, mut nmap) = (0u64, 0u64, 0, 0, 0);
    for r in results {
        match r {
            Ok(t) => {
                raw += t.raw;
                cast += t.cast;
                needle += usize::from(t.needle);
                alice += usize::from(t.alice);
                nmap += usize::from(t.nmap);
            }
            Err(e) => {
                eprintln!("gen_corpus: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    println!("sessions={sessions}");
    println!("raw_bytes={raw}");
    println!("cast_bytes={cast}");
    println!("needle={NEEDLE}");
    println!("needle_sessions={needle}");
    println!("alice_sessions={alice}");
    println!("nmap_sessions={nmap}");
    std::process::ExitCode::SUCCESS
}
