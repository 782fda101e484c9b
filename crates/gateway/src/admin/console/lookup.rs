//! The overview, a message's timeline and a user's page.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{age, esc, opt, page, q, time};
use super::{Params, Signed, html, param, service_failure};
use crate::admin::Shared;
use crate::admin::apps::infos;
use crate::store::{DeliveryStatus, MessageStatus};

/// `<select name="app">` of every app, `selected` chosen.
pub(crate) fn app_select(state: &Shared, selected: &str) -> String {
    let mut out = String::from("<select name=\"app\">");
    for app in state.service.apps.load().keys() {
        let mark = if app == selected { " selected" } else { "" };
        let _ = write!(out, "<option{mark}>{}</option>", esc(app));
    }
    out.push_str("</select>");
    out
}

pub(super) async fn overview(State(state): State<Shared>, Signed(session): Signed) -> Response {
    let (now, stats, paused) = match state.service.overview().await {
        Ok(o) => o,
        Err(e) => return service_failure(&session, e),
    };
    let mut body = String::new();
    let apps = state.service.apps.load();
    let first = apps.keys().next().map_or("", String::as_str);
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/console/message\" id=\"find-message\">{} \
         <label>Message id <input name=\"id\" id=\"message-id\" required></label>\
         <button type=\"submit\">Show timeline</button></form>\
         <form method=\"get\" action=\"/console/user\" id=\"find-user\">{} \
         <label>User id <input name=\"user\" id=\"user-id\" required></label>\
         <button type=\"submit\">Show user</button></form>",
        app_select(&state, first),
        app_select(&state, first),
    );
    body.push_str(
        "<h2>Apps</h2><table id=\"apps\"><tr><th>App</th><th>Channels</th><th>Outbox depth</th>\
         <th>Due now</th><th>Oldest due row waiting</th><th>Dead letters</th></tr>",
    );
    for app in infos(&state) {
        let s = stats.iter().find(|s| s.app == app.id);
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><a href=\"/console/dead-letters?app={}\">{}</a></td></tr>",
            esc(&app.id),
            esc(&app.channels.join(", ")),
            s.map_or(0, |s| s.depth),
            s.map_or(0, |s| s.due),
            s.and_then(|s| s.oldest_due_at)
                .map_or_else(|| "—".to_owned(), |at| age(now - at)),
            q(&app.id),
            s.map_or(0, |s| s.dead),
        );
    }
    body.push_str("</table><h2>Route health</h2>");
    if paused.is_empty() {
        body.push_str("<p class=\"ok\" id=\"routes-ok\">No route is paused.</p>");
    } else {
        body.push_str(
            "<table id=\"paused\"><tr><th>App</th><th>Channel</th><th>Paused until</th><th>Why</th></tr>",
        );
        for p in &paused {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.app),
                esc(p.kind.as_str()),
                esc(&p.credential),
                time(p.until),
                esc(&p.reason)
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(body, "<p class=\"note\">As of {}.</p>", time(now));
    html(StatusCode::OK, page("Overview", Some(&session.csrf), &body))
}

fn delivery_row(out: &mut String, user: &str, d: &DeliveryStatus) {
    let paused = d
        .route_paused
        .as_ref()
        .map(|p| format!("until {} ({})", time(p.until_ms), esc(&p.reason)));
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td class=\"state\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(user),
        esc(&d.device_id),
        esc(d.kind.as_str()),
        esc(&d.credential),
        d.state.as_str(),
        d.attempts,
        opt(d.last_outcome.as_deref()),
        opt(d.last_reason.as_deref()),
        time(d.created_at_ms),
        time(d.updated_at_ms),
        d.next_attempt_at_ms.map_or_else(|| "—".to_owned(), time),
        paused.as_deref().unwrap_or("—"),
    );
}

fn timeline(app: &str, status: &MessageStatus) -> String {
    let mut body = format!(
        "<p>App <strong>{}</strong>, message <code id=\"message\">{}</code>, accepted {}.</p>\
         <table id=\"timeline\"><tr><th>User</th><th>Device</th><th>Channel</th><th>State</th><th>Attempts</th>\
         <th>Last outcome</th><th>Last reason</th><th>Created</th><th>Last change</th><th>Next attempt</th><th>Route paused</th></tr>",
        esc(app),
        esc(&status.message_id),
        time(status.created_at_ms)
    );
    let mut suppressed = String::new();
    for r in &status.recipients {
        for d in &r.devices {
            delivery_row(&mut body, &r.user_id, d);
        }
        if let Some(reason) = &r.suppressed {
            let _ = write!(suppressed, "<li>{}: {}</li>", esc(&r.user_id), esc(reason));
        }
        for d in &r.suppressed_devices {
            let _ = write!(
                suppressed,
                "<li>{} / {}: {}</li>",
                esc(&r.user_id),
                esc(&d.device_id),
                esc(&d.reason)
            );
        }
    }
    body.push_str("</table>");
    if !suppressed.is_empty() {
        let _ = write!(
            body,
            "<h2>Suppressed</h2><ul id=\"suppressed\">{suppressed}</ul>"
        );
    }
    body
}

pub(super) async fn message(
    State(state): State<Shared>,
    Signed(session): Signed,
    Params(params): Params,
) -> Response {
    let (app, id) = (param(&params, "app"), param(&params, "id").trim());
    match state.service.status(app, id).await {
        Ok(status) => html(
            StatusCode::OK,
            page("Message", Some(&session.csrf), &timeline(app, &status)),
        ),
        Err(e) => service_failure(&session, e),
    }
}

pub(super) async fn user(
    State(state): State<Shared>,
    Signed(session): Signed,
    Params(params): Params,
) -> Response {
    let (app, user) = (param(&params, "app"), param(&params, "user"));
    let service = &state.service;
    let (devices, settings, recent) = match tokio::try_join!(
        service.devices(app, user),
        service.settings(app, user),
        service.recent_deliveries(app, user)
    ) {
        Ok(found) => found,
        Err(e) => return service_failure(&session, e),
    };
    let mut body = format!(
        "<p>App <strong>{}</strong>, user <strong id=\"user\">{}</strong> · \
         <a href=\"/console/test-push?app={}&amp;user={}\" id=\"test-push-link\">Send a test push</a></p>\
         <h2>Devices</h2>",
        esc(app),
        esc(user),
        q(app),
        q(user)
    );
    if devices.is_empty() {
        body.push_str("<p id=\"no-devices\">No device registered.</p>");
    } else {
        body.push_str(
            "<table id=\"devices\"><tr><th>Device</th><th>Channel</th><th>Login</th><th>Locale</th>\
             <th>Registered</th><th>Updated</th></tr>",
        );
        for d in &devices {
            // The token is never shown.
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.device.device_id),
                esc(d.device.kind.as_str()),
                esc(&d.device.credential),
                d.login.as_str(),
                opt(d.device.locale.as_deref()),
                time(d.created_at),
                time(d.updated_at)
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<h2>Settings</h2><table id=\"settings\"><tr><th>Offline pushes</th><td>{}</td></tr>\
         <tr><th>C2C sound</th><td>{}</td></tr><tr><th>Group sound</th><td>{}</td></tr></table>",
        match settings.enabled {
            Some(true) => "on",
            Some(false) => "off",
            None => "on (default)",
        },
        settings
            .c2c_sound
            .as_deref()
            .map_or_else(|| "default".into(), esc),
        settings
            .group_sound
            .as_deref()
            .map_or_else(|| "default".into(), esc),
    );
    body.push_str("<h2>Last attempts</h2>");
    if recent.is_empty() {
        body.push_str("<p id=\"no-attempts\">No delivery yet.</p>");
    } else {
        body.push_str(
            "<table id=\"attempts\"><tr><th>Message</th><th>Device</th><th>Channel</th><th>State</th>\
             <th>Attempts</th><th>Last outcome</th><th>Last reason</th><th>Last change</th></tr>",
        );
        for d in &recent {
            let _ = write!(
                body,
                "<tr><td><a href=\"/console/message?app={}&amp;id={}\">{}</a></td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                q(app),
                q(&d.message_id),
                esc(&d.message_id),
                esc(&d.device_id),
                esc(d.kind.as_str()),
                d.state.as_str(),
                d.attempts,
                opt(d.last_outcome.as_deref()),
                opt(d.last_reason.as_deref()),
                time(d.updated_at)
            );
        }
        body.push_str("</table>");
    }
    html(StatusCode::OK, page("User", Some(&session.csrf), &body))
}
