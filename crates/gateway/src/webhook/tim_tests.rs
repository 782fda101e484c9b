use super::*;

fn stored(id: i64, body: serde_json::Value) -> ClaimedEvent {
    ClaimedEvent {
        id,
        body: body.to_string(),
        attempts: 1,
    }
}

fn tim_section(edit: impl FnOnce(&mut WebhookConfig)) -> Result<Format, String> {
    let mut c = WebhookConfig::new("https://im.example.com/cb", "0123456789abcdef");
    c.format = "tim".to_owned();
    c.tim_sdkappid = Some(1_400_000_000);
    edit(&mut c);
    format("apps.chat.webhook", &c).map_err(|e| e.to_string())
}

#[test]
fn the_sign_is_tencents_example() {
    // 269/32431: Token=xxxxyyyy, RequestTime=1669872112.
    assert_eq!(
        tim_sign(b"xxxxyyyy", 1_669_872_112),
        "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
    );
}

#[test]
fn the_query_is_appended_after_the_urls_own() {
    let plain = TimFormat {
        sdkappid: 1_400_000_000,
        token: None,
    };
    let url = reqwest::Url::parse("https://im.example.com/cb?team=a%20b").expect("url");
    assert_eq!(
        plain.url(&url, 1_669_872_112).as_str(),
        "https://im.example.com/cb?team=a%20b&SdkAppid=1400000000&CallbackCommand=Push.OfflinePush&contenttype=json"
    );
    let signed = TimFormat {
        sdkappid: 7,
        token: Some(Secret::new("xxxxyyyy")),
    };
    let url = reqwest::Url::parse("http://127.0.0.1:9/cb").expect("url");
    assert_eq!(
        signed.url(&url, 1_669_872_112).as_str(),
        "http://127.0.0.1:9/cb?SdkAppid=7&CallbackCommand=Push.OfflinePush&contenttype=json\
         &Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061&RequestTime=1669872112"
    );
}

#[test]
fn each_event_type_maps_to_tims_fields() {
    let ev = |id: i64,
              kind: &str,
              msg: Option<&str>,
              user: &str,
              channel: Option<&str>,
              reason: Option<&str>| {
        stored(
            id,
            serde_json::json!({"type": kind, "id": format!("evt_{id}"), "app": "chat",
                "message_id": msg, "user_id": user, "device_id": "d", "channel": channel,
                "reason": reason, "at_ms": 1_765_000_000_999_i64}),
        )
    };
    let events = [
        ev(
            1,
            "delivered",
            Some("msg_c2c"),
            "bob",
            Some("xiaomi/main"),
            None,
        ),
        ev(
            2,
            "delivered",
            Some("msg_group"),
            "carol",
            Some("daemon/daemon"),
            None,
        ),
        ev(
            3,
            "dead",
            Some("msg_c2c"),
            "zed",
            Some("apns_sandbox/main"),
            Some("expired"),
        ),
        ev(
            4,
            "token_invalidated",
            None,
            "zed",
            Some("fcm/main"),
            Some("UNREGISTERED"),
        ),
        ev(
            5,
            "suppressed",
            Some("msg_gone"),
            "nobody",
            None,
            Some("no_devices"),
        ),
    ];
    let messages = [
        EventMessage {
            id: "msg_c2c".into(),
            sender: Some("alice".into()),
            conversation: Some("c2c".into()),
            group_id: None,
            idempotency_key: "tim:batchsendmsg:2837546:ab12".into(),
            created_at: 1_764_999_999_500,
        },
        EventMessage {
            id: "msg_group".into(),
            sender: Some("dave".into()),
            conversation: Some("group".into()),
            group_id: Some("@TGS#1".into()),
            idempotency_key: "tim:send_group_msg:9:ab12".into(),
            created_at: 1_764_999_998_000,
        },
    ];
    assert_eq!(message_ids(&events), ["msg_c2c", "msg_gone", "msg_group"]);
    let c = r#""CallbackCommand":"Push.OfflinePush""#;
    let expected = [
        format!(
            r#"{{{c},"EventType":1,"EventTime":1765000000,"From_Account":"alice","To_Account":"bob","PushPlatform":2,"PushStage":1,"MsgRandom":2837546,"MsgTime":1764999999,"PushID":"evt_1","ErrCode":0,"ErrInfo":"OK"}}"#
        ),
        format!(
            r#"{{{c},"EventType":2,"EventTime":1765000000,"From_Account":"dave","To_Account":"carol","PushPlatform":0,"PushStage":2,"GroupID":"@TGS#1","MsgTime":1764999998,"PushID":"evt_2","ErrCode":0,"ErrInfo":"OK"}}"#
        ),
        format!(
            r#"{{{c},"EventType":1,"EventTime":1765000000,"From_Account":"alice","To_Account":"zed","PushPlatform":1,"PushStage":1,"MsgRandom":2837546,"MsgTime":1764999999,"PushID":"evt_3","ErrCode":1,"ErrInfo":"expired"}}"#
        ),
        format!(
            r#"{{{c},"EventTime":1765000000,"To_Account":"zed","PushPlatform":4,"PushStage":1,"PushID":"evt_4","ErrCode":2,"ErrInfo":"UNREGISTERED"}}"#
        ),
        format!(
            r#"{{{c},"EventTime":1765000000,"To_Account":"nobody","PushPlatform":0,"PushStage":1,"PushID":"evt_5","ErrCode":3,"ErrInfo":"no_devices"}}"#
        ),
    ];
    assert_eq!(
        body(&events, &messages),
        format!(r#"{{"Events":[{}]}}"#, expected.join(","))
    );
}

#[test]
fn msg_random_comes_only_from_the_tim_ingests_c2c_keys() {
    assert_eq!(msg_random("tim:sendmsg:42:ff"), Some(42));
    assert_eq!(msg_random("tim:timpush_batch:7:ff"), Some(7));
    assert_eq!(msg_random("tim:send_group_msg:42:ff"), None);
    assert_eq!(msg_random("order-42"), None);
    assert_eq!(msg_random("tim:sendmsg:x:ff"), None);
}

#[test]
fn a_tim_section_is_checked_key_by_key() {
    assert_eq!(
        tim_section(|_| {}),
        Ok(Format::Tim(TimFormat {
            sdkappid: 1_400_000_000,
            token: None
        }))
    );
    let at = "apps.chat.webhook";
    assert_eq!(
        tim_section(|c| c.format = "tencent".into()),
        Err(format!(
            "{at}.format: unknown format \"tencent\"; one of pushway, tim"
        ))
    );
    assert_eq!(
        tim_section(|c| c.tim_sdkappid = None),
        Err(format!(
            "{at}.tim_sdkappid: required with format = \"tim\" (the SdkAppid your receiver checks)"
        ))
    );
    assert_eq!(
        tim_section(|c| c.tim_sdkappid = Some(0)),
        Err(format!("{at}.tim_sdkappid: must be at least 1"))
    );
    assert_eq!(
        tim_section(|c| c.tim_token = Some(Secret::new("x".repeat(129)))),
        Err(format!(
            "{at}.tim_token: a TIM callback token is 1 to 128 bytes"
        ))
    );
    assert_eq!(
        tim_section(|c| {
            c.tim_token = Some(Secret::new("t"));
            c.tim_token_file = Some("/nonexistent".into());
        }),
        Err(format!(
            "{at}.tim_token: set either tim_token or tim_token_file, not both"
        ))
    );
    assert_eq!(
        tim_section(|c| c.format = "pushway".into()),
        Err(format!(
            "{at}.tim_sdkappid: only used with format = \"tim\""
        ))
    );
}
