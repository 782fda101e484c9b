//! The IM message a push is rendered from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Ext, Mentions, MessageControl, MessagePushSettings};

/// An IM message, as the push server sees it when the recipient is offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Unique per message: used for de-duplication, `apns-id` and the daemon push id.
    pub id: String,
    /// Where the message was sent.
    pub conversation: Conversation,
    /// Who sent it.
    pub sender: Sender,
    /// The message body, in order.
    #[serde(default)]
    pub elements: Vec<Element>,
    /// Chat or system message; system messages are never pushed.
    #[serde(default)]
    pub kind: MessageKind,
    /// How long the vendor should keep trying to deliver the push (whole seconds in JSON as
    /// `ttl_secs`); `None` leaves the vendor's default.
    #[serde(
        default,
        rename = "ttl_secs",
        with = "secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// The sender's per-message push settings (the seed's `TIMMessageOfflinePushSettings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<MessagePushSettings>,
    /// Who the message @-mentions (group messages; TIM `GroupAtInfo`). Absent = nobody.
    #[serde(default, skip_serializing_if = "Mentions::is_empty")]
    pub mentions: Mentions,
    /// Delivery control flags (online only, mute handling). Absent = the defaults.
    #[serde(default, skip_serializing_if = "MessageControl::is_default")]
    pub control: MessageControl,
}

/// The conversation a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Conversation {
    /// One-to-one chat. `peer` is the user the message is addressed to; the app-facing
    /// conversation id of a C2C push is the *sender's* user id (the recipient's peer).
    C2c {
        /// The user the message is addressed to.
        peer: String,
    },
    /// Group chat.
    Group {
        /// The group id.
        id: String,
        /// The group's name; `None` (or empty) when the group has none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl Conversation {
    /// The conversation type.
    pub fn kind(&self) -> ConversationType {
        match self {
            Conversation::C2c { .. } => ConversationType::C2c,
            Conversation::Group { .. } => ConversationType::Group,
        }
    }
}

/// The two conversation types, as delivered in the app data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationType {
    /// One-to-one chat.
    C2c,
    /// Group chat.
    Group,
}

impl ConversationType {
    /// The stable label used in the app data: `"c2c"` or `"group"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationType::C2c => "c2c",
            ConversationType::Group => "group",
        }
    }
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    /// The sender's user id.
    pub user_id: String,
    /// The sender's personal nickname, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The sender's name card in the group (group messages only), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_card: Option<String>,
}

/// Whether a message is a user's chat message or a system message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// An ordinary chat message: pushed.
    #[default]
    Chat,
    /// A system message: never pushed (seed: offline push covers chat messages only).
    System,
}

/// One element of a message body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Element {
    /// Text, shown as is.
    Text {
        /// The text.
        text: String,
    },
    /// A voice message.
    Sound,
    /// A file.
    File,
    /// An image.
    Image,
    /// An app-defined element: `desc` is what a push shows, `ext` goes to the app.
    Custom {
        /// The description shown in the push (in brackets by default).
        #[serde(default)]
        desc: String,
        /// Extension bytes for the app.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ext: Option<Ext>,
    },
    /// A video (beyond the seed).
    Video,
    /// A location (beyond the seed).
    Location,
    /// A sticker / face (beyond the seed).
    Face,
}

/// `Option<Duration>` as whole seconds.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}
