//! Test support for the recorder's end-to-end tests: runs the real `sshlogd`
//! binary against a temporary log directory and reads back what it recorded.
#![allow(dead_code)]

use serde_json::Value;
use sshlog_format::cast::Event;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Recorder {
    /// Where settings and daemon logs go (and the recordings, unless `logs` says otherwise).
    pub dir: tempfile::TempDir,
    logs: Option<PathBuf>,
    pub socket: PathBuf,
    child: Option<Child>,
}

impl Recorder {
    pub fn start() -> Recorder {
        Self::start_with("# test settings: defaults\n")
    }

    /// Starts sshlogd with this settings file content (log dir and socket are
    /// always the test's own).
    pub fn start_with(settings: &str) -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("sshlogd-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::write(dir.path().join("sshlogd.yaml"), settings).expect("settings");
        let mut r = Recorder {
            socket: dir.path().join("sshlogd.sock"),
            dir,
            logs: None,
            child: None,
        };
        r.spawn();
        r
    }

    /// Like [`Recorder::start_with`], recording into `logs` (e.g. a small filesystem).
    pub fn start_in(logs: &Path, settings: &str) -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("sshlogd-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::write(dir.path().join("sshlogd.yaml"), settings).expect("settings");
        let mut r = Recorder {
            socket: dir.path().join("sshlogd.sock"),
            dir,
            logs: Some(logs.to_path_buf()),
            child: None,
        };
        r.spawn();
        r
    }

    /// The action configuration directory this sshlogd reads (empty unless a
    /// test writes YAML files into it; never the system's /etc/sshlog).
    pub fn conf_dir(&self) -> PathBuf {
        let d = self.dir.path().join("conf.d");
        std::fs::create_dir_all(&d).expect("conf.d");
        d
    }

    /// SIGHUP: reload the action configuration.
    pub fn hup(&self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid() as i32, libc::SIGHUP) };
    }

    pub fn log_dir(&self) -> &Path {
        self.logs.as_deref().unwrap_or(self.dir.path())
    }

    /// Starts sshlogd (again) on the same directories and waits until it answers.
    pub fn spawn(&mut self) {
        let settings = self.dir.path().join("sshlogd.yaml");
        let log = std::fs::File::create(self.dir.path().join(format!("daemon-{}.log", now_ms())))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_sshlogd"))
            .arg("--log-dir")
            .arg(self.log_dir())
            .arg("--socket")
            .arg(&self.socket)
            .arg("--config")
            .arg(&settings)
            .arg("--config-dir")
            .arg(self.conf_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start sshlogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(v) = self.request(r#"{"cmd":"ping"}"#) {
                if v["ok"] == true {
                    return;
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "sshlogd exited during start-up ({st}): {}",
                        self.daemon_logs()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshlogd did not answer within 30 s: {}",
                self.daemon_logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn daemon_logs(&self) -> String {
        let mut s = String::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.path()) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("daemon-") {
                    s += &std::fs::read_to_string(e.path()).unwrap_or_default();
                }
            }
        }
        s
    }

    pub fn request(&self, line: &str) -> std::io::Result<Value> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(line.as_bytes())?;
        s.write_all(b"\n")?;
        let mut r = BufReader::new(s);
        let mut out = String::new();
        r.read_line(&mut out)?;
        serde_json::from_str(&out).map_err(std::io::Error::other)
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: recordings are closed cleanly.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
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

    /// Every sidecar record (as JSON) of sessions whose events name `user`.
    pub fn sessions_of(&self, user: &str) -> Vec<Session> {
        let mut out = Vec::new();
        for path in walk(&self.log_dir().join("sessions")) {
            let name = path.to_string_lossy().into_owned();
            if !name.ends_with(".events.jsonl") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let records: Vec<Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let established = records
                .iter()
                .find(|r| r["type"] == "connection_established");
            if established.is_some_and(|r| r["user"] == user) {
                let cast = PathBuf::from(name.replace(".events.jsonl", ".cast.zst"));
                out.push(Session {
                    records,
                    cast,
                    events: path,
                });
            }
        }
        out.sort_by(|a, b| a.events.cmp(&b.events));
        out
    }

    /// Waits (bounded) until `n` sessions of `user` have a connection_close.
    pub fn wait_closed(&self, user: &str, n: usize, timeout: Duration) -> Vec<Session> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.sessions_of(user);
            if s.iter()
                .filter(|s| s.of_type("connection_close").next().is_some())
                .count()
                >= n
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{n} closed session(s) of {user} not recorded within {timeout:?}; have {}: {}",
                s.len(),
                self.daemon_logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn event_log(&self) -> String {
        std::fs::read_to_string(self.log_dir().join("event.log")).unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Session {
    pub records: Vec<Value>,
    pub cast: PathBuf,
    pub events: PathBuf,
}

impl Session {
    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == ty)
    }

    /// All output bytes of the cast, concatenated.
    pub fn output(&self) -> Vec<u8> {
        let (_, events) = sshlog_format::read_cast_file(&self.cast).expect("cast decodes");
        let mut out = Vec::new();
        for e in events {
            if let Event::Output { data, .. } = e {
                out.extend_from_slice(&data);
            }
        }
        out
    }

    pub fn cast_events(&self) -> (sshlog_format::Header, Vec<Event>) {
        sshlog_format::read_cast_file(&self.cast).expect("cast decodes")
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
