//! The web console's HTTP surface, against the real `sshlog web` binary, a
//! fake sshlogd and a fixture log directory: refusals to start, login,
//! rate limits, CSRF, path traversal, the API's answers and the
//! `web_login` reports.

mod web_support;

use std::io::{BufRead, BufReader};
use std::time::Duration;
use web_support::*;

struct Setup {
    _dir: tempfile::TempDir,
    web: Web,
    daemon: Option<FakeDaemon>,
    id: uuid::Uuid,
}

fn setup(with_daemon: bool) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("log");
    let id = write_fixture(&log_dir);
    let config = settings(dir.path());
    let daemon = with_daemon.then(|| FakeDaemon::start(dir.path(), id));
    let socket = daemon
        .as_ref()
        .map(|d| d.socket.clone())
        .unwrap_or_else(|| dir.path().join("no-daemon.sock"));
    let web = Web::start(&config, &socket, &log_dir);
    Setup {
        _dir: dir,
        web,
        daemon,
        id,
    }
}

fn logged_in(s: &Setup) -> Client {
    let mut c = Client::new();
    let r = c.login(&s.web, USER, PASSWORD);
    assert_eq!(r.status, 303, "login: {}", r.body);
    c
}

#[test]
fn refuses_to_start_when_disabled_or_without_a_password_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("web.yaml");
    std::fs::write(&cfg, format!("password_hash: '{}'\n", cheap_hash("x"))).expect("write");
    let (code, err) = refused(&cfg, &[]);
    assert_ne!(code, Some(0));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("disabled") && err.contains("SSHLOG_ENABLE_WEB=1"),
        "{err}"
    );

    std::fs::write(&cfg, "enabled: true\n").expect("write");
    let (code, err) = refused(&cfg, &[]);
    assert_ne!(code, Some(0));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("sshlog web hash-password"), "{err}");

    // SSHLOG_ENABLE_WEB=1 enables, but still no password.
    std::fs::write(&cfg, "listen: 127.0.0.1:0\n").expect("write");
    let (code, err) = refused(&cfg, &[("SSHLOG_ENABLE_WEB", "1")]);
    assert_ne!(code, Some(0));
    assert!(err.contains("no password_hash"), "{err}");

    std::fs::write(&cfg, "enabled: true\npassword_hash: 'plaintext'\n").expect("write");
    let (code, err) = refused(&cfg, &[]);
    assert_ne!(code, Some(0));
    assert!(err.contains("not an argon2 PHC string"), "{err}");
}

#[test]
fn hash_password_prints_an_argon2_hash_of_stdin() {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    use std::io::Write;
    let mut child = std::process::Command::new(SSHLOG)
        .args(["web", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"s3cret pw\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).expect("utf8");
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let parsed = PasswordHash::new(hash).expect("PHC");
    assert!(argon2::Argon2::default()
        .verify_password(b"s3cret pw", &parsed)
        .is_ok());
}

#[test]
fn everything_but_the_login_page_needs_a_login() {
    let s = setup(true);
    let mut c = Client::new();
    let id = s.id;
    for path in [
        "/api/sessions".to_string(),
        "/api/events/stream".into(),
        "/api/search?user=alice".into(),
        format!("/api/recordings/{id}"),
        format!("/api/recordings/{id}/cast"),
        format!("/api/live/{id}"),
        "/api/nope".into(),
    ] {
        let r = c.get(&s.web.url(&path));
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert_eq!(r.json()["error"], "login required", "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
    for path in [
        "/".to_string(),
        "/events".into(),
        "/search?output=x".into(),
        format!("/sessions/{id}"),
        format!("/live/{id}"),
        "/elsewhere".into(),
    ] {
        let r = c.get(&s.web.url(&path));
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"), "{path}");
    }
    // Logging out needs a login too.
    let r = c.post_form(&s.web.url("/logout"), &[], &[]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));

    let r = c.get(&s.web.url("/login"));
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    for a in [
        "app.js",
        "style.css",
        "asciinema-player.min.js",
        "asciinema-player.css",
    ] {
        let r = c.get(&s.web.url(&format!("/assets/{a}")));
        assert_eq!(r.status, 200, "{a}");
        assert!(!r.body.is_empty(), "{a}");
    }
    assert!(s
        .daemon
        .as_ref()
        .expect("daemon")
        .reports
        .lock()
        .expect("r")
        .is_empty());
}

#[test]
fn login_csrf_api_and_logout() {
    let s = setup(true);
    let daemon = s.daemon.as_ref().expect("daemon");
    let mut c = Client::new();

    // The login form needs its own token (double submit).
    let r = c.post_form(
        &s.web.url("/login"),
        &[("user", USER), ("password", PASSWORD), ("csrf", "forged")],
        &[],
    );
    assert_eq!(r.status, 403, "{}", r.body);

    let r = c.login(&s.web, USER, "wrong password");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("Wrong user name or password"), "{}", r.body);
    assert!(!c.cookies.contains_key("sshlog_session"));

    let r = c.login(&s.web, USER, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sshlog_session="))
        .expect("session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let token = c.cookies["sshlog_session"].clone();
    assert!(token.len() >= 43, "256-bit token: {token}");

    // Both attempts were reported to the daemon as web_login events.
    let reports = daemon.wait_reports(2);
    assert_eq!(reports.len(), 2, "{reports:?}");
    // Each login reports on its own connection: either may arrive first.
    let failed = reports
        .iter()
        .find(|r| r["success"] == false)
        .expect("the failed attempt");
    assert_eq!(failed["type"], "web_login");
    assert_eq!(failed["schema"], 1);
    assert_eq!(failed["user"], USER);
    assert_eq!(failed["client_ip"], "127.0.0.1");
    assert_eq!(failed["success"], false);
    assert_eq!(failed["reason"], "bad password");
    assert!(failed["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(reports.iter().any(|r| r["success"] == true), "{reports:?}");

    // Pages and API now answer.
    let r = c.get(&s.web.url("/"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Live sessions"));
    let r = c.get(&s.web.url("/api/sessions"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json()["sessions"][0]["user"], "alice");

    let id = s.id;
    let r = c.get(&s.web.url(&format!("/api/recordings/{id}")));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["session_id"], id.to_string());
    assert_eq!(v["user"], "alice");
    assert_eq!(v["ended"], true);
    assert_eq!(v["commands"][0]["argv"], serde_json::json!(["ls", "-l"]));
    assert_eq!(v["commands"][0]["offset"], 1.2);
    assert_eq!(v["commands"][0]["interactive"], true);
    assert_eq!(v["commands"][0]["exit_code"], 0);

    let r = c.get(&s.web.url(&format!("/api/recordings/{id}?output=NOTES.TXT")));
    assert_eq!(r.json()["output_hits"][0]["offset"], 1.3);

    let r = c.get(&s.web.url(&format!("/api/recordings/{id}/cast")));
    assert_eq!(r.status, 200);
    let mut lines = r.body.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("header")).expect("json");
    assert_eq!(header["version"], 2);
    assert_eq!(header["width"], 80);
    let events: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert_eq!(events[0], serde_json::json!([0.1, "o", "alice@host:~$ "]));
    assert!(events.contains(&serde_json::json!([1.2, "m", "ls -l"])));
    assert!(r.body.contains("caf\u{e9}"));

    let r = c.get(&s.web.url("/api/search?cmd=ls&user=alice&since=1d"));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["sessions"][0]["session_id"], id.to_string());
    assert_eq!(v["sessions"][0]["commands"][0]["offset"], 1.2);
    let r = c.get(&s.web.url("/api/search?output=notes.txt"));
    assert_eq!(r.json()["sessions"][0]["output_hits"][0]["offset"], 1.3);
    let r = c.get(&s.web.url("/api/search?user=bob"));
    assert_eq!(r.json()["sessions"], serde_json::json!([]));
    let r = c.get(&s.web.url("/api/search?since=soon"));
    assert_eq!(r.status, 400);

    // The same answers once the day is indexed (the index decides user,
    // command and the output filter before a recording is opened).
    let o = std::process::Command::new(SSHLOG)
        .arg("--log-dir")
        .arg(s._dir.path().join("log"))
        .arg("index")
        .output()
        .expect("sshlog index");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = c.get(&s.web.url("/api/search?cmd=ls&user=alice&since=1d"));
    assert_eq!(r.json()["sessions"][0]["session_id"], id.to_string());
    assert_eq!(r.json()["scanned"], 1);
    let r = c.get(&s.web.url("/api/search?output=notes.txt"));
    assert_eq!(r.json()["sessions"][0]["output_hits"][0]["offset"], 1.3);
    let r = c.get(&s.web.url("/api/search?output=no-such-text-anywhere"));
    assert_eq!(r.json()["sessions"], serde_json::json!([]));
    let r = c.get(&s.web.url("/api/search?cmd=vim"));
    assert_eq!(r.json()["sessions"], serde_json::json!([]));

    let r = c.get(&s.web.url(&format!("/sessions/{id}")));
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&format!(r#"data-id="{id}""#)));

    // The event stream relays the daemon's watch as SSE.
    let resp = ureq::get(&s.web.url("/api/events/stream?type=command_start"))
        .header("Cookie", &format!("sshlog_session={token}"))
        .call()
        .expect("stream");
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let mut r = BufReader::new(resp.into_body().into_reader());
    let mut seen = String::new();
    while !seen.contains("/usr/bin/id") {
        let mut l = String::new();
        assert!(
            r.read_line(&mut l).expect("read") > 0,
            "stream ended: {seen}"
        );
        seen.push_str(&l);
    }
    assert!(seen.contains("event: event"), "{seen}");
    drop(r);
    let r = c.get(&s.web.url("/api/events/stream?type=Bad;Type"));
    assert_eq!(r.status, 400);

    // State changes need the CSRF token and the same origin.
    let r = c.post_form(&s.web.url("/logout"), &[], &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c.post_form(&s.web.url("/logout"), &[("csrf", "wrong")], &[]);
    assert_eq!(r.status, 403);
    let csrf = c.csrf(&s.web);
    let r = c.post_form(
        &s.web.url("/logout"),
        &[],
        &[("X-CSRF-Token", &csrf), ("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403, "cross-origin");
    assert_eq!(
        c.get(&s.web.url("/api/sessions")).status,
        200,
        "still logged in"
    );
    let r = c.post_form(&s.web.url("/logout"), &[], &[("X-CSRF-Token", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));

    // The old token is dead server-side, even if a client keeps it.
    c.cookies.insert("sshlog_session".into(), token);
    assert_eq!(c.get(&s.web.url("/api/sessions")).status, 401);

    // Logging out with the form field works too.
    let mut c = logged_in(&s);
    let csrf = c.csrf(&s.web);
    let r = c.post_form(&s.web.url("/logout"), &[("csrf", &csrf)], &[]);
    assert_eq!(r.status, 303);
    assert_eq!(c.get(&s.web.url("/api/sessions")).status, 401);
}

#[test]
fn failed_logins_are_rate_limited() {
    let s = setup(true);
    let mut c = Client::new();
    for i in 0..5 {
        let r = c.login(&s.web, USER, &format!("guess {i}"));
        assert_eq!(r.status, 401, "attempt {i}: {}", r.body);
    }
    let r = c.login(&s.web, USER, "guess 5");
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    // Locked out even with the right password.
    let r = c.login(&s.web, USER, PASSWORD);
    assert_eq!(r.status, 429);
    // Five failures reported; the refused attempts are only logged.
    let reports = s.daemon.as_ref().expect("daemon").wait_reports(5);
    assert_eq!(reports.len(), 5);
    assert!(reports.iter().all(|r| r["success"] == false));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        s.daemon
            .as_ref()
            .expect("daemon")
            .reports
            .lock()
            .expect("r")
            .len(),
        5
    );
    assert!(
        s.web.logs().contains("too many failed attempts"),
        "{}",
        s.web.logs()
    );
}

#[test]
fn session_ids_are_validated_and_never_escape_the_log_dir() {
    let s = setup(true);
    let mut c = logged_in(&s);
    for path in [
        "/api/recordings/..%2F..%2Fetc%2Fpasswd",
        "/api/recordings/..%2F..%2Fetc%2Fpasswd/cast",
        "/api/recordings/not-a-uuid",
        "/api/recordings/00000000-0000-4000-8000-000000000000",
        "/api/recordings/%7B018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e%7D",
        "/api/live/..%2F..%2Fetc%2Fpasswd",
        "/sessions/..%2F..%2Fetc%2Fpasswd",
        "/live/not-a-uuid",
    ] {
        let r = c.get(&s.web.url(path));
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(!r.body.contains("root:"), "{path}");
    }
    for path in [
        "/api/recordings/../../etc/passwd",
        "/api/recordings/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/../../Cargo.toml",
    ] {
        let r = c.get(&s.web.url(path));
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        assert!(
            !r.body.contains("root:") && !r.body.contains("[package]"),
            "{path}"
        );
    }
    // A well-formed id that was never recorded.
    let r = c.get(
        &s.web
            .url("/api/recordings/018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e"),
    );
    assert_eq!(r.status, 404);
    let r = c.get(&s.web.url("/sessions/018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e"));
    assert_eq!(r.status, 404);
}

#[test]
fn without_the_daemon_login_works_and_live_data_is_503() {
    let s = setup(false);
    let mut c = logged_in(&s);
    let r = c.get(&s.web.url("/api/sessions"));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("sshlogd is not reachable")));
    // Recordings are read from disk and still served.
    let r = c.get(&s.web.url(&format!("/api/recordings/{}", s.id)));
    assert_eq!(r.status, 200);
    // The login is reported to sshlogd off the request path: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.web.logs().contains("cannot report the web login") {
        assert!(std::time::Instant::now() < deadline, "{}", s.web.logs());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
