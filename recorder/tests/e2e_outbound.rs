//! End-to-end: an `ssh` run from inside a recorded session to a second sshd is
//! logged as an outbound connection, linked to the inbound session, with its
//! process ancestry; a connection to a closed port is logged with its failure.

mod common;

use common::Recorder;
use serde_json::Value;
use sshlog_harness::{require_root_or_skip, Sshd, TestUser};
use std::os::unix::fs::{chown, PermissionsExt};
use std::time::Duration;

fn give_user_its_key(user: &TestUser) {
    let dst = user.home().join(".ssh/id_ed25519");
    std::fs::copy(user.key_path(), &dst).expect("copy key");
    chown(&dst, Some(user.uid()), Some(user.gid())).expect("chown");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn outbound<'a>(s: &'a common::Session, ty: &'a str) -> Vec<&'a Value> {
    s.of_type(ty).collect()
}

#[test]
fn ssh_from_a_recorded_session_is_logged_as_outbound_and_linked() {
    if !require_root_or_skip("outbound_ssh") {
        return;
    }
    let rec = Recorder::start();
    let sshd_a = Sshd::start().expect("sshd A");
    let sshd_b = Sshd::start().expect("sshd B");
    let user = TestUser::create().expect("user");
    give_user_its_key(&user);
    let closed = closed_port();
    let opts = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes";
    let script = format!(
        "ssh {opts} -p {} {}@127.0.0.1 echo inner-ok; ssh {opts} -p {closed} 127.0.0.1 true; exit 0",
        sshd_b.port(),
        user.name()
    );
    let out = sshd_a
        .ssh(&user)
        .timeout(Duration::from_secs(60))
        .run(&script)
        .expect("ssh");
    assert!(
        out.stdout_text().contains("inner-ok"),
        "{}",
        out.stdout_text()
    );

    // Session A is the one whose connection came in on sshd A's port.
    let sessions = rec.wait_closed(user.name(), 2, Duration::from_secs(30));
    let a = sessions
        .iter()
        .find(|s| {
            s.of_type("connection_established")
                .any(|e| e["server_port"] == sshd_a.port())
        })
        .expect("session on sshd A");
    let a_id = a.records[0]["session_id"].clone();
    let starts = outbound(a, "outbound_connection_start");
    let ends = outbound(a, "outbound_connection_end");

    let ok = starts
        .iter()
        .find(|e| e["dest_port"] == sshd_b.port())
        .expect("outbound start to B");
    assert_eq!(ok["result"], "connected");
    assert_eq!(ok["dest_ip"], "127.0.0.1");
    assert_eq!(ok["dest_host"], "127.0.0.1");
    assert_eq!(ok["user"], user.name());
    assert_eq!(ok["uid"], user.uid());
    assert_eq!(ok["inbound_session"], a_id);
    let comms: Vec<&str> = ok["ancestry"]
        .as_array()
        .expect("ancestry")
        .iter()
        .map(|x| x["comm"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(&comms[..3], ["ssh", "bash", "sshd"], "ancestry {comms:?}");
    assert_eq!(ok["ancestry"][0]["argv"][0], "ssh");
    assert_eq!(
        ok["ancestry"]
            .as_array()
            .and_then(|v| v.last())
            .map(|x| x["pid"].clone()),
        Some(Value::from(1)),
        "up to init"
    );
    let ok_end = ends
        .iter()
        .find(|e| e["connection_id"] == ok["connection_id"])
        .expect("end with the same id");
    assert_eq!(ok_end["exit_code"], 0);
    assert_eq!(ok_end["inbound_session"], a_id);

    let bad = starts
        .iter()
        .find(|e| e["dest_port"] == closed)
        .expect("outbound start to the closed port");
    assert!(
        bad["result"]
            .as_str()
            .is_some_and(|r| r.contains("refused")),
        "{bad}"
    );
    let bad_end = ends
        .iter()
        .find(|e| e["connection_id"] == bad["connection_id"])
        .expect("end of the failed one");
    assert_eq!(bad_end["exit_code"], 255);

    let log = rec.event_log();
    assert!(
        log.contains(&format!(
            "outbound_connection_start ({}) {}",
            ok["pid"],
            user.name()
        )),
        "{log}"
    );
}

#[test]
fn outbound_ssh_outside_any_session_goes_to_the_outbound_log() {
    if !require_root_or_skip("outbound_unlinked") {
        return;
    }
    let rec = Recorder::start();
    let closed = closed_port();
    let out = std::process::Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-p",
            &closed.to_string(),
            "nobody@127.0.0.1",
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh runs");
    assert_eq!(out.status.code(), Some(255));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let records: Vec<Value> = loop {
        let files = common::walk(&rec.log_dir().join("outbound"));
        let recs: Vec<Value> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter_map(|l| serde_json::from_str(&l).ok())
            .filter(|r: &Value| r["dest_port"] == closed || r["type"] == "outbound_connection_end")
            .collect();
        if recs.iter().any(|r| r["type"] == "outbound_connection_end") {
            break recs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing in outbound/: {}",
            rec.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let start = records
        .iter()
        .find(|r| r["type"] == "outbound_connection_start")
        .expect("start");
    assert_eq!(start["inbound_session"], Value::Null);
    assert_eq!(start["dest_host"], "127.0.0.1");
    assert!(
        start["result"]
            .as_str()
            .is_some_and(|r| r.contains("refused")),
        "{start}"
    );
    assert_eq!(
        start["ancestry"][1]["pid"],
        std::process::id(),
        "the test process is the parent"
    );
    let end = records
        .iter()
        .find(|r| {
            r["type"] == "outbound_connection_end" && r["connection_id"] == start["connection_id"]
        })
        .expect("end with the same id");
    assert_eq!(end["exit_code"], 255);
}
