//! A damaged frame costs only its own seconds: 8 bytes zeroed in the middle
//! of a recording (or in its first frame) are skipped with a warning naming
//! the time range, and `play`, `export` and `search` go on with the frames
//! after it. The recording is a generated session (the format library's
//! generator, as sshlogd writes them), damaged on disk as a bad sector would.

use sshlog_format::framed::{read_frame_index, FrameInfo};
use sshlog_format::generate::{self, Corpus};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

struct Damaged {
    root: tempfile::TempDir,
    cast: PathBuf,
    frames: Vec<FrameInfo>,
    /// The decoded text of every frame before the damage.
    text: Vec<String>,
}

fn session() -> Damaged {
    let root = tempfile::tempdir().unwrap();
    let corpus = Corpus {
        start: chrono::Utc::now() - chrono::Duration::hours(1),
        days: 0,
        sessions: 1,
        bytes_per_session: 600_000,
        seed: 3,
    };
    let g = generate::session(root.path(), 0, &corpus).unwrap();
    let cast = PathBuf::from(
        g.events
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    );
    let frames = read_frame_index(std::fs::File::open(&cast).unwrap()).unwrap();
    assert!(frames.len() >= 6, "{} frames", frames.len());
    let bytes = std::fs::read(&cast).unwrap();
    let text = frames
        .iter()
        .map(|f| {
            let data = &bytes[f.offset as usize..(f.offset + f.compressed_len) as usize];
            String::from_utf8_lossy(
                &zstd::bulk::decompress(data, f.uncompressed_len as usize).unwrap(),
            )
            .into_owned()
        })
        .collect();
    Damaged {
        root,
        cast,
        frames,
        text,
    }
}

impl Damaged {
    /// Zeroes 8 bytes in the middle of frame `k`'s data.
    fn zero(&self, k: usize) {
        let mut bytes = std::fs::read(&self.cast).unwrap();
        let f = &self.frames[k];
        let mid = (f.offset + f.compressed_len / 2) as usize;
        bytes[mid..mid + 8].fill(0);
        std::fs::write(&self.cast, bytes).unwrap();
    }

    /// 24 characters of output that only frame `k` holds.
    fn word_of(&self, k: usize) -> String {
        let others: Vec<&String> = self
            .text
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .map(|(_, t)| t)
            .collect();
        for line in self.text[k].lines().rev() {
            let Ok(serde_json::Value::Array(ev)) = serde_json::from_str::<serde_json::Value>(line)
            else {
                continue;
            };
            if ev.get(1).and_then(|c| c.as_str()) != Some("o") {
                continue;
            }
            let data = ev[2].as_str().unwrap_or("");
            for run in data.split(|c: char| !(c.is_ascii_alphanumeric() || c == ' ')) {
                let chars: Vec<char> = run.chars().collect();
                for w in chars.windows(24) {
                    let w: String = w.iter().collect();
                    if !w.starts_with(' ') && !others.iter().any(|t| t.contains(&w)) {
                        return w;
                    }
                }
            }
        }
        panic!("no word only frame {k} holds");
    }
}

fn sshlog(root: &Path, args: &[&str]) -> Output {
    Command::new(SSHLOG)
        .arg("--log-dir")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSHLOG_LOG_DIR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_damaged_frame_in_the_middle_is_skipped_by_play_export_and_search() {
    let d = session();
    let k = d.frames.len() / 2;
    let (before, lost, after) = (
        d.word_of(k - 1),
        d.word_of(k),
        d.word_of(d.frames.len() - 1),
    );
    d.zero(k);
    let cast = d.cast.to_str().unwrap();

    let played = sshlog(d.root.path(), &["play", cast, "--speed", "1000000"]);
    let (out, err) = text(&played);
    assert!(played.status.success(), "{err}");
    assert!(
        out.contains(&before) && out.contains(&after),
        "the frames around the damage play"
    );
    assert!(!out.contains(&lost), "the damaged frame cannot play");
    assert!(
        err.contains(&format!("warning: {cast}: frame {k} (bytes"))
            && err.contains("does not decode; skipped"),
        "{err}"
    );
    assert!(
        err.contains("covering "),
        "the warning names the time range: {err}"
    );

    // From a point before the damage (through the frame index).
    let from = format!("{}", d.frames[k - 1].first_time_us / 1_000_000);
    let played = sshlog(
        d.root.path(),
        &["play", cast, "--speed", "1000000", "--from", &from],
    );
    let (out, err) = text(&played);
    assert!(played.status.success() && out.contains(&after), "{err}");

    let exported = sshlog(d.root.path(), &["export", cast, "--format", "asciicast-v2"]);
    let (out, err) = text(&exported);
    assert!(exported.status.success(), "{err}");
    assert!(out.contains(&after) && !out.contains(&lost));
    assert!(
        out.contains("sshlog: damaged recording, "),
        "a marker shows where: {out:.300}"
    );
    assert!(err.contains("skipped"), "{err}");

    let found = sshlog(d.root.path(), &["search", "--output", &after, "--json"]);
    let (out, err) = text(&found);
    assert!(found.status.success(), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let none = sshlog(d.root.path(), &["search", "--output", &lost, "--json"]);
    assert_eq!(none.status.code(), Some(1), "{}", text(&none).0);
}

#[test]
fn a_damaged_first_frame_still_plays_the_rest() {
    let d = session();
    let after = d.word_of(d.frames.len() - 1);
    d.zero(0);
    let cast = d.cast.to_str().unwrap();
    let played = sshlog(d.root.path(), &["play", cast, "--speed", "1000000"]);
    let (out, err) = text(&played);
    assert!(played.status.success(), "not `empty input` any more: {err}");
    assert!(
        out.contains(&after),
        "{err}\n{}",
        &out[..out.len().min(500)]
    );
    assert!(
        err.contains("frame 0") && err.contains("with the header (rebuilt from the frame index)"),
        "{err}"
    );
    let exported = sshlog(d.root.path(), &["export", cast, "--format", "asciicast-v2"]);
    let (out, err) = text(&exported);
    assert!(exported.status.success(), "{err}");
    let header: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        header["width"], 120,
        "the size comes from the frame index: {header}"
    );
    assert!(out.contains(&after));
}
