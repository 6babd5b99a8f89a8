//! End-to-end witness: the real sshlogd sends its seal chain's head to a
//! real rsyslogd through a `syslog_action` on the `chain_head` trigger.
//! `sshlog verify --key --witness` accepts the chain as it is, then catches
//! a history rewritten on the host with the host's own key (which the key
//! alone cannot).

mod common;

use common::*;
use sshlog_format::seal::{Head, SealKey};
use sshlog_harness::{require_root_or_skip, rsyslogd, Rsyslog, Sshd, TestUser};
use sshlog_recorder::retention;
use sshlog_recorder::sealer::Sealer;
use sshlog_recorder::state::StateDir;
use std::path::Path;
use std::time::{Duration, Instant};

fn verify(rec: &Recorder, args: &[&str]) -> (Option<i32>, String) {
    let mut c = sshlog(rec);
    c.arg("verify").args(args);
    let o = c.output().expect("sshlog verify");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// Removes the last line (the seal) of a sidecar.
fn strip_seal(events: &Path) {
    let text = std::fs::read_to_string(events).expect("sidecar");
    let body = text.trim_end_matches('\n');
    let cut = body.rfind('\n').map(|i| i + 1).unwrap_or(0);
    std::fs::write(events, &text[..cut]).expect("write");
}

#[test]
fn syslog_witnesses_the_chain_and_catches_a_rewrite_with_the_host_key() {
    if !require_root_or_skip("witness") {
        return;
    }
    let Some(bin) = rsyslogd() else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "rsyslogd missing (install rsyslog); CI=true: refusing to skip"
        );
        eprintln!("witness: skipped, rsyslogd missing");
        return;
    };
    let syslog = Rsyslog::start(&bin).expect("rsyslogd");
    let mut rec = Recorder::start();
    rec.stop();
    std::fs::write(
        rec.conf_dir().join("witness.yaml"),
        format!(
            "events:\n  - event: witness\n    triggers: [chain_head]\n    actions:\n      - action: off_host\n        plugin: syslog_action\n        server: 127.0.0.1:{}\n        transport: tcp\n",
            syslog.tcp_port
        ),
    )
    .expect("config");
    rec.spawn().expect("spawn");
    let sshd = Sshd::start().expect("sshd");
    let user = TestUser::create().expect("user");
    for i in 0..3 {
        let out = sshd
            .ssh(&user)
            .run(&format!("echo witnessed-{i}"))
            .expect("ssh");
        assert_eq!(out.code(), Some(0));
    }
    let ours = rec.wait_closed(user.name(), 3, WAIT).expect("sealed");
    // rsyslog has the head that covers our recordings.
    let state = StateDir::new(rec.log_dir().join("state"));
    let newest = |text: &str| {
        sshlog_format::seal::parse_witness(text)
            .iter()
            .map(|w| w.head.sequence)
            .max()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + WAIT;
    let wanted = state.chain_head().sequence;
    while newest(&std::fs::read_to_string(&syslog.out).unwrap_or_default()) < wanted {
        assert!(
            Instant::now() < deadline,
            "no head #{wanted} in syslog: {}",
            rec.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    rec.stop(); // no new seals from here on
    let key = rec.dir.path().join("seal.pub");
    let (key, witness) = (key.to_str().unwrap(), syslog.out.to_str().unwrap());
    let (code, text) = verify(&rec, &["--key", key, "--witness", witness]);
    println!("==> sshlog verify --key seal.pub --witness rsyslog.log\n{text}");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("witness: newest head #"), "{text}");

    // Root on the host edits the first of our recordings and seals it and
    // everything after it again, with the host's own key.
    let (mut all, _) = retention::scan(rec.log_dir()).expect("scan");
    all.sort_by_key(|r| r.sequence);
    let k = all
        .iter()
        .position(|r| r.id.to_string() == ours[0].id())
        .expect("ours in the chain");
    let edited = std::fs::read_to_string(&all[k].events).expect("sidecar");
    std::fs::write(
        &all[k].events,
        edited.replacen("witnessed-0", "harmless-0", 1),
    )
    .expect("edit");
    let mut head = Head::genesis();
    head.seal = all[k].previous_seal.clone();
    head.sequence = all[k].sequence.expect("numbered") - 1;
    state.set_chain_head(&head).expect("head");
    let host_key: SealKey = std::fs::read_to_string(rec.dir.path().join("seal.key"))
        .expect("key")
        .parse()
        .expect("a key");
    let sealer = Sealer::new(Some(host_key), rec.log_dir());
    for r in &all[k..] {
        strip_seal(&r.events);
        sealer.seal(&r.cast, &r.events, r.id).expect("seal");
    }
    let (code, text) = verify(&rec, &["--key", key]);
    assert_eq!(code, Some(0), "the key alone cannot tell: {text}");
    let (code, text) = verify(&rec, &["--key", key, "--witness", witness]);
    println!("==> rewritten with the host key: sshlog verify --key seal.pub --witness rsyslog.log\n{text}");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("REWRITTEN  ") && text.contains("history was rewritten"),
        "{text}"
    );
}
