//! The sshlog agent's Python plugins, unchanged: a `FilterPlugin` used by
//! name in YAML and an `ActionPlugin` whose `init_action` parameters come
//! from YAML (the two examples of the agent's plugin guide, written here
//! afresh), run by python3 on real events; their mistakes are named.

use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use sshlog_actions::{check_dir, ActionEngine};
use sshlog_format::{Record, SessionEvent};

mod common;
use common::*;

const IP_FILTER: &str = r#"
from plugins.common.plugin import FilterPlugin
from comms.event_types import *
import ipaddress


class is_private_address_filter(FilterPlugin):
    def triggers(self):
        return [SSHTRACE_EVENT_ESTABLISHED_CONNECTION, SSHTRACE_EVENT_CLOSE_CONNECTION]

    def filter(self, event_data):
        if self.filter_arg is False:
            return True
        return ipaddress.ip_address(event_data['tcp_info']['client_ip']).is_private
"#;

const CSV_ACTION: &str = r#"
from plugins.common.plugin import ActionPlugin
import csv


class save_to_csv_action(ActionPlugin):
    def init_action(self, csv_file, include_username=True):
        self.path = csv_file
        self.include_username = include_username
        self.logger.info(f"csv action {self.name} writes {csv_file}")

    def execute(self, event_data):
        with open(self.path, 'a', newline='') as f:
            row = [event_data['tcp_info']['client_ip']]
            if self.include_username:
                row.append(event_data['username'])
            csv.writer(f).writerow(row)
"#;

fn plugins() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("ip_address_filter.py"), IP_FILTER).expect("write");
    fs::write(dir.path().join("csv_action.py"), CSV_ACTION).expect("write");
    dir
}

fn config(dir: &Path, yaml: &str) {
    fs::write(dir.join("private_ips.yaml"), yaml).expect("write");
}

fn login_from(ip: &str, user: &str) -> Record {
    Record::new(
        Utc::now(),
        Some(session()),
        SessionEvent::ConnectionEstablished {
            user: user.into(),
            client_ip: ip.into(),
            client_port: 40000,
            server_port: 22,
            tty: Some("/dev/pts/1".into()),
            sshd_pid: 99,
            existing_login: false,
            root: None,
        },
    )
}

#[test]
fn a_plugin_filter_and_a_plugin_action_run_unchanged() {
    let plugins = plugins();
    let conf = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let csv = out.path().join("test.csv");
    config(
        conf.path(),
        &format!(
            "events:\n  - event: log_private_ips\n    triggers:\n      - connection_established\n    filters:\n      is_private_address: True\n    actions:\n      - action: record_private_ips_to_csv\n        plugin: save_to_csv_action\n        csv_file: {}\n",
            csv.display()
        ),
    );
    let summary = check_dir(conf.path(), plugins.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.actions, 1);
    let e = ActionEngine::load(conf.path(), plugins.path()).unwrap_or_else(|e| panic!("{e}"));
    let id = session();
    e.dispatch(&login_from("8.8.8.8", "eve"), &ctx(id));
    e.dispatch(&login_from("10.1.2.3", "ann"), &ctx(id));
    e.dispatch(&login_from("192.168.7.7", "bob"), &ctx(id));
    assert!(
        wait_for(Duration::from_secs(30), || fs::read_to_string(&csv)
            .is_ok_and(|s| s.lines().count() >= 2)),
        "{:?}",
        fs::read_to_string(&csv)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fs::read_to_string(&csv).expect("csv").replace("\r\n", "\n"),
        "10.1.2.3,ann\n192.168.7.7,bob\n"
    );
    assert_eq!(
        stats(&e, "log_private_ips/record_private_ips_to_csv").sent,
        2
    );
    let reports = e.stats();
    assert_eq!(
        reports["log_private_ips/record_private_ips_to_csv"]["plugin"],
        "python_plugin"
    );
    e.shutdown();
}

#[test]
fn optional_parameters_and_mistakes_are_named() {
    let plugins = plugins();
    fs::write(plugins.path().join("broken.py"), "def oops(:\n").expect("write");
    let conf = tempfile::tempdir().expect("tempdir");
    config(
        conf.path(),
        "events:\n  - event: a\n    triggers: [connection_established]\n    filters:\n      is_privat_address: True\n    actions:\n      - action: x\n        plugin: save_to_csv_action\n        include_username: False\n        colour: red\n",
    );
    let errs = check_dir(conf.path(), plugins.path())
        .expect_err("rejected")
        .to_string();
    assert!(errs.contains("broken.py"), "{errs}");
    assert!(
        errs.contains(":5:7: unknown filter `is_privat_address` for filters (valid: username,"),
        "{errs}"
    );
    assert!(
        errs.contains("and the Python plugins' is_private_address)"),
        "{errs}"
    );
    assert!(
        errs.contains(":10:9: unknown option `colour` for save_to_csv_action (its init_action takes: csv_file, include_username)"),
        "{errs}"
    );
    assert!(
        errs.contains("save_to_csv_action: missing required option `csv_file`"),
        "{errs}"
    );
}
