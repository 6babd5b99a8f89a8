//! `email_action` against a real SMTP server on 127.0.0.1 (Debian's
//! python3-aiosmtpd): the agent's options, templates from its payload,
//! STARTTLS with a login, and a wrong password counted as failed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::*;

/// The SMTP server process; killed when dropped.
struct Smtp {
    child: Child,
    port: u16,
    out: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// `args` after the output directory: `[CERT KEY [USER PASSWORD]]`.
    fn start(args: &[&std::ffi::OsStr]) -> Smtp {
        let out = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(out.path()).args(args);
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3-aiosmtpd (apt-get install python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the SMTP server printed its port");
        let port = line.trim().parse().expect("port");
        Smtp { child, port, out }
    }

    /// The first message, waited for (bounded).
    fn message(&self) -> String {
        let path = self.out.path().join("1.eml");
        assert!(
            wait_for(Duration::from_secs(20), || path.exists()),
            "no message arrived"
        );
        String::from_utf8_lossy(&std::fs::read(path).expect("message")).replace("\r\n", "\n")
    }
}

/// A CA and a server certificate for `localhost` signed by it:
/// (dir, CA cert, server cert, server key).
fn certificates() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    let openssl = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(st.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=sshlog test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ]);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    let (ca, cert, key) = (p("ca.pem"), p("cert.pem"), p("key.pem"));
    (dir, ca, cert, key)
}

#[test]
fn the_agents_email_action_sends_through_a_plain_relay() {
    let smtp = Smtp::start(&[]);
    let (e, _dir) = engine(&format!(
        "events:\n  - event: login\n    triggers: [connection_established]\n    actions:\n      - action: mail\n        plugin: email_action\n        sender: sshlog@example.org\n        recipient: ops@example.org\n        subject: 'Login by {{{{username}}}}'\n        body: '{{{{username}}}} logged in from {{{{tcp_info.client_ip}}}} on tty {{{{tty_id}}}}'\n        smtp_server: 127.0.0.1\n        smtp_port: {}\n        starttls: false\n",
        smtp.port
    ));
    let id = session();
    e.dispatch(&established(id, Some("/dev/pts/77")), &ctx(id));
    let m = smtp.message();
    assert!(m.contains("X-Envelope-From: sshlog@example.org\n"), "{m}");
    assert!(m.contains("X-Envelope-To: ops@example.org\n"), "{m}");
    assert!(m.contains("\nSubject: Login by alice\n"), "{m}");
    assert!(
        m.contains("alice logged in from 192.0.2.10 on tty 77"),
        "{m}"
    );
    e.shutdown();
}

#[test]
fn starttls_and_login_then_a_wrong_password_fails() {
    let (_certs, ca, cert, key) = certificates();
    let smtp = Smtp::start(&[
        cert.as_os_str(),
        key.as_os_str(),
        "mailer".as_ref(),
        "s3cret".as_ref(),
    ]);
    let config = |password: &str| {
        format!(
            "events:\n  - event: cmd\n    triggers: [command_start]\n    actions:\n      - action: mail\n        plugin: email_action\n        sender: sshlog@example.org\n        recipient: [ops@example.org, sec@example.org]\n        subject: ran\n        smtp_server: localhost\n        smtp_port: {}\n        username: mailer\n        password: {password}\n        tls_ca_file: {}\n        timeout_ms: 5000\n",
            smtp.port,
            ca.display()
        )
    };
    let (e, _dir) = engine(&config("s3cret"));
    let id = session();
    e.dispatch(&command_start(id, &["nmap", "-sS"]), &ctx(id));
    let m = smtp.message();
    assert!(
        m.contains("X-Envelope-To: ops@example.org,sec@example.org\n"),
        "{m}"
    );
    assert!(m.contains("command_start"), "{m}");
    e.shutdown();

    let (e, _dir) = engine(&config("wrong"));
    e.dispatch(&command_start(id, &["nmap"]), &ctx(id));
    let failed = wait_for(Duration::from_secs(30), || {
        stats(&e, "cmd/mail").failed == 1
    });
    assert!(failed, "{:?}", stats(&e, "cmd/mail"));
    assert_eq!(stats(&e, "cmd/mail").sent, 0);
    assert!(!smtp.out.path().join("2.eml").exists());
    e.shutdown();
}
