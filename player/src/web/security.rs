//! The middleware every request passes: login check (API → 401 JSON,
//! pages → 303 to /login), same-origin and CSRF checks on state-changing
//! requests, and the security headers on every response.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::{constant_time_eq, Login, SESSION_COOKIE};
use super::server::Shared;

/// Content-Security-Policy of every response. The player compiles its
/// terminal emulator from WebAssembly, hence `'wasm-unsafe-eval'`.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Largest form body read when looking for the `csrf` field.
const MAX_FORM: usize = 64 * 1024;

/// Paths that need no login.
fn is_public(path: &str) -> bool {
    path == "/login" || path == "/favicon.ico" || path.starts_with("/assets/")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request's `Origin` (when sent) is this server.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(HeaderValue::to_str),
    ) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// A JSON error body with `status`.
pub fn json_error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "error": msg }))).into_response()
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The `csrf` field of a urlencoded form body, and the request rebuilt.
async fn form_csrf(req: Request) -> Result<(Option<String>, Request), Response> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| json_error(StatusCode::PAYLOAD_TOO_LARGE, "form too large"))?;
    let token = serde_urlencoded_field(&bytes, "csrf");
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

/// One field of an `application/x-www-form-urlencoded` body.
fn serde_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let k = url_decode(kv.next()?);
        (k == name).then(|| url_decode(kv.next().unwrap_or_default()))
    })
}

/// Decodes `+` and `%XX` of a form value (invalid escapes are kept).
pub fn url_decode(s: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks the login, origin and CSRF token, then adds the headers.
pub async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut resp = check_and_run(&state, &path, req, next).await;
    add_headers(resp.headers_mut(), &path);
    resp
}

async fn check_and_run(state: &Shared, path: &str, mut req: Request, next: Next) -> Response {
    let unsafe_method = is_unsafe(req.method());
    if (unsafe_method || req.headers().contains_key(header::UPGRADE)) && !same_origin(req.headers())
    {
        return json_error(StatusCode::FORBIDDEN, "cross-origin request refused");
    }
    let login: Option<Login> =
        cookie(req.headers(), SESSION_COOKIE).and_then(|t| state.sessions.get(t));
    if is_public(path) {
        if let Some(l) = login {
            req.extensions_mut().insert(l);
        }
        return next.run(req).await;
    }
    let Some(login) = login else {
        if is_api(path) {
            return json_error(StatusCode::UNAUTHORIZED, "login required");
        }
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    };
    if unsafe_method {
        let header_token = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (token, rebuilt) = match header_token {
            Some(t) => (Some(t), req),
            None => match form_csrf(req).await {
                Ok(x) => x,
                Err(resp) => return resp,
            },
        };
        req = rebuilt;
        let ok = token.is_some_and(|t| constant_time_eq(t.as_bytes(), login.csrf.as_bytes()));
        if !ok {
            return json_error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
        }
    }
    req.extensions_mut().insert(login);
    next.run(req).await
}

fn add_headers(h: &mut HeaderMap, path: &str) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    if path.starts_with("/assets/") {
        set(h, "cache-control", "no-cache");
    } else {
        set(h, "cache-control", "no-store");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sshlog_session=xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn origins_are_compared_with_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8640"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8640"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
    }

    #[test]
    fn form_fields_are_read() {
        assert_eq!(
            serde_urlencoded_field(b"a=1&csrf=x%2By", "csrf").as_deref(),
            Some("x+y")
        );
        assert_eq!(serde_urlencoded_field(b"a=1", "csrf"), None);
        assert_eq!(url_decode(b"a%2"), "a%2");
        assert_eq!(url_decode(b"%zz+%41"), "%zz A");
    }
}
