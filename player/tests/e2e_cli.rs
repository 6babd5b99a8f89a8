//! End-to-end: the real sshlogd (eBPF) records a real `ssh -tt` session
//! against a throw-away sshd; `sshlog sessions`, `watch`, `stats` and
//! `play` are run as a user would. Needs root; skipped locally without it,
//! a failure in CI (`CI=true`).

use serde_json::Value;
use sshlog_harness::{random_suffix, require_root_or_skip, Spawned, Sshd, TestUser};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");
const WAIT: Duration = Duration::from_secs(30);

/// The `sshlogd` binary: `$SSHLOGD_BIN`, else built (a no-op when it is up
/// to date) into the target directory of this test's own `sshlog`.
fn sshlogd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SSHLOGD_BIN") {
        return PathBuf::from(p);
    }
    let profile_dir = Path::new(SSHLOG).parent().expect("bin dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let bin = profile_dir.join("sshlogd");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder/Cargo.toml");
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--bin", "sshlogd", "--profile", profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            assert!(
                bin.is_file(),
                "building sshlogd failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            eprintln!(
                "warning: building sshlogd failed, using the existing {}: {}",
                bin.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Err(e) => assert!(bin.is_file(), "cannot run cargo to build sshlogd: {e}"),
    }
    bin
}

/// The real sshlogd on a temporary log directory and socket (the start
/// logic of recorder/tests/common/mod.rs).
struct Recorder {
    dir: tempfile::TempDir,
    socket: PathBuf,
    child: Option<Child>,
}

impl Recorder {
    fn start() -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("sshlog-cli-test-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("sshlogd.sock");
        let settings = dir.path().join("sshlogd.yaml");
        std::fs::write(&settings, "# test settings: defaults\n").expect("settings");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log");
        let child = Command::new(sshlogd_binary())
            .arg("--log-dir")
            .arg(dir.path())
            .arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&settings)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start sshlogd");
        let mut r = Recorder {
            dir,
            socket,
            child: Some(child),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if r.ping() {
                return r;
            }
            if let Some(Ok(Some(st))) = r.child.as_mut().map(|c| c.try_wait()) {
                panic!("sshlogd exited during start-up ({st}): {}", r.logs());
            }
            assert!(
                Instant::now() < deadline,
                "sshlogd did not answer: {}",
                r.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(&self.socket) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"{\"cmd\":\"ping\"}\n").is_err() {
            return false;
        }
        let mut line = String::new();
        let _ = BufReader::new(s).read_line(&mut line);
        line.contains("\"ok\":true")
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// SIGTERM and wait (bounded), SIGKILL as a last resort.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sshlog(rec: &Recorder) -> Command {
    let mut c = Command::new(SSHLOG);
    c.arg("--socket")
        .arg(&rec.socket)
        .arg("--log-dir")
        .arg(rec.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .stdin(Stdio::null());
    c
}

fn run_ok(mut cmd: Command) -> String {
    let o = cmd.output().expect("run sshlog");
    assert!(
        o.status.success(),
        "sshlog failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Waits (bounded) until `sshlog sessions --json` lists a session of `user`
/// with a tty.
fn wait_for_session(rec: &Recorder, user: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = sshlog(rec);
        c.args(["sessions", "--json"]);
        let list: Value = serde_json::from_str(&run_ok(c)).expect("sessions --json is JSON");
        let found = list.as_array().and_then(|a| {
            a.iter()
                .find(|s| s["user"] == user && s["tty"].is_string())
                .cloned()
        });
        if let Some(s) = found {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "no session of {user} listed within {WAIT:?}: {list}\n{}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn watch(rec: &Recorder, extra: &[&str]) -> Spawned {
    let mut c = sshlog(rec);
    c.arg("watch").args(extra);
    Spawned::spawn(&mut c, format!("sshlog watch {extra:?}")).expect("start sshlog watch")
}

/// Ctrl+C: SIGINT, then the (bounded) exit.
fn interrupt(p: &mut Spawned) -> sshlog_harness::Output {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(p.pid() as i32, libc::SIGINT) };
    p.wait_timeout(Duration::from_secs(10))
        .expect("sshlog watch stops on SIGINT")
}

#[test]
fn sessions_watch_stats_and_play_against_the_real_daemon() {
    if !require_root_or_skip("sessions_watch_stats_and_play_against_the_real_daemon") {
        return;
    }
    let mut rec = Recorder::start();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut shell = sshd.ssh(&user).spawn(None).expect("ssh login shell");
    let ready = format!("ready-{}", random_suffix(6));
    // The quotes keep the typed echo from matching: only the output does.
    shell
        .send_line(&format!("echo '{}''{}'", &ready[..3], &ready[3..]))
        .expect("type");
    shell
        .wait_for_stdout(ready.as_bytes(), WAIT)
        .expect("shell is up");

    // sessions: the open session, with user, tty and client.
    let s = wait_for_session(&rec, user.name());
    assert!(
        s["tty"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{s}"
    );
    assert!(
        s["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{s}"
    );
    assert!(s["sshd_pid"].as_u64().is_some_and(|p| p > 0), "{s}");
    assert_eq!(s["existing_login"], false);
    let mut c = sshlog(&rec);
    c.arg("sessions");
    let table = run_ok(c);
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{} ", user.name())))
        .unwrap_or_else(|| panic!("no row for {} in:\n{table}", user.name()));
    assert!(
        row.contains(s["tty"].as_str().unwrap_or("?")) && row.contains("127.0.0.1:"),
        "{row}"
    );
    assert!(table.starts_with("USER "), "{table}");

    // watch: command_start events as they happen, filtered by type; a
    // watcher filtering on another user sees nothing.
    let mut w = watch(&rec, &["--type", "command_start"]);
    let mut other = watch(&rec, &["--user", "nobody-in-particular"]);
    let needle = b"executed /bin/echo x";
    let deadline = Instant::now() + WAIT;
    // The watcher may subscribe after the first echo: repeat until seen.
    while !contains(&w.stdout_so_far(), needle) {
        assert!(
            Instant::now() < deadline,
            "watch did not show the command within {WAIT:?}; stdout {:?}, stderr {:?}\n{}",
            String::from_utf8_lossy(&w.stdout_so_far()),
            String::from_utf8_lossy(&w.stderr_so_far()),
            rec.logs()
        );
        shell.send_line("/bin/echo x").expect("type");
        let _ = w.wait_for_stdout(needle, Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_millis(300));
    let seen = String::from_utf8_lossy(&w.stdout_so_far()).into_owned();
    for line in seen.lines() {
        assert!(line.contains(" command_start ("), "not filtered: {line}");
    }
    let line = seen
        .lines()
        .find(|l| l.contains("executed /bin/echo x"))
        .expect("line");
    assert!(line.contains(user.name()), "{line}");
    assert!(
        other.stdout_so_far().is_empty(),
        "user filter leaked: {:?}",
        String::from_utf8_lossy(&other.stdout_so_far())
    );
    let o = interrupt(&mut w);
    assert!(
        o.success(),
        "watch ends with 0 on Ctrl+C: {}",
        o.stderr_text()
    );
    assert!(o.stderr.is_empty(), "{}", o.stderr_text());
    assert!(interrupt(&mut other).success());

    // stats
    let mut c = sshlog(&rec);
    c.arg("stats");
    let stats = run_ok(c);
    assert!(stats.contains("kernel_events"), "{stats}");
    assert!(stats.contains("live_sessions"), "{stats}");

    // play by session id once the session is over: exactly the recorded output.
    let id = s["session_id"].as_str().expect("session id").to_string();
    shell.send_line("exit").expect("type");
    shell.wait_timeout(WAIT).expect("ssh ends");
    let cast = wait_for_close(&rec, &id);
    let (_, events) = sshlog_format::read_cast_file(&cast).expect("cast decodes");
    let mut want = Vec::new();
    for e in events {
        if let sshlog_format::Event::Output { data, .. } = e {
            want.extend_from_slice(&data);
        }
    }
    assert!(contains(&want, ready.as_bytes()));
    let mut c = sshlog(&rec);
    c.args(["play", &id, "--speed", "1000", "--idle-time-limit", "0.1"]);
    let o = c.output().expect("play");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, want);

    // The daemon going away ends watch with an error.
    let mut w = watch(&rec, &[]);
    std::thread::sleep(Duration::from_millis(500));
    rec.stop();
    let o = w
        .wait_timeout(WAIT)
        .expect("watch notices the daemon stopping");
    assert_eq!(o.code(), Some(1));
    let err = o.stderr_text();
    assert!(
        err.starts_with("sshlog: ") && err.lines().count() == 1,
        "{err:?}"
    );
}

/// Waits (bounded) until the sidecar of session `id` has its
/// `connection_close`; returns the cast path.
fn wait_for_close(rec: &Recorder, id: &str) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(events) = find(
            &rec.dir.path().join("sessions"),
            &format!("{id}.events.jsonl"),
        ) {
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            if text.contains("\"type\":\"connection_close\"") {
                return events.with_file_name(format!("{id}.cast.zst"));
            }
        }
        assert!(
            Instant::now() < deadline,
            "session {id} not closed within {WAIT:?}\n{}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
