//! The axum application: shared state, routes, and serving until SIGINT
//! or SIGTERM.

use anyhow::{Context, Result};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::auth::Sessions;
use super::config::WebConfig;
use super::daemon::Daemon;
use super::ratelimit::Limiter;
use super::{api, assets, fleet, live, login, pages, security};

/// What every handler can reach.
pub struct AppState {
    pub config: WebConfig,
    pub log_dir: PathBuf,
    pub daemon: Daemon,
    pub sessions: Sessions,
    pub limiter: Limiter,
    /// The fleet store, when one is configured (the fleet view).
    pub fleet: Option<sshlog_fleet::FleetStore>,
}

/// The state as handlers get it.
pub type Shared = Arc<AppState>;

/// All routes behind the security middleware.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/", get(pages::sessions))
        .route("/events", get(pages::events))
        .route("/search", get(pages::search))
        .route("/sessions/{id}", get(pages::recording))
        .route("/live/{id}", get(pages::live))
        .route("/fleet", get(fleet::page))
        .route("/fleet/{host}/{id}", get(fleet::recording_page))
        .route("/api/fleet/hosts", get(fleet::hosts))
        .route("/api/fleet/search", get(fleet::search))
        .route("/api/fleet/recordings/{host}/{id}/cast", get(fleet::cast))
        .route("/api/sessions", get(api::sessions))
        .route("/api/events/stream", get(api::events_stream))
        .route("/api/search", get(api::search))
        .route("/api/recordings/{id}", get(api::recording))
        .route("/api/recordings/{id}/cast", get(api::cast))
        .route("/api/live/{id}", get(live::follow))
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

/// Binds and serves until a signal arrives.
pub async fn serve(state: Shared) -> Result<()> {
    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    if state.config.exposed() {
        eprintln!(
            "sshlog web: warning: listening on {bound}, which other machines can reach; \
             put it behind HTTPS and keep secure_cookies on"
        );
        tracing::warn!("listening on a non-loopback address {bound}");
    }
    eprintln!("sshlog web: listening on http://{bound}");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::select! {
        r = axum::serve(listener, app) => r.context("the web server failed"),
        _ = shutdown_signal() => {
            eprintln!("sshlog web: stopping");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
