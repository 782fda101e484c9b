//! `GET /metrics` after a scripted run against the simulators with injected faults: every
//! counter equals what happened, exactly; no label value is a user id, device id or token.

use std::collections::BTreeMap;

use pushway_gateway::config::{DaemonConfig, Secret, XiaomiConfig};
use pushway_mock::apns::{ApnsFault, ApnsReason};
use pushway_mock::fault::Trigger;
use pushway_mock::huawei::HuaweiFault;
use pushway_mock::xiaomi::XiaomiFault;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, c2c};

const DAVE_TOKEN: &str = "5a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273747576777879";
/// Every user id, device id and token of the run: none may appear as a label value.
const PRIVATE: [&str; 14] = [
    "bob",
    "carol",
    "dave",
    "erin",
    "bob-mi",
    "bob-hw",
    "carol-mi",
    "dave-phone",
    "erin-mi",
    "regid-bob",
    "hw-bob",
    "regid-carol-dead",
    "regid-erin",
    DAVE_TOKEN,
];

/// One series of the scrape: name and labels.
type Series = (String, BTreeMap<String, String>);

/// The scrape's samples (comments skipped). Label values in our series have no `,` `"` `}`.
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("label");
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        let value: f64 = value.parse().expect("sample value");
        assert!(
            samples.insert((name.to_owned(), labels), value).is_none(),
            "duplicate series in {line}"
        );
    }
    samples
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every series named `name`, by its labels other than `app` (all of app `demo`).
fn family(samples: &BTreeMap<Series, f64>, name: &str) -> BTreeMap<Vec<String>, f64> {
    samples
        .iter()
        .filter(|((n, _), _)| n == name)
        .map(|((_, l), v)| {
            assert_eq!(
                l.get("app").map(String::as_str),
                Some("demo"),
                "{name} {l:?}"
            );
            let rest = l
                .iter()
                .filter(|(k, _)| *k != "app")
                .map(|(_, v)| v.clone())
                .collect();
            (rest, *v)
        })
        .collect()
}

fn expect(rows: &[(&[&str], f64)]) -> BTreeMap<Vec<String>, f64> {
    rows.iter()
        .map(|(k, v)| (k.iter().map(|s| (*s).to_owned()).collect(), *v))
        .collect()
}

fn finished(status: &Value) -> bool {
    status["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["devices"].as_array().into_iter().flatten())
        .all(|d| ["delivered", "dead", "failed"].contains(&d["state"].as_str().unwrap_or("")))
}

/// The run: three messages to bob (Xiaomi, Huawei), carol (a dead Xiaomi token) and dave
/// (APNs), one at a time, each with its own faults; then one to erin, whose Xiaomi credential
/// is refused (her row is held, the route paused). Returns the harness and the reasons the
/// status API gave carol's dead token (Xiaomi names it by the request's shape: `bad_regid` in
/// a batch, `20301` alone) and erin's refused credential.
async fn scripted_run() -> (Harness, Reasons) {
    let h = Harness::start_with(|config, sims| {
        config.worker.max_attempts = 3;
        let app = config.apps.get_mut("demo").expect("demo app");
        app.daemon = Some(DaemonConfig::with_secret(
            "metrics-test-daemon-secret-of-32-bytes+",
        ));
        let mut wrong = XiaomiConfig::default();
        wrong.package = "com.example.chat".to_owned();
        wrong.channel_id = "im_messages".to_owned();
        wrong.app_secret = Some(Secret::new("not-the-secret"));
        wrong.base_url = Some(sims.xiaomi.base_url());
        wrong.danger_allow_plain_http = true;
        app.xiaomi.insert("wrong".to_owned(), wrong);
    })
    .await;
    h.device("bob", "bob-mi", "xiaomi", "regid-bob").await;
    h.device("bob", "bob-hw", "huawei", "hw-bob").await;
    h.device("carol", "carol-mi", "xiaomi", "regid-carol-dead")
        .await;
    h.device("dave", "dave-phone", "apns", DAVE_TOKEN).await;
    h.sims.xiaomi.unregister(["regid-carol-dead"]);
    let to_all = |text: &str| {
        json!({"message": c2c("alice", "bob", text),
               "recipients": [{"user_id": "bob"}, {"user_id": "carol"}, {"user_id": "dave"}]})
    };

    // 1: Huawei answers 502 twice (bob's row: retry, retry, delivered); carol's token is dead.
    h.sims
        .huawei
        .inject(Trigger::Times(2), HuaweiFault::Status(502));
    let id = h.post_nowait("m1", to_all("one")).await;
    let status = h.status_until(&id, finished).await;
    let carol = &crate::support::devices_of(&status, "carol")[0];
    assert_eq!(carol["last_outcome"], "invalid_token");
    let dead = carol["last_reason"].as_str().expect("reason").to_owned();
    // 2: APNs answers 429 once (dave's row: retry, delivered); carol has no device left.
    h.sims.apns.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Reason(ApnsReason::TooManyRequests),
    );
    let id = h.post_nowait("m2", to_all("two")).await;
    h.status_until(&id, finished).await;
    // 3: Xiaomi answers 503 three times: bob's Xiaomi row is dead after max_attempts (3).
    h.sims
        .xiaomi
        .inject(Trigger::Times(3), XiaomiFault::Status(503));
    let id = h.post_nowait("m3", to_all("three")).await;
    let status = h.status_until(&id, finished).await;
    let bob_mi = &crate::support::devices_of(&status, "bob")[1];
    assert_eq!(
        (&bob_mi["device_id"], &bob_mi["state"]),
        (&json!("bob-mi"), &json!("dead"))
    );
    // 4: erin's credential is refused: her row is held, the route paused.
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/erin/devices/erin-mi",
            Some(json!({"kind": "xiaomi", "credential": "wrong", "token": "regid-erin"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let body =
        json!({"message": c2c("alice", "erin", "four"), "recipients": [{"user_id": "erin"}]});
    let id = h.post_nowait("m4", body).await;
    let status = h
        .status_until(&id, |s| {
            crate::support::devices_of(s, "erin")[0]["last_outcome"] == "auth"
        })
        .await;
    let auth = crate::support::devices_of(&status, "erin")[0]["last_reason"]
        .as_str()
        .expect("auth reason")
        .to_owned();
    (h, Reasons { dead, auth })
}

struct Reasons {
    /// Carol's dead token.
    dead: String,
    /// Erin's refused credential.
    auth: String,
}

async fn scrape(h: &Harness) -> String {
    let response = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.expect("body")
}

#[tokio::test]
async fn counters_equal_what_happened_in_a_run_with_faults() {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let (h, Reasons { dead, auth }) = scripted_run().await;
    let samples = parse(&scrape(&h).await);

    // Attempts: channel, outcome, reason.
    assert_eq!(
        family(&samples, "pushway_pushes_total"),
        expect(&[
            (&["apns", "delivered", "none"], 3.0),
            (&["apns", "retry", "TooManyRequests"], 1.0),
            (&["huawei", "delivered", "none"], 3.0),
            (&["huawei", "retry", "http_502"], 2.0),
            (&["xiaomi", "auth", &auth], 1.0),
            (&["xiaomi", "delivered", "none"], 2.0),
            (&["xiaomi", "invalid_token", &dead], 1.0),
            (&["xiaomi", "retry", "http_503"], 3.0),
        ])
    );
    // The third 503 is not a retry: the row died of it.
    assert_eq!(
        family(&samples, "pushway_retries_total"),
        expect(&[
            (&["apns", "TooManyRequests"], 1.0),
            (&["huawei", "http_502"], 2.0),
            (&["xiaomi", "http_503"], 2.0),
        ])
    );
    assert_eq!(
        family(&samples, "pushway_dead_letters_total"),
        expect(&[(&["xiaomi", &dead], 1.0), (&["xiaomi", "http_503"], 1.0)])
    );
    assert_eq!(
        family(&samples, "pushway_tokens_invalidated_total"),
        expect(&[(&["xiaomi", &dead], 1.0)])
    );
    // Rows finished: m1 4, m2 3, m3 3 (erin's is held).
    assert_eq!(
        family(&samples, "pushway_accept_to_outcome_seconds_count"),
        expect(&[(&["apns"], 3.0), (&["huawei"], 3.0), (&["xiaomi"], 4.0)])
    );
    // One vendor request per provider call: Huawei and APNs carried one token per call, Xiaomi
    // one request per batch (m1's two tokens in one); channels without sends read 0.
    assert_eq!(h.sims.xiaomi.request_count(), 6);
    assert_eq!(
        family(&samples, "pushway_vendor_request_duration_seconds_count"),
        expect(&[
            (&["apns"], 4.0),
            (&["daemon"], 0.0),
            (&["fcm"], 0.0),
            (&["huawei"], 5.0),
            (&["xiaomi"], 6.0)
        ])
    );

    // Route health: the refused credential is paused and never authenticated.
    assert_eq!(
        family(&samples, "pushway_route_paused"),
        expect(&[
            (&["apns", "demo"], 0.0),
            (&["fcm", "demo"], 0.0),
            (&["huawei", "demo"], 0.0),
            (&["xiaomi", "demo"], 0.0),
            (&["xiaomi", "wrong"], 1.0),
            (&["daemon", "daemon"], 0.0),
        ])
    );
    let auth_ok = family(
        &samples,
        "pushway_route_last_auth_success_timestamp_seconds",
    );
    let routes: Vec<_> = auth_ok.keys().cloned().collect();
    assert_eq!(
        routes,
        [["apns", "demo"], ["huawei", "demo"], ["xiaomi", "demo"]]
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    for (route, at) in auth_ok {
        assert!((started..=now).contains(&at), "{route:?} at {at}");
    }
    assert_eq!(
        family(&samples, "pushway_tokens_quarantined"),
        expect(&[
            (&["apns", "demo"], 0.0),
            (&["daemon", "daemon"], 0.0),
            (&["fcm", "demo"], 0.0),
            (&["huawei", "demo"], 0.0),
            (&["xiaomi", "demo"], 0.0),
            (&["xiaomi", "wrong"], 0.0),
        ])
    );
    assert_eq!(
        samples.get(&(
            "pushway_daemon_connections".to_owned(),
            labels(&[("app", "demo")])
        )),
        Some(&0.0)
    );

    // The backlog: erin's held row only; held rows are not due.
    let depth = |app: &str, state: &str| {
        samples.get(&(
            "pushway_outbox_depth".to_owned(),
            labels(&[("app", app), ("state", state)]),
        ))
    };
    assert_eq!(depth("demo", "retrying"), Some(&1.0));
    assert_eq!(depth("demo", "pending"), Some(&0.0));
    assert_eq!(depth("demo", "in_flight"), Some(&0.0));
    assert_eq!(depth("other", "retrying"), Some(&0.0));
    let oldest = |app: &str| {
        samples.get(&(
            "pushway_outbox_oldest_due_age_seconds".to_owned(),
            labels(&[("app", app)]),
        ))
    };
    assert_eq!((oldest("demo"), oldest("other")), (Some(&0.0), Some(&0.0)));
}

#[tokio::test]
async fn no_label_value_is_a_user_id_device_id_or_token() {
    let (h, reasons) = scripted_run().await;
    let text = scrape(&h).await;
    let samples = parse(&text);
    let mut values: Vec<&str> = samples
        .keys()
        .flat_map(|(_, l)| l.values().map(String::as_str))
        .collect();
    values.sort_unstable();
    values.dedup();
    // The run's series are there, so the check below looks at real label values.
    assert!(
        values.contains(&reasons.dead.as_str()) && values.contains(&"xiaomi"),
        "{values:?}"
    );
    for private in PRIVATE {
        assert!(!values.contains(&private), "label value {private:?}");
        assert!(!text.contains(private), "{private:?} in the scrape");
    }
}

#[tokio::test]
async fn metrics_need_no_key_and_answer_get_only() {
    let h = Harness::start().await;
    let samples = parse(&scrape(&h).await);
    // Before any traffic: the backlog of each configured app reads 0.
    let depth = |app: &str| {
        samples.get(&(
            "pushway_outbox_depth".to_owned(),
            labels(&[("app", app), ("state", "pending")]),
        ))
    };
    assert_eq!((depth("demo"), depth("other")), (Some(&0.0), Some(&0.0)));
    assert!(
        !samples
            .keys()
            .any(|(name, _)| name == "pushway_pushes_total"),
        "no attempt yet"
    );
    let a = h.send(Method::POST, "/metrics", None, &[], None).await;
    crate::support::assert_problem(&a, 405, "method-not-allowed");
}

#[tokio::test]
async fn deletions_the_hygiene_layer_holds_are_quarantined_not_invalidated() {
    let h = Harness::start().await;
    // Nine of ten tokens refused in one Xiaomi request: the hygiene layer's mass-invalid rule
    // (a batch of 10 or more, 90 % refused) holds their deletions, since that points at the
    // configuration. (All ten refused would be the provider's own safeguard: no deletion.)
    let users: Vec<String> = (0..10).map(|i| format!("quser{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        let token = format!("regid-held-{i}");
        h.device(user, "mi", "xiaomi", &token).await;
        if i > 0 {
            h.sims.xiaomi.unregister([token]);
        }
    }
    let recipients: Vec<Value> = users.iter().map(|u| json!({"user_id": u})).collect();
    let body = json!({"message": c2c("alice", "quser0", "hi"), "recipients": recipients});
    let id = h.post_nowait("held", body).await;
    h.status_until(&id, |s| {
        s["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| !r["devices"][0]["last_outcome"].is_null())
    })
    .await;
    assert_eq!(h.sims.xiaomi.request_count(), 1);
    let samples = parse(&scrape(&h).await);
    let route = labels(&[
        ("app", "demo"),
        ("channel", "xiaomi"),
        ("credential", "demo"),
    ]);
    let get = |name: &str, labels: &BTreeMap<String, String>| {
        samples.get(&(name.to_owned(), labels.clone())).copied()
    };
    assert_eq!(get("pushway_tokens_quarantined", &route), Some(9.0));
    assert_eq!(get("pushway_route_paused", &route), Some(1.0));
    let pushes = |outcome: &str| -> f64 {
        samples
            .iter()
            .filter(|((name, l), _)| {
                name == "pushway_pushes_total"
                    && l["outcome"] == outcome
                    && l["channel"] == "xiaomi"
            })
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!((pushes("misconfigured"), pushes("delivered")), (9.0, 1.0));
    assert!(
        !samples
            .keys()
            .any(|(name, _)| name == "pushway_tokens_invalidated_total"),
        "held deletions are not handed over"
    );
}
