//! `plugin_action`: the shipped example plugins (Python and shell) get one
//! event JSON per line; a plugin that crashes after each event is restarted
//! with backoff and still gets later events; one that dies at once is not
//! restarted in a tight loop; plugin stderr reaches the daemon's log.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use sshlog_actions::{ActionEngine, EventContext};
use sshlog_format::{Record, SessionEvent};
use uuid::Uuid;

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/plugins")
}

fn engine(yaml: &str, plugins: &Path) -> (ActionEngine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("p.yaml"), yaml).expect("write config");
    let e = ActionEngine::load(dir.path(), plugins).unwrap_or_else(|e| panic!("config:\n{e}"));
    (e, dir)
}

fn command_start(id: Uuid, argv: &[&str]) -> Record {
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
            cwd: None,
        },
    )
}

fn ctx(id: Uuid) -> EventContext {
    EventContext {
        session_id: Some(id),
        user: Some("alice".into()),
        ..EventContext::default()
    }
}

/// The lines of `path` once there are at least `n` (or whatever is there
/// after `limit`).
fn lines(path: &Path, n: usize, limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    loop {
        let l: Vec<String> = fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if l.len() >= n || Instant::now() >= end {
            return l;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Everything logged through `tracing` in this test binary.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Writer(b.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    let buf = log_buffer();
    let b = buf.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&b).into_owned()
}

fn script(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    fs::write(&p, body).expect("write plugin");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn example_python_plugin_gets_the_events() {
    log_buffer();
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("py.log");
    let (e, _dir) = engine(
        &format!(
            "events:\n  - event: to_python\n    triggers: [command_start, connection_established]\n    actions:\n      - action: py\n        plugin: plugin_action\n        executable: example_python.py\n        config: {{output: {}}}\n",
            file.display()
        ),
        &plugins_dir(),
    );
    let id = Uuid::now_v7();
    e.dispatch(&command_start(id, &["nmap", "-sS"]), &ctx(id));
    e.dispatch(&command_start(id, &["id"]), &ctx(id));
    let got = lines(&file, 2, Duration::from_secs(15));
    assert_eq!(got.len(), 2, "{got:?}\nlog:\n{}", logged());
    assert!(
        got[0].ends_with(&format!("command_start user=alice session={id} nmap -sS")),
        "{got:?}"
    );
    assert!(
        got[1].ends_with(&format!("command_start user=alice session={id} id")),
        "{got:?}"
    );
    e.shutdown();
    // Its stderr went to the log.
    assert!(
        logged().contains("example_python plugin for to_python/py writing to"),
        "{}",
        logged()
    );
}

#[test]
fn example_shell_plugin_gets_the_events() {
    log_buffer();
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("sh.log");
    let (e, _dir) = engine(
        &format!(
            "events:\n  - event: to_shell\n    triggers: \"*\"\n    actions:\n      - action: sh\n        plugin: plugin_action\n        executable: example_shell.sh\n        config: {{output: {}}}\n",
            file.display()
        ),
        &plugins_dir(),
    );
    let id = Uuid::now_v7();
    e.dispatch(&command_start(id, &["uname", "-a"]), &ctx(id));
    let got = lines(&file, 1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{got:?}\nlog:\n{}", logged());
    let (kind, json) = got[0].split_once(' ').expect("type and json");
    assert_eq!(kind, "command_start");
    let v: Value = serde_json::from_str(json).expect("json");
    assert_eq!(v["argv"][1], "-a");
    assert_eq!(v["session_id"], id.to_string());
    e.shutdown();
}

#[test]
fn crashing_plugin_is_restarted_and_gets_later_events() {
    log_buffer();
    let plugins = tempfile::tempdir().expect("tempdir");
    let out = plugins.path().join("got.log");
    let starts = plugins.path().join("starts.log");
    script(
        plugins.path(),
        "crashy",
        &format!(
            "#!/bin/sh\necho start >> {starts}\nIFS= read -r line || exit 0\nprintf '%s\\n' \"$line\" >> {out}\nexit 3\n",
            starts = starts.display(),
            out = out.display()
        ),
    );
    let (e, _dir) = engine(
        "events:\n  - event: ev\n    triggers: [command_start]\n    actions:\n      - action: crashy\n        plugin: plugin_action\n        executable: crashy\n        restart_delay_ms: 100\n        max_restart_delay_ms: 400\n",
        plugins.path(),
    );
    let id = Uuid::now_v7();
    for i in 0..3 {
        // Wait for instance i+1 (each one takes one event, then crashes): a line
        // written while the previous instance is exiting would die with it
        // (plugins have no acknowledgements; see docs/config.md).
        assert!(
            lines(&starts, i + 1, Duration::from_secs(10)).len() > i,
            "plugin instance {} not started\n{}",
            i + 1,
            logged()
        );
        e.dispatch(&command_start(id, &["echo", &i.to_string()]), &ctx(id));
        let got = lines(&out, i + 1, Duration::from_secs(10));
        assert_eq!(
            got.len(),
            i + 1,
            "event {i} not delivered: {got:?}\n{}",
            logged()
        );
        let v: Value = serde_json::from_str(&got[i]).expect("json");
        assert_eq!(v["argv"][1], i.to_string());
    }
    let s = e.action_stats("ev/crashy").expect("stats");
    assert_eq!((s.sent, s.failed), (3, 0), "{s:?}");
    assert!(lines(&starts, 3, Duration::from_secs(5)).len() >= 3);
    e.shutdown();
    assert!(logged().contains("plugin exited"), "{}", logged());
}

#[test]
fn plugin_dying_at_once_backs_off() {
    log_buffer();
    let plugins = tempfile::tempdir().expect("tempdir");
    let starts = plugins.path().join("starts.log");
    script(
        plugins.path(),
        "dies",
        &format!("#!/bin/sh\necho start >> {}\nexit 1\n", starts.display()),
    );
    let (e, _dir) = engine(
        "events:\n  - event: ev\n    triggers: [command_start]\n    actions:\n      - action: dies\n        plugin: plugin_action\n        executable: dies\n        restart_delay_ms: 50\n        max_restart_delay_ms: 400\n",
        plugins.path(),
    );
    thread::sleep(Duration::from_millis(2000));
    e.shutdown();
    // Without backoff: ~40 starts in 2 s (one per 50 ms). With doubling
    // delays (50, 100, 200, 400, 400, ...): about 7.
    let n = lines(&starts, usize::MAX, Duration::ZERO).len();
    assert!((3..=10).contains(&n), "{n} starts");
}
