//! End-to-end: the YAML actions run by the real sshlogd on real sessions:
//! a message written into the user's terminal; a broken file never stops
//! recording (at start or on SIGHUP: what is valid loads, the rest is
//! reported); actions share sshlogd's own event log.

mod common;

use common::Recorder;
use sshlog_harness::{random_suffix, require_root_or_skip, Sshd, TestUser};
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_for_file_text(path: &Path, needle: &str, rec: &Recorder, recorded: &str) {
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
            "{needle:?} never appeared in {}: {:?}\nrecorded: {recorded}\n{}",
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

/// Waits (bounded) until sshlogd's log holds `needle`.
fn wait_for_log(rec: &Recorder, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rec.daemon_logs().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "{needle:?} never logged: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn eventlog_config(event: &str, path: &Path) -> String {
    format!(
        "events:\n  - event: {event}\n    triggers: [command_start]\n    actions:\n      - action: log\n        plugin: eventlogfile_action\n        log_file_path: {}\n",
        path.display()
    )
}

#[test]
fn sighup_loads_what_is_valid_and_reports_the_rest() {
    if !require_root_or_skip("sighup_reload") {
        return;
    }
    let mut rec = Recorder::start();
    let out_dir = rec.dir.path().join("action-logs");
    let yaml = rec.conf_dir().join("commands.yaml");
    std::fs::write(&yaml, eventlog_config("commands", &out_dir.join("one.log"))).expect("config");
    std::fs::write(
        rec.conf_dir().join("steady.yaml"),
        eventlog_config("steady", &out_dir.join("steady.log")),
    )
    .expect("config");
    rec.stop();
    rec.spawn();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    sshd.ssh(&user).run("/bin/echo first").expect("ssh");
    wait_for_file_text(
        &out_dir.join("one.log"),
        "executed /bin/echo first",
        &rec,
        "",
    );

    // A broken file: not loaded, reported; the other file keeps working.
    std::fs::write(
        &yaml,
        "events:\n  - event: broken\n    triggers: [no_such_trigger]\n",
    )
    .expect("bad config");
    rec.hup();
    wait_for_log(&rec, "reloaded the action configuration");
    let logs = rec.daemon_logs();
    assert!(
        logs.contains(&format!("{}:3:16: unknown trigger", yaml.display())),
        "{logs}"
    );
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    let errors = stats["stats"]["config_errors"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(errors.len(), 2, "{errors:?}"); // the trigger, and `actions` missing
    assert!(
        rec.event_log().contains("config_error"),
        "{}",
        rec.event_log()
    );
    sshd.ssh(&user).run("/bin/echo second").expect("ssh");
    wait_for_file_text(
        &out_dir.join("steady.log"),
        "executed /bin/echo second",
        &rec,
        "",
    );
    assert!(!std::fs::read_to_string(out_dir.join("one.log"))
        .unwrap_or_default()
        .contains("second"));

    // A valid new one replaces it, and the errors are gone from stats.
    std::fs::write(&yaml, eventlog_config("commands", &out_dir.join("two.log")))
        .expect("new config");
    rec.hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
        if stats["stats"]["config_errors"] == serde_json::json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "errors stayed: {stats}");
        std::thread::sleep(Duration::from_millis(100));
    }
    sshd.ssh(&user).run("/bin/echo third").expect("ssh");
    wait_for_file_text(
        &out_dir.join("two.log"),
        "executed /bin/echo third",
        &rec,
        "",
    );
}

#[test]
fn a_broken_file_in_conf_d_never_stops_recording() {
    if !require_root_or_skip("broken_config_start") {
        return;
    }
    let mut rec = Recorder::start();
    rec.stop();
    let bad = rec.conf_dir().join("bad.yaml");
    std::fs::write(&bad, "events:\n  - event: x\n    triggers: [command_start]\n    filters: { colour: red }\n    actions: []\n").expect("write");
    // The agent's default log_events.yaml names sshlogd's own event log: both
    // write through one writer; text lines are not written twice.
    let own = rec.log_dir().join("event.log");
    std::fs::write(
        rec.conf_dir().join("log_events.yaml"),
        eventlog_config("as_text", &own),
    )
    .expect("write");
    std::fs::write(
        rec.conf_dir().join("log_json.yaml"),
        format!(
            "events:\n  - event: as_json\n    triggers: [command_start]\n    actions:\n      - action: log\n        plugin: eventlogfile_action\n        log_file_path: {}\n        output_json: True\n",
            own.display()
        ),
    )
    .expect("write");
    rec.spawn();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let word = format!("still-recording-{}", random_suffix(6));
    sshd.ssh(&user)
        .run(&format!("/bin/echo {word}"))
        .expect("ssh");
    let sessions = rec.wait_closed(user.name(), 1, Duration::from_secs(20));
    assert!(
        common::contains(&sessions[0].output(), word.as_bytes()),
        "the session was not recorded"
    );
    let logs = rec.daemon_logs();
    assert!(logs.contains(&format!("{}:4:", bad.display())), "{logs}");
    assert!(logs.contains("colour"), "{logs}");
    let stats = rec.request(r#"{"cmd":"stats"}"#).expect("stats");
    let errors = stats["stats"]["config_errors"].to_string();
    assert!(errors.contains("bad.yaml:4:"), "{errors}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let json_line = loop {
        let log = rec.event_log();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains("\"event_type\":\"command_start\"") && l.contains(&word))
        {
            break l.to_string();
        }
        assert!(Instant::now() < deadline, "no JSON line: {log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let json: serde_json::Value =
        serde_json::from_str(json_line.split_once(": ").expect("time").1).expect("json");
    assert_eq!(json["username"], user.name());
    // Every command once as sshlogd's line and once as the JSON action's
    // (written a moment later): the text action wrote no second copy.
    let counts = |log: &str| {
        let ours = |l: &&str| l.contains("command_start") && l.contains(&word);
        let text = log
            .lines()
            .filter(ours)
            .filter(|l| !l.contains("event_type"))
            .count();
        let json = log
            .lines()
            .filter(ours)
            .filter(|l| l.contains("event_type"))
            .count();
        (text, json)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = rec.event_log();
        let (text, json) = counts(&log);
        if text >= 1 && text == json {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "{text} text and {json} JSON lines: {log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        counts(&rec.event_log()),
        counts(&log),
        "lines written twice"
    );
    assert!(log.contains("config_error"), "{log}");
}

#[test]
fn command_output_is_attributed_to_the_command_that_printed_it() {
    if !require_root_or_skip("command_output") {
        return;
    }
    let mut rec = Recorder::start();
    rec.stop();
    let out = rec.dir.path().join("action-logs").join("out.log");
    let word = random_suffix(6);
    std::fs::write(
        rec.conf_dir().join("output.yaml"),
        format!(
            "events:\n  - event: printed\n    triggers: [command_finish]\n    filters:\n      command_name: echo\n      command_output_contains: '42-{word}'\n    actions:\n      - action: log\n        plugin: eventlogfile_action\n        log_file_path: {}\n        output_json: True\n",
            out.display()
        ),
    )
    .expect("config");
    rec.spawn();
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    let term = sshd
        .ssh(&user)
        .terminal(None, 100, 30)
        .expect("ssh in tmux");
    std::thread::sleep(Duration::from_millis(500));
    // Typed text is echoed before the command starts; only 42-… is its output.
    term.type_line(&format!("/bin/echo $((6*7))-{word}"))
        .expect("type");
    term.wait_for(&format!("42-{word}"), 1, Duration::from_secs(20))
        .expect("output");
    // A person types the next command at the next prompt.
    term.wait_for(":~$", 2, Duration::from_secs(20))
        .expect("prompt");
    term.type_line(&format!("/bin/echo not-{word}"))
        .expect("type");
    term.wait_for(&format!("not-{word}"), 2, Duration::from_secs(20))
        .expect("output");
    term.type_line("exit").expect("type");
    term.wait_exit(Duration::from_secs(20)).expect("logout");
    let sessions = rec.wait_closed(user.name(), 1, Duration::from_secs(20));
    // What the session recorded of its commands, should the action not fire.
    let commands: Vec<String> = sessions[0]
        .records
        .iter()
        .filter(|r| r["type"].as_str().is_some_and(|t| t.starts_with("command")))
        .map(|r| r.to_string())
        .collect();
    wait_for_file_text(&out, "command_finish", &rec, &commands.join("\n"));
    let text = std::fs::read_to_string(&out).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let json: serde_json::Value =
        serde_json::from_str(lines[0].split_once(": ").expect("time").1).expect("json");
    assert_eq!(json["filename"], "echo");
    assert_eq!(json["args"], format!("/bin/echo 42-{word}"));
    assert_eq!(json["exit_code"], 0);
    let stdout = json["stdout"].as_str().expect("stdout");
    // What sshd read from the pty while /bin/echo ran: its line (and
    // possibly the escapes bash wrote just before running it), never the
    // typed command line or the next command.
    assert!(stdout.contains(&format!("42-{word}\r\n")), "{json}");
    assert!(
        !stdout.contains("6*7") && !stdout.contains("not-"),
        "{json}"
    );
    assert_eq!(json["stdout_size"], stdout.len());
}
