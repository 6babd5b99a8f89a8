//! Every way of tampering with the seal chain is detected and named by the
//! real `sshlog verify`: recordings made by the format library's session
//! generator, sealed by sshlogd's own [`Sealer`] with a host key, then
//! edited, deleted, reordered, truncated, re-signed and rewritten as an
//! attacker on the host would. Each case prints what `verify` said (the
//! closing note of issue 17 quotes it).

use sshlog_format::generate::{self, Corpus};
use sshlog_format::seal::{Head, SealKey};
use sshlog_recorder::retention;
use sshlog_recorder::sealer::Sealer;
use sshlog_recorder::state::StateDir;
use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

struct Rec {
    id: Uuid,
    events: PathBuf,
    cast: PathBuf,
}

struct Chain {
    dir: tempfile::TempDir,
    key: SealKey,
    recs: Vec<Rec>,
    /// The head after each seal, as the witness saw it.
    heads: Vec<Head>,
}

impl Chain {
    /// `n` generated recordings (several frames each), sealed in order.
    fn new(n: u64) -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let key = SealKey::from_seed([42; 32]);
        let sealer = Sealer::new(Some(key.clone()), dir.path());
        let corpus = Corpus {
            start: chrono::Utc::now() - chrono::Duration::hours(2),
            days: 0,
            sessions: n,
            bytes_per_session: 300_000,
            seed: 7,
        };
        let mut recs = Vec::new();
        let mut heads = Vec::new();
        for i in 0..n {
            let g = generate::session(dir.path(), i, &corpus).unwrap();
            let cast = cast_of(&g.events);
            heads.push(sealer.seal(&cast, &g.events, g.id).unwrap());
            recs.push(Rec {
                id: g.id,
                events: g.events,
                cast,
            });
        }
        Chain {
            dir,
            key,
            recs,
            heads,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn public(&self) -> String {
        self.key.public().to_string()
    }

    /// The heads as a remote syslog file holds them.
    fn witness_file(&self) -> PathBuf {
        let path = self.root().join("..").join(format!(
            "witness-{}.log",
            self.root().file_name().unwrap().to_string_lossy()
        ));
        let lines: Vec<String> = self
            .heads
            .iter()
            .map(|h| {
                format!(
                    "Dec  6 10:00:00 web-1 sshlogd[1]: {}",
                    serde_json::json!({"type": "chain_head", "host": "web-1",
                        "seal": h.seal, "sequence": h.sequence, "time": h.time,
                        "key": h.key, "signature": h.signature})
                )
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    /// Seals again from recording `from` (0-based) on, with `key`, after
    /// stripping their seals: what an attacker holding a key does.
    fn reseal_from(&mut self, from: usize, key: &SealKey) {
        let state = StateDir::new(self.root().join("state"));
        let head = if from == 0 {
            Head::genesis()
        } else {
            self.heads[from - 1].clone()
        };
        state.set_chain_head(&head).unwrap();
        let sealer = Sealer::new(Some(key.clone()), self.root());
        for r in &self.recs[from..] {
            strip_seal(&r.events);
            sealer.seal(&r.cast, &r.events, r.id).unwrap();
        }
    }
}

fn cast_of(events: &Path) -> PathBuf {
    PathBuf::from(
        events
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    )
}

/// Removes the last line (the seal) of a sidecar.
fn strip_seal(events: &Path) {
    let text = std::fs::read_to_string(events).unwrap();
    let body = text.trim_end_matches('\n');
    let cut = body.rfind('\n').map(|i| i + 1).unwrap_or(0);
    std::fs::write(events, &text[..cut]).unwrap();
}

fn verify(chain: &Chain, case: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(SSHLOG)
        .arg("verify")
        .arg(chain.root())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("==> {case}: sshlog verify DIR {}\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

fn assert_found(code: i32, text: &str, needles: &[&str]) {
    assert_eq!(code, 1, "{text}");
    for n in needles {
        assert!(text.contains(n), "{n:?} not in:\n{text}");
    }
}

#[test]
fn a_clean_chain_verifies_against_its_key_and_witness() {
    let chain = Chain::new(5);
    let witness = chain.witness_file();
    let (code, text) = verify(
        &chain,
        "clean",
        &[
            "--key",
            &chain.public(),
            "--witness",
            witness.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("5 intact, 0 deleted with a tombstone, 0 unsealed, 0 problem(s)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "checked against --key {}",
            chain.key.public().fingerprint()
        )),
        "{text}"
    );
    assert!(text.contains("witness: newest head #5"), "{text}");
}

#[test]
fn edited_bytes_are_named_with_the_damaged_frames() {
    let chain = Chain::new(5);
    let key = chain.public();
    // A byte of the sidecar.
    let r = &chain.recs[1];
    let original = std::fs::read(&r.events).unwrap();
    let mut bytes = original.clone();
    bytes[40] ^= 0x20;
    std::fs::write(&r.events, &bytes).unwrap();
    let (code, text) = verify(&chain, "edited sidecar byte", &["--key", &key]);
    assert_found(
        code,
        &text,
        &[&format!("MODIFIED  {}  event sidecar changed", r.id)],
    );
    assert!(!text.contains("MISSING"), "only this one changed: {text}");
    std::fs::write(&r.events, &original).unwrap();
    // Eight bytes in the middle of the cast: the frame holding them is named.
    let cast = std::fs::read(&r.cast).unwrap();
    let mut bytes = cast.clone();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 8].fill(0);
    std::fs::write(&r.cast, &bytes).unwrap();
    let (code, text) = verify(&chain, "8 bytes zeroed in a cast", &["--key", &key]);
    assert_found(
        code,
        &text,
        &[
            &format!("MODIFIED  {}  cast changed", r.id),
            &format!("DAMAGED  {}  frame ", r.id),
            "does not decode",
        ],
    );
}

#[test]
fn deleted_files_and_seals_are_named() {
    let chain = Chain::new(5);
    let key = chain.public();
    let r = &chain.recs[1];
    let next = chain.recs[2].id;
    std::fs::remove_file(&r.cast).unwrap();
    let (code, text) = verify(&chain, "deleted cast", &["--key", &key]);
    assert_found(code, &text, &[&format!("MODIFIED  {}  cast removed", r.id)]);

    let chain = Chain::new(5);
    let r = &chain.recs[1];
    let next_after = chain.recs[2].id;
    std::fs::remove_file(&r.events).unwrap();
    let (code, text) = verify(&chain, "deleted sidecar", &["--key", &chain.public()]);
    assert_found(
        code,
        &text,
        &[
            &format!("MODIFIED  {}  event sidecar removed", r.id),
            &format!("MISSING  {next_after}  #2, sealed just before this one (#3), is gone"),
        ],
    );

    let chain = Chain::new(5);
    let r = &chain.recs[1];
    strip_seal(&r.events);
    let (code, text) = verify(&chain, "deleted seal", &["--key", &chain.public()]);
    assert_found(
        code,
        &text,
        &[
            &format!("UNSEALED  {}", r.id),
            &format!("MISSING  {}  #2", chain.recs[2].id),
        ],
    );
    let _ = next;
}

#[test]
fn reordered_seals_are_named() {
    // #1 → #3 → #2 chained again by hashing alone (no key): each seal
    // adds up and keeps its recording's number, but the numbers no longer
    // follow each other, and the seals are not signed.
    let chain = Chain::new(4);
    let (a, b) = (&chain.recs[1], &chain.recs[2]);
    let state = StateDir::new(chain.root().join("state"));
    let reseal = |r: &Rec, previous: &str, sequence: u64| {
        strip_seal(&r.events);
        let mut head = Head::genesis();
        head.seal = previous.to_string();
        head.sequence = sequence - 1;
        state.set_chain_head(&head).unwrap();
        Sealer::new(None, chain.root())
            .seal(&r.cast, &r.events, r.id)
            .unwrap()
    };
    let b_after_1 = reseal(b, &chain.heads[0].seal, 3);
    reseal(a, &b_after_1.seal, 2);
    let (code, text) = verify(&chain, "reordered seals", &["--key", &chain.public()]);
    assert_found(
        code,
        &text,
        &[
            &format!("REORDERED  {}  #3 follows #1", b.id),
            &format!("REORDERED  {}  #2 follows #3", a.id),
            &format!("UNSIGNED  {}  seal (#2) is not signed", a.id),
        ],
    );
}

#[test]
fn a_truncated_chain_is_caught_by_the_head_and_by_the_witness() {
    let chain = Chain::new(5);
    let witness = chain.witness_file();
    let last = &chain.recs[4];
    std::fs::remove_file(&last.cast).unwrap();
    std::fs::remove_file(&last.events).unwrap();
    let (code, text) = verify(&chain, "truncated chain", &["--key", &chain.public()]);
    assert_found(
        code,
        &text,
        &[
            "TRUNCATED  -  the signed head in state/chain saw #5",
            "the chain here ends at #4",
        ],
    );
    // The attacker also puts back the head signed after #4.
    StateDir::new(chain.root().join("state"))
        .set_chain_head(&chain.heads[3])
        .unwrap();
    let (code, text) = verify(
        &chain,
        "truncated, old head put back",
        &["--key", &chain.public()],
    );
    assert_eq!(code, 0, "only the witness can tell: {text}");
    let (code, text) = verify(
        &chain,
        "truncated, old head put back, with the witness",
        &[
            "--key",
            &chain.public(),
            "--witness",
            witness.to_str().unwrap(),
        ],
    );
    assert_found(code, &text, &["TRUNCATED  -  the witness saw #5"]);
}

#[test]
fn a_chain_re_signed_with_another_key_is_named() {
    let mut chain = Chain::new(4);
    let host_key = chain.public();
    let other = SealKey::from_seed([99; 32]);
    chain.reseal_from(0, &other);
    let (code, text) = verify(&chain, "re-signed, no --key", &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("signed by key {}", other.public().fingerprint())),
        "{text}"
    );
    let (code, text) = verify(&chain, "re-signed with another key", &["--key", &host_key]);
    assert_found(
        code,
        &text,
        &[&format!(
            "OTHER-KEY  {}  seal (#1) signed by key {}, not by {}",
            chain.recs[0].id,
            other.public().fingerprint(),
            chain.key.public().fingerprint()
        )],
    );
}

#[test]
fn history_rewritten_with_the_host_key_is_caught_by_the_witness() {
    let mut chain = Chain::new(5);
    let witness = chain.witness_file();
    // Edit recording #2 (a line of its sidecar) and seal #2..#5 again with
    // the host's own key.
    let r = &chain.recs[1];
    let text = std::fs::read_to_string(&r.events).unwrap();
    std::fs::write(
        &r.events,
        text.replacen("alice", "bobby", 1)
            .replacen("\"user\":\"", "\"user\":\"x", 1),
    )
    .unwrap();
    let key = chain.key.clone();
    chain.reseal_from(1, &key);
    let (code, text) = verify(
        &chain,
        "rewritten with the host key",
        &["--key", &chain.public()],
    );
    assert_eq!(code, 0, "the key alone cannot tell: {text}");
    let (code, text) = verify(
        &chain,
        "rewritten with the host key, with the witness",
        &[
            "--key",
            &chain.public(),
            "--witness",
            witness.to_str().unwrap(),
        ],
    );
    assert_found(
        code,
        &text,
        &[
            &format!(
                "REWRITTEN  {}  the witness saw #2 as seal",
                chain.recs[1].id
            ),
            "history was rewritten",
        ],
    );
}

#[test]
fn deletions_with_tombstones_verify_and_forged_ones_do_not() {
    let chain = Chain::new(4);
    let sealer = Sealer::new(Some(chain.key.clone()), chain.root());
    let (recs, _) = retention::scan(chain.root()).unwrap();
    assert_eq!(recs.len(), 4);
    let second = recs.iter().find(|r| r.id == chain.recs[1].id).unwrap();
    retention::delete(&sealer, chain.root(), second, "purge by root: ticket 4711").unwrap();
    assert!(!chain.recs[1].cast.exists() && !chain.recs[1].events.exists());
    let (code, text) = verify(&chain, "one recording purged", &["--key", &chain.public()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("3 intact, 1 deleted with a tombstone"),
        "{text}"
    );
    // A tombstone edited afterwards (its reason) no longer checks.
    let path = chain.root().join("tombstones.jsonl");
    let t = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, t.replace("ticket 4711", "ticket 4712")).unwrap();
    let (code, text) = verify(&chain, "tombstone edited", &["--key", &chain.public()]);
    assert_found(
        code,
        &text,
        &[
            "BAD-SIGNATURE",
            "the signature of its tombstone (#2) does not match",
        ],
    );
}
