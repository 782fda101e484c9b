//! `GET /metrics`: its own router, so it can be mounted on the API listener (today, without a
//! key, like `/readyz`) or on an admin listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Metrics;
use super::scrape::Scraper;
use crate::api::Problem;
use crate::app::LiveApps;
use crate::service::Clock;
use crate::store::Store;

/// The Prometheus text format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A router answering `GET /metrics` with `metrics` and the series read from `store`, `apps`
/// (route health, quarantines, daemon connections) at `clock`'s now.
pub fn metrics_router(
    metrics: Metrics,
    store: Arc<dyn Store>,
    apps: Arc<LiveApps>,
    clock: Arc<dyn Clock>,
) -> Router {
    let scraper = Arc::new(Scraper::new(metrics, store, apps, clock));
    Router::new()
        .route("/metrics", get(scrape))
        // As the API answers: a problem, not an empty 405.
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            )
        })
        .with_state(scraper)
}

async fn scrape(State(scraper): State<Arc<Scraper>>) -> Response {
    match scraper.scrape().await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            // A scrape that fails is a signal Prometheus keeps (`up` = 0); a partial one with
            // stale backlog gauges would not be.
            tracing::error!(error = %e, "metrics: reading the store failed");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Store unavailable",
            )
            .retry_after(1)
            .into_response()
        }
    }
}
