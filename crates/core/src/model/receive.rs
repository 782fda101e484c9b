//! The recipient's receive rules (tim.md §7 item 6): receive options per C2C peer, per group and
//! global, and a do-not-disturb window. They only ever take a push away.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DoNotDisturb;

/// What a recipient wants from one C2C peer, or from everyone (tim.md §7.6, TIM's
/// `V2TIMReceiveMessageOpt`; the old Android enum `TIMGroupReceiveMessageOpt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiveOption {
    /// Receive and notify (TIM `RECEIVE`, 0): the default.
    #[default]
    Receive,
    /// Receive nothing, online or offline (TIM `NOT_RECEIVE`, 1): no push.
    NotReceive,
    /// Receive online only, never notify (TIM `RECEIVE_NOT_NOTIFY`, 2): no push. On a C2C peer
    /// this is the "mute" that TIM's REST `sendmsg` ignores unless asked (tim.md §7 item 7).
    ReceiveNotNotify,
}

/// What a recipient wants from one group: [`ReceiveOption`]'s three, plus notify only when
/// @-mentioned (TIM `RECEIVE_NOT_NOTIFY_EXCEPT_AT`, group only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupReceiveOption {
    /// Receive and notify: the default.
    #[default]
    Receive,
    /// Receive nothing: no push.
    NotReceive,
    /// Receive online only: no push.
    ReceiveNotNotify,
    /// Push only messages that @-mention the recipient (by user id, or @all).
    NotifyOnlyWhenMentioned,
}

/// A recipient's receive rules. Every part is optional; the default (all absent) is today's
/// behaviour: every message may be pushed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiveRules {
    /// The option for every conversation (applies together with a conversation's own option:
    /// whichever is stricter wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<ReceiveOption>,
    /// Options per C2C peer (the sender's user id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peers: BTreeMap<String, ReceiveOption>,
    /// Options per group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupReceiveOption>,
    /// A do-not-disturb window: inside it, no push at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<DoNotDisturb>,
}

impl ReceiveRules {
    /// Whether no rule is set (nothing is ever suppressed by these rules).
    pub fn is_empty(&self) -> bool {
        self.global.is_none()
            && self.peers.is_empty()
            && self.groups.is_empty()
            && self.dnd.is_none()
    }
}

/// Who a group message @-mentions (TIM `GroupAtInfo`: `GroupAt_Account`, `GroupAtAllFlag`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mentions {
    /// The user ids mentioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    /// Whether the message mentions everyone (@all).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

impl Mentions {
    /// Whether nobody is mentioned.
    pub fn is_empty(&self) -> bool {
        self.user_ids.is_empty() && !self.all
    }

    /// Whether `user_id` is mentioned, by name or by @all.
    pub fn mentions(&self, user_id: &str) -> bool {
        self.all || self.user_ids.iter().any(|u| u == user_id)
    }
}

/// A message's delivery control flags (TIM: `MsgLifeTime` 0 / `OnlineOnlyFlag`,
/// `SendMsgControl`). The default is today's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageControl {
    /// For online recipients only: never pushed (tim.md §7 item 5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online_only: bool,
    /// Push even to recipients who muted the C2C sender (their peer option
    /// [`ReceiveOption::ReceiveNotNotify`]). TIM's REST `sendmsg` behaves so unless
    /// `SendMsgControl` has `WithMuteNotifications`; the SDK path (the default, `false`)
    /// honours the mute (tim.md §7 item 7). A peer's `not_receive` still holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_peer_mute: bool,
}

impl MessageControl {
    /// Whether every flag has its default.
    pub fn is_default(&self) -> bool {
        *self == MessageControl::default()
    }
}
