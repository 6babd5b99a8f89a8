//! The control socket's server: accepts clients on the Unix socket and
//! answers each one's [`Request`] (the protocol is defined once, in the
//! `sshlog-control` crate; see its docs and docs/architecture.md).
//!
//! `inject` is logged with the caller's uid; `report` accepts only
//! `web_login` records, so session events cannot be forged.

use crate::daemon::Shared;
use crate::live::{FollowStart, Live, Target};
use crate::tracker::Sink;
use anyhow::{Context, Result};
use sshlog_control::{
    answer_line, refusal_line, Ack, FollowItem, Pong, Purged, PurgedRecording, Request,
    SessionList, StatsAnswer, WatchItem,
};
use sshlog_format::sidecar::Record;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast;

/// An event as broadcast to watchers: the record and its event-log line.
pub type Broadcast = Arc<(Record, String)>;

/// Lines from the client after its request (read only to notice hang-ups).
type ClientLines = tokio::io::Lines<BufReader<OwnedReadHalf>>;

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

fn lock(shared: &Mutex<Shared>) -> Result<std::sync::MutexGuard<'_, Shared>> {
    shared.lock().map_err(|_| anyhow::anyhow!("state poisoned"))
}

async fn client(
    stream: UnixStream,
    shared: Arc<Mutex<Shared>>,
    rx: broadcast::Receiver<Broadcast>,
) -> Result<()> {
    let peer_uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let Some(line) = lines.next_line().await? else {
        return Ok(());
    };
    let req = match Request::parse(line.as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            w.write_all(refusal_line(&e.to_string()).as_bytes()).await?;
            return Ok(());
        }
    };
    let reply = match req {
        Request::Ping => answer_line(&Pong {
            version: env!("CARGO_PKG_VERSION").to_string(),
        }),
        Request::Sessions => answer_line(&SessionList {
            sessions: lock(&shared)?.tracker.sessions(),
        }),
        Request::Stats => answer_line(&StatsAnswer {
            stats: lock(&shared)?.stats(),
        }),
        Request::Follow { target } => {
            let start = lock(&shared)?.tracker.follow(&Target::parse(&target));
            match start {
                Ok(start) => return follow(start, w, lines).await,
                Err(e) => refusal_line(&format!("{e:#}")),
            }
        }
        Request::Inject { target, data } => {
            let mut s = lock(&shared)?;
            let Shared { tracker, sink, .. } = &mut *s;
            match tracker.inject(&Target::parse(&target), &data, peer_uid, sink) {
                Ok(()) => answer_line(&Ack {}),
                Err(e) => refusal_line(&format!("{e:#}")),
            }
        }
        Request::Kill { target } => {
            let mut s = lock(&shared)?;
            let Shared { tracker, sink, .. } = &mut *s;
            match tracker.kill(&Target::parse(&target), peer_uid, sink) {
                Ok(()) => answer_line(&Ack {}),
                Err(e) => refusal_line(&format!("{e:#}")),
            }
        }
        Request::Purge {
            ids,
            user,
            before,
            reason,
        } => {
            if peer_uid != 0 {
                refusal_line("only root may purge recordings")
            } else if ids.is_empty() && user.is_none() && before.is_none() {
                refusal_line("name what to purge: session ids, or a user and/or a time")
            } else {
                let deleter = lock(&shared)?.deleter.clone();
                let reason = format!("purge by uid {peer_uid}: {reason}");
                let done = tokio::task::spawn_blocking(move || {
                    crate::retention::purge(&deleter, &ids, user.as_deref(), before, &reason)
                })
                .await
                .context("purge")?;
                match done {
                    Ok(deleted) => {
                        let answer = Purged {
                            deleted: deleted
                                .iter()
                                .map(|d| PurgedRecording {
                                    id: d.recording.id,
                                    user: d.recording.user.clone(),
                                    started: d.recording.started,
                                    bytes: d.recording.bytes,
                                })
                                .collect(),
                        };
                        lock(&shared)?.report_deleted(deleted);
                        answer_line(&answer)
                    }
                    Err(e) => refusal_line(&format!("{e:#}")),
                }
            }
        }
        Request::Report { record } => {
            if record.event.type_name() != "web_login" {
                refusal_line("only web_login events can be reported")
            } else {
                lock(&shared)?
                    .sink
                    .emit(&record, &crate::tracker::SessionContext::default());
                answer_line(&Ack {})
            }
        }
        Request::Watch { user, types } => return watch(user, types, w, lines, rx).await,
    };
    w.write_all(reply.as_bytes()).await?;
    Ok(())
}

/// Streams matching events until the client hangs up.
async fn watch(
    user: Option<String>,
    types: Vec<String>,
    mut w: OwnedWriteHalf,
    mut lines: ClientLines,
    mut rx: broadcast::Receiver<Broadcast>,
) -> Result<()> {
    w.write_all(answer_line(&Ack {}).as_bytes()).await?;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let out = match ev {
                    Ok(b) => {
                        let (record, line) = &*b;
                        if !watch_matches(record, user.as_deref(), &types) { continue; }
                        WatchItem::Event { record, line: line.clone() }.line()
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        WatchItem::<&Record>::Lagged { lagged: n }.line()
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                w.write_all(out.as_bytes()).await?;
            },
            l = lines.next_line() => if l?.is_none() { return Ok(()) },
        }
    }
}

/// Streams a followed session until it ends or the client hangs up.
async fn follow(start: FollowStart, mut w: OwnedWriteHalf, mut lines: ClientLines) -> Result<()> {
    let FollowStart { hello, mut rx } = start;
    w.write_all(answer_line(&hello).as_bytes()).await?;
    let (session_id, offset) = (hello.session_id, hello.offset);
    loop {
        tokio::select! {
            item = rx.recv() => {
                let out = match item {
                    Ok(item) => {
                        let (id, live) = &*item;
                        if *id != session_id { continue; }
                        match live {
                            Live::Output { offset: o, data } => {
                                let end = o + data.len() as u64;
                                if end <= offset { continue; }
                                let skip = offset.saturating_sub(*o) as usize;
                                FollowItem::Output { data: data[skip..].to_vec(), offset: o + skip as u64 }
                            }
                            Live::Resize { cols, rows } => FollowItem::Resize { size: (*cols, *rows) },
                            Live::End => {
                                w.write_all(FollowItem::End { end: true }.line().as_bytes()).await?;
                                return Ok(());
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => FollowItem::Lagged { lagged: n },
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                w.write_all(out.line().as_bytes()).await?;
            },
            l = lines.next_line() => if l?.is_none() { return Ok(()) },
        }
    }
}

fn watch_matches(rec: &Record, user: Option<&str>, types: &[String]) -> bool {
    if !types.is_empty() && !types.iter().any(|t| t == rec.event.type_name()) {
        return false;
    }
    match user {
        Some(u) => {
            let v = serde_json::to_value(rec).unwrap_or_default();
            v.get("user").and_then(|x| x.as_str()) == Some(u)
        }
        None => true,
    }
}
