//! Shared support of the player's end-to-end tests: the real sshlogd on a
//! temporary log directory and socket, and the real `sshlog` binary.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");
pub const WAIT: Duration = Duration::from_secs(30);

/// The `sshlogd` binary: `$SSHLOGD_BIN`, else built (a no-op when it is up
/// to date) into the target directory of this test's own `sshlog`.
pub fn sshlogd_binary() -> PathBuf {
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
pub struct Recorder {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    child: Option<Child>,
}

impl Recorder {
    pub fn start() -> Recorder {
        Self::start_with("# test settings: defaults\n")
    }

    /// Starts sshlogd with this settings file content.
    pub fn start_with(settings_text: &str) -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("sshlog-cli-test-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("sshlogd.sock");
        let settings = dir.path().join("sshlogd.yaml");
        std::fs::write(&settings, settings_text).expect("settings");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log");
        let child = Command::new(sshlogd_binary())
            .arg("--log-dir")
            .arg(dir.path())
            .arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&settings)
            .arg("--config-dir")
            .arg({
                let d = dir.path().join("conf.d");
                std::fs::create_dir_all(&d).expect("conf.d");
                d
            })
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

    pub fn ping(&self) -> bool {
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

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// SIGTERM and wait (bounded), SIGKILL as a last resort.
    pub fn stop(&mut self) {
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

pub fn sshlog(rec: &Recorder) -> Command {
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

pub fn run_ok(mut cmd: Command) -> String {
    let o = cmd.output().expect("run sshlog");
    assert!(
        o.status.success(),
        "sshlog failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Waits (bounded) until `sshlog sessions --json` lists a session of `user`
/// with a tty.
pub fn wait_for_session(rec: &Recorder, user: &str) -> Value {
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
