//! The dead letters page: filter, page, and replay the checked rows or every matching row.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{esc, opt, page, q, time};
use super::lookup::app_select;
use super::{Form, Params, Signed, failure_page, html, param, service_failure};
use crate::admin::Shared;
use crate::admin::dead_letters::list_query;
use crate::service::MAX_REPLAY;
use crate::store::{DeadLetterFilter, NotReplayed};

/// Rows a console page shows.
const PAGE: u32 = 100;

pub(super) async fn list(
    State(state): State<Shared>,
    Signed(session): Signed,
    Params(params): Params,
) -> Response {
    let first = state
        .service
        .apps
        .load()
        .keys()
        .next()
        .cloned()
        .unwrap_or_default();
    let app = match param(&params, "app") {
        "" => first,
        app => app.to_owned(),
    };
    // The same parameters as the admin API's listing, less `app`.
    let rest: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "app").collect();
    let rest = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&rest)
        .finish();
    let mut listing = match list_query(Some(&rest)) {
        Ok(l) => l,
        Err(_) => {
            return failure_page(
                Some(&session),
                StatusCode::BAD_REQUEST,
                "reason, since_ms, until_ms (Unix ms) and cursor are the filters",
            );
        }
    };
    listing.limit = PAGE;
    let items = match state
        .service
        .dead_letters(&app, &listing.filter, listing.cursor, listing.limit)
        .await
    {
        Ok(items) => items,
        Err(e) => return service_failure(&session, e),
    };
    let f = &listing.filter;
    let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut body = format!(
        "<form method=\"get\" action=\"/console/dead-letters\" id=\"filter\">{} \
         <label>Reason <input name=\"reason\" value=\"{}\"></label>\
         <label>Since (Unix ms) <input name=\"since_ms\" value=\"{}\"></label>\
         <label>Until (Unix ms) <input name=\"until_ms\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        app_select(&state, &app),
        esc(f.reason.as_deref().unwrap_or("")),
        num(f.since_ms),
        num(f.until_ms),
    );
    if items.is_empty() {
        body.push_str("<p id=\"no-dead-letters\">No dead letters.</p>");
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/dead-letters/replay\" id=\"replay\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"app\" value=\"{}\">\
             <table id=\"dead-letters\"><tr><th></th><th>Id</th><th>Message</th><th>User</th><th>Device</th>\
             <th>Channel</th><th>Attempts</th><th>Last outcome</th><th>Last reason</th><th>Dead since</th></tr>",
            esc(&session.csrf),
            esc(&app)
        );
        for d in &items {
            let _ = write!(
                body,
                "<tr><td><input type=\"checkbox\" name=\"id\" value=\"{id}\" id=\"dl-{id}\"></td><td>{id}</td>\
                 <td><a href=\"/console/message?app={}&amp;id={}\">{}</a></td><td>{}</td><td>{}</td><td>{}/{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                q(&app),
                q(&d.message_id),
                esc(&d.message_id),
                esc(&d.user_id),
                esc(&d.device_id),
                esc(d.kind.as_str()),
                esc(&d.credential),
                d.attempts,
                opt(d.last_outcome.as_deref()),
                opt(d.last_reason.as_deref()),
                time(d.dead_at_ms),
                id = d.id,
            );
        }
        body.push_str(
            "</table><button type=\"submit\" id=\"replay-checked\">Replay the checked rows</button></form>",
        );
        // Every row matching the filter, not only this page's.
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/dead-letters/replay\" id=\"replay-all\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"app\" value=\"{}\">\
             <input type=\"hidden\" name=\"all\" value=\"1\"><input type=\"hidden\" name=\"reason\" value=\"{}\">\
             <input type=\"hidden\" name=\"since_ms\" value=\"{}\"><input type=\"hidden\" name=\"until_ms\" value=\"{}\">\
             <button type=\"submit\">Replay every matching row (up to {MAX_REPLAY})</button></form>",
            esc(&session.csrf),
            esc(&app),
            esc(f.reason.as_deref().unwrap_or("")),
            num(f.since_ms),
            num(f.until_ms),
        );
        if items.len() == usize::try_from(PAGE).unwrap_or(usize::MAX)
            && let Some(last) = items.last()
        {
            let mut next = vec![("app".to_owned(), app.clone())];
            if let Some(r) = &f.reason {
                next.push(("reason".to_owned(), r.clone()));
            }
            for (k, v) in [("since_ms", f.since_ms), ("until_ms", f.until_ms)] {
                if let Some(v) = v {
                    next.push((k.to_owned(), v.to_string()));
                }
            }
            next.push(("cursor".to_owned(), last.id.to_string()));
            let next = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&next)
                .finish();
            let _ = write!(
                body,
                "<p><a href=\"/console/dead-letters?{}\">Next page</a></p>",
                esc(&next)
            );
        }
    }
    html(
        StatusCode::OK,
        page("Dead letters", Some(&session.csrf), &body),
    )
}

pub(super) async fn replay(
    State(state): State<Shared>,
    Signed(session): Signed,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::signed(&headers, &body, &session) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let app = form.get("app");
    let result = if form.get("all") == "1" {
        let time = |v: &str| v.parse::<i64>().ok();
        let filter = DeadLetterFilter {
            reason: Some(form.get("reason").to_owned()).filter(|r| !r.is_empty()),
            since_ms: time(form.get("since_ms")),
            until_ms: time(form.get("until_ms")),
        };
        let max = u32::try_from(MAX_REPLAY).unwrap_or(u32::MAX);
        state.service.replay_matching(app, &filter, max).await
    } else {
        let ids: Vec<i64> = form.all("id").filter_map(|v| v.parse().ok()).collect();
        if ids.is_empty() {
            return failure_page(
                Some(&session),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Check the rows to replay first.",
            );
        }
        state.service.replay(app, &ids).await
    };
    let replayed = match result {
        Ok(r) => r,
        Err(e) => return service_failure(&session, e),
    };
    let mut out = format!(
        "<p id=\"replayed\">Replayed {} dead letter{}.</p>",
        replayed.replayed.len(),
        if replayed.replayed.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    if !replayed.not_replayed.is_empty() {
        out.push_str("<h2>Not replayed</h2><ul id=\"not-replayed\">");
        for (id, why) in &replayed.not_replayed {
            let why = match why {
                NotReplayed::Unknown => "no such dead letter",
                NotReplayed::NotDead => "not dead (replayed or delivered already)",
                NotReplayed::DeviceGone => "the device is no longer registered",
                NotReplayed::TokenChanged => "the device has another token now",
                NotReplayed::LoggedOut => "the device is logged out",
            };
            let _ = write!(out, "<li>{id}: {why}</li>");
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "<p><a href=\"/console/dead-letters?app={}\">Back to the dead letters</a></p>",
        q(app)
    );
    html(StatusCode::OK, page("Replay", Some(&session.csrf), &out))
}
