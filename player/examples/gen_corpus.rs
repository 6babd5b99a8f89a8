//! Generate a corpus of recorded sessions for `tools/bench-search`, written
//! with the format library exactly as sshlogd writes them (framed
//! `.cast.zst` with a marker per command, `.events.jsonl` sidecar).
//!
//! Usage: `gen_corpus DIR [SESSIONS] [MIB_PER_SESSION] [SEED]`
//! (defaults 2000, 1, 1). Output is terminal-like text (prompts, `ls -l`,
//! logs, compiler messages, `ps`), over 14 days, 20 users; `alice` has 5 %
//! of the sessions, 3 % run `nmap`, and 1 % print the needle
//! `XZQ-needle-7731` once. Prints the totals as `key=value` lines.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rayon::prelude::*;
use sshlog_format::cast::{CastVersion, Event, Header, SshlogMeta};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use sshlog_format::layout::session_paths;
use sshlog_format::sidecar::{write_record, Record, SessionEvent};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The needle printed by 1 % of the sessions.
const NEEDLE: &str = "XZQ-needle-7731";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "deploy",
];
const WORDS: &[&str] = &[
    "error",
    "warning",
    "info",
    "debug",
    "connection",
    "timeout",
    "request",
    "response",
    "server",
    "client",
    "database",
    "cache",
    "worker",
    "queue",
    "started",
    "stopped",
    "failed",
    "success",
    "retry",
    "backup",
    "config",
    "service",
    "kernel",
    "module",
    "network",
    "interface",
    "packet",
    "dropped",
    "accepted",
    "session",
    "opened",
    "closed",
    "user",
    "root",
    "daemon",
    "process",
    "memory",
    "disk",
    "usage",
    "threshold",
    "exceeded",
    "completed",
    "pending",
    "upstream",
    "healthcheck",
    "deployment",
    "rollout",
    "container",
    "image",
    "pulling",
    "listening",
    "port",
    "bound",
    "address",
    "certificate",
    "expired",
    "renewed",
    "token",
];
const COMMANDS: &[&str] = &[
    "ls -la",
    "cd /var/log",
    "tail -n 200 syslog",
    "journalctl -u nginx",
    "ps aux",
    "df -h",
    "git status",
    "git log --oneline",
    "make -j2",
    "cargo build --release",
    "vim config.yaml",
    "top -b -n 1",
    "dmesg",
    "grep -r error /var/log/app",
    "cat /etc/os-release",
    "uptime",
    "docker ps",
    "systemctl status sshd",
    "free -m",
    "du -sh /var/lib",
];
const HOSTS: &[&str] = &["web01", "web02", "db01", "cache01", "lb01", "build07"];
const SERVICES: &[&str] = &[
    "nginx", "sshd", "postgres", "redis", "cron", "systemd", "app",
];

/// One line of terminal-like output.
fn line(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    match rng.below(6) {
        0 => {
            let _ = write!(
                out,
                "-rw-r--r-- 1 {} {} {:>8} Nov {:>2} {:02}:{:02} {}_{}.{}\r\n",
                rng.pick(USERS),
                rng.pick(USERS),
                rng.below(10_000_000),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.pick(WORDS),
                rng.below(1000),
                rng.pick(&["log", "txt", "conf", "json", "gz", "rs"])
            );
        }
        1 | 2 => {
            let _ = write!(
                out,
                "Nov {:>2} {:02}:{:02}:{:02} {} {}[{}]: {} {} {} from 10.{}.{}.{} port {}\r\n",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.pick(HOSTS),
                rng.pick(SERVICES),
                rng.below(65_000),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                1024 + rng.below(60_000)
            );
        }
        3 => {
            let _ = write!(
                out,
                "\x1b[1;31m{}\x1b[0m: src/{}/{}.rs:{}:{}: {} {} `{}`\r\n",
                rng.pick(&["error", "warning"]),
                rng.pick(WORDS),
                rng.pick(WORDS),
                1 + rng.below(900),
                1 + rng.below(80),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
        4 => {
            let _ = write!(
                out,
                "{:<8} {:>6} {:>4}.{} {:>4}.{} {:>7} {:>6} pts/{} S {:02}:{:02} 0:{:02} /usr/sbin/{} --{}\r\n",
                rng.pick(USERS),
                rng.below(65_000),
                rng.below(100),
                rng.below(10),
                rng.below(100),
                rng.below(10),
                rng.below(2_000_000),
                rng.below(200_000),
                rng.below(20),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.pick(SERVICES),
                rng.pick(WORDS)
            );
        }
        _ => {
            for _ in 0..(4 + rng.below(10)) {
                out.push_str(rng.pick(WORDS));
                out.push(' ');
            }
            out.push_str("\r\n");
        }
    }
}

struct Totals {
    raw: u64,
    cast: u64,
    needle: bool,
    alice: bool,
    nmap: bool,
}

fn id_at(t: DateTime<Utc>, rng: &mut Rng) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp() as u64,
        t.timestamp_subsec_nanos(),
    );
    let mut b = *Uuid::new_v7(ts).as_bytes();
    // Deterministic random bits (new_v7 draws from the OS).
    let r = rng.next().to_le_bytes();
    b[8..16].copy_from_slice(&r);
    b[8] = (b[8] & 0x3F) | 0x80;
    Uuid::from_bytes(b)
}

fn session(root: &Path, n: u64, total: u64, bytes: u64, seed: u64) -> std::io::Result<Totals> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (n + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
        | 1);
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let start = base
        + Duration::milliseconds(
            (n * 14 * 86_400_000 / total.max(1)) as i64 + rng.below(1000) as i64,
        );
    let id = id_at(start, &mut rng);
    let user = if n.is_multiple_of(20) {
        "alice"
    } else {
        USERS[1 + rng.below(USERS.len() as u64 - 1) as usize]
    };
    let ip = format!("198.51.{}.{}", rng.below(256), 1 + rng.below(254));
    let paths = session_paths(root, start, id);
    std::fs::create_dir_all(&paths.dir)?;
    let mut header = Header::new(CastVersion::V2, 120, 40);
    header.timestamp = Some(start.timestamp());
    header.set_sshlog_meta(&SshlogMeta {
        session_id: Some(id),
        sshd_pid: Some(1000 + n as u32),
        tty: Some(format!("/dev/pts/{}", n % 50)),
        user: Some(user.into()),
        client: Some(format!("{ip}:50022")),
        segment: Some(0),
        previous_segment: None,
        root: None,
    });
    let err = |e: sshlog_format::FormatError| std::io::Error::other(e.to_string());
    let file = BufWriter::new(File::create(&paths.cast)?);
    let mut cast = FramedCastWriter::new(file, &header, FrameOptions::default()).map_err(err)?;
    let mut sc = BufWriter::new(File::create(&paths.events)?);
    let rec = |ms: u64, ev| Record::new(start + Duration::milliseconds(ms as i64), Some(id), ev);
    write_record(
        &mut sc,
        &rec(
            0,
            SessionEvent::ConnectionEstablished {
                user: user.into(),
                client_ip: ip.clone(),
                client_port: 50022,
                server_port: 22,
                tty: Some(format!("/dev/pts/{}", n % 50)),
                sshd_pid: 1000 + n as u32,
                existing_login: false,
                root: None,
            },
        ),
    )?;
    let nmap = n % 33 == 7;
    let needle = n % 100 == 42;
    let n_cmds = 5 + rng.below(20);
    let per_cmd = bytes / n_cmds;
    let mut t_ms = 2000u64;
    let mut raw = 0u64;
    let mut text = String::with_capacity(8192);
    for c in 0..n_cmds {
        let argv = if nmap && c == n_cmds / 2 {
            "/usr/bin/nmap -sS 10.0.0.0/24".to_string()
        } else {
            rng.pick(COMMANDS).to_string()
        };
        cast.write_event(&Event::Marker {
            time_us: t_ms * 1000,
            label: argv.clone(),
        })
        .map_err(err)?;
        let pid = 10_000 + c as u32;
        let argv_v: Vec<String> = argv.split(' ').map(String::from).collect();
        write_record(
            &mut sc,
            &rec(
                t_ms,
                SessionEvent::CommandStart {
                    pid,
                    ppid: 999,
                    uid: 1000,
                    user: Some(user.into()),
                    argv: argv_v.clone(),
                    argv_truncated: false,
                    filename: argv_v[0].clone(),
                    cwd: Some(format!("/home/{user}")),
                },
            ),
        )?;
        let mut produced = 0u64;
        while produced < per_cmd {
            text.clear();
            let target = 512 + rng.below(3584) as usize;
            while text.len() < target {
                line(&mut rng, &mut text);
            }
            if needle && c == n_cmds / 2 && produced == 0 {
                text.push_str("found ");
                text.push_str(NEEDLE);
                text.push_str(" in the haystack\r\n");
            }
            t_ms += 1 + rng.below(20);
            cast.write_event(&Event::Output {
                time_us: t_ms * 1000,
                data: text.as_bytes().to_vec(),
            })
            .map_err(err)?;
            produced += text.len() as u64;
        }
        raw += produced;
        t_ms += 500 + rng.below(5000);
        write_record(
            &mut sc,
            &rec(
                t_ms,
                SessionEvent::CommandFinish {
                    pid,
                    exit_code: Some(if rng.below(10) == 0 { 1 } else { 0 }),
                    signal: None,
                    duration_ms: 5,
                    argv: argv_v,
                },
            ),
        )?;
    }
    write_record(
        &mut sc,
        &rec(
            t_ms + 1000,
            SessionEvent::ConnectionClose {
                user: user.into(),
                sshd_pid: 1000 + n as u32,
                duration_ms: t_ms + 1000,
                bytes_in: 100,
                bytes_out: raw,
            },
        ),
    )?;
    cast.finish().map_err(err)?;
    let cast_len = std::fs::metadata(&paths.cast)?.len();
    Ok(Totals {
        raw,
        cast: cast_len,
        needle,
        alice: user == "alice",
        nmap,
    })
}

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
    let results: Vec<std::io::Result<Totals>> = (0..sessions)
        .into_par_iter()
        .map(|n| session(&dir, n, sessions, bytes, seed))
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
