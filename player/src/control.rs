//! Client side of sshlogd's control socket: a Unix stream socket speaking
//! JSON lines. One request line, then answer lines; `{"ok":false,...}`
//! carries an error (see `recorder/src/control.rs`).

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a one-shot request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `err` without the ` (os error N)` suffix std adds.
pub fn io_message(err: &io::Error) -> String {
    let s = err.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// A connection to sshlogd.
#[derive(Debug)]
pub struct Connection {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Connection {
    /// Connects to the control socket, with a hint on the usual causes.
    pub fn connect(path: &Path) -> Result<Connection> {
        let stream = UnixStream::connect(path).map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::PermissionDenied => {
                    "only root and members of the sshlog group may connect"
                }
                _ => "is sshlogd running? --socket / SSHLOG_SOCKET",
            };
            anyhow!(
                "cannot connect to {}: {} ({hint})",
                path.display(),
                io_message(&e)
            )
        })?;
        let writer = stream
            .try_clone()
            .with_context(|| format!("cannot use {}", path.display()))?;
        Ok(Connection {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one request line.
    pub fn send(&mut self, request: &Value) -> Result<()> {
        let line = format!("{request}\n");
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| anyhow!("cannot send to sshlogd: {}", io_message(&e)))
    }

    /// Sets the read timeout of the socket.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> Result<()> {
        self.reader
            .get_ref()
            .set_read_timeout(t)
            .map_err(|e| anyhow!("cannot set a timeout on the socket: {}", io_message(&e)))
    }

    /// Reads bytes up to and including the next `\n` into `buf` (appending).
    /// Returns `Ok(false)` at end of stream. Timeouts surface as
    /// `WouldBlock`/`TimedOut` errors; bytes read so far stay in `buf`.
    pub fn read_line_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        Ok(self.reader.read_until(b'\n', buf)? > 0)
    }

    /// Reads one answer line as JSON and checks its `ok` field.
    pub fn read_answer(&mut self) -> Result<Value> {
        let mut buf = Vec::new();
        let got = self
            .read_line_into(&mut buf)
            .map_err(|e| anyhow!("no answer from sshlogd: {}", io_message(&e)))?;
        if !got {
            bail!(
                "sshlogd closed the connection on {} without answering",
                self.path.display()
            );
        }
        let v = parse_answer(&buf)?;
        check_ok(&v)?;
        Ok(v)
    }
}

/// Parses one JSON line from the daemon.
pub fn parse_answer(line: &[u8]) -> Result<Value> {
    serde_json::from_slice(line).map_err(|e| anyhow!("unexpected answer from sshlogd: {e}"))
}

/// Turns `{"ok":false,"error":"..."}` into an error.
pub fn check_ok(v: &Value) -> Result<()> {
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(()),
        Some(false) => {
            let msg = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            bail!("sshlogd refused the request: {msg}")
        }
        None => bail!("unexpected answer from sshlogd: {v}"),
    }
}

/// Sends `request` and returns the (successful) answer.
pub fn request(socket: &Path, request: &Value) -> Result<Value> {
    let mut c = Connection::connect(socket)?;
    c.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    c.send(request)?;
    c.read_answer()
}

/// `field` of an answer, or an error naming it.
pub fn field<'a>(answer: &'a Value, field: &str) -> Result<&'a Value> {
    answer
        .get(field)
        .ok_or_else(|| anyhow!("unexpected answer from sshlogd: no `{field}` in {answer}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn os_error_suffix_is_dropped() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(io_message(&e), "No such file or directory");
        let e = io::Error::other("plain");
        assert_eq!(io_message(&e), "plain");
    }

    #[test]
    fn answers_are_checked() {
        assert!(check_ok(&json!({"ok": true})).is_ok());
        let e = check_ok(&json!({"ok": false, "error": "bad request: x"})).unwrap_err();
        assert_eq!(e.to_string(), "sshlogd refused the request: bad request: x");
        assert!(check_ok(&json!({"hello": 1})).is_err());
        assert!(parse_answer(b"not json\n").is_err());
    }

    #[test]
    fn missing_socket_names_path_and_hint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("nope.sock");
        let e = Connection::connect(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "cannot connect to {}: No such file or directory (is sshlogd running? --socket / SSHLOG_SOCKET)",
                p.display()
            )
        );
    }

    #[test]
    fn request_round_trip_with_a_fake_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("d.sock");
        let l = std::os::unix::net::UnixListener::bind(&p).expect("bind");
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            r.read_line(&mut line).expect("read");
            let mut w = s;
            w.write_all(b"{\"ok\":true,\"stats\":{\"a\":1}}\n")
                .expect("write");
            line
        });
        let v = request(&p, &json!({"cmd": "stats"})).expect("answer");
        assert_eq!(v["stats"]["a"], 1);
        assert_eq!(t.join().expect("join"), "{\"cmd\":\"stats\"}\n");
    }
}
