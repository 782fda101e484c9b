//! `GET /admin/v1/apps/{app}/dead-letters?reason=&since_ms=&until_ms=&cursor=&limit=` and
//! `POST /admin/v1/apps/{app}/dead-letters/replay`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::Shared;
use crate::api::Problem;
use crate::api::json;
use crate::api::path::{AppPath, Params};
use crate::service::MAX_REPLAY;
use crate::store::{DeadLetter, DeadLetterFilter, NotReplayed, Replayed};

/// The most dead letters one page holds.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// A page of dead letters.
#[derive(Debug, Serialize)]
pub(crate) struct DeadLetterPage {
    /// Oldest first.
    items: Vec<DeadLetter>,
    /// `cursor=` for the next page; absent when this page is the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<i64>,
}

/// A listing's query: the filter, the cursor and the page size.
pub(crate) struct ListQuery {
    pub(crate) filter: DeadLetterFilter,
    pub(crate) cursor: i64,
    pub(crate) limit: u32,
}

/// Parses `reason=&since_ms=&until_ms=&cursor=&limit=` (percent-decoded; empty values are
/// absent, as an HTML form sends them); unknown parameters are refused.
pub(crate) fn list_query(raw: Option<&str>) -> Result<ListQuery, Problem> {
    let mut query = ListQuery {
        filter: DeadLetterFilter::default(),
        cursor: 0,
        limit: 100,
    };
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let time = |v: &str| {
            v.parse::<i64>()
                .ok()
                .filter(|t| *t >= 0)
                .ok_or_else(|| Problem::invalid_query(format!("{name}: Unix milliseconds")))
        };
        if value.is_empty() && name != "cursor" && name != "limit" {
            continue;
        }
        match &*name {
            "reason" => query.filter.reason = Some(value.into_owned()),
            "since_ms" => query.filter.since_ms = Some(time(&value)?),
            "until_ms" => query.filter.until_ms = Some(time(&value)?),
            "cursor" => {
                query.cursor = value.parse().ok().filter(|c| *c >= 0).ok_or_else(|| {
                    Problem::invalid_query("cursor: a next_cursor from an earlier page, or 0")
                })?;
            }
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| Problem::invalid_query(format!("limit: 1 to {MAX_LIMIT}")))?;
            }
            other => {
                return Err(Problem::invalid_query(format!(
                    "unknown parameter {other:?}"
                )));
            }
        }
    }
    Ok(query)
}

pub(super) async fn list(
    State(state): State<Shared>,
    Params(AppPath { app }): Params<AppPath>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<DeadLetterPage>, Problem> {
    state.gate.authorize(&headers)?;
    let query = list_query(raw.as_deref())?;
    let items = state
        .service
        .dead_letters(&app, &query.filter, query.cursor, query.limit)
        .await?;
    let full = items.len() == usize::try_from(query.limit).unwrap_or(usize::MAX);
    let next_cursor = items.last().map(|d| d.id).filter(|_| full);
    Ok(Json(DeadLetterPage { items, next_cursor }))
}

/// What to replay: `ids`, or the dead letters matching `filter` (up to `limit`, default and
/// most 1000, oldest first).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    #[serde(default)]
    ids: Option<Vec<i64>>,
    #[serde(default)]
    filter: Option<DeadLetterFilter>,
    #[serde(default)]
    limit: Option<u32>,
}

/// One dead letter left as it was.
#[derive(Debug, Serialize)]
pub(crate) struct Refused {
    id: i64,
    reason: NotReplayed,
}

/// What a replay did.
#[derive(Debug, Serialize)]
pub(crate) struct ReplayAnswer {
    /// How many were made pending again.
    replayed: usize,
    /// Which, in the order asked.
    replayed_ids: Vec<i64>,
    /// Which were not, and why.
    not_replayed: Vec<Refused>,
}

impl From<Replayed> for ReplayAnswer {
    fn from(r: Replayed) -> Self {
        ReplayAnswer {
            replayed: r.replayed.len(),
            replayed_ids: r.replayed,
            not_replayed: r
                .not_replayed
                .into_iter()
                .map(|(id, reason)| Refused { id, reason })
                .collect(),
        }
    }
}

pub(super) async fn replay(
    State(state): State<Shared>,
    Params(AppPath { app }): Params<AppPath>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReplayAnswer>, Problem> {
    state.gate.authorize(&headers)?;
    let (request, _) = json::parse::<ReplayRequest>(&headers, body)?;
    let replayed = match (request.ids, request.filter, request.limit) {
        (Some(ids), None, None) => {
            if ids.len() > MAX_REPLAY {
                return Err(Problem::invalid(
                    "ids",
                    format!("at most {MAX_REPLAY} ids at once"),
                ));
            }
            state.service.replay(&app, &ids).await?
        }
        (None, Some(filter), limit) => {
            let max = u32::try_from(MAX_REPLAY).unwrap_or(u32::MAX);
            let limit = limit.unwrap_or(max);
            if !(1..=max).contains(&limit) {
                return Err(Problem::invalid("limit", format!("1 to {max}")));
            }
            state.service.replay_matching(&app, &filter, limit).await?
        }
        (Some(_), _, _) => {
            return Err(Problem::invalid(
                "ids",
                "give either ids or a filter (with an optional limit), not both",
            ));
        }
        (None, None, _) => return Err(Problem::invalid(".", "ids or filter is required")),
    };
    Ok(Json(replayed.into()))
}
