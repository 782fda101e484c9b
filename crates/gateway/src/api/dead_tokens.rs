//! `/v1/apps/{app}/dead-tokens?after=<cursor>&limit=<n>`: tokens removed since a cursor.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::problems;
use super::path::{AppPath, Params};
use super::query::params;
use super::{AppState, Problem};
use crate::store::DeadTokenEntry;

/// The most entries one page holds.
const MAX_LIMIT: u32 = 1000;

/// A page of the dead-token feed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadTokenPage {
    /// The entries after the cursor, oldest first.
    items: Vec<DeadTokenEntry>,
    /// The cursor of the next page (`after=`): the last entry's, or the one given when the
    /// page is empty.
    next_cursor: i64,
}

/// Tokens the vendors reported dead since a cursor, oldest first; each registration was
/// removed from the registry unless it was re-registered since.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/dead-tokens",
    tag = "dead-tokens",
    operation_id = "dead_tokens",
    params(
        AppPath,
        ("after" = Option<i64>, Query, minimum = 0,
            description = "A cursor from an earlier page (`next_cursor`); default 0, the start"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000,
            description = "The most entries to return; default 100"),
    ),
    responses(
        (status = 200, description = "A page of the feed", body = DeadTokenPage),
        DeadTokensProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<AppState>,
    Params(AppPath { app }): Params<AppPath>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<DeadTokenPage>, Problem> {
    state.authorize(&headers, &app)?;
    let mut after = 0i64;
    let mut limit = 100u32;
    for (name, value) in params(query.as_deref(), &["after", "limit"])? {
        match name {
            "after" => {
                after = value.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    Problem::invalid_query("after: a cursor from an earlier page, or 0")
                })?;
            }
            _ => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| Problem::invalid_query(format!("limit: 1 to {MAX_LIMIT}")))?;
            }
        }
    }
    let items = state.service.dead_tokens(&app, after, limit).await?;
    let next_cursor = items.last().map_or(after, |e| e.cursor);
    Ok(Json(DeadTokenPage { items, next_cursor }))
}

problems!(
    /// `GET /dead-tokens`.
    DeadTokensProblems: INVALID_PATH, INVALID_QUERY, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP,
    OVERLOADED, TIMEOUT, UNAVAILABLE
);
