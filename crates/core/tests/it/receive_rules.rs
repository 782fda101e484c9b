//! The receive rules (tim.md §7 items 5–7) as a table: each case is a message, a recipient and
//! the exact outcome, including their interplay with the seed's reasons and the documented
//! order (crates/core/src/render/mod.rs), time zones and windows across midnight and DST.

use pushway_core::{Message, Recipient, RenderError, Rendered, json, render};
use serde_json::{Value, json};

/// Noon of 2026-12-06 in UTC, as Unix milliseconds.
fn utc_ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn c2c() -> Value {
    json!({
        "id": "m-1",
        "conversation": {"type": "c2c", "peer": "bob"},
        "sender": {"user_id": "alice"},
        "elements": [{"type": "text", "text": "hi"}]
    })
}

fn group() -> Value {
    json!({
        "id": "m-2",
        "conversation": {"type": "group", "id": "g-1", "name": "Climbers"},
        "sender": {"user_id": "alice", "nickname": "Ann"},
        "elements": [{"type": "text", "text": "hi"}]
    })
}

fn with(mut base: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn bob(receive: Value) -> Value {
    json!({"user_id": "bob", "unread": 1, "receive": receive, "now_ms": utc_ms("2026-12-06T12:00:00Z")})
}

fn outcome(message: &Value, recipient: &Value) -> Result<String, RenderError> {
    let message: Message = json::from_str(&message.to_string()).unwrap();
    let recipient: Recipient = json::from_str(&recipient.to_string()).unwrap();
    Ok(match render(&message, &recipient)? {
        Rendered::Notification(n) => format!("pushed: {}", n.body),
        Rendered::Suppressed(reason) => reason.as_str().to_owned(),
    })
}

/// (name, message, recipient, expected outcome)
fn cases() -> Vec<(&'static str, Value, Value, &'static str)> {
    let daily_sh = json!({"dnd": {"daily": {"start": "22:00", "duration_secs": 28800, "time_zone": "Asia/Shanghai"}}});
    let at = |rules: &Value, when: &str| {
        let mut r = bob(rules.clone());
        r["now_ms"] = json!(utc_ms(when));
        r
    };
    // US DST began on 2026-03-08 at 02:00 local (clocks to 03:00).
    let ny = json!({"dnd": {"daily": {"start": "01:30", "duration_secs": 7200, "time_zone": "America/New_York"}}});
    let ny_gap = json!({"dnd": {"daily": {"start": "02:30", "duration_secs": 3600, "time_zone": "America/New_York"}}});
    let period =
        json!({"dnd": {"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 7200}}});
    vec![
        // Control flags.
        (
            "online only",
            with(c2c(), json!({"control": {"online_only": true}})),
            bob(json!({})),
            "online_only",
        ),
        (
            "online only in a group",
            with(group(), json!({"control": {"online_only": true}})),
            bob(json!({})),
            "online_only",
        ),
        (
            "seed: sender before online only",
            with(c2c(), json!({"control": {"online_only": true}})),
            json!({"user_id": "alice"}),
            "recipient_is_sender",
        ),
        (
            "seed: message disabled before online only",
            with(
                c2c(),
                json!({"control": {"online_only": true}, "push": {"enabled": false}}),
            ),
            bob(json!({})),
            "message_disabled",
        ),
        (
            "seed: system message before online only",
            with(
                c2c(),
                json!({"control": {"online_only": true}, "kind": "system"}),
            ),
            bob(json!({})),
            "system_message",
        ),
        // C2C peer options and the mute.
        (
            "peer not_receive",
            c2c(),
            bob(json!({"peers": {"alice": "not_receive"}})),
            "peer_not_received",
        ),
        (
            "peer muted, SDK path honours it",
            c2c(),
            bob(json!({"peers": {"alice": "receive_not_notify"}})),
            "peer_muted",
        ),
        (
            "peer muted, REST path without WithMuteNotifications ignores it",
            with(c2c(), json!({"control": {"ignore_peer_mute": true}})),
            bob(json!({"peers": {"alice": "receive_not_notify"}})),
            "pushed: hi",
        ),
        (
            "ignoring the mute does not undo not_receive",
            with(c2c(), json!({"control": {"ignore_peer_mute": true}})),
            bob(json!({"peers": {"alice": "not_receive"}})),
            "peer_not_received",
        ),
        (
            "peer receive",
            c2c(),
            bob(json!({"peers": {"alice": "receive"}})),
            "pushed: hi",
        ),
        (
            "another peer's option",
            c2c(),
            bob(json!({"peers": {"carol": "not_receive"}})),
            "pushed: hi",
        ),
        (
            "a peer option does not cover the peer's group messages",
            group(),
            bob(json!({"peers": {"alice": "not_receive"}})),
            "pushed: Ann: hi",
        ),
        // Group options and @-mentions.
        (
            "group not_receive",
            group(),
            bob(json!({"groups": {"g-1": "not_receive"}})),
            "group_not_received",
        ),
        (
            "group receive_not_notify",
            group(),
            bob(json!({"groups": {"g-1": "receive_not_notify"}})),
            "group_not_notified",
        ),
        (
            "group mentions only, not mentioned",
            group(),
            bob(json!({"groups": {"g-1": "notify_only_when_mentioned"}})),
            "group_not_mentioned",
        ),
        (
            "group mentions only, someone else mentioned",
            with(group(), json!({"mentions": {"user_ids": ["carol"]}})),
            bob(json!({"groups": {"g-1": "notify_only_when_mentioned"}})),
            "group_not_mentioned",
        ),
        (
            "group mentions only, mentioned by id",
            with(group(), json!({"mentions": {"user_ids": ["carol", "bob"]}})),
            bob(json!({"groups": {"g-1": "notify_only_when_mentioned"}})),
            "pushed: Ann: hi",
        ),
        (
            "group mentions only, @all",
            with(group(), json!({"mentions": {"all": true}})),
            bob(json!({"groups": {"g-1": "notify_only_when_mentioned"}})),
            "pushed: Ann: hi",
        ),
        (
            "a mention does not lift a group mute",
            with(group(), json!({"mentions": {"all": true}})),
            bob(json!({"groups": {"g-1": "receive_not_notify"}})),
            "group_not_notified",
        ),
        (
            "another group's option",
            group(),
            bob(json!({"groups": {"g-2": "not_receive"}})),
            "pushed: Ann: hi",
        ),
        // Global option and the order.
        (
            "global not_receive",
            c2c(),
            bob(json!({"global": "not_receive"})),
            "global_not_received",
        ),
        (
            "global receive_not_notify",
            group(),
            bob(json!({"global": "receive_not_notify"})),
            "global_not_notified",
        ),
        (
            "global receive",
            group(),
            bob(json!({"global": "receive"})),
            "pushed: Ann: hi",
        ),
        (
            "a peer's receive does not undo a stricter global",
            c2c(),
            bob(json!({"global": "receive_not_notify", "peers": {"alice": "receive"}})),
            "global_not_notified",
        ),
        (
            "a mention does not undo the global option",
            with(group(), json!({"mentions": {"all": true}})),
            bob(
                json!({"global": "receive_not_notify", "groups": {"g-1": "notify_only_when_mentioned"}}),
            ),
            "global_not_notified",
        ),
        (
            "ignoring the peer mute does not ignore the global option",
            with(c2c(), json!({"control": {"ignore_peer_mute": true}})),
            bob(json!({"global": "receive_not_notify"})),
            "global_not_notified",
        ),
        (
            "conversation option reported before the global one",
            c2c(),
            bob(json!({"global": "not_receive", "peers": {"alice": "receive_not_notify"}})),
            "peer_muted",
        ),
        (
            "online only before receive options",
            with(c2c(), json!({"control": {"online_only": true}})),
            bob(json!({"global": "not_receive"})),
            "online_only",
        ),
        (
            "seed: logged out before receive options",
            c2c(),
            with(
                bob(json!({"global": "not_receive"})),
                json!({"login": "logged_out"}),
            ),
            "recipient_logged_out",
        ),
        (
            "seed: recipient disabled before group option",
            group(),
            with(
                bob(json!({"groups": {"g-1": "not_receive"}})),
                json!({"settings": {"enabled": false}}),
            ),
            "recipient_disabled",
        ),
        (
            "global option before do-not-disturb",
            c2c(),
            at(
                &json!({"global": "receive_not_notify", "dnd": {"period": {"start": "2026-12-06T00:00:00Z", "duration_secs": 86400}}}),
                "2026-12-06T12:00:00Z",
            ),
            "global_not_notified",
        ),
        (
            "do-not-disturb before nothing to show",
            with(c2c(), json!({"elements": []})),
            at(&period, "2026-12-24T19:00:00Z"),
            "do_not_disturb",
        ),
        (
            "outside do-not-disturb, nothing to show",
            with(c2c(), json!({"elements": []})),
            at(&period, "2026-12-24T21:00:00Z"),
            "nothing_to_show",
        ),
        // Daily window 22:00–06:00 in Shanghai (UTC+8): 14:00Z–22:00Z.
        (
            "daily: before the start",
            c2c(),
            at(&daily_sh, "2026-12-06T13:59:59Z"),
            "pushed: hi",
        ),
        (
            "daily: the start is inside",
            c2c(),
            at(&daily_sh, "2026-12-06T14:00:00Z"),
            "do_not_disturb",
        ),
        (
            "daily: 23:00 local",
            c2c(),
            at(&daily_sh, "2026-12-06T15:00:00Z"),
            "do_not_disturb",
        ),
        (
            "daily: past midnight local, window began yesterday",
            c2c(),
            at(&daily_sh, "2026-12-06T17:30:00Z"),
            "do_not_disturb",
        ),
        (
            "daily: 05:59:59 local",
            c2c(),
            at(&daily_sh, "2026-12-06T21:59:59Z"),
            "do_not_disturb",
        ),
        (
            "daily: the end is outside",
            c2c(),
            at(&daily_sh, "2026-12-06T22:00:00Z"),
            "pushed: hi",
        ),
        (
            "daily: a UTC date change is not a local one",
            c2c(),
            at(&daily_sh, "2026-12-07T00:30:00Z"),
            "pushed: hi",
        ),
        (
            "daily: whole day",
            c2c(),
            at(
                &json!({"dnd": {"daily": {"start": "00:00:00", "duration_secs": 86400, "time_zone": "UTC"}}}),
                "2026-12-06T23:59:59Z",
            ),
            "do_not_disturb",
        ),
        // New York, 2026-03-08: 01:30 EST = 06:30Z, two hours later = 08:30Z (04:30 EDT).
        (
            "DST: inside, after the clocks jump",
            c2c(),
            at(&ny, "2026-03-08T08:29:59Z"),
            "do_not_disturb",
        ),
        (
            "DST: a window lasts its duration in real time",
            c2c(),
            at(&ny, "2026-03-08T08:30:00Z"),
            "pushed: hi",
        ),
        (
            "DST: the day before, 01:30 EST = 06:30Z",
            c2c(),
            at(&ny, "2026-03-07T06:30:00Z"),
            "do_not_disturb",
        ),
        // 02:30 does not exist that day: the window starts at 03:30 EDT = 07:30Z.
        (
            "DST: a start in the gap moves after it",
            c2c(),
            at(&ny_gap, "2026-03-08T07:29:59Z"),
            "pushed: hi",
        ),
        (
            "DST: a start in the gap, inside",
            c2c(),
            at(&ny_gap, "2026-03-08T07:30:00Z"),
            "do_not_disturb",
        ),
        // One absolute period.
        (
            "period: before",
            c2c(),
            at(&period, "2026-12-24T17:59:59Z"),
            "pushed: hi",
        ),
        (
            "period: start",
            c2c(),
            at(&period, "2026-12-24T18:00:00Z"),
            "do_not_disturb",
        ),
        (
            "period: last second",
            c2c(),
            at(&period, "2026-12-24T19:59:59Z"),
            "do_not_disturb",
        ),
        (
            "period: end",
            c2c(),
            at(&period, "2026-12-24T20:00:00Z"),
            "pushed: hi",
        ),
    ]
}

#[test]
fn every_receive_rule_case_has_exactly_its_outcome() {
    let mut failures = Vec::new();
    let cases = cases();
    for (name, message, recipient, expected) in &cases {
        let got = outcome(message, recipient).unwrap_or_else(|e| format!("error: {e}"));
        if got != *expected {
            failures.push(format!("{name}: expected {expected}, got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_new_reason_has_a_case() {
    let cases = cases();
    for label in [
        "online_only",
        "peer_not_received",
        "peer_muted",
        "group_not_received",
        "group_not_notified",
        "group_not_mentioned",
        "global_not_received",
        "global_not_notified",
        "do_not_disturb",
    ] {
        assert!(cases.iter().any(|c| c.3 == label), "no case for {label}");
    }
}

#[test]
fn a_window_without_a_time_cannot_be_decided() {
    let mut recipient =
        bob(json!({"dnd": {"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 60}}}));
    recipient.as_object_mut().unwrap().remove("now_ms");
    assert_eq!(outcome(&c2c(), &recipient), Err(RenderError::MissingTime));
    // Without a window, no time is needed (today's callers).
    assert_eq!(
        outcome(&c2c(), &json!({"user_id": "bob"})).unwrap(),
        "pushed: hi"
    );
}

#[test]
fn no_rules_render_exactly_as_before() {
    let message: Message = json::from_str(&c2c().to_string()).unwrap();
    let plain: Recipient = json::from_str(r#"{"user_id":"bob","unread":1}"#).unwrap();
    let outside: Recipient = json::from_str(&at_period_outside().to_string()).unwrap();
    assert_eq!(
        render(&message, &plain).unwrap(),
        render(&message, &outside).unwrap()
    );
    // The new fields stay out of JSON when unset, so stored messages read back the same.
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        with(c2c(), json!({"kind": "chat"}))
    );
    let plain_json = serde_json::to_value(&plain).unwrap();
    assert!(plain_json.get("receive").is_none() && plain_json.get("now_ms").is_none());
}

fn at_period_outside() -> Value {
    json!({"user_id": "bob", "unread": 1, "now_ms": utc_ms("2026-12-06T12:00:00Z"),
        "receive": {"global": "receive", "peers": {"carol": "not_receive"},
            "dnd": {"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 60}}}})
}

#[test]
fn bad_windows_are_rejected_naming_the_field() {
    for (dnd, field, needle) in [
        (
            json!({"daily": {"start": "22:00", "duration_secs": 0, "time_zone": "UTC"}}),
            "receive.dnd",
            "duration_secs must be 1 to 86400",
        ),
        (
            json!({"daily": {"start": "22:00", "duration_secs": 86401, "time_zone": "UTC"}}),
            "receive.dnd",
            "got 86401",
        ),
        (
            json!({"daily": {"start": "22:00", "duration_secs": 60, "time_zone": "Mars/Olympus"}}),
            "receive.dnd",
            "unknown IANA time zone \"Mars/Olympus\"",
        ),
        (
            json!({"daily": {"start": "24:00", "duration_secs": 60, "time_zone": "UTC"}}),
            "receive.dnd",
            "expected \"HH:MM\"",
        ),
        (
            json!({"daily": {"start": "7:00", "duration_secs": 60, "time_zone": "UTC"}}),
            "receive.dnd",
            "expected \"HH:MM\"",
        ),
        (
            json!({"period": {"start": "tomorrow", "duration_secs": 60}}),
            "receive.dnd",
            "RFC 3339",
        ),
        (
            json!({"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 0}}),
            "receive.dnd",
            "at least 1",
        ),
        (json!({"weekly": {}}), "receive.dnd", "unknown variant"),
    ] {
        let text = json!({"user_id": "bob", "receive": {"dnd": dnd}}).to_string();
        let err = json::from_str::<Recipient>(&text).expect_err("rejected");
        assert_eq!(err.field(), Some(field), "{text}");
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
    let text = json!({"user_id": "bob", "receive": {"groups": {"g": "notify_only_when_mentioned"}, "peers": {"a": "notify_only_when_mentioned"}}}).to_string();
    let err = json::from_str::<Recipient>(&text).expect_err("a peer cannot be mention-only");
    assert_eq!(err.field(), Some("receive.peers.a"));
}

#[test]
fn a_window_reads_back_as_written() {
    let text = r#"{"user_id":"bob","receive":{"dnd":{"daily":{"start":"22:30","duration_secs":3600,"time_zone":"Europe/Berlin"}}}}"#;
    let recipient: Recipient = json::from_str(text).unwrap();
    assert_eq!(
        serde_json::to_string(&recipient).unwrap(),
        text.replace(
            r#""user_id":"bob","#,
            r#""user_id":"bob","login":"logged_in","settings":{"enabled":true},"unread":0,"#
        )
    );
}

#[test]
fn ios_title_and_subtitle_reach_the_notification_and_empty_is_unset() {
    let message = with(
        c2c(),
        json!({"push": {"android": {"title": "A"}, "ios": {"title": "I", "subtitle": "S"}}}),
    );
    let message: Message = json::from_str(&message.to_string()).unwrap();
    let Rendered::Notification(n) = render(&message, &Recipient::new("bob")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            n.title.as_str(),
            n.android_title(),
            n.ios_title(),
            n.ios_subtitle()
        ),
        ("alice", "A", "I", Some("S"))
    );
    assert_eq!(
        serde_json::to_value(&n).unwrap()["ios_alert"],
        json!({"title": "I", "subtitle": "S"})
    );

    let message = with(
        c2c(),
        json!({"push": {"ios": {"title": "", "subtitle": ""}}}),
    );
    let message: Message = json::from_str(&message.to_string()).unwrap();
    let Rendered::Notification(n) = render(&message, &Recipient::new("bob")).unwrap() else {
        panic!()
    };
    assert_eq!((n.ios_title(), n.ios_subtitle()), ("alice", None));
    assert_eq!(n.ios_alert, None);
}
