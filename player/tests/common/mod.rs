//! Shared support of the player's end-to-end tests: the real sshlogd on a
//! temporary log directory and socket, and the real `sshlog` binary.
#![allow(dead_code)]

use serde_json::Value;
use sshlog_harness::Sshlogd;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// The real sshlogd ([`Sshlogd`], built by [`sshlogd_binary`]); panics
/// instead of returning errors.
pub struct Recorder(Sshlogd);

impl Deref for Recorder {
    type Target = Sshlogd;
    fn deref(&self) -> &Sshlogd {
        &self.0
    }
}

impl DerefMut for Recorder {
    fn deref_mut(&mut self) -> &mut Sshlogd {
        &mut self.0
    }
}

impl Recorder {
    pub fn start() -> Recorder {
        Self::start_with("# test settings: defaults\n")
    }

    /// Starts sshlogd with this settings file content.
    pub fn start_with(settings_text: &str) -> Recorder {
        Recorder(Sshlogd::start(sshlogd_binary(), settings_text).expect("start sshlogd"))
    }

    pub fn logs(&self) -> String {
        self.daemon_logs()
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

/// An interactive login of `user` whose shell is up.
pub fn open_session(
    sshd: &sshlog_harness::Sshd,
    user: &sshlog_harness::TestUser,
) -> sshlog_harness::SshSession {
    let mut s = sshd
        .ssh(user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    s.send_line("echo ready").expect("type");
    s.wait_for_stdout(b"\rready\r\n", Duration::from_secs(10))
        .expect("shell up");
    s
}
