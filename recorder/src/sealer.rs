//! Seals finished recordings into the host's chain, one at a time: hashes
//! the cast and sidecar, numbers the seal, signs it with the host key,
//! appends it to the sidecar, then saves the signed head in `state/chain`
//! (the finisher thread, a full queue's fallback and start-up's leftovers
//! all go through here, so the chain never forks). Also signs the heads
//! sent to the witness and the tombstones of deletions.

use crate::recording::Recording;
use crate::state::StateDir;
use anyhow::{Context, Result};
use sshlog_format::seal::{seal_value, sha256_file, sha256_hex, Head, SealKey, Tombstone};
use sshlog_format::sidecar::{Record, SessionEvent};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use uuid::Uuid;

pub struct Sealer {
    key: Option<SealKey>,
    state: StateDir,
    log_dir: std::path::PathBuf,
    lock: Mutex<()>,
    /// The head's number, kept here so the daemon's tick need not read it.
    sequence: AtomicU64,
}

impl Sealer {
    /// Seals into the chain under `log_dir` (`state/chain`); unsigned
    /// without a key.
    pub fn new(key: Option<SealKey>, log_dir: &Path) -> Sealer {
        let state = StateDir::new(log_dir.join("state"));
        let sequence = AtomicU64::new(state.chain_head().sequence);
        Sealer {
            key,
            state,
            log_dir: log_dir.to_path_buf(),
            lock: Mutex::new(()),
            sequence,
        }
    }

    /// Seals one recording; returns the new head.
    pub fn seal(&self, cast: &Path, events: &Path, id: Uuid) -> Result<Head> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let previous = self.state.chain_head();
        let cast_sha256 = match sha256_file(cast) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => sha256_hex(b""),
            Err(e) => return Err(e).with_context(|| format!("cannot hash {}", cast.display())),
        };
        let sidecar_sha256 =
            sha256_file(events).with_context(|| format!("cannot hash {}", events.display()))?;
        let sequence = previous.sequence + 1;
        let seal = seal_value(&previous.seal, &cast_sha256, &sidecar_sha256, id, sequence);
        let signature = self
            .key
            .as_ref()
            .map(|k| k.sign(&sshlog_format::seal::seal_message(&seal)));
        let rec = Record {
            schema: sshlog_format::sidecar::SCHEMA_VERSION,
            ts: chrono::Utc::now(),
            session_id: Some(id),
            event: SessionEvent::Seal {
                cast_sha256,
                sidecar_sha256,
                previous_seal: previous.seal.clone(),
                seal: seal.clone(),
                sequence: Some(sequence),
                key: self.key.as_ref().map(|k| k.public().to_string()),
                signature,
            },
            extra: serde_json::Map::new(),
        };
        Recording::append_record(events, &rec)?;
        OpenOptions::new()
            .append(true)
            .open(events)
            .and_then(|f| f.sync_data())
            .ok();
        let head = Head::new(&seal, sequence, now(), self.key.as_ref());
        if let Err(e) = self.state.set_chain_head(&head) {
            tracing::warn!("cannot save the seal chain head: {e:#}");
        }
        self.sequence.store(sequence, Ordering::Relaxed);
        Ok(head)
    }

    /// The chain head, signed again now (a witness that sees it every
    /// minute knows the chain had not grown past it at that time).
    pub fn current_head(&self) -> Head {
        let head = self.state.chain_head();
        Head::new(&head.seal, head.sequence, now(), self.key.as_ref())
    }

    /// The head's number (cheap: for noticing a new seal).
    pub fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::Relaxed)
    }

    /// Signs `stone` and appends it to `tombstones.jsonl` (synced) before
    /// anything is deleted.
    pub fn bury(&self, mut stone: Tombstone) -> Result<Tombstone> {
        if let Some(k) = &self.key {
            stone.sign(k);
        }
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.log_dir.join(sshlog_format::seal::TOMBSTONES);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut line = serde_json::to_vec(&stone)?;
        line.push(b'\n');
        f.write_all(&line)
            .and_then(|_| f.sync_data())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(stone)
    }
}

/// RFC 3339 with microseconds, as signed.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
