//! The fleet view: hosts, search and playback across hosts, read from the
//! fleet store (`store:` in web.yaml, or `SSHLOG_STORE`). Searches read the
//! index catalogs (metadata: user, time, command), never the casts; a cast
//! is fetched when it is played.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{Duration, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sshlog_fleet::fleet::{user_prefilter, IndexQuery};
use sshlog_fleet::FleetStore;

use super::auth::Login;
use super::pages::layout;
use super::recordings;
use super::search::parse_time;
use super::security::json_error;
use super::server::Shared;
use super::text::html_escape as esc;

/// Days searched when no `since` is given.
const DEFAULT_DAYS: i64 = 7;
/// Most sessions returned.
const MAX_RESULTS: usize = 500;

fn no_store() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "no fleet store is configured (store: in the web settings, or SSHLOG_STORE)",
    )
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::warn!("fleet store: {e}");
    json_error(StatusCode::BAD_GATEWAY, "the fleet store cannot be read")
}

/// A host id as keys carry it: nothing that could leave its prefix.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 128
        && h != "."
        && h != ".."
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `GET /api/fleet/hosts`: every host that uploaded, with what it said of
/// itself (`host.json`).
pub async fn hosts(State(state): State<Shared>) -> Response {
    let Some(store) = &state.fleet else {
        return no_store();
    };
    let ids = match store.hosts().await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    let hosts: Vec<Value> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let info = store
                .get_if_any(&store.layout.host_info(&id))
                .await
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            json!({
                "host": id,
                "hostname": info["hostname"],
                "sshlog_version": info["sshlog_version"],
                "updated": info["updated"],
            })
        })
        .buffered(16)
        .collect()
        .await;
    Json(json!({ "hosts": hosts })).into_response()
}

/// Query of `GET /api/fleet/search`.
#[derive(Debug, Deserialize)]
pub struct FleetParams {
    host: Option<String>,
    user: Option<String>,
    cmd: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
}

/// A session found in the fleet.
#[derive(Debug, Serialize)]
struct FleetHit {
    host: String,
    session_id: String,
    started: String,
    user: Option<String>,
    client: Option<String>,
    tty: Option<String>,
    ended: bool,
    duration: f64,
    has_cast: bool,
    commands: Vec<FleetCommand>,
}

#[derive(Debug, Serialize)]
struct FleetCommand {
    offset: f64,
    argv: String,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /api/fleet/search`: sessions of every host (or `host`), newest
/// first, by user, command (substring) and start time (last 7 days unless
/// `since`).
pub async fn search(State(state): State<Shared>, Query(p): Query<FleetParams>) -> Response {
    let Some(store) = &state.fleet else {
        return no_store();
    };
    let now = Utc::now();
    let mut times = [None, None];
    for (slot, (name, v)) in times
        .iter_mut()
        .zip([("since", &p.since), ("until", &p.until)])
    {
        if let Some(s) = given(v) {
            match parse_time(s, now) {
                Some(t) => *slot = Some(t),
                None => {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid {name}: expected RFC 3339, YYYY-MM-DD or an age like 2h"),
                    )
                }
            }
        }
    }
    let since = times[0].unwrap_or(now - Duration::days(DEFAULT_DAYS));
    let until = times[1].unwrap_or(now);
    let hosts = match given(&p.host) {
        Some(h) if !valid_host(h) => return json_error(StatusCode::BAD_REQUEST, "invalid host"),
        Some(h) => vec![h.to_string()],
        None => match store.hosts().await {
            Ok(h) => h,
            Err(e) => return store_error(e),
        },
    };
    let user = given(&p.user).map(str::to_string);
    let q = IndexQuery {
        days: since.date_naive()..=until.date_naive(),
        grams: false,
        contains: user.as_deref().map(user_prefilter),
    };
    let entries = match store.entries(&hosts, &q).await {
        Ok(e) => e,
        Err(e) => return store_error(e),
    };
    let scanned = entries.len();
    let cmd = given(&p.cmd).map(str::to_lowercase);
    let mut hits: Vec<FleetHit> = entries
        .into_iter()
        .filter(|f| f.entry.start >= since && f.entry.start <= until)
        .filter(|f| user.is_none() || f.entry.user == user)
        .filter(|f| {
            cmd.as_deref().is_none_or(|c| {
                f.entry
                    .commands
                    .iter()
                    .any(|k| k.argv.to_lowercase().contains(c))
            })
        })
        .map(|f| FleetHit {
            session_id: f.entry.id.to_string(),
            started: f.entry.start.to_rfc3339(),
            client: f.entry.client(),
            user: f.entry.user.clone(),
            tty: f.entry.tty.clone(),
            ended: f.entry.closed,
            duration: (f.entry.end - f.entry.start).num_milliseconds().max(0) as f64 / 1000.0,
            has_cast: f.entry.cast.is_some(),
            commands: f
                .entry
                .commands
                .iter()
                .filter(|k| {
                    cmd.as_deref()
                        .is_none_or(|c| k.argv.to_lowercase().contains(c))
                })
                .take(20)
                .map(|k| FleetCommand {
                    offset: k.t_us as f64 / 1e6,
                    argv: k.argv.clone(),
                })
                .collect(),
            host: f.host,
        })
        .collect();
    hits.sort_by(|a, b| b.started.cmp(&a.started));
    let limit = p.limit.unwrap_or(100).clamp(1, MAX_RESULTS);
    let truncated = hits.len() > limit;
    hits.truncate(limit);
    Json(json!({ "sessions": hits, "scanned": scanned, "truncated": truncated })).into_response()
}

/// The cast of `id` on `host`, fetched into a temporary file.
async fn fetch_cast(
    store: &FleetStore,
    host: &str,
    id: uuid::Uuid,
) -> Result<Option<tempfile::NamedTempFile>, sshlog_fleet::FleetError> {
    let found = store.find_session(&[host.to_string()], id).await?;
    let Some(rel) = found.and_then(|f| f.entry.cast) else {
        return Ok(None);
    };
    let bytes = store.get(&store.layout.session_file(host, &rel)).await?;
    let local = |e: std::io::Error| sshlog_fleet::FleetError::Local(e.to_string());
    let mut file = tempfile::Builder::new()
        .prefix("sshlog-web-")
        .suffix(".cast.zst")
        .tempfile()
        .map_err(local)?;
    std::io::Write::write_all(&mut file, &bytes).map_err(local)?;
    Ok(Some(file))
}

/// `GET /api/fleet/recordings/{host}/{id}/cast`: the recording as
/// asciicast v2 text.
pub async fn cast(
    State(state): State<Shared>,
    Path((host, id)): Path<(String, String)>,
) -> Response {
    let Some(store) = &state.fleet else {
        return no_store();
    };
    if !valid_host(&host) {
        return json_error(StatusCode::BAD_REQUEST, "invalid host");
    }
    let Ok(id) = recordings::parse_id(&id) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid session id");
    };
    let file = match fetch_cast(store, &host, id).await {
        Ok(Some(f)) => f,
        Ok(None) => return json_error(StatusCode::NOT_FOUND, "no such recording"),
        Err(e) => return store_error(e),
    };
    let text = tokio::task::spawn_blocking(move || recordings::cast_v2_text(file.path())).await;
    match text {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "application/x-asciicast; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        _ => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the recording",
        ),
    }
}

/// `/fleet`: the hosts and a search across them; the script fills both.
pub async fn page(State(state): State<Shared>, Extension(login): Extension<Login>) -> Html<String> {
    let body = if state.fleet.is_none() {
        r#"<h1>Fleet</h1><p class="status">No fleet store is configured: set <code>store:</code> in the web settings (see docs/fleet.md).</p>"#.to_string()
    } else {
        r#"<h1>Fleet</h1>
<h2>Hosts</h2>
<table class="hosts"><thead><tr><th>Host id</th><th>Hostname</th><th>sshlog</th><th>Last upload</th></tr></thead><tbody id="hosts"></tbody></table>
<h2>Search the fleet</h2>
<form id="fleet-form" class="filters" method="get" action="/fleet">
<label>Host <input name="host" placeholder="every host"></label>
<label>User <input name="user"></label>
<label>Command contains <input name="cmd"></label>
<label>Since <input name="since" placeholder="7d"></label>
<label>Until <input name="until" placeholder="now"></label>
<button type="submit">Search</button>
</form>
<p class="status" id="status"></p>
<div id="results"></div>"#
            .to_string()
    };
    Html(layout("Fleet", "fleet", Some(&login), &body))
}

/// `/fleet/{host}/{id}`: a recording of the fleet, played from the store.
pub async fn recording_page(
    Extension(login): Extension<Login>,
    Path((host, id)): Path<(String, String)>,
) -> Response {
    let (Ok(id), true) = (recordings::parse_id(&id), valid_host(&host)) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(layout(
                "Error",
                "error",
                Some(&login),
                "<h1>400</h1><p class=\"error\">invalid host or session id</p>",
            )),
        )
            .into_response();
    };
    let body = format!(
        r#"<h1>Recording <code>{id}</code> on <code>{host}</code></h1>
<p class="meta"><a href="/api/fleet/recordings/{host}/{id}/cast" download="{id}.cast">Download .cast</a></p>
<div id="player" class="player" data-cast="/api/fleet/recordings/{host}/{id}/cast"></div>"#,
        id = esc(&id.to_string()),
        host = esc(&host),
    );
    Html(layout(
        "Fleet recording",
        "fleet-recording",
        Some(&login),
        &body,
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_cannot_leave_their_prefix() {
        for ok in ["web-1", "0123abcd", "db.example.org", "a_b"] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "h%2F",
            &"x".repeat(129),
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }
}
