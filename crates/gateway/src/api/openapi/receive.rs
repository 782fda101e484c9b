//! The schema of the settings' `receive`: pushway-core's `ReceiveRules` (which has no schema of
//! its own, and which the settings parse into), mirrored with the same serde attributes. The
//! tests feed the same documents to both and require them to agree.

#![allow(
    dead_code,
    reason = "the mirror is only deserialised (by the tests) and described, never read"
)]

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// A user's receive rules (tim.md §7 item 6): options per C2C peer, per group and global, and a
/// do-not-disturb window. Whichever applicable option is stricter wins.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReceiveRules)]
pub(crate) struct ReceiveRulesSchema {
    /// The option for every conversation.
    #[serde(default)]
    global: Option<ReceiveOption>,
    /// Options by C2C peer (the sender's user id); at most 1000.
    #[serde(default)]
    peers: BTreeMap<String, ReceiveOption>,
    /// Options by group id; at most 1000.
    #[serde(default)]
    groups: BTreeMap<String, GroupReceiveOption>,
    /// A do-not-disturb window: no push inside it.
    #[serde(default)]
    dnd: Option<DoNotDisturb>,
}

/// What a user wants from a peer, or from everyone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReceiveOption {
    /// Receive and notify (the default).
    Receive,
    /// Receive nothing: no push (`peer_not_received` / `global_not_received`).
    NotReceive,
    /// Receive without notification: no push (`peer_muted` / `global_not_notified`).
    ReceiveNotNotify,
}

/// What a user wants from a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum GroupReceiveOption {
    /// Receive and notify (the default).
    Receive,
    /// Receive nothing: no push (`group_not_received`).
    NotReceive,
    /// Receive without notification: no push (`group_not_notified`).
    ReceiveNotNotify,
    /// Push only messages that @-mention the user or @all (`group_not_mentioned`).
    NotifyOnlyWhenMentioned,
}

/// A do-not-disturb window: daily in a time zone, or one UTC period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum DoNotDisturb {
    /// Every day from `start` for `duration_secs`, wall-clock time in `time_zone`; may run past
    /// midnight.
    Daily {
        /// `"HH:MM"` or `"HH:MM:SS"`.
        #[schema(pattern = r"^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$")]
        start: String,
        /// 1 to 86400 seconds.
        #[schema(minimum = 1, maximum = 86400)]
        duration_secs: u32,
        /// An IANA time zone, such as `Asia/Shanghai`.
        time_zone: String,
    },
    /// One period.
    Period {
        /// An RFC 3339 instant, such as `2026-12-24T18:00:00Z`.
        start: String,
        /// At least 1 second.
        #[schema(minimum = 1)]
        duration_secs: u64,
    },
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::ReceiveRulesSchema;

    #[test]
    fn the_mirror_accepts_and_refuses_what_core_does() {
        let full = json!({
            "global": "receive_not_notify",
            "peers": {"alice": "not_receive", "carol": "receive"},
            "groups": {"g1": "notify_only_when_mentioned", "g2": "receive_not_notify"},
            "dnd": {"daily": {"start": "22:00", "duration_secs": 3600, "time_zone": "Asia/Shanghai"}}
        });
        let mut cases = vec![
            (full.clone(), true),
            (json!({}), true),
            (
                json!({"dnd": {"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 60}}}),
                true,
            ),
        ];
        for (pointer, value) in [
            ("/extra", json!(1)),
            ("/global", json!("notify_only_when_mentioned")),
            ("/peers/alice", json!("mute")),
            ("/groups/g1", json!("never")),
            ("/dnd/daily/extra", json!(1)),
            ("/dnd/daily/duration_secs", json!(-1)),
        ] {
            let mut m = full.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            let Some(Value::Object(object)) = m.pointer_mut(parent) else {
                panic!("no object at {parent}");
            };
            object.insert(key.to_owned(), value);
            cases.push((m, false));
        }
        for (rules, accepted) in &cases {
            let core =
                pushway_core::json::from_str::<pushway_core::ReceiveRules>(&rules.to_string());
            let mirror = serde_json::from_value::<ReceiveRulesSchema>(rules.clone());
            assert_eq!(core.is_ok(), *accepted, "core: {rules}");
            assert_eq!(mirror.is_ok(), *accepted, "mirror: {rules}");
        }
    }
}
