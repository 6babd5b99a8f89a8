//! Retention: which recordings to delete, and deleting them so that the
//! seal chain still verifies. A [`Policy`] (`retention:` in sshlogd.yaml)
//! limits age (per user too), total size and free space; [`plan`] picks
//! the oldest sealed recordings first and never one still being written;
//! [`delete`] writes a signed tombstone (synced) before it removes the
//! files and the index entry. `sshlog purge` deletes through [`delete`] as
//! well.

use crate::sealer::Sealer;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sshlog_format::layout::{day_dirs, session_id_from_path};
use sshlog_format::seal::Tombstone;
use sshlog_format::sidecar::{read_sidecar, SessionEvent};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Delete recordings older than this many days.
    pub max_age_days: Option<u64>,
    /// Keep the recordings under this size in all (`50GiB`, `500MiB`, bytes).
    pub max_total_size: Option<Size>,
    /// Keep at least this much of the log directory's file system free.
    pub min_free_percent: Option<f64>,
    /// Per user: `alice: {max_age_days: 365}`.
    pub users: BTreeMap<String, UserPolicy>,
    /// How often the policy is checked (seconds).
    pub check_seconds: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_age_days: None,
            max_total_size: None,
            min_free_percent: None,
            users: BTreeMap::new(),
            check_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserPolicy {
    pub max_age_days: Option<u64>,
}

/// A size in bytes, written `50GiB`, `512MiB`, `10G`, `2048` ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "not a size: {s:?} (write e.g. 50GiB, 512MiB or a number of bytes)"
                ))
            }),
        }
    }
}

pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some((n * mult as f64) as u64)
}

/// How the reasons of deletions for this disk's space begin.
const SPACE_REASONS: [&str; 2] = [
    "retention: recordings over max_total_size",
    "retention: less than",
];

/// A sealed recording that may be deleted.
#[derive(Debug, Clone)]
pub struct Recording {
    pub id: Uuid,
    pub events: PathBuf,
    pub cast: PathBuf,
    pub day: chrono::NaiveDate,
    pub started: DateTime<Utc>,
    pub user: Option<String>,
    /// Cast, sidecar and any file beside them of the same recording.
    pub bytes: u64,
    pub sequence: Option<u64>,
    pub seal: String,
    pub previous_seal: String,
}

impl Recording {
    /// The files of the recording (cast, sidecar, `.frames` ...).
    fn files(&self) -> Vec<PathBuf> {
        let stem = self.id.hyphenated().to_string();
        fs::read_dir(self.events.parent().unwrap_or(Path::new(".")))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(&stem))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The sealed recordings under `log_dir`, oldest first, and the bytes of
/// all recordings (sealed or not).
pub fn scan(log_dir: &Path) -> Result<(Vec<Recording>, u64)> {
    let mut out = Vec::new();
    let mut total = 0;
    for (day, dir) in day_dirs(log_dir, None, None)? {
        let Ok(rd) = fs::read_dir(&dir) else {
            continue;
        };
        let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
        let mut sidecars = Vec::new();
        for e in rd.flatten() {
            let path = e.path();
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            total += len;
            let name = e.file_name().to_string_lossy().into_owned();
            *sizes.entry(name.chars().take(36).collect()).or_default() += len;
            if name.ends_with(".events.jsonl") {
                sidecars.push(path);
            }
        }
        for events in sidecars {
            let Some(id) = session_id_from_path(&events) else {
                continue;
            };
            if let Some(mut r) = read_recording(&events, id, day)? {
                r.bytes = sizes
                    .get(&id.hyphenated().to_string())
                    .copied()
                    .unwrap_or(0);
                out.push(r);
            }
        }
    }
    out.sort_by_key(|r| (r.started, r.sequence));
    Ok((out, total))
}

/// Records read from the head of a sidecar for its start and user (the
/// connection's first records).
const HEAD_RECORDS: usize = 16;
/// Bytes read from the end of a sidecar for its last record (the seal).
const TAIL_BYTES: u64 = 64 << 10;

/// The recording of one sidecar, if it is sealed: its last record is a
/// seal. Only the head and the tail of the sidecar are read, so a scan of
/// the whole store costs the same whatever the sessions held.
fn read_recording(events: &Path, id: Uuid, day: chrono::NaiveDate) -> Result<Option<Recording>> {
    let read = |e: std::io::Error| {
        anyhow::Error::new(e).context(format!("cannot read {}", events.display()))
    };
    let mut file = fs::File::open(events).map_err(read)?;
    let mut started = None;
    let mut user = None;
    for rec in read_sidecar(BufReader::new(&file))
        .take(HEAD_RECORDS)
        .flatten()
    {
        started.get_or_insert(rec.ts);
        if let SessionEvent::ConnectionEstablished { user: u, .. } = rec.event {
            user = Some(u);
            break;
        }
    }
    let len = file.metadata().map_err(read)?.len();
    let from = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(from)).map_err(read)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(read)?;
    // A tail that starts inside a line begins after that line's end.
    let lines = match tail.iter().position(|&b| b == b'\n') {
        Some(i) if from > 0 => &tail[i + 1..],
        None if from > 0 => &[][..],
        _ => &tail[..],
    };
    let seal = match read_sidecar(lines).flatten().last().map(|r| r.event) {
        Some(SessionEvent::Seal {
            seal: s,
            previous_seal,
            sequence,
            ..
        }) => Some((s, previous_seal, sequence)),
        _ => None, // unsealed, or records after the seal
    };
    let Some((seal, previous_seal, sequence)) = seal else {
        return Ok(None);
    };
    Ok(Some(Recording {
        id,
        cast: PathBuf::from(
            events
                .to_string_lossy()
                .replace(".events.jsonl", ".cast.zst"),
        ),
        events: events.to_path_buf(),
        day,
        started: started.unwrap_or_default(),
        user,
        bytes: 0,
        sequence,
        seal,
        previous_seal,
    }))
}

/// The file system holding the recordings.
#[derive(Debug, Clone, Copy)]
pub struct Disk {
    pub size: u64,
    pub free: u64,
}

impl Disk {
    pub fn of(path: &Path) -> Result<Disk> {
        let st = nix::sys::statvfs::statvfs(path)
            .with_context(|| format!("cannot stat the file system of {}", path.display()))?;
        let frag = st.fragment_size() as u64;
        Ok(Disk {
            size: st.blocks() as u64 * frag,
            free: st.blocks_available() as u64 * frag,
        })
    }
}

/// What to delete, oldest first, with the rule that asks for it. `keep`
/// says which recordings must stay (waiting for upload to the store).
pub fn plan(
    policy: &Policy,
    recordings: &[Recording],
    total: u64,
    disk: Disk,
    now: DateTime<Utc>,
    keep: &dyn Fn(&Recording) -> bool,
) -> Vec<(usize, String)> {
    let mut chosen: Vec<(usize, String)> = Vec::new();
    let mut taken = vec![false; recordings.len()];
    for (i, r) in recordings.iter().enumerate() {
        let user_limit = r
            .user
            .as_ref()
            .and_then(|u| policy.users.get(u))
            .and_then(|u| u.max_age_days);
        let (limit, whose) = match user_limit {
            Some(d) => (Some(d), format!(" for {}", r.user.as_deref().unwrap_or(""))),
            None => (policy.max_age_days, String::new()),
        };
        if let Some(days) = limit {
            if now - r.started > chrono::Duration::days(days as i64) && !keep(r) {
                taken[i] = true;
                chosen.push((i, format!("retention: older than {days} days{whose}")));
            }
        }
    }
    let mut remaining = total
        - chosen
            .iter()
            .map(|(i, _)| recordings[*i].bytes)
            .sum::<u64>();
    let mut free = disk.free + (total - remaining);
    for (i, r) in recordings.iter().enumerate() {
        if taken[i] || keep(r) {
            continue;
        }
        let over_size = policy
            .max_total_size
            .is_some_and(|Size(max)| remaining > max);
        let low_free = policy
            .min_free_percent
            .is_some_and(|p| (free as f64) < disk.size as f64 * p / 100.0);
        if !over_size && !low_free {
            break;
        }
        let why = if over_size {
            format!(
                "{} ({} bytes)",
                SPACE_REASONS[0],
                policy.max_total_size.map(|s| s.0).unwrap_or(0)
            )
        } else {
            format!(
                "{} {}% of the disk free",
                SPACE_REASONS[1],
                policy.min_free_percent.unwrap_or(0.0)
            )
        };
        taken[i] = true;
        remaining = remaining.saturating_sub(r.bytes);
        free += r.bytes;
        chosen.push((i, why));
    }
    chosen
}

/// The recordings a purge names: those of `ids`, or those of `user` (any
/// user without one) that started before `before`.
pub fn select(
    recordings: &[Recording],
    ids: &[Uuid],
    user: Option<&str>,
    before: Option<DateTime<Utc>>,
) -> Vec<usize> {
    recordings
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            if !ids.is_empty() {
                return ids.contains(&r.id);
            }
            user.is_none_or(|u| r.user.as_deref() == Some(u))
                && before.is_none_or(|b| r.started < b)
        })
        .map(|(i, _)| i)
        .collect()
}

/// `sshlog purge`: deletes the recordings [`select`] names. A purge that
/// names ids of recordings still being written (or unknown) fails whole,
/// saying which, before anything is deleted.
pub fn purge(
    deleter: &Deleter,
    ids: &[Uuid],
    user: Option<&str>,
    before: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<Vec<Deleted>> {
    let (recordings, _) = scan(deleter.log_dir())?;
    let chosen = select(&recordings, ids, user, before);
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !chosen.iter().any(|&i| recordings[i].id == **id))
        .map(Uuid::to_string)
        .collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "no finished recording {} (still being recorded, already deleted, or never made); nothing purged",
            unknown.join(", ")
        );
    }
    let mut done = Vec::new();
    for i in chosen {
        if let Some(d) = deleter.delete(&recordings[i], reason)? {
            done.push(d);
        }
    }
    Ok(done)
}

/// A deletion, as the event stream tells it.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub recording: Recording,
    pub event: SessionEvent,
}

/// Deletes recordings, one at a time (the pruner and `sshlog purge` share
/// it, so a recording is never buried twice).
pub struct Deleter {
    sealer: std::sync::Arc<Sealer>,
    log_dir: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl Deleter {
    pub fn new(sealer: std::sync::Arc<Sealer>, log_dir: &Path) -> Deleter {
        Deleter {
            sealer,
            log_dir: log_dir.to_path_buf(),
            lock: std::sync::Mutex::new(()),
        }
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Deletes `r` for `reason`; `None` when it is already gone.
    pub fn delete(&self, r: &Recording, reason: &str) -> Result<Option<Deleted>> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if !r.events.exists() {
            return Ok(None);
        }
        delete(&self.sealer, &self.log_dir, r, reason)?;
        Ok(Some(Deleted {
            recording: r.clone(),
            event: SessionEvent::RecordingDeleted {
                user: r.user.clone(),
                reason: reason.to_string(),
                bytes: r.bytes,
                sequence: r.sequence,
            },
        }))
    }

    /// Deletes what `policy` asks for now, oldest first; the sidecars in
    /// `pinned` must stay (not yet in the fleet store).
    pub fn prune(&self, policy: &Policy, pinned: &HashSet<PathBuf>) -> Result<Vec<Deleted>> {
        let (recordings, total) = scan(&self.log_dir)?;
        let disk = Disk::of(&self.log_dir)?;
        let mut done = Vec::new();
        let keep = |r: &Recording| pinned.contains(&r.events);
        for (i, reason) in plan(policy, &recordings, total, disk, Utc::now(), &keep) {
            match self.delete(&recordings[i], &reason) {
                Ok(Some(d)) => done.push(d),
                Ok(None) => {}
                Err(e) => tracing::error!("retention: cannot delete {}: {e:#}", recordings[i].id),
            }
        }
        Ok(done)
    }
}

/// The retention thread: checks the policy every `check_seconds` (every
/// few seconds while space is short) and hands its deletions to the
/// daemon, which reports them as events.
pub struct Pruner {
    deleted: std::sync::Arc<std::sync::Mutex<Vec<Deleted>>>,
}

impl Pruner {
    pub fn start(
        policy: Policy,
        deleter: std::sync::Arc<Deleter>,
        pinned: Box<dyn Fn() -> HashSet<PathBuf> + Send>,
    ) -> Pruner {
        let deleted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = deleted.clone();
        let every = std::time::Duration::from_secs(policy.check_seconds.max(1));
        let spawned = std::thread::Builder::new()
            .name("sshlog-retention".into())
            .spawn(move || loop {
                let found = match deleter.prune(&policy, &pinned()) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!("retention: {e:#}");
                        Vec::new()
                    }
                };
                let short = policy.min_free_percent.is_some_and(|p| {
                    Disk::of(deleter.log_dir())
                        .is_ok_and(|d| (d.free as f64) < d.size as f64 * p / 100.0)
                });
                if !found.is_empty() {
                    let bytes: u64 = found.iter().map(|d| d.recording.bytes).sum();
                    tracing::info!(
                        "retention: deleted {} recording(s), {bytes} bytes",
                        found.len()
                    );
                    out.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
                }
                std::thread::sleep(if short {
                    every.min(std::time::Duration::from_secs(2))
                } else {
                    every
                });
            });
        if let Err(e) = spawned {
            tracing::error!("retention: cannot start its thread: {e}; nothing will be pruned");
        }
        Pruner { deleted }
    }

    /// Deletions since the last call.
    pub fn take(&self) -> Vec<Deleted> {
        std::mem::take(&mut *self.deleted.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Deletes one recording: its signed tombstone first (so a crash in
/// between leaves a tombstone for files still there, never the reverse),
/// then its files and index entry.
pub fn delete(sealer: &Sealer, log_dir: &Path, r: &Recording, reason: &str) -> Result<Tombstone> {
    // Size and free space are this disk's budget: the store keeps its copy.
    let scope = (reason.starts_with(SPACE_REASONS[0]) || reason.starts_with(SPACE_REASONS[1]))
        .then(|| "host".to_string());
    let stone = sealer.bury(Tombstone {
        session_id: r.id,
        sequence: r.sequence,
        seal: r.seal.clone(),
        previous_seal: r.previous_seal.clone(),
        user: r.user.clone(),
        started: Some(r.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        bytes: r.bytes,
        deleted_at: crate::sealer::now(),
        reason: reason.to_string(),
        scope,
        key: None,
        signature: None,
    })?;
    for f in r.files() {
        match fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot delete {}", f.display())),
        }
    }
    if let Err(e) = sshlog_format::index::forget_sessions(log_dir, r.day, &[r.id]) {
        tracing::warn!("cannot remove {} from the search index: {e}", r.id);
    }
    Ok(stone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8, days_old: i64, user: &str, bytes: u64) -> Recording {
        Recording {
            id: Uuid::from_bytes([n; 16]),
            events: PathBuf::new(),
            cast: PathBuf::new(),
            day: chrono::NaiveDate::MIN,
            started: Utc::now() - chrono::Duration::days(days_old),
            user: Some(user.into()),
            bytes,
            sequence: Some(n as u64),
            seal: String::new(),
            previous_seal: String::new(),
        }
    }

    #[test]
    fn sizes_read_as_administrators_write_them() {
        assert_eq!(parse_size("50GiB"), Some(50 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("5 parsecs"), None);
    }

    #[test]
    fn age_per_user_then_size_then_free_space_oldest_first() {
        let policy: Policy = serde_yaml_like(
            "max_age_days: 90\nmax_total_size: 250\nmin_free_percent: 10\nusers:\n  alice:\n    max_age_days: 365\n",
        );
        let rs = vec![
            rec(1, 200, "alice", 100), // kept: alice keeps a year
            rec(2, 100, "bob", 100),   // older than 90 days
            rec(3, 50, "bob", 100),    // over 250 bytes with 1 and 4
            rec(4, 1, "bob", 100),
        ];
        let disk = Disk {
            size: 10_000,
            free: 5_000,
        };
        let got = plan(&policy, &rs, 400, disk, Utc::now(), &|_| false);
        let ids: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![1, 0], "{got:?}");
        assert!(got[0].1.contains("older than 90 days"));
        assert!(got[1].1.contains("max_total_size"));
        // Low on space: the oldest go until 10 % is free.
        let tight = Disk {
            size: 10_000,
            free: 850,
        };
        let policy = Policy {
            min_free_percent: Some(10.0),
            ..Policy::default()
        };
        let got = plan(&policy, &rs, 400, tight, Utc::now(), &|r| r.id == rs[0].id);
        let ids: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![1, 2], "{got:?}");
    }

    /// A sidecar far larger than the tail that is read: its seal is found
    /// at the end, its start and user at the head; a record after the
    /// seal makes it unsealed.
    #[test]
    fn a_large_sidecar_is_read_by_its_head_and_tail() {
        use sshlog_format::sidecar::{write_record, Record};
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::now_v7();
        let events = dir.path().join(format!("{id}.events.jsonl"));
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let mut out = Vec::new();
        let rec = |ev| Record::new(t0, Some(id), ev);
        write_record(
            &mut out,
            &rec(SessionEvent::ConnectionEstablished {
                user: "alice".into(),
                client_ip: "192.0.2.1".into(),
                client_port: 5000,
                server_port: 22,
                tty: None,
                sshd_pid: 7,
                existing_login: false,
                root: None,
            }),
        )
        .unwrap();
        while (out.len() as u64) < 3 * TAIL_BYTES {
            let later = Record::new(
                t0 + chrono::Duration::seconds(5),
                Some(id),
                SessionEvent::CommandStart {
                    pid: 9,
                    ppid: 8,
                    uid: 1000,
                    user: Some("alice".into()),
                    argv: vec!["ls".into(), "-l".into()],
                    argv_truncated: false,
                    filename: "/bin/ls".into(),
                    cwd: None,
                },
            );
            write_record(&mut out, &later).unwrap();
        }
        let seal = SessionEvent::Seal {
            cast_sha256: "c".repeat(64),
            sidecar_sha256: "s".repeat(64),
            previous_seal: "0".repeat(64),
            seal: "5".repeat(64),
            sequence: Some(42),
            key: None,
            signature: None,
        };
        write_record(&mut out, &rec(seal)).unwrap();
        fs::write(&events, &out).unwrap();
        let day = t0.date_naive();
        let r = read_recording(&events, id, day).unwrap().expect("sealed");
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.started, t0);
        assert_eq!(
            (r.sequence, r.seal.as_str()),
            (Some(42), "5".repeat(64).as_str())
        );

        let mut after = out.clone();
        write_record(
            &mut after,
            &rec(SessionEvent::StorageError {
                path: "x".into(),
                error: "late".into(),
                resolved: false,
            }),
        )
        .unwrap();
        fs::write(&events, &after).unwrap();
        assert!(read_recording(&events, id, day).unwrap().is_none());
    }

    fn serde_yaml_like(text: &str) -> Policy {
        sshlog_actions::yaml::typed::from_text(text).unwrap()
    }
}
