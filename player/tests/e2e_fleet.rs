//! The fleet store end to end, against a real Garage on 127.0.0.1: sessions
//! recorded by sshlogd are uploaded (cast, sidecar, index entry) under the
//! host's id, found by `sshlog search --store` (with the host column) and
//! played back from the store byte for byte; the store stopped during
//! sessions then started again loses nothing and duplicates nothing, also
//! across a kill -9 of sshlogd; wrong credentials give one clear error and
//! keep everything in the spool.

mod common;
mod web_support;

use common::*;
use serde_json::Value;
use sshlog_harness::{random_suffix, require_root_or_skip, Garage, Sshd, TestUser};
use std::path::Path;
use std::time::{Duration, Instant};

const UPLOAD_WAIT: Duration = Duration::from_secs(90);

/// sshlogd's `stats` as JSON.
fn stats(rec: &Recorder) -> Value {
    rec.request(r#"{"cmd":"stats"}"#).expect("stats")["stats"].clone()
}

/// Waits (bounded) until `f(stats)` holds.
fn wait_stats(rec: &Recorder, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + UPLOAD_WAIT;
    loop {
        let s = stats(rec);
        if f(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {s}\n{}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every object key under `prefix` in the store.
fn keys(garage: &Garage, prefix: &str) -> Vec<String> {
    let (store, rt) = connect(&garage.store_url(prefix).expect("url"));
    let root = store.layout.hosts();
    let mut k: Vec<String> = rt
        .block_on(store.list(&root))
        .expect("list")
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    k.sort();
    k
}

fn search_store(url: &str, args: &[&str]) -> Vec<Value> {
    let out = std::process::Command::new(SSHLOG)
        .args(["--json", "search", "--store", url])
        .args(args)
        .output()
        .expect("sshlog search");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn run_session(sshd: &Sshd, user: &TestUser, word: &str) -> Vec<u8> {
    let out = sshd
        .ssh(user)
        .run(&format!("echo {word}; seq 1 2000"))
        .expect("ssh");
    assert_eq!(out.code(), Some(0));
    out.stdout
}

#[test]
fn sessions_are_uploaded_searched_and_played_from_the_store() {
    if !require_root_or_skip("fleet_upload") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let host = format!("web-{}", random_suffix(4));
    let rec = Recorder::start_with(&garage.settings_yaml("fleet", &host).expect("yaml"));
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let word = format!("fleet-{}", random_suffix(8));
    let client = run_session(&sshd, &user, &word);
    let local = rec
        .wait_closed(user.name(), 1, WAIT)
        .expect("recorded")
        .remove(0);
    let s = wait_stats(&rec, "uploaded", |s| {
        s["store_uploaded_sessions"].as_u64() >= Some(1) && s["store_backlog_sessions"] == 0
    });
    assert_eq!(s["store_host_id"], host.as_str());
    assert_eq!(s["store_error"], Value::Null);
    let id = local.id();
    let keys = keys(&garage, "fleet");
    for want in [
        format!("fleet/hosts/{host}/host.json"),
        format!("{id}.cast.zst"),
        format!("{id}.events.jsonl"),
        format!("fleet/hosts/{host}/index/"),
    ] {
        assert!(
            keys.iter().any(|k| k.contains(&want)),
            "{want} not in {keys:?}"
        );
    }
    assert!(
        !rec.log_dir()
            .join("spool")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "the spool is empty once the store acknowledged"
    );

    // Found by search in the store, with its host.
    let url = garage.store_url("fleet").expect("url");
    let found = search_store(&url, &["--user", user.name()]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["host"], host.as_str());
    assert_eq!(found[0]["id"], id.as_str());
    assert!(
        found[0]["cast"]
            .as_str()
            .is_some_and(|c| c.starts_with("s3://sshlog/")),
        "{found:?}"
    );
    let by_output = search_store(&url, &["--output", &word, "--host", &host]);
    assert_eq!(by_output.len(), 1, "{by_output:?}");
    assert!(search_store(&url, &["--host", "no-such-host"]).is_empty());

    // Played from the store: the bytes the client saw.
    let played = std::process::Command::new(SSHLOG)
        .args(["play", "--no-keys", "--speed", "1000", "--store", &url, &id])
        .output()
        .expect("sshlog play");
    assert!(
        played.status.success(),
        "{}",
        String::from_utf8_lossy(&played.stderr)
    );
    assert!(
        played.stdout == client,
        "played {} bytes, client got {}",
        played.stdout.len(),
        client.len()
    );
    let exported = std::process::Command::new(SSHLOG)
        .args(["export", "--format", "txt", "--store", &url, &id])
        .output()
        .expect("sshlog export");
    assert!(String::from_utf8_lossy(&exported.stdout).contains(&word));
}

#[test]
fn store_down_for_a_while_then_back_loses_and_duplicates_nothing() {
    if !require_root_or_skip("fleet_outage") {
        return;
    }
    let mut garage = Garage::start().expect("garage");
    let host = format!("db-{}", random_suffix(4));
    let mut rec = Recorder::start_with(&garage.settings_yaml("fleet", &host).expect("yaml"));
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    garage.stop_node(0);
    run_session(&sshd, &user, "while-down-1");
    run_session(&sshd, &user, "while-down-2");
    let ids: Vec<String> = rec
        .wait_closed(user.name(), 2, WAIT)
        .expect("recorded")
        .iter()
        .map(|s| s.id())
        .collect();
    let s = wait_stats(&rec, "backlog reported", |s| {
        // (At least: every sshlogd records every session on the machine,
        // those of tests running beside this one too.)
        s["store_backlog_sessions"].as_u64() >= Some(2) && s["store_error"].is_string()
    });
    assert!(
        s["store_error"]
            .as_str()
            .is_some_and(|e| e.contains("s3://sshlog/fleet")),
        "{s}"
    );
    let deadline = Instant::now() + WAIT;
    while !rec.event_log().contains("store_error") {
        assert!(
            Instant::now() < deadline,
            "no store_error event: {}",
            rec.event_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    garage.start_node(0).expect("garage again");
    wait_stats(&rec, "backlog drained", |s| {
        s["store_backlog_sessions"] == 0 && s["store_uploaded_sessions"].as_u64() >= Some(2)
    });
    let deadline = Instant::now() + WAIT;
    while !rec.event_log().contains("work again") {
        assert!(
            Instant::now() < deadline,
            "no recovery event: {}",
            rec.event_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let warnings = rec.daemon_logs().matches("upload failed").count();
    assert!(
        (1..=3).contains(&warnings),
        "one warning per failing episode, not one per retry ({warnings}): {}",
        rec.daemon_logs()
    );

    // Down again, and sshlogd killed: the spool survives the kill.
    garage.stop_node(0);
    run_session(&sshd, &user, "while-down-3");
    let mut ids = ids;
    ids.extend(
        rec.wait_closed(user.name(), 3, WAIT)
            .expect("recorded")
            .iter()
            .map(|s| s.id())
            .filter(|id| !ids.contains(id))
            .collect::<Vec<_>>(),
    );
    assert_eq!(ids.len(), 3);
    wait_stats(&rec, "queued", |s| {
        s["store_backlog_sessions"].as_u64() >= Some(1)
    });
    rec.kill9();
    rec.spawn().expect("restart sshlogd");
    garage.start_node(0).expect("garage again");
    wait_stats(&rec, "backlog drained after the restart", |s| {
        s["store_backlog_sessions"] == 0 && s["store_uploaded_sessions"].as_u64() >= Some(1)
    });
    let keys = keys(&garage, "fleet");
    // Index entries are loose or already folded into the day's catalog:
    // the search tells each session once.
    let found = search_store(&garage.store_url("fleet").expect("url"), &["--host", &host]);
    for id in &ids {
        for suffix in [".cast.zst", ".cast.zst.frames", ".events.jsonl"] {
            let n = keys
                .iter()
                .filter(|k| k.ends_with(&format!("{id}{suffix}")))
                .count();
            assert_eq!(n, 1, "{id}{suffix} once: {keys:?}");
        }
        let n = found.iter().filter(|f| f["id"] == id.as_str()).count();
        assert_eq!(n, 1, "{id} found once: {found:?}");
    }
}

#[test]
fn wrong_credentials_are_one_clear_error_and_nothing_leaves_the_spool() {
    if !require_root_or_skip("fleet_bad_credentials") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = dir.path().join("creds");
    std::fs::write(
        &creds,
        format!(
            "access_key_id = {}\nsecret_access_key = wrong\n",
            garage.key_id
        ),
    )
    .expect("creds");
    std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let yaml = garage
        .settings_yaml("fleet", "bad-key")
        .expect("yaml")
        .replace(
            &garage
                .credentials_file()
                .expect("file")
                .display()
                .to_string(),
            &creds.display().to_string(),
        );
    let rec = Recorder::start_with(&yaml);
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    run_session(&sshd, &user, "bad-credentials");
    rec.wait_closed(user.name(), 1, WAIT).expect("recorded");
    let s = wait_stats(&rec, "failing", |s| s["store_error"].is_string());
    let error = s["store_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("s3://sshlog/fleet"),
        "names the store: {error}"
    );
    assert!(
        error.contains("403")
            || error.to_lowercase().contains("forbidden")
            || error.contains("signature"),
        "says it was refused: {error}"
    );
    assert!(s["store_backlog_sessions"].as_u64() >= Some(1), "{s}");
    assert!(keys(&garage, "fleet")
        .iter()
        .all(|k| !k.contains(".cast.zst")));
    assert!(
        Path::new(&rec.log_dir().join("spool"))
            .read_dir()
            .expect("spool")
            .count()
            >= 1,
        "the session waits in the spool"
    );
    // Retried with backoff, reported once.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        rec.daemon_logs().matches("upload failed").count(),
        1,
        "{}",
        rec.daemon_logs()
    );
}

#[test]
fn a_three_node_cluster_losing_a_node_during_uploads_loses_nothing() {
    if !require_root_or_skip("fleet_three_nodes") {
        return;
    }
    let mut garage = Garage::cluster(3).expect("three-node garage");
    let host = format!("app-{}", random_suffix(4));
    let rec = Recorder::start_with(&garage.settings_yaml("fleet", &host).expect("yaml"));
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let mut clients = vec![run_session(&sshd, &user, "three-1")];
    wait_stats(&rec, "first upload", |s| {
        s["store_uploaded_sessions"].as_u64() >= Some(1)
    });
    // One of the three nodes dies (replication factor 3: writes need two).
    garage.kill_node(2);
    clients.push(run_session(&sshd, &user, "three-2"));
    clients.push(run_session(&sshd, &user, "three-3"));
    let sessions = rec.wait_closed(user.name(), 3, WAIT).expect("recorded");
    wait_stats(&rec, "all uploaded", |s| {
        s["store_uploaded_sessions"].as_u64() >= Some(3) && s["store_backlog_sessions"] == 0
    });
    let url = garage.store_url("fleet").expect("url");
    let found = search_store(&url, &["--user", user.name()]);
    assert_eq!(found.len(), 3, "{found:?}");
    // Each one plays from the two nodes left, byte for byte.
    for s in &sessions {
        let played = std::process::Command::new(SSHLOG)
            .args([
                "play",
                "--no-keys",
                "--speed",
                "1000",
                "--store",
                &url,
                &s.id(),
            ])
            .output()
            .expect("sshlog play");
        assert!(
            played.status.success(),
            "{}",
            String::from_utf8_lossy(&played.stderr)
        );
        assert!(
            clients.contains(&played.stdout),
            "session {} played {} bytes that no client saw",
            s.id(),
            played.stdout.len()
        );
    }
}

#[test]
fn a_live_session_is_in_the_store_before_it_ends() {
    if !require_root_or_skip("fleet_live") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let host = format!("live-{}", random_suffix(4));
    let yaml = format!(
        "{}  live_upload_seconds: 1\n",
        garage.settings_yaml("fleet", &host).expect("yaml")
    );
    let rec = Recorder::start_with(&yaml);
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let word = format!("live-{}", random_suffix(8));
    let mut session = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    session.send_line(&format!("echo {word}")).expect("type");
    session
        .wait_for_stdout(format!("\r{word}\r\n").as_bytes(), Duration::from_secs(10))
        .expect("echo");
    let url = garage.store_url("fleet").expect("url");
    // While the session is still open, the store has what it showed so far.
    let deadline = Instant::now() + UPLOAD_WAIT;
    loop {
        let id = rec.sessions_of(user.name()).first().map(|s| s.id());
        let text = id.map(|id| {
            std::process::Command::new(SSHLOG)
                .args(["export", "--format", "txt", "--store", &url, &id])
                .output()
                .expect("sshlog export")
        });
        if text.is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(&word)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live session never in the store: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        rec.sessions_of(user.name())[0]
            .of_type("connection_close")
            .next()
            .is_none(),
        "the session is still open"
    );
    session.send_line("exit").expect("exit");
    session.wait_timeout(Duration::from_secs(20)).expect("ends");
    rec.wait_closed(user.name(), 1, WAIT).expect("closed");
    wait_stats(&rec, "final upload", |s| {
        s["store_backlog_sessions"] == 0 && s["store_uploaded_sessions"].as_u64() >= Some(1)
    });
    assert_eq!(
        search_store(&url, &["--user", user.name()]).len(),
        1,
        "one entry: the final one replaced the live one"
    );
}

/// A client of the store at `url`, and a runtime to drive it.
fn connect(url: &str) -> (sshlog_fleet::FleetStore, tokio::runtime::Runtime) {
    let settings = sshlog_fleet::StoreSettings::from_url(url).expect("settings");
    let creds = sshlog_fleet::Credentials::load(&settings).expect("creds");
    let store = sshlog_fleet::FleetStore::connect(&settings, &creds).expect("store");
    (store, sshlog_fleet::fleet::runtime().expect("runtime"))
}

#[test]
fn a_simulated_fleet_is_searched_across_hosts_and_compacted() {
    use sshlog_fleet::{catalog, spool::Job, uploader::upload_session};
    use sshlog_format::generate::{session, Corpus, NEEDLE};
    if !require_root_or_skip("fleet_simulated") {
        return;
    }
    const HOSTS: usize = 10;
    const SESSIONS: u64 = 50;
    let garage = Garage::start().expect("garage");
    let url = garage.store_url("sim").expect("url");
    let (store, rt) = connect(&url);
    let today = chrono::Utc::now().date_naive();
    let first_day = today - chrono::Duration::days(5);
    let corpus = |seed| Corpus {
        start: first_day.and_time(chrono::NaiveTime::MIN).and_utc(),
        days: 3,
        sessions: SESSIONS,
        bytes_per_session: 6000,
        seed,
    };
    // Each host records its sessions and uploads them as sshlogd does.
    let dir = tempfile::tempdir().expect("tmp");
    let mut made = Vec::new();
    for h in 0..HOSTS {
        let host = format!("sim-{h:02}");
        let log_dir = dir.path().join(&host);
        for n in 0..SESSIONS {
            let g = session(&log_dir, n, &corpus(h as u64 + 1)).expect("generate");
            let job = Job {
                events: g.events.clone(),
                queued: chrono::Utc::now(),
            };
            rt.block_on(upload_session(&store, &host, &log_dir, &job))
                .expect("upload");
            made.push((host.clone(), g));
        }
    }
    // Even hosts fold their past days into catalogs; odd ones have not yet.
    for h in (0..HOSTS).step_by(2) {
        let host = format!("sim-{h:02}");
        let c = rt
            .block_on(catalog::compact(&store, &host, today))
            .expect("compact");
        assert_eq!((c.days, c.entries), (3, SESSIONS), "{host}");
        let again = rt
            .block_on(catalog::compact(&store, &host, today))
            .expect("compact again");
        assert_eq!(again.entries, 0, "nothing left to fold");
    }
    let keys = keys(&garage, "sim");
    let loose = |host: &str| {
        keys.iter()
            .filter(|k| k.contains(&format!("/{host}/index/")) && k.ends_with(".json"))
            .count()
    };
    assert_eq!(loose("sim-00"), 0, "compacted: no loose entries left");
    assert_eq!(loose("sim-01"), SESSIONS as usize);
    let catalogs = keys.iter().filter(|k| k.ends_with(".jsonl.zst")).count();
    assert_eq!(catalogs, 3 * HOSTS / 2, "{keys:?}");
    // A compacted host uploads one of its sessions again (as after a
    // restart): an entry now both loose and in its catalog, found once.
    let (again_host, again) = &made[0];
    let log_dir = dir.path().join(again_host);
    let job = Job {
        events: again.events.clone(),
        queued: chrono::Utc::now(),
    };
    rt.block_on(upload_session(&store, again_host, &log_dir, &job))
        .expect("upload again");

    let since = first_day.format("%Y-%m-%d").to_string();
    let all = search_store(&url, &["--since", &since]);
    assert_eq!(all.len(), HOSTS * SESSIONS as usize, "every session once");
    let mut ids: Vec<&str> = all.iter().filter_map(|v| v["id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no duplicates");
    for h in 0..HOSTS {
        let host = format!("sim-{h:02}");
        let n = all.iter().filter(|v| v["host"] == host.as_str()).count();
        assert_eq!(n, SESSIONS as usize, "{host}");
    }
    let one = search_store(&url, &["--since", &since, "--host", "sim-03"]);
    assert_eq!(one.len(), SESSIONS as usize);
    let ids_of = |f: &dyn Fn(&sshlog_format::generate::Generated) -> bool| {
        let mut v: Vec<String> = made
            .iter()
            .filter(|(_, g)| f(g))
            .map(|(_, g)| g.id.to_string())
            .collect();
        v.sort();
        v
    };
    let found_ids = |found: &[Value]| {
        let mut v: Vec<String> = found
            .iter()
            .filter_map(|f| f["id"].as_str().map(String::from))
            .collect();
        v.sort();
        v
    };
    let alice = search_store(&url, &["--since", &since, "--user", "alice"]);
    assert_eq!(found_ids(&alice), ids_of(&|g| g.alice));
    let nmap = search_store(&url, &["--since", &since, "--cmd", "nmap"]);
    assert_eq!(found_ids(&nmap), ids_of(&|g| g.nmap));
    // Output search: filters read from catalogs and loose entries alike.
    let needle = search_store(&url, &["--since", &since, "--output", NEEDLE]);
    let want = ids_of(&|g| g.needle);
    assert!(!want.is_empty(), "the corpus has needles");
    assert_eq!(found_ids(&needle), want);
    // A day range: only the first day's sessions.
    let first = search_store(
        &url,
        &["--since", &since, "--until", &format!("{since}T23:59:59Z")],
    );
    let first_want = made
        .iter()
        .filter(|(_, g)| {
            g.events
                .to_string_lossy()
                .contains(&first_day.format("%Y/%m/%d").to_string())
        })
        .count();
    assert_eq!(first.len(), first_want);

    check_fleet_web_view(&url, &since, &made, HOSTS, SESSIONS as usize);

    // Played from a compacted host: the cast's bytes, as on the host.
    let local_txt = std::process::Command::new(SSHLOG)
        .args(["--log-dir"])
        .arg(&log_dir)
        .args(["export", "--format", "txt", &again.id.to_string()])
        .output()
        .expect("export local");
    assert!(
        local_txt.status.success(),
        "{}",
        String::from_utf8_lossy(&local_txt.stderr)
    );
    let store_txt = std::process::Command::new(SSHLOG)
        .args([
            "export",
            "--format",
            "txt",
            "--store",
            &url,
            &again.id.to_string(),
        ])
        .output()
        .expect("export from the store");
    assert!(
        store_txt.status.success(),
        "{}",
        String::from_utf8_lossy(&store_txt.stderr)
    );
    assert!(!local_txt.stdout.is_empty());
    assert_eq!(store_txt.stdout, local_txt.stdout);
}

/// `sshlog verify --store URL ARGS`: (exit code, stdout).
fn verify_store(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(SSHLOG)
        .args(["verify", "--quiet", "--store", url])
        .args(args)
        .output()
        .expect("sshlog verify");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_chain_in_the_store_is_verified_and_tampering_is_named() {
    if !require_root_or_skip("fleet_verify") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let host = format!("audit-{}", random_suffix(4));
    let rec = Recorder::start_with(&garage.settings_yaml("fleet", &host).expect("yaml"));
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    for i in 0..3 {
        run_session(&sshd, &user, &format!("verify-{i}"));
    }
    let mut ours = rec.wait_closed(user.name(), 3, WAIT).expect("recorded");
    ours.sort_by_key(|s| s.events.clone());
    wait_stats(&rec, "uploaded", |s| {
        s["store_uploaded_sessions"].as_u64() >= Some(3) && s["store_backlog_sessions"] == 0
    });
    let url = garage.store_url("fleet").expect("url");
    // The store witnessed the chain heads sshlogd sent.
    let (store, rt) = connect(&url);
    let deadline = std::time::Instant::now() + WAIT;
    while rt
        .block_on(store.witness_text(&host))
        .map_or(true, |t| t.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no chain head in the store"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (code, out) = verify_store(&url, &["--host", &host]);
    println!("==> sshlog verify --store URL --host {host}\n{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{host}  ")), "{out}");
    assert!(out.contains(" 0 problem(s)"), "{out}");
    assert!(
        out.contains(&format!("{host}  witness: newest head #")),
        "{out}"
    );
    let intact: u64 = out
        .lines()
        .find(|l| l.contains(" intact, "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(intact >= 3, "{out}");
    // The local chain against the store as its witness, and the host's key.
    let key = rec.dir.path().join("seal.pub");
    let local = std::process::Command::new(SSHLOG)
        .args(["--log-dir"])
        .arg(rec.log_dir())
        .args(["verify", "--key"])
        .arg(&key)
        .args(["--witness", &url, "--host", &host])
        .output()
        .expect("sshlog verify");
    let text = String::from_utf8_lossy(&local.stdout).into_owned()
        + &String::from_utf8_lossy(&local.stderr);
    assert_eq!(local.status.code(), Some(0), "{text}");
    assert!(text.contains("witness: newest head #"), "{text}");

    // The first cast edited in the store, the second recording removed.
    let rel = |p: &Path| {
        p.strip_prefix(rec.log_dir())
            .expect("in the log dir")
            .to_string_lossy()
            .into_owned()
    };
    let mut cast = std::fs::read(&ours[0].cast).expect("cast");
    let at = cast.len() / 2;
    cast[at] ^= 0x55;
    rt.block_on(store.put_bytes(&store.layout.session_file(&host, &rel(&ours[0].cast)), cast))
        .expect("tamper");
    for f in [&ours[1].cast, &ours[1].events] {
        rt.block_on(store.delete(&store.layout.session_file(&host, &rel(f))))
            .expect("delete");
    }
    let (code, out) = verify_store(&url, &["--host", &host]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("{host}  MODIFIED  {}  cast changed", ours[0].id())),
        "{out}"
    );
    assert!(out.contains(&format!("{host}  MISSING ")), "{out}");
    assert!(out.contains("do not verify"), "{out}");
    // A host the store does not know is an error, not a clean report.
    let (code, out) = verify_store(&url, &["--host", "no-such-host"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no recordings of host no-such-host"), "{out}");
}

#[test]
fn play_from_the_store_seeks_with_range_requests() {
    use sshlog_fleet::{remote::RemoteObject, spool::Job, uploader::upload_session};
    use sshlog_format::generate::{session, Corpus};
    if !require_root_or_skip("fleet_range") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let url = garage.store_url("range").expect("url");
    let (store, rt) = connect(&url);
    let dir = tempfile::tempdir().expect("tmp");
    let corpus = Corpus {
        start: chrono::Utc::now() - chrono::Duration::hours(1),
        days: 0,
        sessions: 1,
        bytes_per_session: 12 << 20,
        seed: 3,
    };
    let g = session(dir.path(), 0, &corpus).expect("generate");
    let job = Job {
        events: g.events.clone(),
        queued: chrono::Utc::now(),
    };
    rt.block_on(upload_session(&store, "big-1", dir.path(), &job))
        .expect("upload");
    let cast = g.events.with_file_name(format!("{}.cast.zst", g.id));
    let frames =
        sshlog_format::read_frame_index(std::fs::File::open(&cast).expect("cast")).expect("index");
    let end = frames.iter().map(|f| f.last_time_us).max().unwrap_or(0);
    let from_us = end / 10 * 9;

    // The library: the frame index uploaded beside the cast, then the last
    // tenth by range requests, not the whole object.
    let rel = cast
        .strip_prefix(dir.path())
        .expect("rel")
        .to_string_lossy();
    let list = rt
        .block_on(store.get(&store.layout.cast_frames("big-1", &rel)))
        .expect("frame list uploaded");
    let listed = sshlog_format::framed::decode_frame_list(&list).expect("frame list");
    assert_eq!(listed, frames);
    let key = store.layout.session_file("big-1", &rel);
    let rt = std::sync::Arc::new(rt);
    let mut obj = RemoteObject::open(store.clone(), key, rt.clone()).expect("open");
    let size = obj.size();
    let (_, events) =
        sshlog_format::framed::open_cast_at_frames(&mut obj, &listed, from_us, "test")
            .expect("seek");
    let remote_events: Vec<_> = events.map(|e| e.expect("event")).collect();
    let fetched = obj.fetched();
    assert!(
        size > 8 * sshlog_fleet::remote::BLOCK,
        "a cast of {size} bytes is too small to tell"
    );
    assert!(
        fetched.bytes < size / 2,
        "fetched {fetched:?} of {size} bytes to play the last tenth"
    );
    let (_, local) =
        sshlog_format::open_cast_at(std::fs::File::open(&cast).expect("cast"), from_us, "test")
            .expect("seek local");
    let local_events: Vec<_> = local.map(|e| e.expect("event")).collect();
    assert!(!local_events.is_empty());
    assert_eq!(remote_events, local_events);

    // The same through `sshlog play --from`: the bytes a local play gives.
    let from = format!("{}", from_us / 1_000_000);
    let play = |store: bool| {
        let mut c = std::process::Command::new(SSHLOG);
        c.args(["--log-dir"]).arg(dir.path());
        c.args(["play", "--no-keys", "--speed", "1000000", "--from", &from]);
        if store {
            c.args(["--store", &url]);
        }
        let out = c.arg(g.id.to_string()).output().expect("play");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let remote = play(true);
    assert!(!remote.is_empty());
    assert!(remote == play(false), "played from the store differs");
}

/// The web console's fleet view over the simulated fleet: hosts, a search
/// across hosts, a recording played from the store; bad hosts refused.
fn check_fleet_web_view(
    url: &str,
    since: &str,
    made: &[(String, sshlog_format::generate::Generated)],
    hosts: usize,
    per_host: usize,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let config = web_support::settings(dir.path());
    let mut yaml = std::fs::read_to_string(&config).expect("settings");
    yaml.push_str(&format!("store: '{url}'\n"));
    std::fs::write(&config, yaml).expect("settings");
    let web = web_support::Web::start(
        &config,
        &dir.path().join("no.sock"),
        &dir.path().join("log"),
    );
    let mut c = web_support::Client::new();
    let r = c.login(&web, web_support::USER, web_support::PASSWORD);
    assert_eq!(r.status, 303, "login: {}", r.body);

    let r = c.get(&web.url("/api/fleet/hosts"));
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = r.json()["hosts"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), hosts, "{listed:?}");
    assert!(listed
        .iter()
        .all(|h| h["hostname"].is_null() || h["hostname"].is_string()));

    let r = c.get(&web.url(&format!(
        "/api/fleet/search?user=alice&since={since}&limit=500"
    )));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut got: Vec<String> = r.json()["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["session_id"].as_str().map(String::from))
        .collect();
    got.sort();
    let mut want: Vec<String> = made
        .iter()
        .filter(|(_, g)| g.alice)
        .map(|(_, g)| g.id.to_string())
        .collect();
    want.sort();
    assert_eq!(got, want);
    let r = c.get(&web.url(&format!(
        "/api/fleet/search?host=sim-03&since={since}&limit=500"
    )));
    let one = r.json()["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(one.len(), per_host);
    assert!(one.iter().all(|s| s["host"] == "sim-03"));

    // A recording from the store, as asciicast v2 text: the output of the cast.
    let (host, g) = &made[1];
    let r = c.get(&web.url(&format!("/api/fleet/recordings/{host}/{}/cast", g.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut served = Vec::new();
    for line in r.body.lines().skip(1) {
        let v: Value = serde_json::from_str(line).expect("event line");
        if v[1] == "o" {
            served.extend_from_slice(v[2].as_str().unwrap_or_default().as_bytes());
        }
    }
    let cast = g.events.with_file_name(format!("{}.cast.zst", g.id));
    let (_, events) = sshlog_format::read_cast_file(&cast).expect("local cast");
    let mut local = Vec::new();
    for e in events {
        if let sshlog_format::Event::Output { data, .. } = e {
            local.extend(data);
        }
    }
    assert!(!local.is_empty());
    assert!(
        served == local,
        "served {} bytes, the cast holds {}",
        served.len(),
        local.len()
    );

    let r = c.get(&web.url(&format!("/fleet/{host}/{}", g.id)));
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .contains(&format!("/api/fleet/recordings/{host}/{}/cast", g.id)));
    for bad in ["..", "a%2Fb", "no%20such"] {
        let r = c.get(&web.url(&format!("/api/fleet/recordings/{bad}/{}/cast", g.id)));
        assert!(
            r.status == 400 || r.status == 404,
            "{bad}: {} {}",
            r.status,
            r.body
        );
    }
    let r = c.get(&web.url(&format!(
        "/api/fleet/recordings/sim-00/{}/cast",
        uuid::Uuid::now_v7()
    )));
    assert_eq!(r.status, 404, "{}", r.body);
    let r = c.get(&web.url("/fleet"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"hosts\""), "{}", r.body);
}

#[test]
fn event_records_reach_the_store_per_host_and_hour() {
    if !require_root_or_skip("fleet_events") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let host = format!("ev-{}", random_suffix(4));
    let yaml = garage.settings_yaml("fleet", &host).expect("yaml") + "  events: true\n";
    let rec = Recorder::start_with(&yaml);
    // An hour file left from three hours ago (as after sshlogd was down):
    // sent, then removed from the spool since its hour is over.
    let old_ts = chrono::Utc::now() - chrono::Duration::hours(3);
    let old = sshlog_format::Record::new(
        old_ts,
        None,
        sshlog_format::SessionEvent::ConnectionAuthFailed {
            user: Some("left-over".into()),
            client_ip: "192.0.2.7".into(),
            client_port: 40000,
            method: Some("password".into()),
            sshd_pid: 4242,
        },
    );
    let spool = sshlog_fleet::events::EventSpool::new(rec.log_dir());
    spool.append(&old).expect("append");
    let old_file = rec
        .log_dir()
        .join("spool/events")
        .join(format!("{}.jsonl", old_ts.format("%Y-%m-%dT%H")));
    assert!(old_file.exists());
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    run_session(&sshd, &user, "events-to-the-store");
    let local = rec
        .wait_closed(user.name(), 1, WAIT)
        .expect("recorded")
        .remove(0);
    let url = garage.store_url("fleet").expect("url");
    let events = |args: &[&str]| -> Vec<Value> {
        let out = std::process::Command::new(SSHLOG)
            .args(["--json", "events", "--store", &url, "--host", &host])
            .args(args)
            .output()
            .expect("sshlog events");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    // Sent within the uploader's interval (10 s) once the spool is empty.
    let deadline = Instant::now() + UPLOAD_WAIT;
    let ours = loop {
        let found: Vec<Value> = events(&["--since", "1h"])
            .into_iter()
            .filter(|e| e["session_id"] == local.id().as_str())
            .collect();
        if found.iter().any(|e| e["type"] == "connection_close") {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "{found:?}\n{}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(ours.iter().all(|e| e["host"] == host.as_str()));
    let types: Vec<&str> = ours.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"connection_established"), "{types:?}");
    assert!(types.contains(&"command_start"), "{types:?}");
    // The same lines as the session's sidecar holds (the seal aside).
    let sidecar: Vec<&Value> = local
        .records
        .iter()
        .filter(|r| r["type"] != "seal")
        .collect();
    assert_eq!(ours.len(), sidecar.len(), "{ours:?}\n{sidecar:?}");
    // --type filters; text output names the host.
    let closes = events(&["--since", "1h", "--type", "connection_close"]);
    assert!(closes.iter().all(|e| e["type"] == "connection_close"));
    let text = std::process::Command::new(SSHLOG)
        .args(["events", "--store", &url, "--host", &host, "--since", "1h"])
        .output()
        .expect("sshlog events");
    assert!(String::from_utf8_lossy(&text.stdout)
        .lines()
        .all(|l| l.starts_with(&format!("{host}  "))));
    let keys = keys(&garage, "fleet");
    let hour = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        keys.iter()
            .any(|k| k.contains(&format!("{host}/events/{hour}/")) && k.ends_with(".jsonl.zst")),
        "{keys:?}"
    );
    // The old hour: in the store, gone from the spool.
    let deadline = Instant::now() + UPLOAD_WAIT;
    while old_file.exists() {
        assert!(
            Instant::now() < deadline,
            "{} still there",
            old_file.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let left = events(&["--since", "4h", "--type", "connection_auth_failed"]);
    let found = left
        .iter()
        .filter(|e| e["user"] == "left-over" && e["sshd_pid"] == 4242)
        .count();
    assert_eq!(found, 1, "{left:?}");
    // The current hour stays in the local spool until the hour is over.
    assert!(rec
        .log_dir()
        .join("spool/events")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some()));
}

#[test]
fn a_purge_reaches_the_store_and_its_chain_still_verifies() {
    if !require_root_or_skip("fleet_purge") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let host = format!("purge-{}", random_suffix(4));
    let rec = Recorder::start_with(&garage.settings_yaml("fleet", &host).expect("yaml"));
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    for i in 0..2 {
        run_session(&sshd, &user, &format!("purged-{i}"));
    }
    let ours = rec.wait_closed(user.name(), 2, WAIT).expect("recorded");
    wait_stats(&rec, "uploaded", |s| {
        s["store_uploaded_sessions"].as_u64() >= Some(2) && s["store_backlog_sessions"] == 0
    });
    let id = ours[0].id();
    let in_store = |id: &str| {
        keys(&garage, "fleet")
            .iter()
            .filter(|k| k.contains(&format!("/{host}/")) && k.contains(id))
            .count()
    };
    assert!(
        in_store(&id) >= 3,
        "cast, sidecar, frames and index entry uploaded"
    );
    let mut purge = sshlog(&rec);
    purge.args(["purge", &id, "--reason", "GDPR request 99"]);
    let out = run_ok(purge);
    assert!(out.contains(&format!("deleted {id}")), "{out}");
    let deadline = Instant::now() + UPLOAD_WAIT;
    while in_store(&id) > 0 {
        assert!(
            Instant::now() < deadline,
            "still in the store: {}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let url = garage.store_url("fleet").expect("url");
    // The other recording is still found; the purged one is not.
    let found = search_store(&url, &["--host", &host, "--user", user.name()]);
    let ids: Vec<&str> = found.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids, [ours[1].id().as_str()], "{found:?}");
    let (code, out) = verify_store(&url, &["--host", &host]);
    println!("==> after a purge: sshlog verify --store URL --host {host}\n{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(" 1 deleted with a tombstone"), "{out}");
}

/// A recording started just before midnight has its files and index entry
/// under that day, while its tombstone's `started` (its first record) may
/// fall on the next day: the deletion still reaches the store.
#[test]
fn a_deletion_reaches_a_recording_that_started_before_midnight() {
    use sshlog_fleet::{
        catalog, retention::apply_tombstones, spool::Job, uploader::upload_session,
    };
    use sshlog_format::generate::{session, Corpus};
    use sshlog_format::seal::{Tombstone, TOMBSTONES};
    if !require_root_or_skip("fleet_midnight_tombstone") {
        return;
    }
    let garage = Garage::start().expect("garage");
    let url = garage.store_url("midnight").expect("url");
    let (store, rt) = connect(&url);
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(3);
    let log_dir = tempfile::tempdir().expect("tmp");
    let corpus = Corpus {
        start: day.and_hms_opt(23, 59, 58).expect("time").and_utc(),
        days: 0,
        sessions: 2,
        bytes_per_session: 3000,
        seed: 7,
    };
    let host = "night-01";
    let made: Vec<_> = (0..2)
        .map(|n| session(log_dir.path(), n, &corpus).expect("generate"))
        .collect();
    for g in &made {
        let job = Job {
            events: g.events.clone(),
            queued: chrono::Utc::now(),
        };
        rt.block_on(upload_session(&store, host, log_dir.path(), &job))
            .expect("upload");
    }
    // One entry folded into the day's catalog, as after compaction.
    rt.block_on(catalog::compact(
        &store,
        host,
        chrono::Utc::now().date_naive(),
    ))
    .expect("compact");
    let (gone, kept) = (&made[0], &made[1]);
    let of = |id: &uuid::Uuid| {
        keys(&garage, "midnight")
            .into_iter()
            .filter(|k| k.contains(&id.to_string()))
            .count()
    };
    assert!(
        of(&gone.id) >= 2,
        "uploaded: {:?}",
        keys(&garage, "midnight")
    );
    let stone = Tombstone {
        session_id: gone.id,
        sequence: None,
        seal: "5".repeat(64),
        previous_seal: "0".repeat(64),
        user: None,
        started: Some(format!("{}T00:00:00.002Z", day.succ_opt().expect("day"))),
        bytes: 0,
        deleted_at: chrono::Utc::now().to_rfc3339(),
        reason: "purge by uid 0: test".into(),
        scope: None,
        key: None,
        signature: None,
    };
    let file = log_dir.path().join(TOMBSTONES);
    let line = serde_json::to_string(&stone).expect("json");
    std::fs::write(&file, format!("{line}\n")).expect("write");
    let applied = rt
        .block_on(apply_tombstones(&store, host, &file, 0))
        .expect("apply");
    assert_eq!(applied, 1);
    assert_eq!(of(&gone.id), 0, "{:?}", keys(&garage, "midnight"));
    assert!(of(&kept.id) >= 2, "the other recording stays");
    let since = (day - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let found = search_store(&url, &["--since", &since, "--host", host]);
    let ids: Vec<&str> = found.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(
        ids,
        [kept.id.to_string().as_str()],
        "the catalog lost only it"
    );
}
