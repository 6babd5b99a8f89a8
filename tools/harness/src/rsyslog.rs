//! A real rsyslogd (Debian's rsyslog) with its own configuration on free
//! loopback ports, writing what it receives to a file, one line per message
//! (`%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%|%rawmsg%`).
//! Killed on drop.

use std::fs;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Rsyslog {
    child: Child,
    /// The file rsyslogd writes every message to.
    pub out: PathBuf,
    pub tcp_port: u16,
    pub udp_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rsyslogd binary, if installed.
pub fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Rsyslog {
    /// Starts `bin` listening on UDP and TCP on 127.0.0.1; waits (bounded)
    /// until it accepts connections.
    pub fn start(bin: &Path) -> Result<Rsyslog> {
        let dir = tempfile::tempdir()?;
        let (tcp_port, udp_port) = (free_tcp_port()?, free_udp_port()?);
        let out = dir.path().join("messages.log");
        let conf = dir.path().join("rsyslog.conf");
        fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}")
template(name="fields" type="string" string="%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%|%rawmsg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
                work = dir.path().display(),
                out = out.display()
            ),
        )?;
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let r = Rsyslog {
            child,
            out,
            tcp_port,
            udp_port,
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", tcp_port)).is_err() {
            if Instant::now() > end {
                bail!("rsyslogd did not start listening on port {tcp_port}");
            }
            thread::sleep(Duration::from_millis(50));
        }
        Ok(r)
    }

    /// The lines received so far, once there are `n` (or `limit` passed).
    pub fn lines(&self, n: usize, limit: Duration) -> Vec<String> {
        let end = Instant::now() + limit;
        loop {
            let text = fs::read_to_string(&self.out).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n || Instant::now() >= end {
                return lines;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}
