//! `sshlog sessions|watch|stats` as a user runs them: the real binary
//! against no daemon and against a scripted fake daemon on a Unix socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

fn sshlog(socket: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(SSHLOG);
    c.arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("SSHLOG_SOCKET")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1");
    c
}

fn one_line_error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "status {:?}", o.status);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    err.trim_end().to_string()
}

#[test]
fn no_daemon_gives_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("sshlogd.sock");
    for cmd in [
        &["sessions"][..],
        &["stats"],
        &["watch"],
        &["sessions", "--json"],
    ] {
        let o = sshlog(&sock, cmd).output().expect("run");
        assert_eq!(
            one_line_error(&o),
            format!(
                "sshlog: cannot connect to {}: No such file or directory (is sshlogd running? --socket / SSHLOG_SOCKET)",
                sock.display()
            ),
            "{cmd:?}"
        );
        assert!(o.stdout.is_empty());
    }
    // The socket can also come from the environment.
    let o = Command::new(SSHLOG)
        .arg("sessions")
        .env("SSHLOG_SOCKET", &sock)
        .output()
        .expect("run");
    assert!(one_line_error(&o).contains(&sock.display().to_string()));
}

#[test]
fn unknown_watch_type_is_rejected_before_connecting() {
    let o = sshlog(Path::new("/nonexistent.sock"), &["watch", "--type", "cmd"])
        .output()
        .expect("run");
    let err = one_line_error(&o);
    assert!(
        err.starts_with("sshlog: unknown event type 'cmd' (known types: "),
        "{err}"
    );
}

/// A fake sshlogd serving one client: returns the request line it got.
/// `answer` is written after the request; `hold` keeps the connection open
/// until the client hangs up.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    thread: Option<JoinHandle<String>>,
}

impl FakeDaemon {
    fn start(answer: Vec<u8>, hold: bool) -> FakeDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("fake.sock");
        let l = UnixListener::bind(&socket).expect("bind");
        let thread = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut req = String::new();
            r.read_line(&mut req).expect("request");
            let mut w = s;
            w.write_all(&answer).expect("answer");
            if hold {
                let mut rest = Vec::new();
                let _ = r.read_to_end(&mut rest);
            }
            req
        });
        FakeDaemon {
            _dir: dir,
            socket,
            thread: Some(thread),
        }
    }

    fn request(mut self) -> String {
        self.thread
            .take()
            .expect("thread")
            .join()
            .expect("fake daemon")
    }
}

#[test]
fn sessions_table_and_json() {
    let now = chrono::Utc::now();
    let answer = serde_json::json!({"ok": true, "sessions": [{
        "session_id": "018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e", "sshd_pid": 4242,
        "user": "carol", "client": "127.0.0.1:50000", "tty": "/dev/pts/9",
        "started": now - chrono::Duration::minutes(5), "last_activity": now - chrono::Duration::seconds(3),
        "last_command": "top -d 1", "existing_login": true, "cast": null
    }]});
    let d = FakeDaemon::start(format!("{answer}\n").into_bytes(), false);
    let o = sshlog(&d.socket, &["sessions"]).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("USER    LAST ACTIVITY  LAST COMMAND  STARTED"),
        "{text}"
    );
    assert!(lines[0].ends_with("TTY         SSHD PID"), "{text}");
    assert!(lines[1].starts_with("carol*  "), "{text}");
    assert!(
        lines[1].contains(" ago ") && lines[1].contains("top -d 1"),
        "{text}"
    );
    assert!(lines[1].contains("127.0.0.1:50000  /dev/pts/9"), "{text}");
    assert!(lines[1].ends_with("4242"), "{text}");
    assert!(
        text.contains("* logged in before sshlogd started"),
        "{text}"
    );
    assert_eq!(d.request(), "{\"cmd\":\"sessions\"}\n");

    let d = FakeDaemon::start(format!("{answer}\n").into_bytes(), false);
    let o = sshlog(&d.socket, &["sessions", "--json"])
        .output()
        .expect("run");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v, answer["sessions"]);
    d.request();
}

#[test]
fn stats_and_daemon_errors() {
    let d = FakeDaemon::start(
        b"{\"ok\":true,\"stats\":{\"kernel_events\":10,\"bytes_dropped\":0}}\n".to_vec(),
        false,
    );
    let o = sshlog(&d.socket, &["stats"]).output().expect("run");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "kernel_events  10\nbytes_dropped   0\n"
    );
    assert_eq!(d.request(), "{\"cmd\":\"stats\"}\n");

    let d = FakeDaemon::start(b"{\"ok\":false,\"error\":\"nope\"}\n".to_vec(), false);
    let o = sshlog(&d.socket, &["stats"]).output().expect("run");
    assert_eq!(
        one_line_error(&o),
        "sshlog: sshlogd refused the request: nope"
    );
    d.request();

    let d = FakeDaemon::start(Vec::new(), false);
    let o = sshlog(&d.socket, &["sessions"]).output().expect("run");
    assert!(
        one_line_error(&o).contains("closed the connection"),
        "{:?}",
        o
    );
    d.request();
}

/// Waits (bounded) for a child to exit.
fn wait(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sshlog did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_prints_lines_and_fails_when_the_daemon_goes_away() {
    let mut answer = b"{\"ok\":true}\n".to_vec();
    for (n, user) in [(1, "dave"), (2, "dave")] {
        let ev = serde_json::json!({
            "record": {"type": "command_start", "pid": n, "user": user},
            "line": format!("2024-05-01 10:00:0{n} command_start ({n}) {user} executed ls")
        });
        answer.extend_from_slice(format!("{ev}\n").as_bytes());
    }
    let d = FakeDaemon::start(answer.clone(), false);
    let o = sshlog(
        &d.socket,
        &["watch", "--user", "dave", "--type", "command_start"],
    )
    .output()
    .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "2024-05-01 10:00:01 command_start (1) dave executed ls\n\
         2024-05-01 10:00:02 command_start (2) dave executed ls\n"
    );
    assert_eq!(
        one_line_error(&o),
        "sshlog: sshlogd closed the connection (daemon stopped?)"
    );
    assert_eq!(
        d.request(),
        "{\"cmd\":\"watch\",\"user\":\"dave\",\"types\":[\"command_start\"]}\n"
    );

    let d = FakeDaemon::start(answer, false);
    let o = sshlog(&d.socket, &["watch", "--json"])
        .output()
        .expect("run");
    let first = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .map(str::to_string);
    assert_eq!(
        first.as_deref(),
        Some(r#"{"type":"command_start","pid":1,"user":"dave"}"#)
    );
    d.request();
}

#[test]
fn watch_ends_cleanly_on_ctrl_c() {
    let d = FakeDaemon::start(b"{\"ok\":true}\n".to_vec(), true);
    let mut child = sshlog(&d.socket, &["watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Let it subscribe, then interrupt it like Ctrl+C does.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let st = wait(&mut child, Duration::from_secs(10));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("stderr");
    }
    assert!(st.success(), "{st:?}: {err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(d.request(), "{\"cmd\":\"watch\"}\n");
}
