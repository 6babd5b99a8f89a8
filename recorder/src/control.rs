//! The control socket: a Unix stream socket speaking JSON lines.
//!
//! A client sends one request line and reads answer lines:
//! - `{"cmd":"ping"}` → `{"ok":true,"version":"…"}`
//! - `{"cmd":"sessions"}` → `{"ok":true,"sessions":[SessionInfo…]}`
//! - `{"cmd":"stats"}` → `{"ok":true,"stats":{…}}`
//! - `{"cmd":"watch","user":"bob","types":["command_start"]}` → `{"ok":true}` then one
//!   `{"record":{…},"line":"…"}` per event until the client hangs up.
//! - `{"cmd":"follow","target":"pts/3"}` → `{"ok":true,"session_id","cast","offset",
//!   "cols","rows","user","tty"}`, then `{"o":"<base64>","offset":N}` output chunks,
//!   `{"r":[cols,rows]}` resizes and finally `{"end":true}`. The cast file already holds
//!   every output byte before the first `offset`.
//! - `{"cmd":"inject","target":"pts/3","data":"<base64>"}` → `{"ok":true}` when
//!   `allow_injection` is set; the injection is logged with the caller's uid.
//! - `{"cmd":"report","record":{…}}` → `{"ok":true}`: another sshlog component (the
//!   web console) reports an event of its own into the event log, watchers and
//!   actions. Only `web_login` records are accepted, so session events cannot be
//!   forged.
//!
//! Anything else gets `{"ok":false,"error":"…"}`. See docs/architecture.md.

use crate::daemon::Shared;
use crate::live::{FollowStart, Live, Target};
use crate::tracker::Sink;
use anyhow::{Context, Result};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sshlog_format::sidecar::Record;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast;

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
enum Request {
    Ping,
    Sessions,
    Stats,
    Watch {
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        types: Vec<String>,
    },
    Follow {
        target: String,
    },
    Inject {
        target: String,
        data: String,
    },
    Report {
        record: Box<Record>,
    },
}

/// Parses one request line as the daemon does; returns the command's name.
/// (Public for the fuzz target `control_request`.)
pub fn parse_request(line: &[u8]) -> Result<&'static str, String> {
    let req: Request = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    Ok(match req {
        Request::Ping => "ping",
        Request::Sessions => "sessions",
        Request::Stats => "stats",
        Request::Watch { .. } => "watch",
        Request::Follow { .. } => "follow",
        Request::Inject { .. } => "inject",
        Request::Report { .. } => "report",
    })
}

/// An event as broadcast to watchers: the record and its event-log line.
pub type Broadcast = Arc<(Record, String)>;

/// Binds the control socket (a std listener, non-blocking, for tokio later).
pub fn bind(path: &Path) -> Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        // A socket left by a crashed sshlogd; refuse if one is still answering.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("another sshlogd is already listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    l.set_nonblocking(true)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Ok(Some(g)) = nix::unistd::Group::from_name("sshlog") {
        let _ = nix::unistd::chown(path, None, Some(g.gid));
    }
    Ok(l)
}

pub async fn serve(
    listener: UnixListener,
    shared: Arc<Mutex<Shared>>,
    tx: broadcast::Sender<Broadcast>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = shared.clone();
                let rx = tx.subscribe();
                tokio::spawn(async move {
                    if let Err(e) = client(stream, shared, rx).await {
                        tracing::debug!("control client: {e:#}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("control socket accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn client(
    stream: UnixStream,
    shared: Arc<Mutex<Shared>>,
    mut rx: broadcast::Receiver<Broadcast>,
) -> Result<()> {
    let peer_uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let Some(line) = lines.next_line().await? else {
        return Ok(());
    };
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            let msg = json!({"ok": false, "error": format!("bad request: {e}")});
            w.write_all(format!("{msg}\n").as_bytes()).await?;
            return Ok(());
        }
    };
    let reply = match req {
        Request::Ping => json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}),
        Request::Sessions => {
            let s = shared
                .lock()
                .map_err(|_| anyhow::anyhow!("state poisoned"))?;
            json!({"ok": true, "sessions": s.tracker.sessions()})
        }
        Request::Stats => {
            let s = shared
                .lock()
                .map_err(|_| anyhow::anyhow!("state poisoned"))?;
            json!({"ok": true, "stats": s.stats_json()})
        }
        Request::Follow { target } => {
            let start = {
                let mut s = shared
                    .lock()
                    .map_err(|_| anyhow::anyhow!("state poisoned"))?;
                s.tracker.follow(&Target::parse(&target))
            };
            match start {
                Ok(start) => return follow(start, w, lines).await,
                Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
            }
        }
        Request::Inject { target, data } => {
            let bytes = match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
                Ok(b) => b,
                Err(e) => {
                    let msg = json!({"ok": false, "error": format!("data is not base64: {e}")});
                    w.write_all(format!("{msg}\n").as_bytes()).await?;
                    return Ok(());
                }
            };
            let mut s = shared
                .lock()
                .map_err(|_| anyhow::anyhow!("state poisoned"))?;
            let Shared { tracker, sink, .. } = &mut *s;
            match tracker.inject(&Target::parse(&target), &bytes, peer_uid, sink) {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
            }
        }
        Request::Report { record } => {
            if record.event.type_name() != "web_login" {
                json!({"ok": false, "error": "only web_login events can be reported"})
            } else {
                let mut s = shared
                    .lock()
                    .map_err(|_| anyhow::anyhow!("state poisoned"))?;
                s.sink
                    .emit(&record, &crate::tracker::SessionContext::default());
                json!({"ok": true})
            }
        }
        Request::Watch { user, types } => {
            w.write_all(b"{\"ok\":true}\n").await?;
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Ok(b) => {
                            let (rec, line) = &*b;
                            if !watch_matches(rec, user.as_deref(), &types) { continue; }
                            let out = json!({"record": rec, "line": line});
                            w.write_all(format!("{out}\n").as_bytes()).await?;
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            let out = json!({"lagged": n});
                            w.write_all(format!("{out}\n").as_bytes()).await?;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                    l = lines.next_line() => if l?.is_none() { return Ok(()) },
                }
            }
        }
    };
    w.write_all(format!("{reply}\n").as_bytes()).await?;
    Ok(())
}

/// Streams a followed session until it ends or the client hangs up.
async fn follow(
    start: FollowStart,
    mut w: tokio::net::unix::OwnedWriteHalf,
    mut lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
) -> Result<()> {
    let FollowStart {
        session_id,
        cast,
        offset,
        cols,
        rows,
        user,
        tty,
        mut rx,
    } = start;
    let hello = json!({"ok": true, "session_id": session_id, "cast": cast, "offset": offset,
        "cols": cols, "rows": rows, "user": user, "tty": tty});
    w.write_all(format!("{hello}\n").as_bytes()).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Ok(item) => {
                    let (id, live) = &*item;
                    if *id != session_id { continue; }
                    let out = match live {
                        Live::Output { offset: o, data } => {
                            let end = o + data.len() as u64;
                            if end <= offset { continue; }
                            let skip = offset.saturating_sub(*o) as usize;
                            json!({"o": b64.encode(&data[skip..]), "offset": o + skip as u64})
                        }
                        Live::Resize { cols, rows } => json!({"r": [cols, rows]}),
                        Live::End => {
                            w.write_all(b"{\"end\":true}\n").await?;
                            return Ok(());
                        }
                    };
                    w.write_all(format!("{out}\n").as_bytes()).await?;
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let out = json!({"lagged": n});
                    w.write_all(format!("{out}\n").as_bytes()).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            l = lines.next_line() => if l?.is_none() { return Ok(()) },
        }
    }
}

fn watch_matches(rec: &Record, user: Option<&str>, types: &[String]) -> bool {
    let v = serde_json::to_value(rec).unwrap_or_default();
    if !types.is_empty() {
        let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if !types.iter().any(|t| t == ty) {
            return false;
        }
    }
    match user {
        Some(u) => v.get("user").and_then(|x| x.as_str()) == Some(u),
        None => true,
    }
}
