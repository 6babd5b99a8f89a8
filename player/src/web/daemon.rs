//! Asynchronous client of sshlogd's control socket (the protocol is the
//! `sshlog-control` crate's): one-shot requests, `report` of web_login
//! events, and the long-lived `watch` and `follow` streams.

use anyhow::{anyhow, bail, Result};
use chrono::Utc;
use serde::de::DeserializeOwned;
use sshlog_control::SessionList;
use sshlog_control::{decode_answer, decode_item, Ack, FollowHello, Request, SessionInfo};
use sshlog_format::sidecar::{Record, SessionEvent};
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
    /// The next line; `None` when the daemon closed the connection.
    async fn next_line(&mut self) -> Result<Option<String>> {
        let Some(line) = self.lines.next_line().await? else {
            return Ok(None);
        };
        if line.len() > MAX_LINE {
            bail!("answer line from sshlogd too long");
        }
        Ok(Some(line))
    }

    /// The next streamed item (a [`WatchItem`] or a
    /// [`FollowItem`](sshlog_control::FollowItem)); `None` when the daemon
    /// closed the connection.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        match self.next_line().await? {
            Some(line) => Ok(Some(decode_item(line.as_bytes())?)),
            None => Ok(None),
        }
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

    /// Sends `request`; returns the stream and its decoded first answer.
    async fn open<T: DeserializeOwned>(&self, request: &Request) -> Result<(Stream, T)> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            anyhow!(
                "cannot connect to sshlogd at {}: {}",
                self.socket.display(),
                crate::control::io_message(&e)
            )
        })?;
        let (r, mut w) = stream.into_split();
        w.write_all(request.line().as_bytes()).await?;
        let mut s = Stream {
            lines: BufReader::new(r).lines(),
            _writer: w,
        };
        let first = tokio::time::timeout(TIMEOUT, s.next_line())
            .await
            .map_err(|_| anyhow!("sshlogd did not answer in time"))??
            .ok_or_else(|| anyhow!("sshlogd closed the connection without answering"))?;
        let answer = decode_answer(first.as_bytes())?;
        Ok((s, answer))
    }

    /// The live sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let (_, list): (_, SessionList) = self.open(&Request::Sessions).await?;
        Ok(list.sessions)
    }

    /// Starts a `watch` stream (read it as [`WatchItem`](sshlog_control::WatchItem)s).
    pub async fn watch(&self, user: Option<&str>, types: &[String]) -> Result<Stream> {
        let req = Request::Watch {
            user: user.map(str::to_string),
            types: types.to_vec(),
        };
        let (stream, Ack {}) = self.open(&req).await?;
        Ok(stream)
    }

    /// Starts following a live session.
    pub async fn follow(&self, target: &str) -> Result<(Stream, FollowHello)> {
        let req = Request::Follow {
            target: target.to_string(),
        };
        self.open(&req).await
    }

    /// Reports a web login attempt as a `web_login` event. Never fails: when
    /// the daemon is unreachable the attempt is only logged here.
    pub async fn report_login(&self, user: &str, ip: IpAddr, success: bool, reason: Option<&str>) {
        let event = SessionEvent::WebLogin {
            user: user.to_string(),
            client_ip: ip.to_string(),
            success,
            reason: reason.map(str::to_string),
        };
        let req = Request::Report {
            record: Box::new(Record::new(Utc::now(), None, event)),
        };
        if let Err(e) = self.open::<Ack>(&req).await {
            tracing::warn!(
                user,
                client_ip = %ip,
                success,
                "cannot report the web login to sshlogd: {e:#}"
            );
        }
    }
}
