//! Server-rendered HTML pages. They are small shells: the data comes from
//! the JSON API through `/assets/app.js` (no inline scripts: the CSP allows
//! only scripts from this server). Everything interpolated is escaped.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;

use super::auth::Login;
use super::recordings::{self, RecError};
use super::server::Shared;
use super::text::html_escape as esc;

/// A whole page: head, navigation (with the logout form) and `body`.
pub fn layout(title: &str, page: &str, login: Option<&Login>, body: &str) -> String {
    let nav = match login {
        Some(l) => format!(
            r#"<nav><a class="brand" href="/">sshlog</a>
<a href="/" data-nav="sessions">Live sessions</a>
<a href="/events" data-nav="events">Events</a>
<a href="/search" data-nav="search">Search</a>
<a href="/fleet" data-nav="fleet">Fleet</a>
<span class="spacer"></span>
<span class="who">{user}</span>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Log out</button></form>
</nav>"#,
            user = esc(&l.user),
            csrf = esc(&l.csrf)
        ),
        None => r#"<nav><span class="brand">sshlog</span></nav>"#.to_string(),
    };
    let csrf_meta = login
        .map(|l| format!(r#"<meta name="csrf-token" content="{}">"#, esc(&l.csrf)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{csrf_meta}
<title>{title} · sshlog</title>
<link rel="stylesheet" href="/assets/style.css">
<link rel="stylesheet" href="/assets/asciinema-player.css">
</head>
<body data-page="{page}">
{nav}
<main>
{body}
</main>
<script src="/assets/asciinema-player.min.js"></script>
<script src="/assets/app.js"></script>
</body></html>
"#,
        title = esc(title),
        page = esc(page),
    )
}

/// The login page. `error` is shown above the form.
pub fn login_page(csrf: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<section class="login">
<h1>Log in</h1>
{error}
<form method="post" action="/login" id="login-form">
<input type="hidden" name="csrf" value="{csrf}">
<label>User <input name="user" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
</section>"#,
        csrf = esc(csrf)
    );
    layout("Log in", "login", None, &body)
}

/// `/`: the live sessions.
pub async fn sessions(Extension(login): Extension<Login>) -> Html<String> {
    let body = r#"<h1>Live sessions</h1>
<p class="status" id="status">Loading…</p>
<table id="sessions" class="grid">
<thead><tr><th>User</th><th>Client</th><th>TTY</th><th>Started</th><th>Last activity</th><th>Last command</th><th></th></tr></thead>
<tbody></tbody>
</table>"#;
    Html(layout("Live sessions", "sessions", Some(&login), body))
}

/// `/events`: live events.
pub async fn events(Extension(login): Extension<Login>) -> Html<String> {
    let body = r#"<h1>Events</h1>
<form id="event-filter" class="filters">
<label>User <input name="user"></label>
<label>Types <input name="type" placeholder="command_start,file_upload"></label>
<button type="submit">Apply</button>
</form>
<p class="status" id="status">Connecting…</p>
<ol id="events" class="events"></ol>"#;
    Html(layout("Events", "events", Some(&login), body))
}

/// `/search`: the search form; results are fetched by the script.
pub async fn search(Extension(login): Extension<Login>) -> Html<String> {
    let body = r#"<h1>Search recordings</h1>
<form id="search-form" class="filters" method="get" action="/search">
<label>User <input name="user"></label>
<label>Command contains <input name="cmd"></label>
<label>Output contains <input name="output"></label>
<label>Since <input name="since" placeholder="2h, 3d, 2026-01-31"></label>
<label>Until <input name="until" placeholder="now"></label>
<button type="submit">Search</button>
</form>
<p class="status" id="status"></p>
<div id="results"></div>"#;
    Html(layout("Search", "search", Some(&login), body))
}

fn error_page(login: &Login, status: StatusCode, msg: &str) -> Response {
    let body = format!(
        r#"<h1>{}</h1><p class="error">{}</p><p><a href="/">Back</a></p>"#,
        status.as_u16(),
        esc(msg)
    );
    (status, Html(layout("Error", "error", Some(login), &body))).into_response()
}

/// `/sessions/{id}`: player and command timeline of a recording.
pub async fn recording(
    State(state): State<Shared>,
    Extension(login): Extension<Login>,
    Path(id): Path<String>,
) -> Response {
    let id = match recordings::parse_id(&id) {
        Ok(id) => id,
        Err(e) => return error_page(&login, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(e) = recordings::locate(&state.log_dir, id) {
        let status = match e {
            RecError::BadId => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        };
        return error_page(&login, status, &e.to_string());
    }
    let body = format!(
        r#"<h1>Recording <code>{id}</code></h1>
<p class="meta" id="meta"></p>
<div class="controls">
<label>Speed <select id="speed">
<option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option><option value="8">8×</option>
</select></label>
<label><input type="checkbox" id="all-commands"> all commands</label>
<a href="/api/recordings/{id}/cast" download="{id}.cast">Download .cast</a>
</div>
<div class="player-layout">
<div id="player" class="player" data-id="{id}"></div>
<aside><h2>Commands</h2><ol id="timeline" class="timeline"></ol>
<h2 id="hits-title" hidden>Search hits</h2><ol id="hits" class="timeline"></ol></aside>
</div>"#,
        id = esc(&id.to_string())
    );
    Html(layout("Recording", "recording", Some(&login), &body)).into_response()
}

/// `/live/{id}`: follow a live session.
pub async fn live(Extension(login): Extension<Login>, Path(id): Path<String>) -> Response {
    let id = match recordings::parse_id(&id) {
        Ok(id) => id,
        Err(e) => return error_page(&login, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let body = format!(
        r#"<h1>Live <code>{id}</code></h1>
<p class="status" id="status">Connecting…</p>
<div id="player" class="player" data-id="{id}"></div>
<p><a href="/sessions/{id}">Recording so far</a></p>"#,
        id = esc(&id.to_string())
    );
    Html(layout("Live", "live", Some(&login), &body)).into_response()
}
