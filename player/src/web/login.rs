//! Logging in and out.
//!
//! The login form carries a CSRF token that must equal the
//! `sshlog_login_csrf` cookie set with the form (double submit), so other
//! sites cannot log a browser in. Failures are rate-limited per client IP
//! and per user ([`super::ratelimit`]) and every attempt is reported to
//! sshlogd as a `web_login` event.

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

use super::auth::{
    constant_time_eq, random_token, verify_password, Login, LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use super::pages::login_page;
use super::security::cookie;
use super::server::Shared;

/// Longest user name or password accepted.
const MAX_FIELD: usize = 1024;

/// A `Set-Cookie` value with the console's attributes.
fn set_cookie(state: &Shared, name: &str, value: &str, path: &str, max_age: Duration) -> String {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// A login page with a fresh form token (and its cookie).
fn fresh_form(state: &Shared, status: StatusCode, error: Option<&str>) -> Response {
    let token = random_token();
    let resp = (status, Html(login_page(&token, error))).into_response();
    let c = set_cookie(
        state,
        LOGIN_CSRF_COOKIE,
        &token,
        "/login",
        Duration::from_secs(3600),
    );
    with_cookie(resp, &c)
}

/// `GET /login`.
pub async fn form(State(state): State<Shared>, login: Option<Extension<Login>>) -> Response {
    if login.is_some() {
        return Redirect::to("/").into_response();
    }
    fresh_form(&state, StatusCode::OK, None)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let ip = peer.ip();
    let form_ok = cookie(&headers, LOGIN_CSRF_COOKIE)
        .is_some_and(|c| !f.csrf.is_empty() && constant_time_eq(c.as_bytes(), f.csrf.as_bytes()));
    if !form_ok {
        return fresh_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form expired; please try again."),
        );
    }
    let user: String = f.user.chars().take(MAX_FIELD).collect();
    if let Some(wait) = state.limiter.check(ip, &user) {
        tracing::warn!(user, client_ip = %ip, "web login refused: too many failed attempts");
        let secs = wait.as_secs().max(1);
        let mut resp = fresh_form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed logins; try again in {secs} seconds."
            )),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let right_user = constant_time_eq(user.as_bytes(), state.config.user.as_bytes());
    let hash = state.config.password_hash.clone();
    let password = f.password;
    // Always verify (also for a wrong user), so timing tells nothing.
    let right_password = password.len() <= MAX_FIELD
        && tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .unwrap_or(false);
    if !(right_user && right_password) {
        state.limiter.failed(ip, &user);
        let reason = if right_user {
            "bad password"
        } else {
            "unknown user"
        };
        tracing::warn!(user, client_ip = %ip, reason, "web login failed");
        let daemon = state.daemon.clone();
        tokio::spawn(async move { daemon.report_login(&user, ip, false, Some(reason)).await });
        return fresh_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong user name or password."),
        );
    }
    tracing::info!(user, client_ip = %ip, "web login");
    let (token, _) = state.sessions.create(&user);
    let daemon = state.daemon.clone();
    tokio::spawn(async move { daemon.report_login(&user, ip, true, None).await });
    let resp = Redirect::to("/").into_response();
    let resp = with_cookie(
        resp,
        &set_cookie(&state, SESSION_COOKIE, &token, "/", state.sessions.ttl()),
    );
    with_cookie(
        resp,
        &set_cookie(&state, LOGIN_CSRF_COOKIE, "", "/login", Duration::ZERO),
    )
}

/// `POST /logout` (the CSRF token was checked by the middleware).
pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.remove(t);
    }
    let resp = Redirect::to("/login").into_response();
    with_cookie(
        resp,
        &set_cookie(&state, SESSION_COOKIE, "", "/", Duration::ZERO),
    )
}
