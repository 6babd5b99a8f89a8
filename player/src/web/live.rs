//! `GET /api/live/{id}`: follow a live session over a WebSocket.
//!
//! The daemon's `follow` answer names the cast file and the output offset
//! it holds; the socket then speaks asciicast v2 lines (subprotocol
//! `v2.asciicast`, which asciinema-player understands): the header, one
//! `"o"` event with the output so far, then each live output chunk and
//! resize timed from the start of the stream. The server closes the socket
//! (code 1000) when the session ends. Messages from the browser are
//! ignored: following is read-only.

use anyhow::{Context, Result};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sshlog_control::{FollowHello, FollowItem};
use sshlog_format::cast::{format_time, Event};
use std::time::Instant;

use super::daemon::Stream;
use super::recordings;
use super::security::json_error;
use super::server::Shared;
use super::text::Utf8Chunker;

/// The WebSocket subprotocol spoken.
pub const PROTOCOL: &str = "v2.asciicast";

/// The handler: checks the id and that the session is live, then upgrades.
pub async fn follow(
    State(state): State<Shared>,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let id = match recordings::parse_id(&id) {
        Ok(id) => id,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Ok(ws) = ws else {
        return json_error(StatusCode::BAD_REQUEST, "a WebSocket upgrade is expected");
    };
    let (stream, hello) = match state.daemon.follow(&id.to_string()).await {
        Ok(x) => x,
        Err(e) => {
            return json_error(
                StatusCode::NOT_FOUND,
                &format!("cannot follow this session: {e:#}"),
            )
        }
    };
    ws.protocols([PROTOCOL])
        .on_upgrade(move |socket| async move {
            if let Err(e) = pump(socket, stream, hello).await {
                tracing::debug!("live follow ended: {e:#}");
            }
        })
        .into_response()
}

/// The output bytes of `cast` up to `offset`.
fn output_until(cast: &std::path::Path, offset: u64) -> Result<Vec<u8>> {
    let (_, events) = sshlog_format::read_cast_file(cast)
        .with_context(|| format!("cannot read the live cast {}", cast.display()))?;
    let mut out = Vec::new();
    for e in events {
        if let Event::Output { data, .. } = e {
            out.extend_from_slice(&data);
            if out.len() as u64 >= offset {
                break;
            }
        }
    }
    out.truncate(offset as usize);
    Ok(out)
}

fn line(t: f64, code: &str, data: &str) -> Message {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "\"\"".into());
    let t = format_time((t * 1e6) as u64);
    Message::Text(format!("[{t}, \"{code}\", {data}]").into())
}

async fn pump(mut socket: WebSocket, mut stream: Stream, hello: FollowHello) -> Result<()> {
    let header = json!({"version": 2, "width": hello.cols, "height": hello.rows,
        "title": hello.user, "sshlog": {"session_id": hello.session_id,
        "tty": hello.tty}});
    let FollowHello { cast, offset, .. } = hello;
    socket
        .send(Message::Text(header.to_string().into()))
        .await?;
    let before = tokio::task::spawn_blocking(move || output_until(&cast, offset)).await??;
    let mut text = Utf8Chunker::default();
    socket.send(line(0.0, "o", &text.push(&before))).await?;
    let start = Instant::now();
    loop {
        tokio::select! {
            msg = stream.next() => {
                let t = start.elapsed().as_secs_f64();
                match msg? {
                    None => {
                        close(&mut socket, 1011, "sshlogd went away").await;
                        return Ok(());
                    }
                    Some(FollowItem::End { .. }) => {
                        close(&mut socket, 1000, "the session ended").await;
                        return Ok(());
                    }
                    Some(FollowItem::Output { data, .. }) => {
                        socket.send(line(t, "o", &text.push(&data))).await?;
                    }
                    Some(FollowItem::Resize { size: (c, r) }) => {
                        socket.send(line(t, "r", &format!("{c}x{r}"))).await?;
                    }
                    Some(FollowItem::Lagged { .. }) => {}
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_string().into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
