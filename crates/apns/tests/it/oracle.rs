//! a2 0.10 as an oracle: the same alert built with a2's builder agrees with our payload on every
//! key a2 knows, and a2 parses the reasons it knows to the same names.

use a2::request::notification::{
    DefaultNotificationBuilder, NotificationBuilder, NotificationOptions,
};
use pushway_apns::{ApnsReason, build_payload};
use pushway_core::{IosSound, Notification};
use serde_json::Value;

use crate::*;

/// Every key of `oracle` is in `ours` with the same value (objects compared key by key), except
/// `mutable-content`, which a2 always writes (as 0) and we do not send.
fn agrees(path: &str, oracle: &Value, ours: &Value) {
    match (oracle, ours) {
        (Value::Object(o), Value::Object(u)) => {
            for (k, v) in o {
                if k == "mutable-content" {
                    assert_eq!(v, 0, "a2 asked for mutable-content");
                    continue;
                }
                let Some(mine) = u.get(k) else {
                    panic!("{path}.{k} missing from ours: {ours}")
                };
                agrees(&format!("{path}.{k}"), v, mine);
            }
        }
        _ => assert_eq!(oracle, ours, "at {path}"),
    }
}

fn a2_payload(n: &Notification) -> Value {
    let mut b = DefaultNotificationBuilder::new()
        .set_title(&n.title)
        .set_body(&n.body);
    match &n.ios_sound {
        IosSound::Default => b = b.set_sound("default"),
        IosSound::File(name) => b = b.set_sound(name),
        IosSound::NoSoundNoVibration => {}
    }
    if let Some(badge) = n.badge {
        b = b.set_badge(badge);
    }
    let mut payload = b.build(TOKEN, NotificationOptions::default());
    let pairs: Vec<(&'static str, String)> = n
        .app_data
        .pairs()
        .map(|(k, v)| (k, v.into_owned()))
        .collect();
    for (k, v) in &pairs {
        payload.add_custom_data(k, v).unwrap();
    }
    serde_json::to_value(&payload).unwrap()
}

#[test]
fn our_payload_agrees_with_a2_on_every_key_a2_knows() {
    let mut cases = vec![c2c(), group()];
    let mut silent = group();
    silent.ios_sound = IosSound::NoSoundNoVibration;
    silent.badge = Some(0);
    cases.push(silent);
    let mut quoted = c2c();
    quoted.body = "line\n\"quoted\" \\ 表情 🇨🇳".into();
    cases.push(quoted);
    for n in cases {
        let oracle = a2_payload(&n);
        let ours: Value = serde_json::from_slice(&build_payload(&n).unwrap().json).unwrap();
        agrees("$", &oracle, &ours);
        // And the other way round: what we add beyond a2 is only thread-id (a2 lacks it).
        let extra: Vec<&String> = ours["aps"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| oracle["aps"].get(k.as_str()).is_none())
            .collect();
        assert_eq!(extra, ["thread-id"]);
        assert_eq!(
            ours.as_object().unwrap().len(),
            oracle.as_object().unwrap().len()
        );
    }
}

#[test]
fn a2_parses_the_reasons_it_knows_to_the_same_names() {
    let mut known_to_a2 = 0;
    for reason in ApnsReason::KNOWN {
        let body = format!(r#"{{"reason":"{}"}}"#, reason.as_str());
        if let Ok(parsed) = serde_json::from_str::<a2::ErrorBody>(&body) {
            assert_eq!(format!("{:?}", parsed.reason), reason.as_str());
            known_to_a2 += 1;
        }
    }
    // a2 0.10 lacks InvalidPushType, ExpiredToken, UnrelatedKeyIdInToken and both
    // BadEnvironmentKey spellings.
    assert_eq!(known_to_a2, ApnsReason::KNOWN.len() - 5);
}
