//! `format = "tim"` end to end: the same durable events reach a receiver the way Tencent IM
//! posts its `Push.OfflinePush` callback (trtc.io/document/67552, cloud.tencent.com 269/102567):
//! TIM's query after the URL's own (with `Sign`/`RequestTime` over the token, 269/32431), body
//! `{"Events":[…]}` with TIM's field names, pushway's signature headers kept; and a bad `tim`
//! section is refused by the check, naming the key.

use std::collections::BTreeSet;

use pushway_gateway::config::{AppConfig, Config, Secret, WebhookConfig};
use pushway_gateway::webhook;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, KEY, devices_of};
use crate::webhook_receiver::{Received, Receiver, Reply};

const SECRET: &str = "whsec_test_0123456789";
const TOKEN: &str = "tim-callback-token";

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `hex(sha256(token + request_time))`, computed here from Tencent's description.
fn expected_sign(request_time: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{TOKEN}{request_time}").as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn events_of(r: &Received) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["Events"], "{body}");
    body["Events"].as_array().expect("an Events array").clone()
}

/// A message's accept time, Unix seconds, from the store.
async fn accepted_secs(h: &Harness, id: &str) -> i64 {
    // Message ids are generated (letters, digits, `-`, `_`): safe inline.
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{id}"
    );
    let ms = h
        .scalar(&format!(
            "SELECT created_at FROM messages WHERE id = '{id}'"
        ))
        .await;
    ms / 1000
}

#[tokio::test]
async fn a_tim_receiver_gets_tims_query_and_events() {
    let (receiver, addr) = Receiver::start(&[], Reply::Status(200)).await;
    let start = now_secs();
    let h = Harness::start_with(move |config, _| {
        let mut hook = WebhookConfig::new(format!("http://{addr}/hook?team=im"), SECRET);
        hook.events = ["delivered", "dead", "token_invalidated", "suppressed"]
            .map(str::to_owned)
            .to_vec();
        hook.format = "tim".to_owned();
        hook.tim_sdkappid = Some(1_400_000_000);
        hook.tim_token = Some(Secret::new(TOKEN));
        config.apps.get_mut("demo").expect("demo app").webhook = Some(hook);
    })
    .await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.device("zed", "old-phone", "xiaomi", "regid-dead").await;
    h.sims.xiaomi.unregister(["regid-dead"]);

    // A TIM batchsendmsg (tim.md §1.1): bob delivered, zed dead (token gone), nobody suppressed.
    let tim_body = r#"{"From_Account":"alice","To_Account":["bob","zed","nobody"],
        "MsgRandom":2837546,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}"#;
    let a = h
        .send(
            Method::POST,
            "/v1/apps/demo/tim/v4/openim/batchsendmsg?sdkappid=1400000000&identifier=admin&usersig=x&random=1&contenttype=json",
            Some(KEY),
            &[],
            Some(tim_body.to_owned()),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let c2c = a.body["Pushway_MessageId"].as_str().expect("id").to_owned();
    // A group message through pushway's own API: bob delivered again.
    let group = h
        .post_nowait(
            "g1",
            json!({"message": {"conversation": {"type": "group", "id": "@TGS#dev"},
                               "sender": {"user_id": "dave"},
                               "elements": [{"type": "text", "text": "standup"}]},
                   "recipients": [{"user_id": "bob"}]}),
        )
        .await;

    let received = receiver
        .until(|r| r.iter().map(|r| events_of(r).len()).sum::<usize>() == 5)
        .await;
    let end = now_secs();
    let mut events = Vec::new();
    for r in &received {
        // TIM's query after the URL's own, signed over the token at the request's time.
        let request_time = r
            .query
            .rsplit_once("&RequestTime=")
            .map(|(_, t)| t.to_owned())
            .expect("a RequestTime");
        assert_eq!(
            r.query,
            format!(
                "team=im&SdkAppid=1400000000&CallbackCommand=Push.OfflinePush&contenttype=json\
                 &Sign={}&RequestTime={request_time}",
                expected_sign(&request_time)
            )
        );
        assert_eq!(request_time, r.timestamp, "RequestTime is the signing time");
        // Pushway's own signature over the TIM body, as on every post.
        assert_eq!(r.content_type, "application/json");
        let verified = webhook::verify(
            SECRET.as_bytes(),
            &r.timestamp,
            &r.signature,
            &r.body,
            now_secs(),
        );
        assert_eq!(verified, Ok(()), "{r:?}");
        events.extend(events_of(r));
    }

    // Every event's time is the event's, in seconds; PushID is the unique event id.
    let mut ids = BTreeSet::new();
    for e in &mut events {
        let e = e.as_object_mut().expect("object");
        let t = e
            .get("EventTime")
            .and_then(Value::as_i64)
            .expect("EventTime");
        assert!((start..=end).contains(&t), "{t} not in {start}..={end}");
        e.insert("EventTime".into(), json!("<checked>"));
        let id = e.get("PushID").and_then(Value::as_str).expect("PushID");
        assert!(id.starts_with("evt_") && ids.insert(id.to_owned()), "{id}");
        e.insert("PushID".into(), json!("<checked>"));
    }
    let status = h
        .status_until(&c2c, |s| devices_of(s, "zed")[0]["state"] == "dead")
        .await;
    let dead_reason = devices_of(&status, "zed")[0]["last_reason"].clone();
    let feed = h
        .call(Method::GET, "/v1/apps/demo/dead-tokens?after=0", None)
        .await;
    let invalid_reason = feed.body["items"][0]["reason"].clone();
    let c2c_time = accepted_secs(&h, &c2c).await;
    let group_time = accepted_secs(&h, &group).await;
    let base = |to: &str| {
        json!({"CallbackCommand": "Push.OfflinePush", "EventTime": "<checked>",
               "To_Account": to, "PushID": "<checked>"})
    };
    let with = |mut v: Value, more: Value| {
        for (k, x) in more.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let c2c_fields = json!({"EventType": 1, "From_Account": "alice", "MsgRandom": 2837546,
                            "MsgTime": c2c_time});
    let mut expected = vec![
        with(
            with(base("bob"), c2c_fields.clone()),
            json!({"PushPlatform": 2, "PushStage": 1, "ErrCode": 0, "ErrInfo": "OK"}),
        ),
        with(
            base("bob"),
            json!({"EventType": 2, "From_Account": "dave", "GroupID": "@TGS#dev",
                    "MsgTime": group_time, "PushPlatform": 2, "PushStage": 1, "ErrCode": 0,
                    "ErrInfo": "OK"}),
        ),
        with(
            with(base("zed"), c2c_fields.clone()),
            json!({"PushPlatform": 2, "PushStage": 1, "ErrCode": 1, "ErrInfo": dead_reason}),
        ),
        with(
            base("zed"),
            json!({"PushPlatform": 2, "PushStage": 1, "ErrCode": 2, "ErrInfo": invalid_reason}),
        ),
        with(
            with(base("nobody"), c2c_fields),
            json!({"PushPlatform": 0, "PushStage": 1, "ErrCode": 3, "ErrInfo": "no_devices"}),
        ),
    ];
    let key = |e: &Value| {
        (
            e["To_Account"].to_string(),
            e["ErrCode"].to_string(),
            e["EventType"].to_string(),
        )
    };
    expected.sort_by_key(key);
    events.sort_by_key(key);
    assert_eq!(events, expected);

    // Each event's fields in the order of Tencent's example.
    let order = [
        "CallbackCommand",
        "EventType",
        "EventTime",
        "From_Account",
        "To_Account",
        "PushPlatform",
        "PushStage",
        "GroupID",
        "MsgRandom",
        "MsgTime",
        "PushID",
        "ErrCode",
        "ErrInfo",
    ];
    for r in &received {
        let text = String::from_utf8_lossy(&r.body);
        for e in text.split("},{") {
            let positions: Vec<usize> = order
                .iter()
                .filter_map(|k| e.find(&format!("\"{k}\":")))
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{e}");
        }
        assert!(
            !text.contains("regid-"),
            "a token in a webhook body: {text}"
        );
    }
}

fn config_with(edit: impl FnOnce(&mut WebhookConfig)) -> Config {
    let mut hook = WebhookConfig::new("https://im.example.com/cb", SECRET);
    hook.format = "tim".to_owned();
    hook.tim_sdkappid = Some(1_400_000_000);
    edit(&mut hook);
    let mut app = AppConfig::default();
    app.webhook = Some(hook);
    let mut config = Config::default();
    config.apps.insert("chat".to_owned(), app);
    config
}

fn check(config: &Config) -> Result<Vec<String>, String> {
    pushway_gateway::check(config).map_err(|e| e.to_string())
}

#[test]
fn check_config_lists_a_tim_webhook_and_names_the_key_of_a_bad_one() {
    assert_eq!(
        check(&config_with(|_| {})),
        Ok(vec![
            "app chat: 0 API key(s), channels: ".to_owned(),
            "app chat: webhook to https://im.example.com, events: delivered, dead, \
             token_invalidated, format: tim (SdkAppid 1400000000)"
                .to_owned(),
        ])
    );
    assert_eq!(
        check(&config_with(|h| h.tim_sdkappid = None)),
        Err(
            "apps.chat.webhook.tim_sdkappid: required with format = \"tim\" \
             (the SdkAppid your receiver checks)"
                .to_owned()
        )
    );
    assert_eq!(
        check(&config_with(|h| h.format = "TIM".to_owned())),
        Err("apps.chat.webhook.format: unknown format \"TIM\"; one of pushway, tim".to_owned())
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tim-token");
    std::fs::write(&path, format!("{}\n", "t".repeat(129))).expect("write");
    let e = check(&config_with(|h| h.tim_token_file = Some(path)));
    assert_eq!(
        e,
        Err("apps.chat.webhook.tim_token_file: a TIM callback token is 1 to 128 bytes".to_owned())
    );
    assert_eq!(
        check(&config_with(|h| {
            h.format = "pushway".to_owned();
            h.tim_token = Some(Secret::new(TOKEN));
            h.tim_sdkappid = None;
        })),
        Err("apps.chat.webhook.tim_token: only used with format = \"tim\"".to_owned())
    );
}
