//! TIM REST ingest (issue 17): golden TIM request bodies → the exact notification each vendor
//! simulator receives; bad bodies → TIM's error envelope and nothing stored.
//!
//! The bodies follow the field tables of tim.md §1.1 (`sendmsg`, Tencent doc 269/2282), §1.2
//! (`send_group_msg`, 269/1629), §2 (`MsgBody`, 269/2720) and §3 (`OfflinePushInfo`, 269/133879
//! and trtc.io 77715, whose example values — `"Sound": "apns.mp3"`, `"Title": "apns title"`,
//! `"SubTitle": "apns subtitle"` — are reused here) and §9.1 (`timpush/batch`, 269/108906).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, KEY, devices_of, recipient};

const APNS_TOKEN: &str = "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd";
const PACKAGE: &str = "com.example.chat";

async fn harness() -> Harness {
    Harness::start_with(|config, _| {
        let demo = config.apps.get_mut("demo").expect("demo app");
        demo.render.android_package = Some(PACKAGE.to_owned());
        // TIM's server shows a custom element's Desc bare (tim.md §4.2).
        demo.render.custom_desc_brackets = Some(false);
    })
    .await
}

/// POSTs a TIM body (as text) to `command`; HTTP status and body.
async fn tim(h: &Harness, command: &str, body: &str) -> (StatusCode, Value) {
    let path = format!(
        "/v1/apps/demo/tim/v4/{command}?sdkappid=1400000000&identifier=admin&usersig=x&random=99&contenttype=json"
    );
    let a = h
        .send(Method::POST, &path, Some(KEY), &[], Some(body.to_owned()))
        .await;
    (a.status, a.body)
}

/// The OK envelope's message id, after checking its exact shape.
fn accepted(status: StatusCode, body: &Value, id_field: &str) -> String {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["ActionStatus"],
            &body["ErrorCode"],
            &body["ErrorInfo"]
        ),
        (&json!("OK"), &json!(0), &json!("")),
        "{body}"
    );
    let id = body[id_field].as_str().expect("message id").to_owned();
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = vec!["ActionStatus", "ErrorCode", "ErrorInfo", id_field];
    if id_field == "Pushway_MessageId" {
        expected.push("MsgTime");
    }
    expected.sort_unstable();
    assert_eq!(keys, expected, "{body}");
    id
}

async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never: {what}");
}

async fn status(h: &Harness, id: &str) -> Value {
    h.call(Method::GET, &format!("/v1/apps/demo/messages/{id}"), None)
        .await
        .body
}

#[tokio::test]
async fn sendmsg_reaches_apns_and_xiaomi_exactly() {
    let h = harness().await;
    h.device("bob", "phone", "apns", APNS_TOKEN).await;
    h.device("bob", "pad", "xiaomi", "regid-bob").await;
    let body = r#"{
        "SyncOtherMachine": 2,
        "From_Account": "alice",
        "To_Account": "bob",
        "MsgLifeTime": 60,
        "MsgSeq": 93847636,
        "MsgRandom": 1287657,
        "MsgTimeStamp": 1557387418,
        "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi "}},
            {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}},
            {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "someinfo", "Latitude": 29.340656774469956, "Longitude": 116.77497920478824}}
        ],
        "CloudCustomData": "your cloud custom data",
        "SendMsgControl": ["NoUnread"],
        "ForbidCallbackControl": ["ForbidBeforeSendMsgCallback"],
        "OfflinePushInfo": {
            "PushFlag": 0,
            "Title": "Lunch?",
            "Desc": "",
            "Ext": "{\"entity\":{\"key1\":\"value1\"}}",
            "AndroidInfo": {"Sound": "shake"},
            "ApnsInfo": {"Sound": "apns.mp3", "BadgeMode": 1, "Title": "apns title", "SubTitle": "apns subtitle"}
        }
    }"#;
    let (code, reply) = tim(&h, "openim/sendmsg", body).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    until("both sent", || {
        h.sims.apns.request_count() == 1 && h.sims.xiaomi.request_count() == 1
    })
    .await;

    let apns = h.sims.apns.requests();
    assert_eq!(apns[0].device_token.as_deref(), Some(APNS_TOKEN));
    assert_eq!(
        apns[0].request.json(),
        json!({
            "aps": {
                "alert": {"title": "apns title", "subtitle": "apns subtitle", "body": "hi [表情][位置]"},
                "sound": "apns.mp3",
                "thread-id": "alice"
            },
            "conversation_id": "alice",
            "conversation_type": "c2c",
            "sender_id": "alice",
            "ext": "{\"entity\":{\"key1\":\"value1\"}}"
        })
    );
    let xiaomi = &h.sims.xiaomi.requests()[0];
    for (field, value) in [
        ("registration_id", "regid-bob"),
        ("title", "Lunch?"),
        ("description", "hi [表情][位置]"),
        (
            "extra.sound_uri",
            "android.resource://com.example.chat/raw/shake",
        ),
        ("time_to_live", "60000"),
    ] {
        assert_eq!(xiaomi.form_value(field).as_deref(), Some(value), "{field}");
    }
    let payload: Value =
        serde_json::from_str(&xiaomi.form_value("payload").expect("payload")).expect("JSON");
    assert_eq!(
        payload,
        json!({"conversation_id": "alice", "conversation_type": "c2c", "sender_id": "alice",
            "ext": "{\"entity\":{\"key1\":\"value1\"}}"})
    );

    // A retry with the same MsgRandom is the same message, stored once.
    let (code, again) = tim(&h, "openim/sendmsg", body).await;
    assert_eq!(accepted(code, &again, "Pushway_MessageId"), id);
    assert_eq!(h.count("messages").await, 1);
    let s = status(&h, &id).await;
    assert_eq!(devices_of(&s, "bob").as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn send_group_msg_with_members_mentions_and_a_custom_element() {
    let h = harness().await;
    for user in ["bob", "carol", "dave"] {
        h.device(user, "x", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    for user in ["carol", "dave"] {
        let a = h
            .call(
                Method::PUT,
                &format!("/v1/apps/demo/users/{user}/settings"),
                Some(json!({"receive": {"groups": {"@TGS#2J4SZEAEL": "notify_only_when_mentioned"}}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let body = r#"{
        "GroupId": "@TGS#2J4SZEAEL",
        "From_Account": "alice",
        "Random": 8912345,
        "MsgPriority": "High",
        "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "@carol "}},
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "message", "Desc": "a card", "Ext": "{\"k\":1}", "Sound": "dingdong.aiff"}}
        ],
        "GroupAtInfo": [{"GroupAtAllFlag": 0, "GroupAt_Account": "carol"}],
        "CloudCustomData": "your cloud custom data",
        "Pushway_Members": ["alice", "bob", "carol", "dave"]
    }"#;
    let (code, reply) = tim(&h, "group_open_http_svc/send_group_msg", body).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    until("one batched request", || h.sims.xiaomi.request_count() == 1).await;
    let s = h
        .status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(recipient(&s, "alice")["suppressed"], "recipient_is_sender");
    assert_eq!(recipient(&s, "dave")["suppressed"], "group_not_mentioned");
    let xiaomi = &h.sims.xiaomi.requests()[0];
    for (field, value) in [
        ("registration_id", "regid-bob,regid-carol"),
        // No group name in TIM's body: the group id is the title (tim.md §4.1, DEC).
        ("title", "@TGS#2J4SZEAEL"),
        ("description", "alice: @carol a card"),
    ] {
        assert_eq!(xiaomi.form_value(field).as_deref(), Some(value), "{field}");
    }
    let payload: Value =
        serde_json::from_str(&xiaomi.form_value("payload").expect("payload")).expect("JSON");
    assert_eq!(payload["ext"], "{\"k\":1}");
}

#[tokio::test]
async fn batchsendmsg_online_only_and_the_mute_flag() {
    let h = harness().await;
    for user in ["bob", "carol"] {
        h.device(user, "x", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/settings",
            Some(json!({"receive": {"peers": {"alice": "receive_not_notify"}}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let text = |control: &str, lifetime: u32, random: u32| {
        format!(
            r#"{{"From_Account":"alice","To_Account":["bob","carol"],"MsgRandom":{random},"MsgLifeTime":{lifetime},{control}
                "MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"hello"}}}}]}}"#
        )
    };
    // Online only: nobody is pushed.
    let (code, reply) = tim(&h, "openim/batchsendmsg", &text("", 0, 1)).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    let s = status(&h, &id).await;
    assert_eq!(recipient(&s, "bob")["suppressed"], "online_only");
    assert_eq!(recipient(&s, "carol")["suppressed"], "online_only");

    // REST ignores bob's mute of alice by default (tim.md §7 item 7)…
    let (code, reply) = tim(&h, "openim/batchsendmsg", &text("", 3600, 2)).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    h.status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    // …and honours it with WithMuteNotifications.
    let control = r#""SendMsgControl":["WithMuteNotifications"],"#;
    let (code, reply) = tim(&h, "openim/batchsendmsg", &text(control, 3600, 3)).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    let s = h
        .status_until(&id, |s| devices_of(s, "carol")[0]["state"] == "delivered")
        .await;
    assert_eq!(recipient(&s, "bob")["suppressed"], "peer_muted");
    let sent: Vec<String> = h
        .sims
        .xiaomi
        .requests()
        .iter()
        .map(|r| r.form_value("registration_id").expect("regids"))
        .collect();
    assert_eq!(sent, ["regid-bob,regid-carol", "regid-carol"]);
}

#[tokio::test]
async fn timpush_batch_pushes_title_and_desc_and_answers_a_task_id() {
    let h = harness().await;
    h.device("bob", "phone", "apns", APNS_TOKEN).await;
    let body = r#"{
        "From_Account": "admin",
        "To_Account": ["bob"],
        "MsgRandom": 7,
        "DataId": "campaign-1",
        "OfflinePushInfo": {"Title": "Offline Push Title", "Desc": "offline push content", "ApnsInfo": {"Sound": "push.no_sound"}}
    }"#;
    let (code, reply) = tim(&h, "timpush/batch", body).await;
    accepted(code, &reply, "TaskId");
    until("sent", || h.sims.apns.request_count() == 1).await;
    assert_eq!(
        h.sims.apns.requests()[0].request.json(),
        json!({
            "aps": {"alert": {"title": "Offline Push Title", "body": "offline push content"}, "thread-id": "admin"},
            "conversation_id": "admin", "conversation_type": "c2c", "sender_id": "admin"
        })
    );
}

#[tokio::test]
async fn bad_bodies_answer_tims_envelope_and_store_nothing() {
    let h = harness().await;
    h.device("bob", "x", "xiaomi", "regid-bob").await;
    let text = r#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#;
    let many: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).expect("JSON");
    let long = "x".repeat(12 * 1024);
    let cases: Vec<(&str, String, u32, &str)> = vec![
        ("openim/sendmsg", "{".into(), 90001, "invalid JSON: "),
        ("openim/sendmsg", format!(r#"{{"MsgRandom":1,"MsgBody":{text}}}"#), 90003, "To_Account: required"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgBody":{text}}}"#), 90005, "MsgRandom: required"),
        ("openim/sendmsg", r#"{"To_Account":"bob","MsgRandom":1}"#.into(), 90002, "MsgBody: required, at least one element"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgRandom":"abc","MsgBody":{text}}}"#), 90001, "MsgRandom: invalid type: string \"abc\", expected u32"),
        ("openim/sendmsg", r#"{"To_Account":"bob","MsgRandom":1,"MsgBody":[{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t"}}]}"#.into(), 90002, "MsgBody[0].MsgType: \"TIMRelayElem\" is not supported by pushway (one of TIMTextElem, "),
        ("openim/sendmsg", r#"{"To_Account":"bob","MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":5}}]}"#.into(), 90002, "MsgBody[0].MsgContent.Text: invalid type: integer `5`, expected a string"),
        ("openim/sendmsg", r#"{"To_Account":"bob","MsgRandom":1,"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"a"}},{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"b"}}]}"#.into(), 90002, "MsgBody: at most one TIMCustomElem per message"),
        ("openim/sendmsg", format!(r#"{{"To_Account":["bob"],"MsgRandom":1,"MsgBody":{text}}}"#), 90001, "To_Account: must be a string"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgRandom":1,"MsgLifeTime":604801,"MsgBody":{text}}}"#), 90026, "MsgLifeTime: at most 604800 seconds"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgRandom":1,"MsgBody":{text},"OfflinePushInfo":{{"AndroidInfo":{{"XiaoMiChannelID":"c"}}}}}}"#), 90001, "OfflinePushInfo.AndroidInfo.XiaoMiChannelID: unknown field `XiaoMiChannelID`, expected `Sound` (not supported by pushway)"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgRandom":1,"MsgBody":{text},"SendMsgControl":["Loud"]}}"#), 90001, "SendMsgControl: \"Loud\" is not supported"),
        ("openim/sendmsg", format!(r#"{{"To_Account":"bob","MsgRandom":1,"MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"{long}"}}}}]}}"#), 93000, "MsgBody: 12340 bytes, at most 12288"),
        ("openim/batchsendmsg", format!(r#"{{"To_Account":{many},"MsgRandom":1,"MsgBody":{text}}}"#), 90011, "To_Account: at most 500 accounts, got 501"),
        ("openim/batchsendmsg", format!(r#"{{"To_Account":["bob",""],"MsgRandom":1,"MsgBody":{text}}}"#), 90001, "To_Account[1]: must be 1 to 256 bytes"),
        ("openim/batchsendmsg", format!(r#"{{"To_Account":[],"MsgRandom":1,"MsgBody":{text}}}"#), 90003, "To_Account: at least one account"),
        ("timpush/batch", r#"{"To_Account":[],"MsgRandom":1,"OfflinePushInfo":{"Desc":"d"}}"#.into(), 90003, "To_Account: at least one account"),
        ("timpush/batch", r#"{"To_Account":"bob","MsgRandom":1,"OfflinePushInfo":{"Desc":"d"}}"#.into(), 90001, "To_Account: must be an array"),
        ("group_open_http_svc/send_group_msg", format!(r#"{{"Random":1,"MsgBody":{text},"Pushway_Members":["bob"]}}"#), 10010, "GroupId: required"),
        ("group_open_http_svc/send_group_msg", format!(r#"{{"GroupId":"g","Random":1,"MsgBody":{text}}}"#), 10010, "Pushway_Members: required"),
        ("timpush/batch", r#"{"To_Account":["bob"],"MsgRandom":1}"#.into(), 90001, "OfflinePushInfo: required"),
    ];
    for (command, body, code, info) in &cases {
        let (status, reply) = tim(&h, command, body).await;
        assert_eq!(status, StatusCode::OK, "{command} {body}");
        assert_eq!(reply["ActionStatus"], "FAIL", "{reply}");
        assert_eq!(reply["ErrorCode"], *code, "{command}: {reply}");
        let got = reply["ErrorInfo"].as_str().expect("ErrorInfo");
        assert!(
            got.starts_with(info),
            "{command}: {got:?} does not start with {info:?}"
        );
        assert_eq!(reply.as_object().map(|o| o.len()), Some(3), "{reply}");
    }
    // An unknown query parameter, and an unknown command.
    let a = h
        .send(
            Method::POST,
            "/v1/apps/demo/tim/v4/openim/sendmsg?sdkappid=1&debug=1",
            Some(KEY),
            &[],
            Some("{}".into()),
        )
        .await;
    assert_eq!(
        a.body["ErrorInfo"],
        "query parameter \"debug\" is not supported by pushway"
    );
    let a = h
        .send(
            Method::POST,
            "/v1/apps/demo/tim/v4/openim/querymsg",
            Some(KEY),
            &[],
            Some("{}".into()),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Without the API key: pushway's own 401.
    let a = h
        .send(
            Method::POST,
            "/v1/apps/demo/tim/v4/openim/sendmsg",
            None,
            &[],
            Some("{}".into()),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.count("messages").await, 0);
    assert_eq!(h.sims.xiaomi.request_count(), 0);
}

#[tokio::test]
async fn a_custom_element_without_offline_push_info_and_the_push_flag() {
    let h = harness().await;
    h.device("bob", "phone", "apns", APNS_TOKEN).await;
    let send = |random: u32, content: &str, push: &str| {
        format!(
            r#"{{"From_Account":"alice","To_Account":"bob","MsgRandom":{random},
                "MsgBody":[{{"MsgType":"TIMCustomElem","MsgContent":{content}}}]{push}}}"#
        )
    };
    // No OfflinePushInfo: the element's Desc is the body, its Ext the app's, its Sound APNs's
    // (tim.md §2); BadgeMode 0 still sets no badge (tim.md §6: pushway has no unread base).
    let body = send(
        1,
        r#"{"Data":"{\"type\":\"card\"}","Desc":"a card","Ext":"{\"k\":1}","Sound":"dingdong.aiff"}"#,
        "",
    );
    let (code, reply) = tim(&h, "openim/sendmsg", &body).await;
    accepted(code, &reply, "Pushway_MessageId");
    until("sent", || h.sims.apns.request_count() == 1).await;
    assert_eq!(
        h.sims.apns.requests()[0].request.json(),
        json!({
            "aps": {"alert": {"title": "alice", "body": "a card"}, "sound": "dingdong.aiff", "thread-id": "alice"},
            "conversation_id": "alice", "conversation_type": "c2c", "sender_id": "alice", "ext": "{\"k\":1}"
        })
    );
    // Neither Desc: not pushed at all (tim.md §7 item 4).
    let (code, reply) = tim(&h, "openim/sendmsg", &send(2, r#"{"Data":"x"}"#, "")).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    assert_eq!(
        recipient(&status(&h, &id).await, "bob")["suppressed"],
        "nothing_to_show"
    );
    // PushFlag 1: no offline push (tim.md §3.1).
    let push = r#","OfflinePushInfo":{"PushFlag":1,"Desc":"x","ApnsInfo":{"BadgeMode":0}}"#;
    let (code, reply) = tim(&h, "openim/sendmsg", &send(3, r#"{"Desc":"d"}"#, push)).await;
    let id = accepted(code, &reply, "Pushway_MessageId");
    assert_eq!(
        recipient(&status(&h, &id).await, "bob")["suppressed"],
        "message_disabled"
    );
    assert_eq!(h.sims.apns.request_count(), 1);
}
