//! `config check`: each broken fixture yields exactly the expected
//! `file:line:col: message`; the shipped defaults and samples validate; the
//! example plugins validate as `plugin_action` executables.

use std::fs;
use std::path::{Path, PathBuf};

use sshlog_actions::{check_dir, ActionEngine, ConfigErrors};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Check `fixture` alone in a fresh directory; its errors as strings and the
/// path it was checked at.
fn check_fixture(name: &str) -> (Vec<String>, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken_configs")
        .join(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let dst = dir.path().join(name);
    fs::copy(&src, &dst).expect("copy fixture");
    let errs = check_dir(dir.path(), dir.path()).expect_err("fixture must be rejected");
    let lines = errs.0.iter().map(ToString::to_string).collect();
    // The ConfigErrors display is one error per line.
    assert_eq!(errs.to_string().lines().count(), errs.0.len());
    (lines, dst)
}

/// Exactly one error, at `line:col`, whose message contains `needle`.
fn assert_one(name: &str, line: usize, col: usize, needle: &str) {
    let (errs, path) = check_fixture(name);
    assert_eq!(errs.len(), 1, "{name}: {errs:#?}");
    let prefix = format!("{}:{line}:{col}: ", path.display());
    assert!(
        errs[0].starts_with(&prefix),
        "{name}: expected prefix {prefix:?}, got {:?}",
        errs[0]
    );
    assert!(
        errs[0].contains(needle),
        "{name}: {:?} lacks {needle:?}",
        errs[0]
    );
}

#[test]
fn yaml_syntax_error() {
    assert_one("01_yaml_syntax.yaml", 5, 12, "YAML syntax error");
}

#[test]
fn unknown_trigger() {
    assert_one(
        "02_unknown_trigger.yaml",
        3,
        31,
        "unknown trigger `comand_finish` (valid: connection_established,",
    );
}

#[test]
fn unknown_filter_lists_valid_names() {
    assert_one(
        "03_unknown_filter.yaml",
        6,
        7,
        "unknown filter `usernme` for filters (valid: username, ignore_existing_logins, command_name, argv, exit_code, client_ip, tty, output_contains, uid, require_tty, command_name_regex, command_exit_code,",
    );
}

#[test]
fn unknown_plugin_kind() {
    assert_one(
        "04_unknown_plugin.yaml",
        6,
        17,
        "unknown plugin `pager_action` (valid: eventlogfile_action, sessionlog_action, webhook_action",
    );
}

#[test]
fn bad_regex() {
    assert_one("05_bad_regex.yaml", 5, 13, "`argv`: bad regular expression");
}

#[test]
fn bad_glob() {
    assert_one(
        "06_bad_glob.yaml",
        7,
        11,
        "`username`: bad glob pattern `adm[in`",
    );
}

#[test]
fn bad_cidr() {
    assert_one(
        "07_bad_cidr.yaml",
        4,
        40,
        "`client_ip`: bad CIDR `300.1.2.3/24`",
    );
}

#[test]
fn missing_required_url() {
    assert_one(
        "08_missing_url.yaml",
        8,
        9,
        "webhook_action: missing required option `url`",
    );
}

#[test]
fn duplicate_event_name() {
    let (errs, path) = check_fixture("09_duplicate_event.yaml");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(
        errs[0],
        format!(
            "{p}:9:12: duplicate event name `same_name` (first defined at {p}:2:12)",
            p = path.display()
        )
    );
}

#[test]
fn wrong_type() {
    assert_one(
        "10_wrong_type.yaml",
        8,
        21,
        "`timeout_ms`: expected a non-negative integer, found a string",
    );
}

#[test]
fn unknown_action_option() {
    assert_one(
        "11_unknown_option.yaml",
        8,
        9,
        "unknown option `max_files` for eventlogfile_action (valid: action, plugin, queue_size, log_file_path, max_size_mb, number_of_log_files, output_json)",
    );
}

#[test]
fn exit_code_with_unknown_key() {
    assert_one(
        "12_exit_code_on_wrong_shape.yaml",
        5,
        19,
        "unknown key `above` for exit_code (valid: eq, ne, min, max)",
    );
}

#[test]
fn duplicate_event_across_files_and_all_errors_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ev = "events:\n  - event: dup\n    triggers: [command_start]\n    actions:\n      - action: a\n        plugin: statsd_action\n        server: 127.0.0.1:8125\n";
    fs::write(dir.path().join("a.yaml"), ev).expect("write");
    fs::write(dir.path().join("b.yml"), ev).expect("write");
    fs::write(
        dir.path().join("c.yaml"),
        "events:\n  - event: other\n    triggers: nope\n    actions: []\n",
    )
    .expect("write");
    fs::write(dir.path().join("ignored.txt"), "not: [yaml").expect("write");
    let errs: ConfigErrors = check_dir(dir.path(), dir.path()).expect_err("rejected");
    let text = errs.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yml");
    let c = dir.path().join("c.yaml");
    assert_eq!(
        lines[0],
        format!(
            "{}:2:12: duplicate event name `dup` (first defined at {}:2:12)",
            b.display(),
            a.display()
        )
    );
    assert!(
        lines[1].starts_with(&format!("{}:3:15: unknown trigger `nope`", c.display())),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}:4:14: `actions`: at least one action",
            c.display()
        )),
        "{text}"
    );
    // The engine refuses the same directory.
    assert!(ActionEngine::load(dir.path(), dir.path()).is_err());
}

#[test]
fn defaults_and_samples_validate() {
    let plugins = repo().join("config/plugins");
    for sub in ["config/conf.d", "config/samples"] {
        let dir = repo().join(sub);
        let summary = check_dir(&dir, &plugins).unwrap_or_else(|e| panic!("{sub}:\n{e}"));
        let files = fs::read_dir(&dir)
            .expect("read dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            })
            .count();
        assert_eq!(summary.files.len(), files, "{sub}");
        assert_eq!(summary.events.len(), files, "{sub}: one event per file");
        assert!(summary.actions >= files, "{sub}");
    }
    let samples = check_dir(&repo().join("config/samples"), &plugins).expect("valid");
    for name in [
        "log_events",
        "log_all_sessions",
        "alert_slack_on_login",
        "send_to_syslog",
        "record_statistics",
        "motd_for_specific_user",
        "run_script_on_nmap",
        "email_on_scp_upload",
    ] {
        let path = repo().join(format!("config/samples/{name}.yaml"));
        assert!(samples.files.contains(&path), "missing sample {name}");
    }
    assert!(samples
        .to_string()
        .starts_with("configuration OK: 8 file(s), 8 event(s)"));
}

#[test]
fn example_plugins_validate_and_missing_ones_do_not() {
    let plugins = repo().join("config/plugins");
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = "events:\n  - event: to_plugins\n    triggers: \"*\"\n    actions:\n      - action: py\n        plugin: plugin_action\n        executable: example_python.py\n        config: {output: /tmp/x}\n      - action: sh\n        plugin: plugin_action\n        executable: example_shell.sh\n      - action: missing\n        plugin: plugin_action\n        executable: no_such_plugin\n";
    fs::write(dir.path().join("p.yaml"), yaml).expect("write");
    let errs = check_dir(dir.path(), &plugins).expect_err("missing plugin");
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!((errs.0[0].line, errs.0[0].col), (14, 21), "{errs}");
    assert!(errs.0[0].message.contains("no_such_plugin"), "{errs}");
    fs::write(
        dir.path().join("p.yaml"),
        yaml.rsplit_once("      - action: missing")
            .expect("split")
            .0,
    )
    .expect("write");
    let ok = check_dir(dir.path(), &plugins).expect("valid");
    assert_eq!(ok.actions, 2);
}

#[test]
fn missing_directory_is_an_error() {
    let errs = check_dir(
        Path::new("/nonexistent/sshlog/conf.d"),
        Path::new("/nonexistent"),
    )
    .expect_err("no dir");
    assert!(errs
        .to_string()
        .starts_with("/nonexistent/sshlog/conf.d:0:0: cannot read configuration directory"));
}
