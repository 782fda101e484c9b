//! "Send a test push": a form, a preview of how the notification will look on iOS and Android
//! (rendered for the user as the accept path renders it), then the send through the accept path.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{esc, page, q};
use super::lookup::app_select;
use super::{Form, Params, Signed, failure_page, html, param, service_failure};
use crate::admin::Shared;
use crate::admin::session::Session;
use crate::auth::generate_key;
use crate::service::{MAX_TEST_TEXT, Preview, Shown, TestPush};

fn form_fields(state: &Shared, app: &str, user: &str, push: &TestPush) -> String {
    format!(
        "{} <label>User id <input name=\"user\" id=\"push-user\" value=\"{}\" required></label>\
         <label>Sender <input name=\"sender\" id=\"push-sender\" value=\"{}\" required></label>\
         <label>Unread (iOS badge) <input name=\"unread\" id=\"push-unread\" type=\"number\" min=\"0\" value=\"{}\"></label><br>\
         <label>Text <textarea name=\"text\" id=\"push-text\" rows=\"3\" cols=\"60\" maxlength=\"{MAX_TEST_TEXT}\" required>{}</textarea></label>",
        app_select(state, app),
        esc(user),
        esc(&push.sender),
        push.unread,
        esc(&push.text)
    )
}

fn form_page(state: &Shared, session: &Session, app: &str, user: &str, push: &TestPush) -> String {
    format!(
        "<form method=\"post\" action=\"/console/test-push\" id=\"test-push\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <p><button type=\"submit\" name=\"action\" value=\"preview\" id=\"preview\">Preview</button></p></form>",
        esc(&session.csrf),
        form_fields(state, app, user, push)
    )
}

pub(super) async fn form(
    State(state): State<Shared>,
    Signed(session): Signed,
    Params(params): Params,
) -> Response {
    let push = TestPush {
        sender: "console".to_owned(),
        text: "Test push from the pushway console".to_owned(),
        unread: 1,
    };
    let body = form_page(
        &state,
        &session,
        param(&params, "app"),
        param(&params, "user"),
        &push,
    );
    html(
        StatusCode::OK,
        page("Send a test push", Some(&session.csrf), &body),
    )
}

fn card(out: &mut String, id: &str, platform: &str, shown: &Shown) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"{id}\"><h3>{}</h3><div class=\"title\">{}</div><div class=\"body\">{}</div>\
         <p class=\"note\">Sound: <span class=\"sound\">{}</span> · Badge: <span class=\"badge\">{}</span>{}</p></div>",
        esc(platform),
        esc(&shown.title),
        esc(&shown.body),
        esc(&shown.sound),
        shown
            .badge
            .map_or_else(|| "—".to_owned(), |b| b.to_string()),
        if shown.shortened {
            " · <strong class=\"shortened\">shortened to fit</strong>"
        } else {
            ""
        }
    );
}

fn preview_html(preview: &Preview) -> String {
    let mut out = String::from("<h2>Preview</h2>");
    if let Some(reason) = &preview.suppressed {
        let _ = write!(
            out,
            "<p class=\"bad\" id=\"preview-suppressed\">This user would get nothing: {}.</p>",
            esc(reason)
        );
    }
    out.push_str("<div class=\"cards\">");
    for (id, platform, shown) in [
        ("preview-ios", "iOS (APNs)", &preview.ios),
        (
            "preview-xiaomi",
            "Android (Xiaomi: title < 50, text < 128 characters)",
            &preview.xiaomi,
        ),
        ("preview-android", "Android (FCM, Huawei)", &preview.android),
    ] {
        if let Some(shown) = shown {
            card(&mut out, id, platform, shown);
        }
    }
    out.push_str("</div>");
    if !preview.devices.is_empty() {
        out.push_str(
            "<table id=\"preview-devices\"><tr><th>Device</th><th>Channel</th><th>What happens</th></tr>",
        );
        for (device, channel, what) in &preview.devices {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(device),
                esc(channel),
                esc(what)
            );
        }
        out.push_str("</table>");
    }
    out
}

pub(super) async fn post(
    State(state): State<Shared>,
    Signed(session): Signed,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::signed(&headers, &body, &session) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(unread) = form.get("unread").parse::<u32>() else {
        return failure_page(
            Some(&session),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unread: a whole number from 0",
        );
    };
    let push = TestPush {
        sender: form.get("sender").to_owned(),
        // Browsers post a textarea's line breaks as CRLF.
        text: form.get("text").replace("\r\n", "\n"),
        unread,
    };
    let (app, user) = (form.get("app"), form.get("user"));
    if form.get("action") == "send" {
        let key = form.get("key");
        return match state.service.send_test(app, user, key, &push).await {
            Ok(accepted) => {
                let body = format!(
                    "<p id=\"sent\">Accepted as message <a href=\"/console/message?app={}&amp;id={}\" id=\"sent-message\">{}</a>.</p>",
                    q(app),
                    q(&accepted.message_id),
                    esc(&accepted.message_id)
                );
                html(
                    StatusCode::OK,
                    page("Test push sent", Some(&session.csrf), &body),
                )
            }
            Err(e) => service_failure(&session, e),
        };
    }
    let preview = match state.service.preview(app, user, &push).await {
        Ok(p) => p,
        Err(e) => return service_failure(&session, e),
    };
    // The send form carries the previewed fields and an idempotency key, so the push sent is
    // the one previewed and a form posted twice sends once.
    let mut body = form_page(&state, &session, app, user, &push);
    body.push_str(&preview_html(&preview));
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/test-push\" id=\"send-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"app\" value=\"{}\">\
         <input type=\"hidden\" name=\"user\" value=\"{}\"><input type=\"hidden\" name=\"sender\" value=\"{}\">\
         <input type=\"hidden\" name=\"unread\" value=\"{}\"><input type=\"hidden\" name=\"text\" value=\"{}\">\
         <input type=\"hidden\" name=\"key\" value=\"console-{}\">\
         <button type=\"submit\" name=\"action\" value=\"send\" id=\"send\">Send this push</button></form>",
        esc(&session.csrf),
        esc(app),
        esc(user),
        esc(&push.sender),
        push.unread,
        esc(&push.text),
        esc(&generate_key()),
    );
    html(
        StatusCode::OK,
        page("Send a test push", Some(&session.csrf), &body),
    )
}
