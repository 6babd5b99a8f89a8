//! `sshlog watch`: subscribes to the daemon's events and prints each one as
//! it arrives, until interrupted or until the daemon goes away.

use crate::cli::WatchArgs;
use crate::control::{io_message, Connection};
use crate::style::Style;
use crate::table::escape_controls;
use anyhow::{bail, Result};
use serde_json::Value;
use sshlog_control::{decode_item, Ack, Request, WatchItem};
use sshlog_format::sidecar::KNOWN_TYPES;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the read loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// How long the daemon may take to accept the subscription.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the `--type` values against the known event types.
pub fn check_types(types: &[String]) -> Result<()> {
    for t in types {
        if !KNOWN_TYPES.contains(&t.as_str()) {
            bail!(
                "unknown event type '{}' (known types: {})",
                escape_controls(t),
                KNOWN_TYPES.join(", ")
            );
        }
    }
    Ok(())
}

/// The watch request for these filters (each type once).
pub fn request(args: &WatchArgs) -> Request {
    let mut types: Vec<String> = Vec::new();
    for t in &args.types {
        if !types.contains(t) {
            types.push(t.clone());
        }
    }
    Request::Watch {
        user: args.user.clone(),
        types,
    }
}

/// Decodes one line of the watch stream; records stay as the daemon sent
/// them (printed verbatim by `--json`).
pub fn parse_message(line: &[u8]) -> Result<WatchItem<Value>> {
    Ok(decode_item(line)?)
}

/// An event-log line for the terminal: the timestamp dimmed and the type
/// highlighted (when colouring), control characters escaped.
pub fn paint_line(line: &str, style: Style) -> String {
    let line = escape_controls(line);
    if !style.color {
        return line;
    }
    // `YYYY-MM-DD HH:MM:SS type rest`
    let mut parts = line.splitn(4, ' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), Some(ty), rest) if d.len() == 10 && t.len() == 8 => {
            let mut s = format!("{} {}", style.dim(&format!("{d} {t}")), style.accent(ty));
            if let Some(r) = rest {
                s.push(' ');
                s.push_str(r);
            }
            s
        }
        _ => line,
    }
}

/// Runs `sshlog watch`, writing to `out`, until `stop` is set (returns
/// `Ok`) or the daemon goes away (returns an error).
pub fn run(
    socket: &Path,
    args: &WatchArgs,
    out: &mut dyn Write,
    stop: &AtomicBool,
    style: Style,
) -> Result<()> {
    check_types(&args.types)?;
    let mut conn = Connection::connect(socket)?;
    conn.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    conn.send(&request(args))?;
    let _: Ack = conn.read_answer()?;
    conn.set_read_timeout(Some(POLL))?;
    let mut buf = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match conn.read_line_into(&mut buf) {
            Ok(true) if buf.ends_with(b"\n") => {
                handle(&buf, args.json, out, style)?;
                buf.clear();
            }
            // A partial line: the rest follows.
            Ok(true) => {}
            Ok(false) => bail!("sshlogd closed the connection (daemon stopped?)"),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => bail!("lost the connection to sshlogd: {}", io_message(&e)),
        }
    }
}

fn handle(line: &[u8], as_json: bool, out: &mut dyn Write, style: Style) -> Result<()> {
    match parse_message(line)? {
        WatchItem::Event { record, line } => {
            if as_json {
                writeln!(out, "{record}")?;
            } else {
                writeln!(out, "{}", paint_line(&line, style))?;
            }
            out.flush()?;
        }
        WatchItem::Lagged { lagged: n } => {
            eprintln!("sshlog: warning: {n} events were skipped (output too slow)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    use std::sync::Arc;

    fn args(user: Option<&str>, types: &[&str], json: bool) -> WatchArgs {
        WatchArgs {
            user: user.map(str::to_string),
            types: types.iter().map(|s| s.to_string()).collect(),
            json,
        }
    }

    #[test]
    fn request_carries_the_filters() {
        assert_eq!(
            request(&args(None, &[], false)).to_string(),
            r#"{"cmd":"watch"}"#
        );
        assert_eq!(
            request(&args(
                Some("bob"),
                &["command_start", "file_upload", "command_start"],
                false
            ))
            .to_string(),
            r#"{"cmd":"watch","user":"bob","types":["command_start","file_upload"]}"#
        );
    }

    #[test]
    fn unknown_types_are_rejected() {
        assert!(check_types(&["command_start".into(), "data_loss".into()]).is_ok());
        let e = check_types(&["command".into()]).unwrap_err().to_string();
        assert!(e.starts_with("unknown event type 'command' (known types: connection_established,"));
    }

    #[test]
    fn messages_decode() {
        let m = parse_message(
            br#"{"record":{"type":"command_start","argv":["ls"]},"line":"2024-05-01 10:00:00 command_start (5) bob executed ls"}"#,
        )
        .expect("event");
        assert_eq!(
            m,
            WatchItem::Event {
                record: json!({"type":"command_start","argv":["ls"]}),
                line: "2024-05-01 10:00:00 command_start (5) bob executed ls".into()
            }
        );
        assert_eq!(
            parse_message(br#"{"lagged":7}"#).expect("lag"),
            WatchItem::Lagged { lagged: 7 }
        );
        assert!(parse_message(br#"{"ok":true}"#).is_err());
        assert!(parse_message(b"garbage").is_err());
    }

    #[test]
    fn lines_are_painted_only_with_colour() {
        let l = "2024-05-01 10:00:00 command_start (5) bob executed ls";
        assert_eq!(paint_line(l, Style::plain()), l);
        assert_eq!(
            paint_line(l, Style { color: true }),
            "\x1b[2m2024-05-01 10:00:00\x1b[0m \x1b[36mcommand_start\x1b[0m (5) bob executed ls"
        );
        assert_eq!(paint_line("a\x1bb", Style::plain()), "a\\u{1b}b");
    }

    /// A fake daemon: accepts one client, checks the request, answers
    /// `ok`, sends `lines`, then closes (or keeps the connection open until
    /// the client hangs up when `hold` is set).
    fn fake_daemon(
        lines: Vec<String>,
        hold: bool,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        std::thread::JoinHandle<String>,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.sock");
        let l = UnixListener::bind(&path).expect("bind");
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut req = String::new();
            r.read_line(&mut req).expect("request");
            let mut w = s;
            w.write_all(b"{\"ok\":true}\n").expect("ok");
            for l in lines {
                // Split each line in two writes to exercise partial reads.
                let (a, b) = l.as_bytes().split_at(l.len() / 2);
                w.write_all(a).expect("write");
                w.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(20));
                w.write_all(b).expect("write");
            }
            if hold {
                let mut rest = String::new();
                let _ = r.read_line(&mut rest);
            }
            req
        });
        (dir, path, t)
    }

    #[test]
    fn prints_lines_and_fails_when_the_daemon_goes_away() {
        let ev = |n: u32| {
            format!(
                "{}\n",
                json!({"record":{"type":"command_start","pid":n},"line":format!("2024-05-01 10:00:00 command_start ({n}) bob executed ls")})
            )
        };
        let (_dir, path, t) = fake_daemon(vec![ev(1), "{\"lagged\":3}\n".into(), ev(2)], false);
        let mut out = Vec::new();
        let stop = AtomicBool::new(false);
        let a = args(Some("bob"), &["command_start"], false);
        let e = run(&path, &a, &mut out, &stop, Style::plain()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sshlogd closed the connection (daemon stopped?)"
        );
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "2024-05-01 10:00:00 command_start (1) bob executed ls\n\
             2024-05-01 10:00:00 command_start (2) bob executed ls\n"
        );
        assert_eq!(
            t.join().expect("daemon"),
            "{\"cmd\":\"watch\",\"user\":\"bob\",\"types\":[\"command_start\"]}\n"
        );
    }

    #[test]
    fn json_mode_prints_records_and_stops_on_request() {
        let line = format!(
            "{}\n",
            json!({"record":{"type":"data_loss","bytes_dropped":1},"line":"x"})
        );
        let (_dir, path, t) = fake_daemon(vec![line], true);
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            s2.store(true, Ordering::Relaxed);
        });
        let mut out = Vec::new();
        run(
            &path,
            &args(None, &[], true),
            &mut out,
            &stop,
            Style::plain(),
        )
        .expect("clean stop");
        setter.join().expect("setter");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{\"type\":\"data_loss\",\"bytes_dropped\":1}\n"
        );
        t.join().expect("daemon");
    }
}
