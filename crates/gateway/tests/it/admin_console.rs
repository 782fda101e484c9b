//! The console over HTTP: login and session cookie, CSRF, escaping of hostile ids and text, the
//! overview's numbers, the test push's preview and send, a dead letter replayed from its page.
//! (The same flows in a real browser: tests/console/run.sh.)

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin::{ADMIN_KEY, with_admin};
use crate::console_client::{Browser, between};
use crate::support::{Harness, KEY, c2c, devices_of};

const APNS_TOKEN: &str = "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd";

#[tokio::test]
async fn the_console_takes_a_login_with_the_admin_key() {
    let h = Harness::start_with(|config, _| with_admin(config)).await;
    let mut b = Browser::new(&h);
    let page = b.get("/console").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/console/login"));
    assert!(b.get("/console/login").await.text.contains("id=\"key\""));
    for wrong in [KEY, "", "pw_test_admin_keY"] {
        let page = b.post("/console/login", &[("key", wrong)]).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert_eq!(page.set_cookie, None);
        assert!(
            page.text
                .contains("<p class=\"bad\" id=\"login-failed\">Wrong admin key.</p>")
        );
    }
    let page = b.post("/console/login", &[("key", ADMIN_KEY)]).await;
    assert_eq!(page.location.as_deref(), Some("/console"));
    let cookie = page.set_cookie.expect("cookie");
    let (value, attributes) = cookie.split_once(';').expect("attributes");
    assert!(value.starts_with("pushway_admin=pw_"), "{cookie}");
    assert_eq!(
        attributes,
        " Path=/; HttpOnly; SameSite=Strict; Max-Age=28800"
    );
    // The admin key as a bearer is no session for the console.
    let bearer = b
        .http
        .get(format!("{}/console", b.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), StatusCode::SEE_OTHER);

    b.login().await;
    let page = b.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(
        "<tr><td>demo</td><td>apns_production&#x2F;demo, apns_sandbox&#x2F;demo, fcm&#x2F;demo, huawei&#x2F;demo, xiaomi&#x2F;demo</td><td>0</td><td>0</td><td>—</td>"
    ), "{}", page.text);
    assert!(
        page.text
            .contains("<p class=\"ok\" id=\"routes-ok\">No route is paused.</p>")
    );
    // Logging out needs the page's CSRF token; then the cookie opens nothing.
    let forged = b.post("/console/logout", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/console").await.status, StatusCode::OK);
    let csrf = b.csrf().await;
    let page = b.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.set_cookie.as_deref(),
        Some("pushway_admin=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    );
    assert_eq!(b.get("/console").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn hostile_ids_and_text_are_escaped_everywhere() {
    let h = Harness::start_with(|config, _| with_admin(config)).await;
    let user = "<script>alert(1)</script>\"'&";
    let path_user: String = form_urlencoded::byte_serialize(user.as_bytes()).collect();
    let path_user = path_user.replace('+', "%20");
    let a = h
        .call(
            Method::PUT,
            &format!("/v1/apps/demo/users/{path_user}/devices/%3Cimg%3E"),
            Some(json!({"kind": "xiaomi", "credential": "demo", "token": "regid-evil"})),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let text = "<b>bold</b> & \"quoted\"";
    let body =
        json!({"message": c2c("</td><script>", user, text), "recipients": [{"user_id": user}]});
    let a = h.post_message("evil", body).await;
    let id = a.body["message_id"].as_str().expect("id").to_owned();
    let mut b = Browser::new(&h);
    b.login().await;
    let page = b
        .get(&format!("/console/user?app=demo&user={path_user}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2F;script&gt;&quot;&#x27;&amp;";
    assert!(
        page.text
            .contains(&format!("<strong id=\"user\">{escaped}</strong>"))
    );
    assert!(
        page.text
            .contains("<tr><td>&lt;img&gt;</td><td>xiaomi/demo</td><td>logged_in</td>")
    );
    assert!(!page.text.contains("<script>"), "{}", page.text);
    assert!(
        !page.text.contains("regid-evil"),
        "the token is never shown"
    );
    let page = b.get(&format!("/console/message?app=demo&id={id}")).await;
    assert!(page.text.contains(&format!("<tr><td>{escaped}</td><td>&lt;img&gt;</td><td>xiaomi/demo</td><td class=\"state\">delivered</td><td>1</td>")), "{}", page.text);
    assert!(!page.text.contains("<script>"));
    // The test push form and preview with hostile text.
    let csrf = b.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("app", "demo"),
        ("user", user),
        ("sender", "</div><script>"),
        ("unread", "2"),
        ("text", text),
        ("action", "preview"),
    ];
    let page = b.post("/console/test-push", &form).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("<script>"), "{}", page.text);
    assert!(page.text.contains(
        "<div class=\"body\">&lt;b&gt;bold&lt;&#x2F;b&gt; &amp; &quot;quoted&quot;</div>"
    ));
}

#[tokio::test]
async fn a_test_push_is_previewed_then_sent_through_the_accept_path() {
    let h = Harness::start_with(|config, _| with_admin(config)).await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.device("bob", "tablet", "apns", APNS_TOKEN).await;
    let mut b = Browser::new(&h);
    b.login().await;
    let csrf = b.csrf().await;
    // 130 characters: over Xiaomi's text limit (below 128), far under the others.
    let text = format!("Hello {}", "é".repeat(124));
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("app", "demo"),
        ("user", "bob"),
        ("sender", "alice"),
        ("unread", "7"),
        ("text", text.as_str()),
        ("action", "preview"),
    ];
    let page = b.post("/console/test-push", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let ios = between(
        &page.text,
        "<div class=\"card\" id=\"preview-ios\">",
        "</p></div>",
    );
    assert_eq!(
        ios,
        format!(
            "<h3>iOS (APNs)</h3><div class=\"title\">alice</div><div class=\"body\">{text}</div>\
             <p class=\"note\">Sound: <span class=\"sound\">default</span> · Badge: <span class=\"badge\">7</span>"
        )
    );
    let xiaomi = between(
        &page.text,
        "<div class=\"card\" id=\"preview-xiaomi\">",
        "</p></div>",
    );
    // 127 UTF-16 units at most, the ellipsis included: "Hello " + 120 × "é" + "…".
    assert_eq!(
        xiaomi,
        format!(
            "<h3>Android (Xiaomi: title &lt; 50, text &lt; 128 characters)</h3><div class=\"title\">alice</div>\
             <div class=\"body\">Hello {}…</div><p class=\"note\">Sound: <span class=\"sound\">default</span> · \
             Badge: <span class=\"badge\">—</span> · <strong class=\"shortened\">shortened to fit</strong>",
            "é".repeat(120)
        )
    );
    assert!(page.text.contains(
        "<table id=\"preview-devices\"><tr><th>Device</th><th>Channel</th><th>What happens</th></tr>\
         <tr><td>phone</td><td>xiaomi&#x2F;demo</td><td>send</td></tr>\
         <tr><td>tablet</td><td>apns_sandbox&#x2F;demo</td><td>send</td></tr></table>"
    ), "{}", page.text);
    // Nothing was sent by the preview.
    assert_eq!(h.sims.xiaomi.request_count(), 0);
    assert_eq!(h.count("messages").await, 0);

    let key = between(&page.text, "name=\"key\" value=\"", "\"").to_owned();
    assert!(key.starts_with("console-pw_"), "{key}");
    form.pop();
    form.push(("key", key.as_str()));
    form.push(("action", "send"));
    let page = b.post("/console/test-push", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let id = between(&page.text, "id=\"sent-message\">", "</a>").to_owned();
    let status = h
        .status_until(&id, |s| {
            devices_of(s, "bob")
                .as_array()
                .is_some_and(|d| d.iter().all(|d| d["state"] == "delivered"))
        })
        .await;
    assert_eq!(devices_of(&status, "bob").as_array().map(Vec::len), Some(2));
    assert_eq!(h.sims.xiaomi.request_count(), 1);
    let sent = String::from_utf8_lossy(&h.sims.xiaomi.requests()[0].body).into_owned();
    let description: String = form_urlencoded::parse(sent.as_bytes())
        .find(|(k, _)| k == "description")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert_eq!(description, format!("Hello {}…", "é".repeat(120)));
    // Posted twice (a reload): the same message, sent once.
    let again = b.post("/console/test-push", &form).await;
    assert_eq!(between(&again.text, "id=\"sent-message\">", "</a>"), id);
    assert_eq!(h.count("messages").await, 1);
    // The timeline page shows both deliveries.
    let page = b.get(&format!("/console/message?app=demo&id={id}")).await;
    assert_eq!(
        page.text
            .matches("<td class=\"state\">delivered</td>")
            .count(),
        2
    );
    // A forged form sends nothing.
    let mut forged = form.clone();
    forged[0] = ("csrf", "forged");
    forged[6] = ("key", "console-other");
    assert_eq!(
        b.post("/console/test-push", &forged).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.count("messages").await, 1);
}

#[tokio::test]
async fn a_dead_letter_is_replayed_from_the_console_and_the_overview_counts_it() {
    let h = Harness::start_with(|config, _| {
        with_admin(config);
        config.worker.max_attempts = 1;
    })
    .await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.sims
        .xiaomi
        .inject(Trigger::Always, XiaomiFault::Status(503));
    let id = h
        .post_nowait(
            "c-dead",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    h.status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "dead")
        .await;
    h.sims.xiaomi.clear_faults();
    let mut b = Browser::new(&h);
    b.login().await;
    let page = b.get("/console").await;
    assert!(page.text.contains("<td>0</td><td>0</td><td>—</td><td><a href=\"/console/dead-letters?app=demo\">1</a></td>"), "{}", page.text);
    let page = b.get("/console/dead-letters?app=demo&reason=retry").await;
    let row = between(&page.text, "name=\"id\" value=\"", "\"").to_owned();
    assert!(page.text.contains(&format!(
        "<td>{row}</td><td><a href=\"/console/message?app=demo&amp;id={id}\">{id}</a></td><td>bob</td><td>phone</td><td>xiaomi/demo</td><td>1</td><td>retry</td><td>http_503</td>"
    )), "{}", page.text);
    let none = b.get("/console/dead-letters?app=demo&reason=expired").await;
    assert!(
        none.text
            .contains("<p id=\"no-dead-letters\">No dead letters.</p>")
    );
    let forged = b
        .post(
            "/console/dead-letters/replay",
            &[("csrf", "x"), ("app", "demo"), ("id", &row)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = b.csrf().await;
    let page = b
        .post(
            "/console/dead-letters/replay",
            &[
                ("csrf", &csrf),
                ("app", "demo"),
                ("id", &row),
                ("id", "424242"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<p id=\"replayed\">Replayed 1 dead letter.</p><h2>Not replayed</h2><ul id=\"not-replayed\"><li>424242: no such dead letter</li></ul>"), "{}", page.text);
    h.status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(h.sims.xiaomi.request_count(), 2);
    let page = b.get("/console").await;
    assert!(
        page.text
            .contains("<td><a href=\"/console/dead-letters?app=demo\">0</a></td>"),
        "{}",
        page.text
    );
}
