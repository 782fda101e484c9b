//! pushway's core: the IM message model, the renderer that turns a message into an offline-push
//! notification by the seed's rules, the [`PushProvider`] contract every channel implements, one
//! [`Outcome`] taxonomy for every vendor, and the [`Router`] that picks a provider per device.
//!
//! This crate does no I/O of its own and has no HTTP dependency; the channels live in
//! `pushway-apns`, `pushway-xiaomi`, `pushway-huawei` and `pushway-daemon`.
//!
//! | piece | what it is |
//! |---|---|
//! | [`model`] | messages, settings, recipients, device tokens, the rendered [`Notification`] |
//! | [`render()`] | the seed's rules: a [`Notification`] or a [`SuppressReason`] |
//! | [`limits`] | shortening bodies to a channel's budget, [`PayloadTooLarge`] |
//! | [`PushProvider`] | one attempt for a batch, one [`Outcome`] per token |
//! | [`Router`] | groups devices by [`ChannelKey`], batches, runs concurrently |
//! | [`ChannelStrategy`] | which of a recipient's devices to send to (all, or a live daemon first) |
//! | [`credential`] | for channel authors: the single-flight cache of an OAuth-style credential |
//! | [`testing`] | [`StubProvider`](testing::StubProvider), a scripted provider that records calls |
//!
//! ```
//! use pushway_core::{Recipient, Rendered, render};
//!
//! let message = pushway_core::json::from_str(r#"{
//!     "id": "m1",
//!     "conversation": {"type": "group", "id": "g1", "name": "Climbers"},
//!     "sender": {"user_id": "u1", "nickname": "Ann"},
//!     "elements": [{"type": "text", "text": "Look "}, {"type": "image"}]
//! }"#).unwrap();
//! let recipient = Recipient::new("u2");
//! let Rendered::Notification(n) = render(&message, &recipient).unwrap() else { panic!() };
//! assert_eq!(n.title, "Climbers");
//! assert_eq!(n.body, "Ann: Look [图片]");
//! ```

pub mod credential;
pub mod error;
pub mod json;
pub mod limits;
pub mod model;
pub mod outcome;
pub mod presence;
pub mod provider;
pub mod render;
pub mod router;
pub mod strategy;
pub mod testing;

pub use error::Error;
pub use limits::{Budget, Fitted, PayloadTooLarge, fit_payload, fit_text};
pub use model::{
    AndroidPushSettings, AndroidSound, ApnsEnv, AppData, ChannelKey, Conversation,
    ConversationType, DeviceToken, DoNotDisturb, Element, Ext, GroupReceiveOption, IosAlert,
    IosPushSettings, IosSound, LoginState, Mentions, Message, MessageControl, MessageKind,
    MessagePushSettings, Notification, NotifyMode, ReceiveOption, ReceiveRules, Recipient,
    RenderWarning, Sender, TokenKind, UserPushSettings,
};
pub use outcome::{Outcome, Reason};
pub use presence::Presence;
pub use provider::PushProvider;
pub use render::{Placeholders, RenderError, Rendered, Renderer, SuppressReason, render};
pub use router::{DeviceResult, DispatchReport, Router};
pub use strategy::ChannelStrategy;

/// Re-exported so providers can implement [`PushProvider`] without naming the crate themselves.
pub use async_trait::async_trait;
