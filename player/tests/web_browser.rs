//! Browser end-to-end test of the web console: the real sshlogd, a real sshd
//! and SSH session (tools/harness), the real `sshlog web`, and Debian's
//! chromium driven by `player/web/tests/console.spec.mjs` (playwright-core).
//!
//! The spec logs in, sees the harness's session appear on the sessions
//! page, follows it live, then opens the finished recording, clicks a
//! command in the timeline and checks that the terminal shows its output;
//! it saves screenshots to `<target dir>/web-screenshots/`. A second test
//! (`fleet.spec.mjs`) logs in to a console serving a real Garage holding
//! generated hosts, checks the host table, searches across hosts and plays
//! a hit from the store to its last line.
//!
//! Needs root, sshd, node, chromium and `npm ci` in player/web/tests: where
//! something is missing the test is skipped with a notice, except in CI
//! (`CI=true`), where it fails.

mod common;
mod web_support;

use common::Recorder;
use sshlog_harness::{random_suffix, require_root_or_skip, Spawned, Sshd, SshdLog, TestUser};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use web_support::*;

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/tests")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What the browser test lacks here.
fn missing_browser_requirements() -> Vec<String> {
    let mut missing = Vec::new();
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        missing.push("`node` (apt-get install nodejs)".to_string());
    }
    if !chromium().is_file() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !spec_dir().join("node_modules/playwright-core").is_dir() {
        missing.push("playwright-core (cd player/web/tests && npm ci)".to_string());
    }
    missing
}

fn browser_or_skip() -> bool {
    let missing = missing_browser_requirements();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("web_browser: needs {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: refusing to skip)");
    }
    eprintln!("SKIPPED {msg}");
    false
}

/// `<target dir>/web-screenshots`, from this test's own `sshlog` binary.
fn screenshot_dir() -> PathBuf {
    let bin_dir = Path::new(SSHLOG).parent().expect("profile dir");
    bin_dir
        .parent()
        .expect("target dir")
        .join("web-screenshots")
}

/// Waits for `STEP <word>` from the spec, failing with its output.
fn step(spec: &mut Spawned, word: &str, timeout: Duration) {
    let needle = format!("STEP {word}");
    if let Err(e) = spec.wait_for_stdout(needle.as_bytes(), timeout) {
        panic!(
            "browser spec did not reach {word}: {e:#}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&spec.stdout_so_far()),
            String::from_utf8_lossy(&spec.stderr_so_far())
        );
    }
}

/// The session id the spec saw in the table.
fn seen_id(spec: &Spawned) -> String {
    let out = String::from_utf8_lossy(&spec.stdout_so_far()).into_owned();
    out.lines()
        .find_map(|l| l.strip_prefix("STEP SEEN "))
        .expect("SEEN line")
        .trim()
        .to_string()
}

/// Waits until the recording's sidecar has its connection_close.
fn wait_closed(log_dir: &Path, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let pattern = format!("{id}.events.jsonl");
    loop {
        let closed = walk(&log_dir.join("sessions"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(&pattern))
            .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"connection_close\"")));
        if closed {
            return;
        }
        assert!(Instant::now() < deadline, "session {id} never closed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn browser_logs_in_sees_a_live_session_follows_it_and_replays_it() {
    if !require_root_or_skip("web_browser") || !browser_or_skip() {
        return;
    }
    let rec = Recorder::start();
    // The distribution's own sshd_config and PAM stack (pam_motd runs before
    // the shell), logging through syslog with no socket: what many hosts run.
    let sshd = Sshd::builder()
        .distribution_default()
        .log(SshdLog::SyslogNoSocket)
        .start()
        .expect("sshd");
    let user = TestUser::create().expect("user");
    let dir = tempfile::tempdir().expect("tempdir");
    let web = Web::start(&settings(dir.path()), &rec.socket, rec.dir.path());
    let tag = random_suffix(6);
    let shots = screenshot_dir();

    let mut cmd = Command::new("node");
    cmd.arg(spec_dir().join("console.spec.mjs"))
        .current_dir(spec_dir())
        .env("WEB_URL", &web.base)
        .env("WEB_USER", USER)
        .env("WEB_PASSWORD", PASSWORD)
        .env("SSH_USER", user.name())
        .env("TAG", &tag)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium());
    let mut spec = Spawned::spawn(&mut cmd, "node console.spec.mjs").expect("start node");
    step(&mut spec, "READY", Duration::from_secs(60));

    let mut session = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(120))
        .spawn(None)
        .expect("ssh");
    session.send_line("echo ready").expect("type");
    session
        .wait_for_stdout(b"\rready\r\n", Duration::from_secs(15))
        .expect("shell up");
    step(&mut spec, "SEEN", Duration::from_secs(40));
    let id = seen_id(&spec);

    // `$((6*7))` makes the output differ from the typed command line.
    session
        .send_line(&format!("/bin/echo early-{tag}-$((6*7))"))
        .expect("type");
    session
        .wait_for_stdout(
            format!("early-{tag}-42").as_bytes(),
            Duration::from_secs(10),
        )
        .expect("early output");
    spec.send_line("TYPED-EARLY").expect("to spec");
    step(&mut spec, "LIVE-OPEN", Duration::from_secs(40));
    session
        .send_line(&format!("/bin/echo live-{tag}-$((6*7))"))
        .expect("type");
    spec.send_line("TYPED-LIVE").expect("to spec");
    step(&mut spec, "LIVE-SEEN", Duration::from_secs(40));

    // The timeline part: a screen cleared between two commands, so only a
    // real seek shows the second one's output without the first's.
    for line in [
        format!("/bin/echo alpha-{tag}"),
        "sleep 2".to_string(),
        "clear".to_string(),
        "sleep 2".to_string(),
        format!("/bin/echo beta-{tag}-$((6*7))"),
        "sleep 3".to_string(),
        "exit".to_string(),
    ] {
        session.send_line(&line).expect("type");
    }
    session
        .wait_timeout(Duration::from_secs(60))
        .expect("session ends");
    wait_closed(rec.dir.path(), &id);
    spec.send_line("FINISHED").expect("to spec");
    step(&mut spec, "DONE", Duration::from_secs(120));
    let out = spec
        .wait_timeout(Duration::from_secs(30))
        .expect("spec exits");
    assert!(
        out.success(),
        "{}\n{}\n{}",
        out.stdout_text(),
        out.stderr_text(),
        web.logs()
    );
    for name in ["login", "sessions", "live", "events", "recording", "search"] {
        let p = shots.join(format!("{name}.png"));
        assert!(p.is_file(), "no screenshot {}", p.display());
    }
    eprintln!("screenshots in {}", shots.display());
}

#[test]
fn browser_shows_the_fleet_and_plays_a_recording_from_the_store() {
    use sshlog_fleet::{spool::Job, uploader::upload_session};
    use sshlog_format::generate::{session, Corpus};
    if !require_root_or_skip("web_browser_fleet") || !browser_or_skip() {
        return;
    }
    const HOSTS: usize = 3;
    let garage = sshlog_harness::Garage::start().expect("garage");
    let url = garage.store_url("browser").expect("url");
    let settings = sshlog_fleet::StoreSettings::from_url(&url).expect("settings");
    let creds = sshlog_fleet::Credentials::load(&settings).expect("creds");
    let store = sshlog_fleet::FleetStore::connect(&settings, &creds).expect("store");
    let rt = sshlog_fleet::fleet::runtime().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let start = chrono::Utc::now() - chrono::Duration::hours(3);
    let mut wanted = None;
    for h in 0..HOSTS {
        let host = format!("browser-{h}");
        let log_dir = dir.path().join(&host);
        let corpus = Corpus {
            start,
            days: 0,
            sessions: 5,
            bytes_per_session: 20_000,
            seed: h as u64 + 11,
        };
        for n in 0..corpus.sessions {
            let g = session(&log_dir, n, &corpus).expect("generate");
            let job = Job {
                events: g.events.clone(),
                queued: chrono::Utc::now(),
            };
            rt.block_on(upload_session(&store, &host, &log_dir, &job))
                .expect("upload");
            if h == 1 && g.alice {
                wanted = Some(g);
            }
        }
        rt.block_on(sshlog_fleet::uploader::announce(&store, &host))
            .expect("host.json");
    }
    let g = wanted.expect("host 1 has an alice session");
    // The start of the last line the session printed: on screen at its end.
    let cast = g.events.with_file_name(format!("{}.cast.zst", g.id));
    let (_, events) = sshlog_format::read_cast_file(&cast).expect("cast");
    let last_output = events
        .iter()
        .rev()
        .find_map(|e| match e {
            sshlog_format::Event::Output { data, .. } => {
                Some(String::from_utf8_lossy(data).into_owned())
            }
            _ => None,
        })
        .expect("output");
    let last_line: String = last_output
        .split("\r\n")
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.contains('\x1b'))
        .expect("a plain line")
        .chars()
        .take(16)
        .collect();

    let config = settings_with_store(dir.path(), &url);
    let web = Web::start(
        &config,
        &dir.path().join("no.sock"),
        &dir.path().join("log"),
    );
    let shots = screenshot_dir();
    let mut cmd = Command::new("node");
    cmd.arg(spec_dir().join("fleet.spec.mjs"))
        .current_dir(spec_dir())
        .env("WEB_URL", &web.base)
        .env("WEB_USER", USER)
        .env("WEB_PASSWORD", PASSWORD)
        .env("HOSTS", HOSTS.to_string())
        .env("HOST_Q", "browser-1")
        .env("USER_Q", "alice")
        .env("SINCE", "1d")
        .env("LAST_LINE", &last_line)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium());
    let mut spec = Spawned::spawn(&mut cmd, "node fleet.spec.mjs").expect("start node");
    step(&mut spec, "HOSTS", Duration::from_secs(60));
    step(&mut spec, "FOUND", Duration::from_secs(60));
    step(
        &mut spec,
        &format!("PLAYED /fleet/browser-1/{}", g.id),
        Duration::from_secs(60),
    );
    let out = spec
        .wait_timeout(Duration::from_secs(30))
        .expect("spec exits");
    assert!(
        out.success(),
        "{}\n{}\n{}",
        out.stdout_text(),
        out.stderr_text(),
        web.logs()
    );
}

/// Web settings with the fleet store at `url`.
fn settings_with_store(dir: &Path, url: &str) -> PathBuf {
    let p = settings(dir);
    let mut yaml = std::fs::read_to_string(&p).expect("settings");
    yaml.push_str(&format!("store: '{url}'\n"));
    std::fs::write(&p, yaml).expect("settings");
    p
}
