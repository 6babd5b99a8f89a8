//! Helpers shared by the actions tests: an engine over a YAML text, the
//! records and context of a session, a tiny HTTP server on 127.0.0.1 and
//! bounded waits.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use sshlog_actions::{ActionEngine, ActionStats, EventContext};
use sshlog_format::{Record, SessionEvent};
use uuid::Uuid;

// ---------------------------------------------------------------- helpers

pub fn engine(yaml: &str) -> (ActionEngine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("test.yaml"), yaml).expect("write config");
    let e = ActionEngine::load(dir.path(), dir.path()).unwrap_or_else(|e| panic!("config:\n{e}"));
    (e, dir)
}

pub fn session() -> Uuid {
    Uuid::now_v7()
}

pub fn ctx(id: Uuid) -> EventContext {
    EventContext {
        session_id: Some(id),
        user: Some("alice".into()),
        uid: Some(1000),
        client_ip: "192.0.2.10".parse().ok(),
        client_port: Some(52144),
        tty: Some("/dev/pts/77".into()),
        existing_login: false,
        sshd_pid: Some(4242),
        command_output: None,
    }
}

pub fn command_start(id: Uuid, argv: &[&str]) -> Record {
    Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::CommandStart {
            pid: 1805,
            ppid: 1802,
            uid: 1000,
            user: Some("alice".into()),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            argv_truncated: false,
            filename: format!("/usr/bin/{}", argv[0]),
            cwd: Some("/home/alice".into()),
        },
    )
}

pub fn established(id: Uuid, tty: Option<&str>) -> Record {
    Record::new(
        Utc::now(),
        Some(id),
        SessionEvent::ConnectionEstablished {
            user: "alice".into(),
            client_ip: "192.0.2.10".into(),
            client_port: 52144,
            server_port: 22,
            tty: tty.map(str::to_owned),
            sshd_pid: 4242,
            existing_login: false,
            root: None,
        },
    )
}

/// Poll `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

pub fn stats(e: &ActionEngine, label: &str) -> ActionStats {
    e.action_stats(label).expect("action exists")
}

// ------------------------------------------------------- tiny HTTP server

#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Clone, Copy)]
pub enum Mode {
    Ok,
    Fail500,
    CloseAtOnce,
}

/// An HTTP/1.1 server on 127.0.0.1 that reports every request it reads
/// (or, for `CloseAtOnce`, every connection) on the returned channel.
pub fn http_server(mode: Mode) -> (String, Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let tx = tx.clone();
            thread::spawn(move || serve(conn, mode, tx));
        }
    });
    (format!("http://{addr}"), rx)
}

pub fn serve(conn: TcpStream, mode: Mode, tx: mpsc::Sender<Request>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    if let Mode::CloseAtOnce = mode {
        let _ = tx.send(Request {
            method: "CONNECT-CLOSED".into(),
            path: String::new(),
            headers: HashMap::new(),
            body: String::new(),
        });
        return;
    }
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let _ = tx.send(Request {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let status = match mode {
            Mode::Ok => "200 OK",
            _ => "500 Internal Server Error",
        };
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A listener that accepts nothing: connections complete, requests are
/// never answered.
pub fn black_hole() -> (String, TcpListener) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    (url, l)
}
