//! Asynchronous client of sshlogd's control socket (JSON lines, see
//! `recorder/src/control.rs`): one-shot requests, `report` of web_login
//! events, and the long-lived `watch` and `follow` streams.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// How long a one-shot request may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest answer line accepted from the daemon (a follow chunk is at most
/// a few hundred KiB of base64).
const MAX_LINE: usize = 16 << 20;

/// An open stream of answer lines (watch or follow). Dropping it hangs up.
pub struct Stream {
    lines: Lines<BufReader<OwnedReadHalf>>,
    _writer: OwnedWriteHalf,
}

impl Stream {
    /// The next line as JSON; `None` when the daemon closed the connection.
    pub async fn next(&mut self) -> Result<Option<Value>> {
        let Some(line) = self.lines.next_line().await? else {
            return Ok(None);
        };
        if line.len() > MAX_LINE {
            bail!("answer line from sshlogd too long");
        }
        let v = serde_json::from_str(&line).context("unexpected answer from sshlogd")?;
        Ok(Some(v))
    }
}

/// The daemon at `socket`.
#[derive(Debug, Clone)]
pub struct Daemon {
    socket: PathBuf,
}

impl Daemon {
    pub fn new(socket: &Path) -> Daemon {
        Daemon {
            socket: socket.to_path_buf(),
        }
    }

    async fn open(&self, request: &Value) -> Result<(Stream, Value)> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            anyhow!(
                "cannot connect to sshlogd at {}: {}",
                self.socket.display(),
                crate::control::io_message(&e)
            )
        })?;
        let (r, mut w) = stream.into_split();
        w.write_all(format!("{request}\n").as_bytes()).await?;
        let mut s = Stream {
            lines: BufReader::new(r).lines(),
            _writer: w,
        };
        let first = tokio::time::timeout(TIMEOUT, s.next())
            .await
            .map_err(|_| anyhow!("sshlogd did not answer in time"))??
            .ok_or_else(|| anyhow!("sshlogd closed the connection without answering"))?;
        crate::control::check_ok(&first)?;
        Ok((s, first))
    }

    /// Sends one request and returns the successful answer.
    pub async fn request(&self, request: &Value) -> Result<Value> {
        Ok(self.open(request).await?.1)
    }

    /// The live sessions (the daemon's `sessions` array).
    pub async fn sessions(&self) -> Result<Value> {
        let v = self.request(&json!({"cmd": "sessions"})).await?;
        Ok(v.get("sessions").cloned().unwrap_or_else(|| json!([])))
    }

    /// Starts a `watch` stream.
    pub async fn watch(&self, user: Option<&str>, types: &[String]) -> Result<Stream> {
        let mut req = json!({"cmd": "watch"});
        if let Some(u) = user {
            req["user"] = json!(u);
        }
        if !types.is_empty() {
            req["types"] = json!(types);
        }
        Ok(self.open(&req).await?.0)
    }

    /// Starts following a live session; returns the stream and the hello
    /// line (`session_id`, `cast`, `offset`, `cols`, `rows`, ...).
    pub async fn follow(&self, target: &str) -> Result<(Stream, Value)> {
        self.open(&json!({"cmd": "follow", "target": target})).await
    }

    /// Reports a web login attempt as a `web_login` event. Never fails: when
    /// the daemon is unreachable the attempt is only logged here.
    pub async fn report_login(&self, user: &str, ip: IpAddr, success: bool, reason: Option<&str>) {
        let record = json!({
            "schema": sshlog_format::SCHEMA_VERSION,
            "ts": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            "type": "web_login",
            "user": user,
            "client_ip": ip.to_string(),
            "success": success,
            "reason": reason,
        });
        let req = json!({"cmd": "report", "record": record});
        if let Err(e) = self.request(&req).await {
            tracing::warn!(
                user,
                client_ip = %ip,
                success,
                "cannot report the web login to sshlogd: {e:#}"
            );
        }
    }
}
