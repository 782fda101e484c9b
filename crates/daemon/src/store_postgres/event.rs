//! The payloads of the `pushway_daemon` notifications: JSON arrays, first the kind, then the
//! scope (so the apps sharing the tables ignore each other's events).
//!
//! | payload | meaning |
//! |---|---|
//! | `["q", scope, address, seq, prev, id, expires_at_ms, frame]` | a push was appended to the device's queue; `prev` is the seq before it in that queue (`null`: none) |
//! | `["p", scope, address]` | pushes were appended to the device's queue (the push was too long to carry) |
//! | `["*", scope]` | some queues of the scope changed: re-check every local device |
//! | `["r", scope, address, generation]` | the device's tokens below `generation` are revoked |
//! | `["c", scope, address, node, since_ms]` | the device connected to `node` |
//! | `["d", scope, address, node]` | the device's connection to `node` ended |

use serde_json::{Value, json};

use crate::key::DeviceKey;
use crate::queue::StoredPush;

/// Postgres refuses a payload of 8000 bytes or more; a longer one is replaced by a coarser
/// event (a device address is app input and may be long).
const MAX_PAYLOAD: usize = 7900;

/// A decoded event of this store's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Written by `daemon_append_v1` (schema.rs), one per push.
    Queued {
        device: DeviceKey,
        push: StoredPush,
        prev: Option<u64>,
    },
    Pushed(DeviceKey),
    WakeAll,
    Revoked(DeviceKey, u64),
    Connected {
        device: DeviceKey,
        node: String,
        since_ms: u64,
    },
    Disconnected {
        device: DeviceKey,
        node: String,
    },
}

fn bounded(payload: Value, scope: &str) -> String {
    let text = payload.to_string();
    if text.len() < MAX_PAYLOAD {
        text
    } else {
        json!(["*", scope]).to_string()
    }
}

/// What `daemon_append_v1` sends for a push too long to carry (the tests' twin of its SQL).
#[cfg(test)]
pub(crate) fn pushed(scope: &str, device: &DeviceKey) -> String {
    bounded(json!(["p", scope, device.address()]), scope)
}

pub(crate) fn revoked(scope: &str, device: &DeviceKey, generation: u64) -> String {
    // Too long to tell: the revocation still holds at the next `hello` (the store's check), and
    // a live connection on another node keeps going until it reconnects.
    bounded(json!(["r", scope, device.address(), generation]), scope)
}

/// `None` when too long to send: the other nodes then learn of it when they next reload the
/// presence table.
pub(crate) fn connected(
    scope: &str,
    device: &DeviceKey,
    node: &str,
    since_ms: u64,
) -> Option<String> {
    let text = json!(["c", scope, device.address(), node, since_ms]).to_string();
    (text.len() < MAX_PAYLOAD).then_some(text)
}

/// As [`connected`].
pub(crate) fn disconnected(scope: &str, device: &DeviceKey, node: &str) -> Option<String> {
    let text = json!(["d", scope, device.address(), node]).to_string();
    (text.len() < MAX_PAYLOAD).then_some(text)
}

/// The event, when it is well formed and of `scope`.
pub(crate) fn decode(scope: &str, payload: &str) -> Option<Event> {
    let value: Vec<Value> = serde_json::from_str(payload).ok()?;
    let (kind, rest) = value.split_first()?;
    let (of, rest) = rest.split_first()?;
    if of.as_str()? != scope {
        return None;
    }
    let device = || rest.first()?.as_str().and_then(DeviceKey::parse);
    let text = |i: usize| rest.get(i)?.as_str().map(str::to_owned);
    let number = |i: usize| rest.get(i)?.as_u64();
    Some(match kind.as_str()? {
        "q" => Event::Queued {
            device: device()?,
            push: StoredPush {
                seq: number(1)?,
                id: text(3)?,
                frame: rest.get(5)?.as_str()?.into(),
                expires_at_ms: number(4)?,
            },
            prev: match rest.get(2)? {
                Value::Null => None,
                value => Some(value.as_u64()?),
            },
        },
        "p" => Event::Pushed(device()?),
        "*" => Event::WakeAll,
        "r" => Event::Revoked(device()?, number(1)?),
        "c" => Event::Connected {
            device: device()?,
            node: text(1)?,
            since_ms: number(2)?,
        },
        "d" => Event::Disconnected {
            device: device()?,
            node: text(1)?,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_other_scopes_are_ignored() {
        let key = DeviceKey::new("team/alice", "phone-1").unwrap();
        assert_eq!(
            decode("app", &pushed("app", &key)),
            Some(Event::Pushed(key.clone()))
        );
        assert_eq!(decode("other", &pushed("app", &key)), None);
        assert_eq!(
            decode("app", &revoked("app", &key, 7)),
            Some(Event::Revoked(key.clone(), 7))
        );
        assert_eq!(
            decode("app", &connected("app", &key, "n1", 42).unwrap()),
            Some(Event::Connected {
                device: key.clone(),
                node: "n1".to_owned(),
                since_ms: 42
            })
        );
        assert_eq!(
            decode("app", &disconnected("app", &key, "n1").unwrap()),
            Some(Event::Disconnected {
                device: key,
                node: "n1".to_owned()
            })
        );
        let carried = r#"["q","app","team/alice/phone-1",12,null,"m1",99,"{\"t\":1}"]"#;
        assert_eq!(
            decode("app", carried),
            Some(Event::Queued {
                device: DeviceKey::new("team/alice", "phone-1").unwrap(),
                push: StoredPush {
                    seq: 12,
                    id: "m1".to_owned(),
                    frame: "{\"t\":1}".into(),
                    expires_at_ms: 99
                },
                prev: None
            })
        );
        let after = r#"["q","app","team/alice/phone-1",12,7,"m1",99,"{}"]"#;
        assert!(matches!(
            decode("app", after),
            Some(Event::Queued { prev: Some(7), .. })
        ));
        for bad in [
            "",
            "[]",
            r#"["p","app"]"#,
            r#"["x","app","a/b"]"#,
            "{}",
            r#"["q","app","a/b",12,"7","m1",99,"{}"]"#,
            r#"["q","app","a/b",12,null,"m1",99]"#,
        ] {
            assert_eq!(decode("app", bad), None, "{bad}");
        }
    }

    #[test]
    fn a_long_address_wakes_everyone_instead() {
        let key = DeviceKey::new(&"u".repeat(MAX_PAYLOAD), "d").unwrap();
        assert_eq!(decode("app", &pushed("app", &key)), Some(Event::WakeAll));
        assert_eq!(connected("app", &key, "n1", 1), None);
    }
}
