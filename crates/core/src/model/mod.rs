//! The message model: what an IM message, its sender, its push settings, the recipient and the
//! recipient's devices look like, and the rendered, channel-neutral [`Notification`].
//!
//! Every type here is (de)serialisable as JSON because fixtures, the demo and the gateway speak
//! JSON. Input types reject unknown fields, so a misspelt field is an error rather than a silently
//! ignored setting; see [`crate::json`] for errors that name the field.

mod device;
mod dnd;
mod ext;
mod message;
mod notification;
mod receive;
mod recipient;
mod settings;
mod sound;
mod warning;

pub use device::{ApnsEnv, ChannelKey, DeviceToken, Redacted, TokenKind};
pub use dnd::{DoNotDisturb, InvalidDnd, MAX_DAILY_DND_SECS};
pub use ext::Ext;
pub use message::{Conversation, ConversationType, Element, Message, MessageKind, Sender};
pub use notification::{AppData, IosAlert, Notification};
pub use receive::{GroupReceiveOption, Mentions, MessageControl, ReceiveOption, ReceiveRules};
pub use recipient::{LoginState, Recipient};
pub use settings::{
    AndroidPushSettings, IosPushSettings, IosSound, MessagePushSettings, NotifyMode,
    UserPushSettings,
};
pub use sound::{AndroidSound, InvalidSound};
pub use warning::RenderWarning;
