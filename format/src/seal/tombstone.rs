//! What a deletion leaves: a signed line in `<log_dir>/tombstones.jsonl`
//! naming the recording, its place in the chain, its seal, when and why it
//! was deleted. `verify` follows the chain through tombstones, so retention
//! and purges never look like tampering, and a deletion without one does.

use super::sign::{PublicKey, SealKey};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead};
use std::path::Path;
use uuid::Uuid;

/// The file under the log directory that holds the tombstones.
pub const TOMBSTONES: &str = "tombstones.jsonl";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub session_id: Uuid,
    /// The deleted recording's place in the chain (none for an unnumbered seal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    pub seal: String,
    pub previous_seal: String,
    /// The user whose session it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the recording started and its size (cast and sidecar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default)]
    pub bytes: u64,
    /// RFC 3339, signed as written.
    pub deleted_at: String,
    /// Why: `retention: older than 90 days`, `purge by uid 0: ticket 4711`, ...
    pub reason: String,
    /// `host`: deleted from this host's disk only (space was short); the
    /// fleet store keeps its copy. None: deleted everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Tombstone {
    /// What the key signs: everything but the key and the signature.
    pub fn message(&self) -> String {
        let scope = self
            .scope
            .as_deref()
            .map(|s| format!("scope {s}\n"))
            .unwrap_or_default();
        format!(
            "sshlog-tombstone-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{scope}",
            self.session_id,
            self.sequence.map(|s| s.to_string()).unwrap_or_default(),
            self.seal,
            self.previous_seal,
            self.user.as_deref().unwrap_or(""),
            self.started.as_deref().unwrap_or(""),
            self.bytes,
            self.deleted_at,
            self.reason,
        )
    }

    pub fn sign(&mut self, key: &SealKey) {
        self.key = Some(key.public().to_string());
        self.signature = Some(key.sign(&self.message()));
    }

    /// The key that signed it, if its signature checks.
    pub fn signer(&self) -> Option<PublicKey> {
        let key: PublicKey = self.key.as_deref()?.parse().ok()?;
        key.verifies(&self.message(), self.signature.as_deref()?)
            .then_some(key)
    }
}

/// The tombstones under `log_dir`, with the line numbers of lines that are
/// not tombstones (reported by `verify`). No file: none.
pub fn read_tombstones(log_dir: &Path) -> io::Result<(Vec<Tombstone>, Vec<usize>)> {
    let file = match std::fs::File::open(log_dir.join(TOMBSTONES)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut stones = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(t) => stones.push(t),
            Err(_) => bad.push(n + 1),
        }
    }
    Ok((stones, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_tombstone_checks_until_a_field_changes() {
        let key = SealKey::from_seed([3; 32]);
        let mut t = Tombstone {
            session_id: Uuid::nil(),
            sequence: Some(3),
            seal: "c".repeat(64),
            previous_seal: "d".repeat(64),
            user: Some("alice".into()),
            started: None,
            bytes: 10,
            deleted_at: "2026-12-06T10:00:00Z".into(),
            reason: "purge".into(),
            scope: None,
            key: None,
            signature: None,
        };
        t.sign(&key);
        assert_eq!(t.signer(), Some(key.public()));
        t.reason = "retention".into();
        assert_eq!(t.signer(), None);
    }
}
