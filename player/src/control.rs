//! Blocking client of sshlogd's control socket: one [`Request`] line, then
//! answer lines (the protocol is the `sshlog-control` crate's).

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use sshlog_control::{decode_answer, Request};
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
    pub fn send(&mut self, request: &Request) -> Result<()> {
        self.writer
            .write_all(request.line().as_bytes())
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

    /// Reads the first answer line: checks its `ok` field and decodes it.
    pub fn read_answer<T: DeserializeOwned>(&mut self) -> Result<T> {
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
        Ok(decode_answer(&buf)?)
    }
}

/// Sends `request` and returns the (successful) answer.
pub fn request<T: DeserializeOwned>(socket: &Path, request: &Request) -> Result<T> {
    let mut c = Connection::connect(socket)?;
    c.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    c.send(request)?;
    c.read_answer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_suffix_is_dropped() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(io_message(&e), "No such file or directory");
        let e = io::Error::other("plain");
        assert_eq!(io_message(&e), "plain");
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
        let v: serde_json::Value = request(&p, &Request::Stats).expect("answer");
        assert_eq!(v["stats"]["a"], 1);
        assert_eq!(t.join().expect("join"), "{\"cmd\":\"stats\"}\n");
    }
}
