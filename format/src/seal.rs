//! Tamper evidence: every finished recording's sidecar ends with a `seal` record
//! holding SHA-256 hashes of its cast and sidecar, chained to the recording sealed
//! before it. [`verify_dir`] recomputes everything and reports files that were
//! modified, recordings that were removed from the chain, and unsealed ones.
//!
//! Threat model and limits: docs/security.md.

use crate::layout::{day_dirs, session_id_from_path};
use crate::sidecar::{read_sidecar, SessionEvent};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// `previous_seal` of the first recording of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The chained seal value.
pub fn seal_value(
    previous: &str,
    cast_sha256: &str,
    sidecar_sha256: &str,
    session: Uuid,
) -> String {
    sha256_hex(
        format!("sshlog-seal-v1\n{previous}\n{cast_sha256}\n{sidecar_sha256}\n{session}\n")
            .as_bytes(),
    )
}

/// What `sshlog verify` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Recordings whose hashes still match.
    pub intact: Vec<Uuid>,
    /// (session, what): a cast or sidecar changed, or a seal does not add up.
    pub modified: Vec<(Uuid, String)>,
    /// Seals that some recording names as its predecessor but that no file holds.
    pub missing: Vec<String>,
    /// Recordings without a seal (still open, or cut off by a crash).
    pub unsealed: Vec<Uuid>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.modified.is_empty() && self.missing.is_empty()
    }
}

struct Sealed {
    id: Uuid,
    previous: String,
    seal: String,
}

/// Checks every recording under `root` (the log directory).
pub fn verify_dir(root: &Path) -> io::Result<Report> {
    let mut report = Report::default();
    let mut sealed: Vec<Sealed> = Vec::new();
    for (_, day) in day_dirs(root, None, None)? {
        let mut files: Vec<PathBuf> = fs::read_dir(&day)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".events.jsonl"))
            .collect();
        files.sort();
        for events in files {
            let Some(id) = session_id_from_path(&events) else {
                continue;
            };
            match check_one(&events, id)? {
                Check::Unsealed => report.unsealed.push(id),
                Check::Modified(what) => report.modified.push((id, what)),
                Check::Intact { previous, seal } => {
                    report.intact.push(id);
                    sealed.push(Sealed { id, previous, seal });
                }
            }
        }
    }
    // The chain: every previous_seal must be the genesis or another recording's seal.
    let seals: HashMap<&str, Uuid> = sealed.iter().map(|s| (s.seal.as_str(), s.id)).collect();
    for s in &sealed {
        if s.previous != GENESIS && !seals.contains_key(s.previous.as_str()) {
            report.missing.push(s.previous.clone());
        }
    }
    Ok(report)
}

enum Check {
    Unsealed,
    Modified(String),
    Intact { previous: String, seal: String },
}

fn check_one(events: &Path, id: Uuid) -> io::Result<Check> {
    let bytes = fs::read(events)?;
    // The seal is the last line; the sidecar hash covers everything before it.
    let body_end = match bytes[..bytes.len().saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
    {
        Some(i) => i + 1,
        None => 0,
    };
    let last = &bytes[body_end..];
    let seal = read_sidecar(io::Cursor::new(last))
        .filter_map(Result::ok)
        .find_map(|r| match r.event {
            SessionEvent::Seal {
                cast_sha256,
                sidecar_sha256,
                previous_seal,
                seal,
            } => Some((cast_sha256, sidecar_sha256, previous_seal, seal)),
            _ => None,
        });
    let Some((cast_sha, sidecar_sha, previous, seal)) = seal else {
        // A seal anywhere but at the end means lines were appended after sealing.
        let sealed_earlier = read_sidecar(io::Cursor::new(&bytes))
            .filter_map(Result::ok)
            .any(|r| matches!(r.event, SessionEvent::Seal { .. }));
        return Ok(if sealed_earlier {
            Check::Modified("lines added after the seal".into())
        } else {
            Check::Unsealed
        });
    };
    if sha256_hex(&bytes[..body_end]) != sidecar_sha {
        return Ok(Check::Modified("event sidecar changed".into()));
    }
    let cast = PathBuf::from(
        events
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    );
    let actual_cast = match sha256_file(&cast) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::NotFound => sha256_hex(b""),
        Err(e) => return Err(e),
    };
    if actual_cast != cast_sha {
        return Ok(Check::Modified(if cast.exists() {
            "cast changed".into()
        } else {
            "cast removed".into()
        }));
    }
    if seal_value(&previous, &cast_sha, &sidecar_sha, id) != seal {
        return Ok(Check::Modified("seal does not match its hashes".into()));
    }
    Ok(Check::Intact { previous, seal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_value_matches_the_documented_formula() {
        let id = Uuid::parse_str("018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e").unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let expected =
            sha256_hex(format!("sshlog-seal-v1\n{GENESIS}\n{a}\n{b}\n{id}\n").as_bytes());
        assert_eq!(seal_value(GENESIS, &a, &b, id), expected);
        assert_ne!(seal_value(GENESIS, &b, &a, id), expected);
    }
}
