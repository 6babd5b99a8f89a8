//! End-to-end: the YAML actions run by the real sshlogd on real sessions:
//! a message written into the user's terminal, and SIGHUP reloads that reject a
//! bad configuration and keep the old one running.

mod common;

use common::Recorder;
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_for_file_text(path: &Path, needle: &str, rec: &Recorder) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared in {}: {:?}\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default(),
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn message_to_session_appears_in_the_users_terminal() {
    if !require_root_or_skip("message_to_session") {
        return;
    }
    let user = TestUser::create().expect("user");
    let word = format!("welcome-{}", random_suffix(6));
    let rec = Recorder::start();
    std::fs::write(
        rec.conf_dir().join("motd.yaml"),
        format!(
            "events:\n  - event: motd\n    triggers: [connection_established]\n    filters: {{ username: {} }}\n    actions:\n      - action: greet\n        plugin: message_to_session_action\n        message: \"{word}\"\n",
            user.name()
        ),
    )
    .expect("config");
    let mut rec = rec;
    rec.stop();
    rec.spawn(); // picks up the configuration at start
    let sshd = Sshd::start().expect("sshd");
    let mut s = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(60))
        .spawn(None)
        .expect("ssh");
    s.wait_for_stdout(word.as_bytes(), Duration::from_secs(15))
        .expect("the message reaches the client");
    s.send_line("exit").expect("exit");
    s.wait_timeout(Duration::from_secs(10)).expect("ends");
}

#[test]
fn sighup_applies_a_valid_configuration_and_rejects_a_bad_one() {
    if !require_root_or_skip("sighup_reload") {
        return;
    }
    let mut rec = Recorder::start();
    let out_dir = rec.dir.path().join("action-logs");
    let config = |file: &str| {
        format!(
            "events:\n  - event: commands\n    triggers: [command_start]\n    actions:\n      - action: log\n        plugin: eventlogfile_action\n        log_file_path: {}\n",
            out_dir.join(file).display()
        )
    };
    let yaml = rec.conf_dir().join("commands.yaml");
    std::fs::write(&yaml, config("one.log")).expect("config");
    rec.stop();
    rec.spawn();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    sshd.ssh(&user).run("/bin/echo first").expect("ssh");
    wait_for_file_text(&out_dir.join("one.log"), "executed /bin/echo first", &rec);

    // A broken file: rejected, the old configuration keeps running.
    std::fs::write(
        &yaml,
        "events:\n  - event: broken\n    triggers: [no_such_trigger]\n",
    )
    .expect("bad config");
    rec.hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rec.daemon_logs().contains("was rejected") {
        assert!(
            Instant::now() < deadline,
            "no rejection logged: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        rec.daemon_logs().contains("unknown trigger"),
        "{}",
        rec.daemon_logs()
    );
    sshd.ssh(&user).run("/bin/echo second").expect("ssh");
    wait_for_file_text(&out_dir.join("one.log"), "executed /bin/echo second", &rec);

    // A valid new one replaces it.
    std::fs::write(&yaml, config("two.log")).expect("new config");
    rec.hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rec
        .daemon_logs()
        .contains("reloaded the action configuration")
    {
        assert!(
            Instant::now() < deadline,
            "no reload logged: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sshd.ssh(&user).run("/bin/echo third").expect("ssh");
    wait_for_file_text(&out_dir.join("two.log"), "executed /bin/echo third", &rec);
    assert!(!std::fs::read_to_string(out_dir.join("one.log"))
        .unwrap_or_default()
        .contains("third"));
}

#[test]
fn an_invalid_configuration_refuses_the_start_with_file_and_line() {
    if !require_root_or_skip("invalid_config_start") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).expect("mkdir");
    std::fs::write(conf.join("bad.yaml"), "events:\n  - event: x\n    triggers: [command_start]\n    filters: { colour: red }\n    actions: []\n").expect("write");
    std::fs::write(dir.path().join("s.yaml"), "").expect("settings");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sshlogd"))
        .arg("--config")
        .arg(dir.path().join("s.yaml"))
        .arg("--config-dir")
        .arg(&conf)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .arg("--socket")
        .arg(dir.path().join("sock"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(&format!("{}:4:", conf.join("bad.yaml").display())),
        "{err}"
    );
    assert!(err.contains("colour"), "{err}");
}
