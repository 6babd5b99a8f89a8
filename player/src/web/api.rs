//! The JSON API (see docs/api.md and docs/openapi.yaml): live sessions and
//! events from sshlogd, search, recordings and their casts from the log
//! directory. Errors are `{"error": "..."}` with a fitting status.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sshlog_control::WatchItem;
use std::convert::Infallible;
use std::time::Duration;

use super::recordings::{self, RecError};
use super::search::{self, Query as SearchQuery};
use super::security::json_error;
use super::server::Shared;

fn rec_error(e: RecError) -> Response {
    match e {
        RecError::BadId => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
        RecError::NotFound => json_error(StatusCode::NOT_FOUND, &e.to_string()),
        RecError::Other(e) => {
            tracing::warn!("reading a recording failed: {e:#}");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the recording",
            )
        }
    }
}

fn daemon_down(e: anyhow::Error) -> Response {
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("sshlogd is not reachable: {e:#}"),
    )
}

/// Anything unknown (for logged-in users).
pub async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not found")
}

/// `GET /api/sessions`.
pub async fn sessions(State(state): State<Shared>) -> Response {
    match state.daemon.sessions().await {
        Ok(s) => Json(json!({ "sessions": s })).into_response(),
        Err(e) => daemon_down(e),
    }
}

/// Filters of the event stream.
#[derive(Debug, Deserialize)]
pub struct EventFilter {
    user: Option<String>,
    /// Comma-separated event types.
    #[serde(rename = "type")]
    types: Option<String>,
}

/// `GET /api/events/stream`: Server-Sent Events, one `event` per daemon
/// event (data: `{"record":…,"line":…}`), `lagged` when events were dropped,
/// `end` when the daemon goes away.
pub async fn events_stream(State(state): State<Shared>, Query(f): Query<EventFilter>) -> Response {
    let types: Vec<String> = f
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    if types
        .iter()
        .any(|t| t.len() > 64 || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return json_error(StatusCode::BAD_REQUEST, "invalid event type");
    }
    let user = f.user.filter(|u| !u.is_empty());
    let stream = match state.daemon.watch(user.as_deref(), &types).await {
        Ok(s) => s,
        Err(e) => return daemon_down(e),
    };
    let events = futures_util::stream::unfold(Some(stream), |s| async move {
        let mut s = s?;
        let ev = match s.next::<WatchItem<Value>>().await {
            Ok(Some(item @ WatchItem::Lagged { .. })) => SseEvent::default()
                .event("lagged")
                .data(item.line().trim_end()),
            Ok(Some(item)) => SseEvent::default()
                .event("event")
                .data(item.line().trim_end()),
            Ok(None) | Err(_) => {
                let ev = SseEvent::default().event("end").data("{}");
                return Some((Ok::<_, Infallible>(ev), None));
            }
        };
        Some((Ok(ev), Some(s)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Query of `GET /api/search`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    user: Option<String>,
    cmd: Option<String>,
    since: Option<String>,
    until: Option<String>,
    output: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/search`.
pub async fn search(State(state): State<Shared>, Query(p): Query<SearchParams>) -> Response {
    let now = chrono::Utc::now();
    let time = |v: &Option<String>| -> Result<_, ()> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => search::parse_time(s, now).map(Some).ok_or(()),
        }
    };
    let bad_time = |name: &str| {
        json_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid {name}: expected RFC 3339, YYYY-MM-DD or an age like 2h"),
        )
    };
    let Ok(since) = time(&p.since) else {
        return bad_time("since");
    };
    let Ok(until) = time(&p.until) else {
        return bad_time("until");
    };
    let q = SearchQuery {
        since,
        until,
        user: p.user,
        cmd: p.cmd,
        output: p.output,
        limit: p.limit.unwrap_or(50),
    };
    let log_dir = state.log_dir.clone();
    match tokio::task::spawn_blocking(move || search::search(&log_dir, &q)).await {
        Ok(Ok(r)) => Json(r).into_response(),
        Ok(Err(e)) => {
            tracing::warn!("search failed: {e:#}");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "search failed")
        }
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "search failed"),
    }
}

/// Query of `GET /api/recordings/{id}`.
#[derive(Debug, Deserialize)]
pub struct RecordingParams {
    /// Also report where this text appears in the output.
    output: Option<String>,
}

/// `GET /api/recordings/{id}`: metadata and command timeline.
pub async fn recording(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(p): Query<RecordingParams>,
) -> Response {
    let id = match recordings::parse_id(&id) {
        Ok(id) => id,
        Err(e) => return rec_error(e),
    };
    let log_dir = state.log_dir.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<Value, RecError> {
        let paths = recordings::locate(&log_dir, id)?;
        let rec = recordings::load(&paths, id)?;
        let mut v = serde_json::to_value(&rec).map_err(anyhow::Error::from)?;
        if let Some(text) = p.output.filter(|s| !s.is_empty()) {
            let hits = if rec.has_cast {
                search::output_hits(&paths.cast, &text, search::MAX_OUTPUT_HITS)?
            } else {
                Vec::new()
            };
            v["output_hits"] = serde_json::to_value(hits).map_err(anyhow::Error::from)?;
        }
        Ok(v)
    })
    .await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => rec_error(e),
        Err(e) => rec_error(RecError::Other(e.into())),
    }
}

/// `GET /api/recordings/{id}/cast`: the recording as asciicast v2 text.
pub async fn cast(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let id = match recordings::parse_id(&id) {
        Ok(id) => id,
        Err(e) => return rec_error(e),
    };
    let log_dir = state.log_dir.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<String, RecError> {
        let paths = recordings::locate(&log_dir, id)?;
        if !paths.cast.is_file() {
            return Err(RecError::NotFound);
        }
        Ok(recordings::cast_v2_text(&paths.cast)?)
    })
    .await;
    match r {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "application/x-asciicast; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(e)) => rec_error(e),
        Err(e) => rec_error(RecError::Other(e.into())),
    }
}
