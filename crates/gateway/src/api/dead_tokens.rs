//! `/v1/apps/{app}/dead-tokens?after=<cursor>&limit=<n>`: tokens removed since a cursor.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;

use super::path::Params;
use super::query::params;
use super::{AppState, Problem};

/// The most entries one page holds.
const MAX_LIMIT: u32 = 1000;

pub(super) async fn get(
    State(state): State<AppState>,
    Params(app): Params<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, Problem> {
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
    let next = items.last().map_or(after, |e| e.cursor);
    Ok(Json(
        serde_json::json!({ "items": items, "next_cursor": next }),
    ))
}
