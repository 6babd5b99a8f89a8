//! `verify`: checks a log directory. Each sealed recording's files are
//! hashed again; each seal's signature is checked (against the auditor's key
//! when given); the seals and tombstones must form one numbered chain from
//! the genesis; the chain must reach the signed head in `state/chain` and
//! every head a witness saw. Every finding names its kind and, where one is
//! known, the recording.

use super::head::{Head, WitnessHead};
use super::sign::PublicKey;
use super::tombstone::read_tombstones;
use super::values::{seal_message, seal_value, seal_value_v1, sha256_file, sha256_hex, GENESIS};
use crate::layout::{day_dirs, session_id_from_path};
use crate::sidecar::{read_sidecar, SessionEvent};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// What the auditor brings.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// The host's public key, from a copy kept off the host: every seal,
    /// tombstone and head must be signed by it.
    pub key: Option<PublicKey>,
    /// Chain heads sent off the host while it recorded.
    pub witness: Vec<WitnessHead>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A cast or sidecar changed, or a seal does not add up.
    Modified,
    /// Frames of a cast that no longer decode (named by time).
    Damaged,
    /// A sealed recording is gone and no tombstone accounts for it.
    Missing,
    /// Seals out of their order: a number that does not follow its
    /// predecessor, or two recordings after the same one.
    Reordered,
    /// The chain ends before a head that was signed or witnessed.
    Truncated,
    /// A witnessed seal was replaced: the history was rewritten.
    Rewritten,
    /// A signature that does not check.
    BadSignature,
    /// Signed, but by a key other than the auditor's.
    OtherKey,
    /// Not signed, though the auditor asked for a key.
    Unsigned,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Modified => "MODIFIED",
            Kind::Damaged => "DAMAGED",
            Kind::Missing => "MISSING",
            Kind::Reordered => "REORDERED",
            Kind::Truncated => "TRUNCATED",
            Kind::Rewritten => "REWRITTEN",
            Kind::BadSignature => "BAD-SIGNATURE",
            Kind::OtherKey => "OTHER-KEY",
            Kind::Unsigned => "UNSIGNED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub session: Option<Uuid>,
    pub what: String,
}

/// What `sshlog verify` found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Recordings whose hashes still match.
    pub intact: Vec<Uuid>,
    /// Recordings deleted on purpose (a tombstone accounts for each).
    pub deleted: Vec<Uuid>,
    /// Recordings without a seal (still open, or cut off by a crash).
    pub unsealed: Vec<Uuid>,
    pub findings: Vec<Finding>,
    /// The highest number in the chain.
    pub length: u64,
    /// Fingerprints of the keys that signed the chain.
    pub signers: Vec<String>,
    /// The signed head the host keeps, if any.
    pub head: Option<Head>,
    /// The newest head a witness saw (and that was checked).
    pub witnessed: Option<Head>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    fn add(&mut self, kind: Kind, session: Option<Uuid>, what: impl Into<String>) {
        self.findings.push(Finding {
            kind,
            session,
            what: what.into(),
        });
    }
}

/// One link of the chain: a sealed recording or a tombstone.
struct Link {
    id: Uuid,
    sequence: Option<u64>,
    previous: String,
    seal: String,
    key: Option<String>,
    signature: Option<String>,
    /// The message the signature covers.
    message: String,
    tombstone: bool,
}

/// Checks every recording under `root` (the log directory).
pub fn verify_dir(root: &Path, opts: &Options) -> io::Result<Report> {
    // The head first: a seal made while the files are read is then newer
    // than it, never missing from under it.
    let mut report = Report {
        head: read_head(root),
        ..Report::default()
    };
    let mut links: Vec<Link> = Vec::new();
    for (_, day) in day_dirs(root, None, None)? {
        let mut files: Vec<PathBuf> = fs::read_dir(&day)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for path in &files {
            let name = path.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".cast.zst") {
                if !Path::new(&format!("{stem}.events.jsonl")).exists() {
                    if let Some(id) = session_id_from_path(path) {
                        report.add(
                            Kind::Modified,
                            Some(id),
                            "event sidecar removed (its cast is still here)",
                        );
                    }
                }
                continue;
            }
            if !name.ends_with(".events.jsonl") {
                continue;
            }
            let Some(id) = session_id_from_path(path) else {
                continue;
            };
            match check_one(path, id)? {
                Check::Unsealed => report.unsealed.push(id),
                Check::Modified(what, cast, link) => {
                    report.add(Kind::Modified, Some(id), what);
                    if let Some(cast) = cast {
                        name_damage(&cast, id, &mut report);
                    }
                    links.extend(link);
                }
                Check::Intact(link) => {
                    report.intact.push(id);
                    links.push(link);
                }
            }
        }
    }
    let (stones, bad_lines) = read_tombstones(root)?;
    for n in bad_lines {
        report.add(
            Kind::Modified,
            None,
            format!("line {n} of tombstones.jsonl is not a tombstone"),
        );
    }
    let mut present: HashMap<String, ()> = links.iter().map(|l| (l.seal.clone(), ())).collect();
    for t in stones {
        if present.insert(t.seal.clone(), ()).is_some() {
            continue; // deleted after this copy was made, or buried twice
        }
        report.deleted.push(t.session_id);
        links.push(Link {
            id: t.session_id,
            sequence: t.sequence,
            previous: t.previous_seal.clone(),
            seal: t.seal.clone(),
            message: t.message(),
            key: t.key,
            signature: t.signature,
            tombstone: true,
        });
    }
    check_signatures(&links, opts, &mut report);
    check_links(&links, &mut report);
    report.length = links.iter().filter_map(|l| l.sequence).max().unwrap_or(0);
    check_heads(&links, opts, &mut report);
    Ok(report)
}

fn read_head(root: &Path) -> Option<Head> {
    let text = fs::read_to_string(root.join("state").join("chain")).ok()?;
    serde_json::from_str(text.trim()).ok()
}

enum Check {
    Unsealed,
    /// What changed, the cast when it is the cast (to name damaged
    /// frames), and the seal when it still reads (the chain goes on
    /// through it: its successor is not missing, only this one changed).
    Modified(String, Option<PathBuf>, Option<Link>),
    Intact(Link),
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
        .map(|r| r.event)
        .find(|e| matches!(e, SessionEvent::Seal { .. }));
    let Some(SessionEvent::Seal {
        cast_sha256: cast_sha,
        sidecar_sha256: sidecar_sha,
        previous_seal: previous,
        seal,
        sequence,
        key,
        signature,
    }) = seal
    else {
        // A seal anywhere but at the end means lines were appended after sealing.
        let sealed_earlier = read_sidecar(io::Cursor::new(&bytes))
            .filter_map(Result::ok)
            .any(|r| matches!(r.event, SessionEvent::Seal { .. }));
        return Ok(if sealed_earlier {
            Check::Modified("lines added after the seal".into(), None, None)
        } else {
            Check::Unsealed
        });
    };
    let expected = match sequence {
        Some(n) => seal_value(&previous, &cast_sha, &sidecar_sha, id, n),
        None => seal_value_v1(&previous, &cast_sha, &sidecar_sha, id),
    };
    if expected != seal {
        return Ok(Check::Modified(
            "the seal does not add up (moved from another recording or edited)".into(),
            None,
            None,
        ));
    }
    let link = Link {
        id,
        sequence,
        previous,
        message: seal_message(&seal),
        seal,
        key,
        signature,
        tombstone: false,
    };
    if sha256_hex(&bytes[..body_end]) != sidecar_sha {
        return Ok(Check::Modified(
            "event sidecar changed".into(),
            None,
            Some(link),
        ));
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
        return Ok(if cast.exists() {
            Check::Modified("cast changed".into(), Some(cast), Some(link))
        } else {
            Check::Modified("cast removed".into(), None, Some(link))
        });
    }
    Ok(Check::Intact(link))
}

/// Names the frames of a changed cast that no longer decode.
fn name_damage(cast: &Path, id: Uuid, report: &mut Report) {
    let Ok(damage) = crate::framed::damaged_frames(cast) else {
        return;
    };
    for d in damage {
        report.add(Kind::Damaged, Some(id), d.to_string());
    }
}

fn check_signatures(links: &[Link], opts: &Options, report: &mut Report) {
    let mut signers: BTreeMap<String, ()> = BTreeMap::new();
    for l in links {
        let what = if l.tombstone { "tombstone" } else { "seal" };
        let seq = l.sequence.map(|s| format!(" (#{s})")).unwrap_or_default();
        let (Some(key), Some(sig)) = (&l.key, &l.signature) else {
            if opts.key.is_some() {
                report.add(
                    Kind::Unsigned,
                    Some(l.id),
                    format!("{what}{seq} is not signed"),
                );
            }
            continue;
        };
        let Ok(key) = key.parse::<PublicKey>() else {
            report.add(
                Kind::BadSignature,
                Some(l.id),
                format!("{what}{seq} names no valid key"),
            );
            continue;
        };
        if !key.verifies(&l.message, sig) {
            report.add(
                Kind::BadSignature,
                Some(l.id),
                format!("the signature of its {what}{seq} does not match"),
            );
            continue;
        }
        signers.insert(key.fingerprint(), ());
        if let Some(expected) = &opts.key {
            if key != *expected {
                report.add(
                    Kind::OtherKey,
                    Some(l.id),
                    format!(
                        "{what}{seq} signed by key {}, not by {}",
                        key.fingerprint(),
                        expected.fingerprint()
                    ),
                );
            }
        }
    }
    report.signers = signers.into_keys().collect();
}

fn check_links(links: &[Link], report: &mut Report) {
    let by_seal: HashMap<&str, &Link> = links.iter().map(|l| (l.seal.as_str(), l)).collect();
    let mut children: BTreeMap<&str, Vec<&Link>> = BTreeMap::new();
    let mut ordered: Vec<&Link> = links.iter().collect();
    ordered.sort_by_key(|l| l.sequence);
    for l in ordered {
        let seq = l
            .sequence
            .map(|s| format!("#{s}"))
            .unwrap_or("unnumbered".into());
        if l.previous == GENESIS {
            if l.sequence.is_some_and(|s| s != 1) {
                report.add(
                    Kind::Reordered,
                    Some(l.id),
                    format!("{seq} claims to be the first of the chain"),
                );
            }
        } else {
            match by_seal.get(l.previous.as_str()) {
                None => {
                    let before = l
                        .sequence
                        .map(|s| format!("#{}", s.saturating_sub(1)))
                        .unwrap_or("the recording".into());
                    report.add(
                        Kind::Missing,
                        Some(l.id),
                        format!(
                            "{before}, sealed just before this one ({seq}), is gone: no file and no tombstone (seal {})",
                            short(&l.previous)
                        ),
                    );
                }
                Some(p) => {
                    if let (Some(s), Some(ps)) = (l.sequence, p.sequence) {
                        if s != ps + 1 {
                            report.add(
                                Kind::Reordered,
                                Some(l.id),
                                format!("#{s} follows #{ps} ({})", p.id),
                            );
                        }
                    }
                }
            }
        }
        children.entry(l.previous.as_str()).or_default().push(l);
    }
    for (previous, kids) in children {
        if kids.len() > 1 {
            let names: Vec<String> = kids.iter().map(|k| k.id.to_string()).collect();
            report.add(
                Kind::Reordered,
                Some(kids[1].id),
                format!(
                    "{} recordings follow the same seal {}: {} (the chain was forked or rebuilt)",
                    kids.len(),
                    short(previous),
                    names.join(", ")
                ),
            );
        }
    }
}

/// The chain must reach the head the host signed and every head a witness saw.
fn check_heads(links: &[Link], opts: &Options, report: &mut Report) {
    let by_seal: HashMap<&str, &Link> = links.iter().map(|l| (l.seal.as_str(), l)).collect();
    let by_seq: HashMap<u64, &Link> = links
        .iter()
        .filter_map(|l| Some((l.sequence?, l)))
        .collect();
    let length = report.length;
    if let Some(head) = report.head.clone() {
        if head.signature.is_some() {
            match head.signer() {
                None => report.add(
                    Kind::BadSignature,
                    None,
                    "the signature of the chain head (state/chain) does not match",
                ),
                Some(k) if opts.key.is_some_and(|e| e != k) => report.add(
                    Kind::OtherKey,
                    None,
                    format!(
                        "the chain head (state/chain) is signed by key {}",
                        k.fingerprint()
                    ),
                ),
                Some(_) => {}
            }
        }
        if head.sequence > 0 && !by_seal.contains_key(head.seal.as_str()) {
            compare(
                &head,
                "the signed head in state/chain",
                &by_seq,
                length,
                report,
            );
        }
    }
    let mut seen: BTreeMap<u64, &Head> = BTreeMap::new();
    for w in &opts.witness {
        let Some(signer) = w.head.signer() else {
            continue; // not a head this host could have sent
        };
        if opts.key.is_some_and(|k| k != signer) {
            continue;
        }
        seen.insert(w.head.sequence, &w.head);
    }
    report.witnessed = seen.values().next_back().map(|h| (*h).clone());
    let mut truncated = false;
    for head in seen.values().rev() {
        if head.sequence == 0 || by_seal.contains_key(head.seal.as_str()) {
            continue;
        }
        if head.sequence > length {
            if truncated {
                continue; // the newest one says it
            }
            truncated = true;
        }
        compare(head, "the witness", &by_seq, length, report);
    }
}

/// A head whose seal the chain does not hold: cut off or replaced.
fn compare(head: &Head, who: &str, by_seq: &HashMap<u64, &Link>, length: u64, report: &mut Report) {
    let n = head.sequence;
    match by_seq.get(&n) {
        _ if n > length => report.add(
            Kind::Truncated,
            None,
            format!(
                "{who} saw #{n} (seal {}) at {}; the chain here ends at #{length}",
                short(&head.seal),
                head.time
            ),
        ),
        Some(l) => report.add(
            Kind::Rewritten,
            Some(l.id),
            format!(
                "{who} saw #{n} as seal {} at {}; here #{n} is {}: history was rewritten",
                short(&head.seal),
                head.time,
                short(&l.seal)
            ),
        ),
        None => report.add(
            Kind::Rewritten,
            None,
            format!(
                "{who} saw #{n} as seal {} at {}; no recording or tombstone here has it",
                short(&head.seal),
                head.time
            ),
        ),
    }
}

fn short(seal: &str) -> &str {
    &seal[..seal.len().min(16)]
}
