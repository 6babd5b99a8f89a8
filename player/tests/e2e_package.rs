//! The installed package at work, in fresh Debian 12 and Debian 13 roots
//! (`tools/debian-root SUITE package`, copied): the .deb is installed with
//! dpkg, its sshlogd runs from its installed paths (`/usr/sbin/sshlogd`, the
//! installed `/etc/sshlog` with its default conf.d, `/var/log/sshlog`,
//! `/run/sshlog/sshlogd.sock`) in a chroot on this kernel, and records a
//! login typed in tmux through that root's own sshd: the recording, the event
//! log and `sshlog sessions` (the installed one) are checked. Then a session
//! prints continuously while the newer package is installed over it and the
//! service restarted as systemd does after an upgrade (SIGTERM, then the new
//! binary): every byte is in the recording.
//!
//! Only the kernel half's bpffs directory is moved (`SSHLOG_BPF_DIR`, a test
//! directory): the machine's own `/sys/fs/bpf/sshlog` is never touched.
//!
//! `tools/test-package` builds the two packages and runs these tests with
//! `SSHLOG_TEST_DEB` and `SSHLOG_TEST_DEB_NEXT` set (they are `#[ignore]`d in
//! the plain `cargo test` run, which has no package to install).

use sshlog_harness::{
    random_suffix, require_root_or_skip, run_with_timeout, sessions_of, RecordedSession, Sshd,
    TestBpfDir, TestUser,
};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// A copy of a cached Debian root with the package installed; removed on drop.
struct Root {
    path: PathBuf,
}

impl Root {
    fn with_package(suite: &str, deb: &Path) -> Root {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/debian-root");
        let out = run_with_timeout(
            Command::new(&script).args([suite, "package"]),
            "tools/debian-root",
            b"",
            Duration::from_secs(20 * 60),
        )
        .expect("tools/debian-root");
        assert!(out.success(), "{}", out.stderr_text());
        let cached = PathBuf::from(out.stdout_text().trim());
        let path = PathBuf::from(format!(
            "/var/tmp/sshlog-package-e2e-{suite}-{}",
            random_suffix(6)
        ));
        let copy = Command::new("cp")
            .arg("-a")
            .arg(&cached)
            .arg(&path)
            .status()
            .expect("cp");
        assert!(copy.success(), "copy {}", cached.display());
        let root = Root { path };
        root.dpkg_install(deb);
        root
    }

    /// `dpkg -i` inside the root (with /proc, as dpkg's scripts expect).
    fn dpkg_install(&self, deb: &Path) {
        let inside = Path::new("/tmp").join(deb.file_name().expect("deb file name"));
        std::fs::copy(deb, self.path.join(inside.strip_prefix("/").expect("abs")))
            .expect("copy the .deb into the root");
        let out = self.run_in_namespace(&format!(
            "exec chroot {} dpkg -i {}",
            self.q(),
            inside.display()
        ));
        assert!(
            out.success(),
            "dpkg -i: {}{}",
            out.stdout_text(),
            out.stderr_text()
        );
    }

    /// The root's path, quoted for sh.
    fn q(&self) -> String {
        format!("'{}'", self.path.display())
    }

    /// `script` in a private mount namespace whose root has /proc mounted.
    fn run_in_namespace(&self, script: &str) -> sshlog_harness::Output {
        let full = format!(
            "set -e\nmount --make-rprivate /\nmount -t proc proc {}/proc\n{script}\n",
            self.q()
        );
        run_with_timeout(
            Command::new("unshare").args(["--mount", "/bin/sh", "-c", &full]),
            "in the root",
            b"",
            Duration::from_secs(120),
        )
        .expect("unshare")
    }

    /// A program of the root, run inside it.
    fn chroot(&self, argv: &[&str]) -> String {
        let out = run_with_timeout(
            Command::new("chroot").arg(&self.path).args(argv),
            "chroot",
            b"",
            Duration::from_secs(30),
        )
        .expect("chroot");
        assert!(out.success(), "{argv:?}: {}", out.stderr_text());
        out.stdout_text()
    }

    fn log_dir(&self) -> PathBuf {
        self.path.join("var/log/sshlog")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The root's installed sshlogd, started as its unit does (`/usr/sbin/sshlogd
/// --config /etc/sshlog/sshlogd.yaml`) in a chroot with /proc, /sys and /dev.
struct InstalledSshlogd<'r> {
    root: &'r Root,
    bpf: TestBpfDir,
    child: Option<Child>,
    log: PathBuf,
}

impl<'r> InstalledSshlogd<'r> {
    fn start(root: &'r Root) -> InstalledSshlogd<'r> {
        let mut d = InstalledSshlogd {
            root,
            bpf: TestBpfDir::new(),
            child: None,
            log: root.path.join("var/tmp/sshlogd-test.log"),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let r = self.root.q();
        let script = format!(
            "set -e\nmount --make-rprivate /\nmount -t proc proc {r}/proc\nmount --rbind /sys {r}/sys\nmount --rbind /dev {r}/dev\n\
             exec chroot {r} /usr/sbin/sshlogd --config /etc/sshlog/sshlogd.yaml"
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log");
        let child = Command::new("unshare")
            .args(["--mount", "/bin/sh", "-c", &script])
            .env("SSHLOG_BPF_DIR", self.bpf.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the installed sshlogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .request(r#"{"cmd":"ping"}"#)
            .is_some_and(|v| v["ok"] == true)
        {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                panic!("the installed sshlogd exited ({st}): {}", self.logs());
            }
            assert!(Instant::now() < deadline, "no answer: {}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn request(&self, line: &str) -> Option<serde_json::Value> {
        let mut s = UnixStream::connect(self.root.path.join("run/sshlog/sshlogd.sock")).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(format!("{line}\n").as_bytes()).ok()?;
        let mut out = String::new();
        BufReader::new(s).read_line(&mut out).ok()?;
        serde_json::from_str(&out).ok()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait, as `systemctl stop` does.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid (unshare, sh and chroot
            // exec into sshlogd).
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    panic!("sshlogd did not stop on SIGTERM: {}", self.logs());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for InstalledSshlogd<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The segments of the root's recordings of `user`, in order.
fn segments(root: &Root, user: &str) -> Vec<RecordedSession> {
    let mut s = sessions_of(&root.log_dir(), user);
    s.sort_by_key(|r| {
        r.cast_events()
            .0
            .sshlog_meta()
            .and_then(|m| m.segment)
            .unwrap_or(0)
    });
    s
}

fn wait_closed(root: &Root, user: &str, d: &InstalledSshlogd) -> Vec<RecordedSession> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = segments(root, user);
        let sealed = s
            .iter()
            .any(|r| r.of_type("connection_close").next().is_some())
            && s.iter().all(|r| r.of_type("seal").next().is_some());
        if sealed {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "not closed and sealed: {}",
            d.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn package_paths() -> Option<(PathBuf, PathBuf)> {
    let deb = std::env::var_os("SSHLOG_TEST_DEB")?;
    let next = std::env::var_os("SSHLOG_TEST_DEB_NEXT")?;
    Some((deb.into(), next.into()))
}

fn installed_package_records_and_upgrades_without_loss(suite: &str) {
    if !require_root_or_skip(&format!("package_{suite}")) {
        return;
    }
    let (deb, next) = package_paths().expect(
        "SSHLOG_TEST_DEB and SSHLOG_TEST_DEB_NEXT name the packages (tools/test-package sets them)",
    );
    let root = Root::with_package(suite, &deb);
    let mut daemon = InstalledSshlogd::start(&root);
    let sshd = Sshd::builder()
        .root(&root.path)
        .start()
        .expect("the root's sshd");
    let twin = TestUser::create().expect("host user");
    let user = TestUser::builder()
        .root(&root.path)
        .uid(twin.uid())
        .create()
        .expect("user in the root");

    // A login typed in tmux (a program, not a shell builtin: it gets a marker).
    let term = sshd
        .ssh(&user)
        .terminal(None, 100, 30)
        .expect("ssh in tmux");
    term.wait_for(":~$ ", 1, WAIT).expect("prompt");
    term.type_line("id -un").expect("type");
    term.wait_for(":~$ ", 2, WAIT).expect("prompt again");
    // The installed `sshlog sessions` (JSON, the table cuts long names).
    let deadline = Instant::now() + WAIT;
    let row = loop {
        let text = root.chroot(&["sshlog", "--json", "sessions"]);
        let rows: serde_json::Value = serde_json::from_str(&text).expect("sessions JSON");
        let found = rows.as_array().and_then(|rows| {
            rows.iter()
                .find(|r| r["user"] == user.name() && r["last_command"] == "id -un")
                .cloned()
        });
        if let Some(row) = found {
            break row;
        }
        assert!(Instant::now() < deadline, "sshlog --json sessions: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        row["tty"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{row}"
    );
    let table = root.chroot(&["sshlog", "sessions"]);
    assert!(table.contains("id -un"), "{table}");
    term.type_line("exit").expect("exit");
    term.wait_exit(WAIT).expect("ssh exits");
    let login = wait_closed(&root, user.name(), &daemon);
    assert_eq!(login.len(), 1);
    assert_eq!(login[0].established()["user"], user.name());
    assert!(
        login[0].markers().iter().any(|m| m == "id -un"),
        "{:?}",
        login[0].markers()
    );
    assert!(
        String::from_utf8_lossy(&login[0].output()).contains(&format!("\r{}\r\n", user.name())),
        "the command's output is recorded: {:?}",
        String::from_utf8_lossy(&login[0].output())
    );
    let event_log = std::fs::read_to_string(root.log_dir().join("event.log")).expect("event.log");
    for event in [
        "connection_established",
        "command_start",
        "connection_close",
    ] {
        assert!(
            event_log
                .lines()
                .any(|l| l.contains(event) && l.contains(user.name())),
            "no {event} of {} in event.log: {event_log}",
            user.name()
        );
    }
    assert_eq!(
        root.chroot(&["sshlogd", "--version"]).trim(),
        "sshlogd 0.1.0"
    );

    // Output goes on while the newer package is installed and the service restarted.
    let other = TestUser::builder()
        .root(&root.path)
        .create()
        .expect("second user");
    let tag = random_suffix(6);
    let cmd = sshd.ssh(&other).timeout(Duration::from_secs(120));
    let script = format!(
        "end=$((SECONDS+8)); i=0; while [ $SECONDS -lt $end ]; do i=$((i+1)); echo {tag}-$i; sleep 0.01; done"
    );
    let client = std::thread::scope(|s| {
        let printing = s.spawn(move || cmd.run(&script).expect("ssh"));
        std::thread::sleep(Duration::from_secs(2));
        root.dpkg_install(&next);
        // What deb-systemd-invoke restart does after an upgrade.
        daemon.stop();
        daemon.spawn();
        printing.join().expect("thread")
    });
    assert_eq!(client.code(), Some(0));
    assert_eq!(
        root.chroot(&["dpkg-query", "-W", "-f=${Version}", "sshlog"]),
        "0.1.1"
    );
    let segs = wait_closed(&root, other.name(), &daemon);
    assert_eq!(segs.len(), 2, "one segment per sshlogd");
    assert!(!segs[1].output().is_empty(), "output after the upgrade");
    let recorded: Vec<u8> = segs.iter().flat_map(|s| s.output()).collect();
    eprintln!(
        "{suite}: segments of {:?} bytes, client {} bytes",
        segs.iter().map(|s| s.output().len()).collect::<Vec<_>>(),
        client.stdout.len()
    );
    assert!(
        recorded == client.stdout,
        "{} bytes recorded, the client got {}",
        recorded.len(),
        client.stdout.len()
    );
    for s in &segs {
        assert_eq!(s.of_type("recording_gap").count(), 0);
        assert_eq!(s.of_type("data_loss").count(), 0);
    }
    assert!(
        daemon.logs().contains("took over the kernel half"),
        "{}",
        daemon.logs()
    );
    daemon.stop();
}

#[test]
#[ignore = "run by tools/test-package, which builds the packages"]
fn debian12_package_records_and_upgrades_without_loss() {
    installed_package_records_and_upgrades_without_loss("bookworm");
}

#[test]
#[ignore = "run by tools/test-package, which builds the packages"]
fn debian13_package_records_and_upgrades_without_loss() {
    installed_package_records_and_upgrades_without_loss("trixie");
}
