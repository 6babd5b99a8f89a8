//! A test-owned syslog socket: a Unix datagram socket that receives what
//! syslog(3) sends to `/dev/log` (one message a datagram, `<PRI>TIMESTAMP
//! TAG[PID]: TEXT`) and keeps it, for an sshd whose `/dev/log` points here.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// Receives syslog datagrams on a socket until dropped.
#[derive(Debug)]
pub struct SyslogReceiver {
    path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SyslogReceiver {
    /// Binds `path` (world-writable, as `/dev/log` is: sshd's children log
    /// from unprivileged processes too) and starts receiving.
    pub fn bind(path: &Path) -> Result<SyslogReceiver> {
        let sock =
            UnixDatagram::bind(path).with_context(|| format!("binding {}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .with_context(|| format!("chmod {}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .context("socket timeout")?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (messages.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    m.lock().unwrap_or_else(|p| p.into_inner()).push(text);
                }
            }
        });
        Ok(SyslogReceiver {
            path: path.to_path_buf(),
            messages,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every message received so far, one a line.
    pub fn text(&self) -> String {
        let m = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = m.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

impl Drop for SyslogReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_datagram_as_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.sock");
        let r = SyslogReceiver::bind(&path).expect("bind");
        let c = UnixDatagram::unbound().expect("socket");
        c.send_to(
            b"<38>Dec  1 10:00:00 sshd[1]: Accepted publickey for a",
            &path,
        )
        .expect("send");
        c.send_to(b"<38>Dec  1 10:00:01 sshd[1]: second", &path)
            .expect("send");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !r.text().contains("second") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(r.text().lines().count(), 2, "{}", r.text());
        assert!(r
            .text()
            .starts_with("<38>Dec  1 10:00:00 sshd[1]: Accepted"));
        drop(r);
        assert!(!path.exists(), "socket removed on drop");
    }
}
