//! Interactive `sshlog-play` in a real terminal: tmux runs the player in an
//! 80×24 pane, keys are sent with `tmux send-keys`, the screen is read with
//! `tmux capture-pane`. After `q`, SIGTERM or a panic the terminal must be
//! back in its normal mode (`stty -a` run in the same pane afterwards shows
//! `icanon` and `echo`).
//!
//! Needs tmux: skipped when it is missing, except under CI=true.

use sshlog_format::cast::{CastVersion, Event, Header};
use sshlog_format::framed::{FrameOptions, FramedCastWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SSHLOG_PLAY: &str = env!("CARGO_BIN_EXE_sshlog-play");
const WAIT: Duration = Duration::from_secs(15);

fn out(t_s: u64, data: &str) -> Event {
    Event::Output {
        time_us: t_s * 1_000_000,
        data: data.as_bytes().to_vec(),
    }
}

fn marker(t_s: u64, label: &str) -> Event {
    Event::Marker {
        time_us: t_s * 1_000_000,
        label: label.into(),
    }
}

/// 80×20 (the status line fits below in 24 rows), with screens that tell
/// the positions apart: a start screen, a marker at 30 s that clears, more
/// output at 40 s, a marker at 60 s entering the alternate screen, which is
/// left at 70 s, and an end at 100 s.
fn write_cast(path: &Path) {
    let header = Header::new(CastVersion::V2, 80, 20);
    let opts = FrameOptions {
        max_frame_bytes: 64,
        ..FrameOptions::default()
    };
    let mut w = FramedCastWriter::new(Vec::new(), &header, opts).expect("writer");
    let events = [
        out(0, "\x1b[H\x1b[2J$ echo start\r\nSTART SCREEN\r\n$ "),
        marker(30, "first"),
        out(30, "\x1b[H\x1b[2JFIRST MARKER SCREEN\r\n"),
        out(40, "AT FORTY\r\n"),
        marker(60, "second"),
        out(60, "\x1b[?1049h\x1b[H\x1b[2JSECOND ALT SCREEN\r\n"),
        out(70, "\x1b[?1049lBACK ON MAIN\r\n"),
        out(100, "THE END\r\n"),
    ];
    for e in &events {
        w.write_event(e).expect("event");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write cast");
}

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is not installed (CI=true: required; tools/test installs it)"
        );
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

/// A tmux server of our own (its own socket) with one 80×24 pane.
struct Tmux {
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Runs `player_cmd` in a pane, then `stty -a` into `stty.txt` and
    /// `echo done`.
    fn start(player_cmd: &str) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("tmux.sock");
        let t = Tmux { socket, dir };
        let stty = t.path("stty.txt");
        let script = format!(
            "{player_cmd}; stty -a > '{}'; echo done; sleep 60",
            stty.display()
        );
        let o = t.tmux(&["new-session", "-d", "-x", "80", "-y", "24", &script]);
        assert!(
            o.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        let o = self.tmux(&["capture-pane", "-p"]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        let o = self.tmux(&args);
        assert!(
            o.status.success(),
            "send-keys: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Waits until the screen satisfies `ok`; panics with the screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the shell after the player: `done` printed, `stty -a`
    /// written.
    fn stty_after_exit(&self) -> String {
        self.wait_for("the player to exit", |s| {
            s.lines().any(|l| l.trim() == "done")
        });
        std::fs::read_to_string(self.path("stty.txt")).expect("stty output")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `stty -a` lists `icanon` / `-icanon`: the words must be the enabled
/// ones.
fn assert_cooked(stty: &str) {
    let words: Vec<&str> = stty.split([' ', ';', '\n']).collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(words.contains(&flag), "{flag} is off after exit:\n{stty}");
    }
}

fn top_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .take(20)
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn keys_pause_seek_and_jump_between_markers() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(&format!("{SSHLOG_PLAY} --speed 1 CAST"));
    let cast = t.path("cast.cast.zst");
    write_cast(&cast);
    // (The file is written after tmux started: restart the pane's command
    // now that it exists.)
    t.tmux(&[
        "respawn-pane",
        "-k",
        &format!(
            "{SSHLOG_PLAY} --speed 1 '{}'; stty -a > '{}'; echo done; sleep 60",
            cast.display(),
            t.path("stty.txt").display()
        ),
    ]);
    t.wait_for("the start screen", |s| s.contains("START SCREEN"));
    t.keys(&["Space"]);
    let s = t.wait_for("the paused status", |s| s.contains("paused"));
    assert_eq!(top_rows(&s), ["$ echo start", "START SCREEN", "$"]);

    t.keys(&["]"]);
    let s = t.wait_for("the first marker", |s| s.contains("FIRST MARKER SCREEN"));
    assert_eq!(top_rows(&s), ["FIRST MARKER SCREEN"]);
    assert!(s.contains("0:30 / 1:40") && s.contains("[first]"), "{s}");

    // 35 s: nothing new; 40 s: the output at 40 s is shown.
    t.keys(&["Right"]);
    t.wait_for("0:35", |s| s.contains("0:35 /"));
    t.keys(&["Right"]);
    let s = t.wait_for("0:40", |s| s.contains("0:40 /"));
    assert_eq!(top_rows(&s), ["FIRST MARKER SCREEN", "AT FORTY"]);

    // Into the alternate screen and out again: the main screen is back.
    t.keys(&["]"]);
    let s = t.wait_for("the second marker", |s| s.contains("1:00 /"));
    assert_eq!(top_rows(&s), ["SECOND ALT SCREEN"]);
    t.keys(&["Right", "Right"]);
    let s = t.wait_for("1:10", |s| s.contains("1:10 /"));
    assert_eq!(
        top_rows(&s),
        ["FIRST MARKER SCREEN", "AT FORTY", "BACK ON MAIN"]
    );

    // Backwards.
    t.keys(&["Left", "Left"]);
    let s = t.wait_for("1:00 again", |s| s.contains("1:00 /"));
    assert_eq!(top_rows(&s), ["SECOND ALT SCREEN"]);
    t.keys(&["["]);
    let s = t.wait_for("back at the first marker", |s| s.contains("0:30 /"));
    assert_eq!(top_rows(&s), ["FIRST MARKER SCREEN"]);

    // Step: the next output (40 s).
    t.keys(&["."]);
    let s = t.wait_for("the step", |s| s.contains("AT FORTY"));
    assert!(s.contains("0:40 /"), "{s}");

    // Speed.
    t.keys(&["+", "+"]);
    t.wait_for("speed x4", |s| s.contains("x4"));

    t.keys(&["q"]);
    assert_cooked(&t.stty_after_exit());
    // The alternate screen was left: the shell's `done` is on the main
    // screen and the player's screen is gone.
    assert!(!t.screen().contains("AT FORTY"));
}

#[test]
fn sigterm_and_ctrl_c_restore_the_terminal() {
    if !have_tmux() {
        return;
    }
    for how in ["TERM", "C-c"] {
        let t = Tmux::start("true");
        let cast = t.path("cast.cast.zst");
        write_cast(&cast);
        let pid_file = t.path("pid");
        // `exec` keeps the pid written by the inner shell.
        t.tmux(&[
            "respawn-pane",
            "-k",
            &format!(
                "sh -c 'echo $$ > {}; exec {SSHLOG_PLAY} {}'; stty -a > '{}'; echo done; sleep 60",
                pid_file.display(),
                cast.display(),
                t.path("stty.txt").display()
            ),
        ]);
        t.wait_for("the start screen", |s| s.contains("START SCREEN"));
        if how == "TERM" {
            let pid = std::fs::read_to_string(&pid_file).expect("pid");
            let pid: i32 = pid.trim().parse().expect("pid number");
            // SAFETY: plain kill(2) on the player we started.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        } else {
            t.keys(&["C-c"]);
        }
        assert_cooked(&t.stty_after_exit());
    }
}

#[test]
fn a_panic_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start("true");
    let cast = t.path("cast.cast.zst");
    write_cast(&cast);
    t.tmux(&[
        "respawn-pane",
        "-k",
        &format!(
            "SSHLOG_PLAY_TEST_PANIC=1 {SSHLOG_PLAY} {} 2> '{}'; stty -a > '{}'; echo done; sleep 60",
            cast.display(),
            t.path("stderr.txt").display(),
            t.path("stty.txt").display()
        ),
    ]);
    assert_cooked(&t.stty_after_exit());
    let err = std::fs::read_to_string(t.path("stderr.txt")).expect("stderr");
    assert!(err.contains("SSHLOG_PLAY_TEST_PANIC"), "{err}");
}

#[test]
fn not_a_terminal_or_no_keys_plays_the_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cast = dir.path().join("c.cast.zst");
    write_cast(&cast);
    let o = Command::new(SSHLOG_PLAY)
        .args([cast.to_str().expect("path"), "--speed", "1000", "--no-keys"])
        .output()
        .expect("run");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("\x1b[H\x1b[2J$ echo start\r\n"));
}
