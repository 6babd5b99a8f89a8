//! Seeking benchmark (run by `tools/bench-seek`): writes a large `.cast.zst`
//! with the format library (shell output, `top`-like redraws, vim-like
//! alternate-screen sessions, a marker per command; no resizes), then
//! measures
//!
//! - a seek to the last minute through the frame index, printing that
//!   screen (`SeekableCast::screen_at`), then a second seek nearby;
//! - the same first seek once the terminal states are removed from the
//!   index records (as in files written by older versions: the player then
//!   searches the earlier frames for resizes and screen switches);
//! - decoding every event (zstd + JSON);
//! - rebuilding the same screen by replaying the whole file through the
//!   terminal emulator (what a seek costs without the index);
//!
//! with the bytes each read (`rchar` of /proc/self/io) and prints a
//! Markdown table. Usage: `bench_seek [MIB=1024] [DIR]` (the file is
//! created in a temporary directory inside DIR, default the system temp
//! directory, and deleted at the end).

use sshlog_format::cast::{CastVersion, Event, Header};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_player::seekable::{Playhead, SeekableCast};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const WORDS: &[&str] = &[
    "GET",
    "POST",
    "/api/v1/users",
    "200",
    "404",
    "served",
    "in",
    "ms",
    "worker",
    "started",
    "connection",
    "from",
    "10.0.0.7",
    "cache",
    "miss",
    "hit",
    "INFO",
    "WARN",
    "ERROR",
    "job",
    "finished",
    "queue",
    "depth",
    "retry",
    "timeout",
    "backend",
    "upstream",
    "session",
    "token",
    "refreshed",
    "compiling",
    "sshlog-format",
    "v0.1.0",
    "Finished",
    "release",
    "target",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Length of the cast line holding output `s` (ESC is written `\u001b`).
fn line_len(s: &str) -> u64 {
    let escapes = s.bytes().filter(|&b| b == 0x1b).count() as u64;
    s.len() as u64 + 5 * escapes + 22
}

fn rchar() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A size in MiB, or in KiB below 1 MiB.
fn mib(b: u64) -> String {
    if b < 1024 * 1024 {
        format!("{:.0} KiB", b as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    }
}

/// Writes the recording; returns (uncompressed bytes, events, duration µs).
fn generate(path: &std::path::Path, target: u64) -> anyhow::Result<(u64, u64, u64)> {
    let mut header = Header::new(CastVersion::V2, 120, 40);
    header.title = Some("bench".into());
    let file = BufWriter::new(std::fs::File::create(path)?);
    let mut w = FramedCastWriter::new(file, &header, FrameOptions::default())?;
    let mut rng = Rng(0x5eed);
    let (mut t, mut events, mut bytes) = (0u64, 0u64, 0u64);
    let mut cmd = 0u64;
    let put = |w: &mut FramedCastWriter<_>, e: Event| -> anyhow::Result<()> {
        w.write_event(&e)?;
        Ok(())
    };
    while bytes < target {
        cmd += 1;
        t += 500_000 + rng.below(3_000_000);
        put(
            &mut w,
            Event::Marker {
                time_us: t,
                label: format!("command {cmd}"),
            },
        )?;
        let prompt = format!("\x1b[1;32mops@web-{}\x1b[0m:~$ command {cmd}\r\n", cmd % 7);
        bytes += line_len(&prompt);
        put(
            &mut w,
            Event::Output {
                time_us: t,
                data: prompt.into_bytes(),
            },
        )?;
        events += 2;
        match rng.below(10) {
            // top-like: clear, then redraws with cursor movement.
            0 => {
                for frame in 0..20 {
                    t += 1_000_000;
                    let mut s = String::from(if frame == 0 {
                        "\x1b[H\x1b[2J"
                    } else {
                        "\x1b[H"
                    });
                    for row in 0..38 {
                        s.push_str(&format!(
                            "\x1b[{};1H{:>6} {:<8} {:>5.1} {:>5.1} {}\x1b[K",
                            row + 1,
                            rng.below(60_000),
                            WORDS[rng.below(WORDS.len() as u64) as usize],
                            rng.below(1000) as f64 / 10.0,
                            rng.below(1000) as f64 / 10.0,
                            WORDS[rng.below(WORDS.len() as u64) as usize]
                        ));
                    }
                    bytes += line_len(&s);
                    put(
                        &mut w,
                        Event::Output {
                            time_us: t,
                            data: s.into_bytes(),
                        },
                    )?;
                    events += 1;
                }
            }
            // vim-like: alternate screen, redraws, back.
            1 => {
                t += 100_000;
                put(
                    &mut w,
                    Event::Output {
                        time_us: t,
                        data: b"\x1b[?1049h\x1b[H\x1b[2J".to_vec(),
                    },
                )?;
                for k in 0..30 {
                    t += 200_000;
                    let s = format!(
                        "\x1b[{};1H{} {}\x1b[K\x1b[40;1H-- INSERT --",
                        k % 38 + 1,
                        WORDS[k % WORDS.len()],
                        k
                    );
                    bytes += line_len(&s);
                    put(
                        &mut w,
                        Event::Output {
                            time_us: t,
                            data: s.into_bytes(),
                        },
                    )?;
                }
                t += 100_000;
                put(
                    &mut w,
                    Event::Output {
                        time_us: t,
                        data: b"\x1b[?1049l".to_vec(),
                    },
                )?;
                events += 32;
            }
            // Log output scrolling by.
            _ => {
                for _ in 0..(50 + rng.below(400)) {
                    t += 1_000 + rng.below(5_000);
                    let mut s = format!("\x1b[2m{:>8}\x1b[0m ", t / 1000);
                    for _ in 0..(4 + rng.below(14)) {
                        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
                        s.push(' ');
                    }
                    s.push_str("\r\n");
                    bytes += line_len(&s);
                    put(
                        &mut w,
                        Event::Output {
                            time_us: t,
                            data: s.into_bytes(),
                        },
                    )?;
                    events += 1;
                }
            }
        }
    }
    let mut file = w.finish()?;
    file.flush()?;
    Ok((bytes, events, t))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size_mib: u64 = args.next().map_or(Ok(1024), |s| s.parse())?;
    let base = args
        .next()
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::Builder::new()
        .prefix("bench-seek")
        .tempdir_in(base)?;
    let path = dir.path().join("big.cast.zst");

    let t0 = Instant::now();
    generate(&path, size_mib * 1024 * 1024)?;
    let generated = t0.elapsed();
    let on_disk = std::fs::metadata(&path)?.len();

    // (a) Seek to the last minute and print that screen.
    let r0 = rchar();
    let t0 = Instant::now();
    let rec = SeekableCast::open(&path)?;
    let duration = rec.duration_us();
    let target = duration.saturating_sub(60_000_000);
    let (vt, _) = rec.screen_at(target)?;
    let mut stderr = std::io::stderr().lock();
    stderr.write_all(b"\x1b[0m--- screen at the last minute ---\n")?;
    stderr.write_all(sshlog_player::render::screen_text(vt.screen()).as_bytes())?;
    stderr.flush()?;
    let seek = t0.elapsed();
    let seek_read = rchar() - r0;
    let seek_stats = rec.stats();
    let uncompressed: u64 = {
        // Sum of the frames' uncompressed sizes, from the index.
        let f = std::fs::File::open(&path)?;
        sshlog_format::read_frame_index(f)?
            .iter()
            .map(|f| f.uncompressed_len)
            .sum()
    };

    // (a') A second seek nearby, on the same open recording.
    let r0 = rchar();
    let t0 = Instant::now();
    let (_vt2, _) = rec.screen_at(target + 30_000_000)?;
    let seek2 = t0.elapsed();
    let seek2_read = rchar() - r0;

    // (a'') The first seek again, with the states removed from the index.
    strip_states(&path)?;
    let r0 = rchar();
    let t0 = Instant::now();
    let old = SeekableCast::open(&path)?;
    let (vt_old, _) = old.screen_at(target)?;
    let seek_old = t0.elapsed();
    let seek_old_read = rchar() - r0;
    let old_stats = old.stats();
    let same_old = vt_old.screen().contents() == vt.screen().contents();

    // (b) Decode every event.
    let r0 = rchar();
    let t0 = Instant::now();
    let all = SeekableCast::open(&path)?;
    let mut head = Playhead::start(&all)?;
    let mut n = 0u64;
    while head.peek(&all)?.is_some() {
        head.advance();
        n += 1;
    }
    let decode = t0.elapsed();
    let decode_read = rchar() - r0;

    // (c) The same screen by replaying everything through the emulator.
    let r0 = rchar();
    let t0 = Instant::now();
    let full = SeekableCast::open(&path)?.replay_from_start(target)?;
    let replay = t0.elapsed();
    let replay_read = rchar() - r0;
    let same = full.screen().contents() == vt.screen().contents();

    println!("file: {} uncompressed cast ({} events, {} frames, {} of recording), {} on disk (default frame options), generated in {:.1} s",
        mib(uncompressed), n, rec.chunk_count(), sshlog_player_clock(duration), mib(on_disk), generated.as_secs_f64());
    println!();
    println!("| operation | time | read from the file | frames decompressed / parsed |");
    println!("|---|---|---|---|");
    println!(
        "| seek to the last minute through the frame index + print the screen | {:.3} s | {} | {} / {} |",
        seek.as_secs_f64(),
        mib(seek_read),
        seek_stats.frames_decompressed,
        seek_stats.frames_parsed
    );
    let s2 = rec.stats();
    println!(
        "| second seek (+30 s) in the same open recording | {:.3} s | {} | {} / {} |",
        seek2.as_secs_f64(),
        mib(seek2_read),
        s2.frames_decompressed - seek_stats.frames_decompressed,
        s2.frames_parsed - seek_stats.frames_parsed
    );
    println!(
        "| same first seek, index without terminal states (older files) | {:.3} s | {} | {} / {} |",
        seek_old.as_secs_f64(),
        mib(seek_old_read),
        old_stats.frames_decompressed,
        old_stats.frames_parsed
    );
    let ds = all.stats();
    println!(
        "| decode the whole file (zstd + JSON, {n} events) | {:.3} s | {} | {} / {} |",
        decode.as_secs_f64(),
        mib(decode_read),
        ds.frames_decompressed,
        ds.frames_parsed
    );
    println!(
        "| same screen by replaying the whole file through vt100 (no index) | {:.3} s | {} | all |",
        replay.as_secs_f64(),
        mib(replay_read)
    );
    println!();
    println!(
        "seeked screen identical to the full replay: {}",
        if same { "yes" } else { "NO" }
    );
    if !same || !same_old {
        anyhow::bail!("the seeked screen differs from the full replay");
    }
    Ok(())
}

/// Clears the terminal state of every index record (flags bits 1 and 2,
/// and the size), as an older writer left them.
fn strip_states(path: &std::path::Path) -> anyhow::Result<()> {
    use sshlog_format::framed::{FLAG_ALT_SCREEN, FLAG_STATE, INDEX_FRAME_LEN};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    for f in sshlog_format::read_frame_index(&file)? {
        let mut info = f;
        info.start_state = None;
        info.flags &= !(FLAG_STATE | FLAG_ALT_SCREEN);
        file.write_all_at(
            &info.to_skippable_frame(),
            f.offset - INDEX_FRAME_LEN as u64,
        )?;
    }
    file.sync_data()?;
    Ok(())
}

/// `H:MM:SS`.
fn sshlog_player_clock(us: u64) -> String {
    let s = us / 1_000_000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
