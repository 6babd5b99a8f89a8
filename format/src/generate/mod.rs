//! A generator of recorded sessions, written with this library exactly as
//! sshlogd writes them (framed `.cast.zst` with a marker per command,
//! `.events.jsonl` sidecar), for benchmarks and tests that need many
//! sessions: the search benchmark, the simulated fleet.
//!
//! Output is terminal-like text (prompts, `ls -l`, logs, compiler messages,
//! `ps`), from 20 users; every 20th session is `alice`'s, 3 % run `nmap`,
//! and 1 % print the needle [`NEEDLE`] once. Deterministic for a seed.

mod words;

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use uuid::Uuid;

use crate::cast::{CastVersion, Event, Header, SshlogMeta};
use crate::framed::{FrameOptions, FramedCastWriter};
use crate::layout::session_paths;
use crate::sidecar::{write_record, Record, SessionEvent};
pub use words::line;
use words::{COMMANDS, USERS};

/// The needle printed by 1 % of the sessions.
pub const NEEDLE: &str = "XZQ-needle-7731";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The first session starts here; the others are spread over `days`.
    pub start: DateTime<Utc>,
    pub days: u32,
    pub sessions: u64,
    /// Terminal output of each session.
    pub bytes_per_session: u64,
    pub seed: u64,
}

impl Default for Corpus {
    fn default() -> Corpus {
        Corpus {
            start: Utc
                .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            days: 14,
            sessions: 2000,
            bytes_per_session: 1 << 20,
            seed: 1,
        }
    }
}

/// One generated session.
#[derive(Debug, Clone)]
pub struct Generated {
    pub id: Uuid,
    pub events: PathBuf,
    /// Terminal output bytes.
    pub raw: u64,
    /// Size of the `.cast.zst`.
    pub cast: u64,
    pub needle: bool,
    pub alice: bool,
    pub nmap: bool,
}

/// A small deterministic generator (xorshift64*; seed it non-zero).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A UUIDv7 of time `t` with random bits from `rng`.
pub fn id_at(t: DateTime<Utc>, rng: &mut Rng) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp() as u64,
        t.timestamp_subsec_nanos(),
    );
    let mut b = *Uuid::new_v7(ts).as_bytes();
    // Deterministic random bits (new_v7 draws from the OS).
    let r = rng.next_u64().to_le_bytes();
    b[8..16].copy_from_slice(&r);
    b[8] = (b[8] & 0x3F) | 0x80;
    Uuid::from_bytes(b)
}

/// Writes session number `n` of the corpus `o` under `root`.
pub fn session(root: &Path, n: u64, o: &Corpus) -> std::io::Result<Generated> {
    let (total, bytes, seed) = (o.sessions, o.bytes_per_session, o.seed);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (n + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
        | 1);
    let start = o.start
        + Duration::milliseconds(
            (n * u64::from(o.days) * 86_400_000 / total.max(1)) as i64 + rng.below(1000) as i64,
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
    let err = |e: crate::FormatError| std::io::Error::other(e.to_string());
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
    Ok(Generated {
        id,
        events: paths.events,
        raw,
        cast: cast_len,
        needle,
        alice: user == "alice",
        nmap,
    })
}
