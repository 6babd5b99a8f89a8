//! Shared support of the web console's tests: settings files, the real
//! `sshlog web` process, a small HTTP client with manual cookies, a fake
//! sshlogd, and a fixture log directory written with the format library.
#![allow(dead_code)]

use argon2::password_hash::{PasswordHasher, SaltString};
use serde_json::{json, Value};
use sshlog_format::cast::{CastVersion, Event, Header, SshlogMeta};
use sshlog_format::{
    session_paths, write_record, FrameOptions, FramedCastWriter, Record, SessionEvent,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");
pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";

/// An argon2id hash of `password` with cheap parameters (tests run
/// unoptimized builds; the parameters travel in the hash).
pub fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).expect("params");
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"sshlog-test-salt").expect("salt");
    a.hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

/// Settings with the console enabled on a free loopback port.
pub fn settings(dir: &Path) -> PathBuf {
    let p = dir.join("web.yaml");
    std::fs::write(
        &p,
        format!(
            "enabled: true\nlisten: 127.0.0.1:0\nuser: {USER}\npassword_hash: '{}'\nsession_ttl_minutes: 5\n",
            cheap_hash(PASSWORD)
        ),
    )
    .expect("write settings");
    p
}

/// A running `sshlog web`.
pub struct Web {
    child: Child,
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Web {
    /// Starts `sshlog web` and waits for its "listening on" line.
    pub fn start(config: &Path, socket: &Path, log_dir: &Path) -> Web {
        let mut child = Command::new(SSHLOG)
            .args(["--socket"])
            .arg(socket)
            .arg("--log-dir")
            .arg(log_dir)
            .args(["web", "--config"])
            .arg(config)
            .env_remove("SSHLOG_ENABLE_WEB")
            .env("SSHLOG_WEB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sshlog web");
        let err = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
                log.lock().expect("log").push_str(&format!("{line}\n"));
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("sshlog web did not start: {}", stderr.lock().expect("log"));
            }
        };
        Web {
            child,
            base: format!("http://{addr}"),
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// An HTTP client with a cookie jar of its own (no redirects followed).
pub struct Client {
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            agent,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, resp: ureq::http::Response<ureq::Body>) -> Reply {
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie" {
                if let Some((name, rest)) = v.split_once('=') {
                    let value = rest.split(';').next().unwrap_or("");
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        let body = resp.into_body().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&mut self, url: &str) -> Reply {
        let mut req = self.agent.get(url);
        let c = self.cookie_header();
        if !c.is_empty() {
            req = req.header("Cookie", &c);
        }
        let resp = req.call().expect("GET");
        self.absorb(resp)
    }

    /// POST a form with extra headers.
    pub fn post_form(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.agent.post(url);
        let c = self.cookie_header();
        if !c.is_empty() {
            req = req.header("Cookie", &c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send_form(form.iter().copied()).expect("POST");
        self.absorb(resp)
    }

    /// The login form's CSRF token (GET /login).
    pub fn login_form_token(&mut self, web: &Web) -> String {
        let r = self.get(&web.url("/login"));
        assert_eq!(r.status, 200, "{}", r.body);
        hidden_csrf(&r.body).expect("csrf field in the login form")
    }

    /// Logs in; returns the reply of POST /login.
    pub fn login(&mut self, web: &Web, user: &str, password: &str) -> Reply {
        let token = self.login_form_token(web);
        self.post_form(
            &web.url("/login"),
            &[("user", user), ("password", password), ("csrf", &token)],
            &[],
        )
    }

    /// The session's CSRF token, from a page's meta tag.
    pub fn csrf(&mut self, web: &Web) -> String {
        let r = self.get(&web.url("/"));
        assert_eq!(r.status, 200, "{}", r.body);
        let m = r
            .body
            .split(r#"<meta name="csrf-token" content=""#)
            .nth(1)
            .expect("csrf meta");
        m.split('"').next().expect("value").to_string()
    }
}

/// The value of the hidden `csrf` input of a form.
pub fn hidden_csrf(html: &str) -> Option<String> {
    let rest = html.split(r#"name="csrf" value=""#).nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// A fake sshlogd: answers ping, sessions, watch (one event), and records
/// `report` requests.
pub struct FakeDaemon {
    pub socket: PathBuf,
    pub reports: Arc<Mutex<Vec<Value>>>,
}

impl FakeDaemon {
    pub fn start(dir: &Path, live_id: Uuid) -> FakeDaemon {
        let socket = dir.join("fake-sshlogd.sock");
        let l = UnixListener::bind(&socket).expect("bind fake daemon");
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { break };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut w = s.try_clone().expect("clone");
                    let mut line = String::new();
                    if BufReader::new(s).read_line(&mut line).is_err() {
                        return;
                    }
                    let req: Value = serde_json::from_str(&line).unwrap_or_default();
                    let answer = match req["cmd"].as_str() {
                        Some("ping") => json!({"ok": true, "version": "test"}),
                        Some("sessions") => json!({"ok": true, "sessions": [{
                            "session_id": live_id, "sshd_pid": 4242, "user": "alice",
                            "client": "192.0.2.10:52144", "tty": "/dev/pts/3",
                            "started": "2026-01-01T10:00:00Z", "last_activity": "2026-01-01T10:00:05Z",
                            "last_command": "vim notes.txt", "existing_login": false, "cast": null}]}),
                        Some("report") => {
                            seen.lock().expect("reports").push(req["record"].clone());
                            json!({"ok": true})
                        }
                        Some("watch") => {
                            let _ = w.write_all(b"{\"ok\":true}\n");
                            let ev = json!({"record": {"schema": 1, "ts": "2026-01-01T10:00:06Z",
                                "session_id": live_id, "type": "command_start", "pid": 7, "ppid": 6,
                                "uid": 1000, "user": "alice", "argv": ["/usr/bin/id"],
                                "argv_truncated": false, "filename": "/usr/bin/id", "cwd": "/"},
                                "line": "2026-01-01 10:00:06 command_start (7) alice executed /usr/bin/id"});
                            let _ = w.write_all(format!("{ev}\n").as_bytes());
                            std::thread::sleep(Duration::from_secs(30));
                            return;
                        }
                        _ => json!({"ok": false, "error": "unsupported by the fake daemon"}),
                    };
                    let _ = w.write_all(format!("{answer}\n").as_bytes());
                });
            }
        });
        FakeDaemon { socket, reports }
    }

    /// Waits (bounded) until `n` reports arrived; returns them.
    pub fn wait_reports(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.reports.lock().expect("reports").clone();
            if r.len() >= n || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A recorded session in `log_dir`: `$ ls -l` with its output, a marker
/// and the sidecar's command events. Returns its id.
pub fn write_fixture(log_dir: &Path) -> Uuid {
    let now = chrono::Utc::now() - chrono::Duration::minutes(10);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, now.timestamp() as u64, 0);
    let id = Uuid::new_v7(ts);
    let started = sshlog_format::layout::session_id_time(id).expect("v7");
    let paths = session_paths(log_dir, started, id);
    std::fs::create_dir_all(&paths.dir).expect("mkdir");
    let mut header = Header::new(CastVersion::V2, 80, 24);
    header.timestamp = Some(started.timestamp());
    header.set_sshlog_meta(&SshlogMeta {
        session_id: Some(id),
        user: Some("alice".into()),
        client: Some("192.0.2.10:52144".into()),
        tty: Some("/dev/pts/3".into()),
        sshd_pid: Some(4242),
        segment: Some(0),
        previous_segment: None,
        root: None,
    });
    let file = std::fs::File::create(&paths.cast).expect("cast");
    let mut w = FramedCastWriter::new(file, &header, FrameOptions::default()).expect("writer");
    let events = [
        Event::Output {
            time_us: 100_000,
            data: b"alice@host:~$ ".to_vec(),
        },
        Event::Output {
            time_us: 1_000_000,
            data: b"ls -l\r\n".to_vec(),
        },
        Event::Marker {
            time_us: 1_200_000,
            label: "ls -l".into(),
        },
        Event::Output {
            time_us: 1_300_000,
            data: b"total 4\r\n-rw-r--r-- 1 alice alice 12 notes.txt\r\n".to_vec(),
        },
        Event::Output {
            time_us: 2_000_000,
            data: "alice@host:~$ caf\u{e9}\r\n".as_bytes().to_vec(),
        },
    ];
    for e in &events {
        w.write_event(e).expect("event");
    }
    w.finish().expect("finish");
    let ev = std::fs::File::create(&paths.events).expect("sidecar");
    let rec = |dt_ms: i64, event: SessionEvent| {
        Record::new(
            started + chrono::Duration::milliseconds(dt_ms),
            Some(id),
            event,
        )
    };
    let records = [
        rec(
            0,
            SessionEvent::ConnectionEstablished {
                user: "alice".into(),
                client_ip: "192.0.2.10".into(),
                client_port: 52144,
                server_port: 22,
                tty: Some("/dev/pts/3".into()),
                sshd_pid: 4242,
                existing_login: false,
                root: None,
            },
        ),
        rec(
            1200,
            SessionEvent::CommandStart {
                pid: 100,
                ppid: 99,
                uid: 1000,
                user: Some("alice".into()),
                argv: vec!["ls".into(), "-l".into()],
                argv_truncated: false,
                filename: "/usr/bin/ls".into(),
                cwd: Some("/home/alice".into()),
            },
        ),
        rec(
            1300,
            SessionEvent::CommandFinish {
                pid: 100,
                exit_code: Some(0),
                signal: None,
                duration_ms: 100,
                argv: vec!["ls".into(), "-l".into()],
            },
        ),
        rec(
            3000,
            SessionEvent::ConnectionClose {
                user: "alice".into(),
                sshd_pid: 4242,
                duration_ms: 3000,
                bytes_in: 10,
                bytes_out: 100,
            },
        ),
    ];
    let mut ev = std::io::BufWriter::new(ev);
    for r in &records {
        write_record(&mut ev, r).expect("record");
    }
    ev.flush().expect("flush");
    id
}

/// Runs `sshlog web` expecting a refusal; returns (exit code, stderr).
pub fn refused(config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = Command::new(SSHLOG);
    c.args(["web", "--config"])
        .arg(config)
        .env_remove("SSHLOG_ENABLE_WEB");
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sshlog web");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err)
                .expect("read");
            return (st.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sshlog web did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
