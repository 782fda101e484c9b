//! The renderer: the seed's offline-push rules, from a message and its recipient to a
//! [`Notification`] or the reason there is none. Pure: no I/O, no clock.
//!
//! The rules (DESIGN.md §4), in the order they apply:
//! 1. No push when the recipient logged out or was kicked offline, the message is a system
//!    message, the recipient turned pushes off, the message turned pushes off, the recipient is
//!    the sender, or there is nothing to show ([`SuppressReason`]).
//! 2. Title: C2C → the sender's user id; group → the group name, else the group id. The message's
//!    Android title replaces it on Android channels only.
//! 3. Body: the message's `descr` verbatim when non-empty; else the content, prefixed in groups by
//!    `"<sender>: "` (name card, else nickname, else user id).
//! 4. Content: the elements concatenated in order (text as is, placeholders for the rest, custom
//!    elements as `[desc]`).
//! 5. Per-message settings override per-user settings.
//! 6. Android sound: message, else the per-user C2C/group sound, else the system default. A sound
//!    never costs the push: an app resource by name (`android.resource://<package>/raw/<name>`)
//!    or by numeric id (`android.resource://<package>/<id>`, as the seed's sample builds it) is
//!    kept, anything else (or another app's package) falls back to the default sound, and every
//!    fallback is a [`RenderWarning`] on the notification. An id is also reported, since
//!    channels that need the resource name (Huawei) play the default sound for it.
//! 7. iOS sound: `"default"`, a file name, or no sound key for no-sound-no-vibration; an empty
//!    file name counts as unset (the default sound).
//! 8. Badge: the recipient's unread count when the message enables it (default), else none.
//! 9. Ext: the message's ext, else the first custom element's.
//! 10. App data: see [`AppData`].
//!
//! After the seed's reasons come the receive rules (tim.md §7; see `receive.rs`). The order
//! in which suppression reasons are checked, the first that holds being reported:
//!
//! | # | reason | source |
//! |---|---|---|
//! | 1 | `recipient_logged_out`, `recipient_kicked_offline` | seed |
//! | 2 | `system_message` | seed |
//! | 3 | `recipient_disabled` | seed |
//! | 4 | `message_disabled` | seed |
//! | 5 | `recipient_is_sender` | seed |
//! | 6 | `online_only` | message control flag |
//! | 7 | `peer_not_received`, `peer_muted` (C2C); `group_not_received`, `group_not_notified`, `group_not_mentioned` (group) | the conversation's receive option |
//! | 8 | `global_not_received`, `global_not_notified` | the global receive option |
//! | 9 | `do_not_disturb` | the recipient's window, at `Recipient::now_ms` |
//! | 10 | `nothing_to_show` | seed (needs the rendered content) |
//!
//! The title may be replaced per platform: the message's Android title on Android channels
//! (seed), its iOS title and subtitle on APNs (TIM REST `ApnsInfo`, [`IosAlert`]).

mod placeholders;
mod receive;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

pub use placeholders::{DEFAULT_GROUP_SENDER, Placeholders};

use crate::model::{
    AndroidSound, AppData, Conversation, Element, IosAlert, IosSound, LoginState, Message,
    MessageKind, Notification, NotifyMode, Recipient, RenderWarning,
};

/// What rendering produced: a notification, or the reason there is none.
// Not boxed: a render result is consumed at once, and boxing would cost an allocation per render.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rendered {
    /// Push this.
    Notification(Notification),
    /// Push nothing, for this reason.
    Suppressed(SuppressReason),
}

impl Rendered {
    /// The notification, if there is one.
    pub fn notification(&self) -> Option<&Notification> {
        match self {
            Rendered::Notification(n) => Some(n),
            Rendered::Suppressed(_) => None,
        }
    }

    /// The suppression reason, if there is one.
    pub fn suppressed(&self) -> Option<SuppressReason> {
        match self {
            Rendered::Notification(_) => None,
            Rendered::Suppressed(reason) => Some(*reason),
        }
    }
}

/// Why a message is not pushed to a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SuppressReason {
    /// The recipient logged out: no notifications at all (seed).
    RecipientLoggedOut,
    /// The recipient was kicked offline: no notifications at all (seed).
    RecipientKickedOffline,
    /// System messages are never pushed (seed).
    SystemMessage,
    /// The recipient turned offline pushes off.
    RecipientDisabled,
    /// The sender turned pushes off for this message.
    MessageDisabled,
    /// The recipient is the sender.
    RecipientIsSender,
    /// No `descr` and the content renders empty.
    NothingToShow,
    /// The message is for online recipients only (TIM `MsgLifeTime` 0, `OnlineOnlyFlag`).
    OnlineOnly,
    /// The recipient receives nothing from this C2C peer.
    PeerNotReceived,
    /// The recipient muted this C2C peer (receive, do not notify), and the message honours it.
    PeerMuted,
    /// The recipient receives nothing from this group.
    GroupNotReceived,
    /// The recipient muted this group (receive, do not notify).
    GroupNotNotified,
    /// The recipient wants this group's pushes only when @-mentioned, and is not.
    GroupNotMentioned,
    /// The recipient's global option: receive nothing.
    GlobalNotReceived,
    /// The recipient's global option: receive, do not notify.
    GlobalNotNotified,
    /// The render time lies in the recipient's do-not-disturb window.
    DoNotDisturb,
}

impl SuppressReason {
    /// A stable label (the JSON name) for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            SuppressReason::RecipientLoggedOut => "recipient_logged_out",
            SuppressReason::RecipientKickedOffline => "recipient_kicked_offline",
            SuppressReason::SystemMessage => "system_message",
            SuppressReason::RecipientDisabled => "recipient_disabled",
            SuppressReason::MessageDisabled => "message_disabled",
            SuppressReason::RecipientIsSender => "recipient_is_sender",
            SuppressReason::NothingToShow => "nothing_to_show",
            SuppressReason::OnlineOnly => "online_only",
            SuppressReason::PeerNotReceived => "peer_not_received",
            SuppressReason::PeerMuted => "peer_muted",
            SuppressReason::GroupNotReceived => "group_not_received",
            SuppressReason::GroupNotNotified => "group_not_notified",
            SuppressReason::GroupNotMentioned => "group_not_mentioned",
            SuppressReason::GlobalNotReceived => "global_not_received",
            SuppressReason::GlobalNotNotified => "global_not_notified",
            SuppressReason::DoNotDisturb => "do_not_disturb",
        }
    }
}

/// Input that cannot be rendered. A setting the renderer cannot honour (an unplayable sound)
/// falls back to its default with a [`RenderWarning`] instead, because it must never cost the
/// push; only a recipient context that leaves a rule undecidable fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The recipient has a do-not-disturb window but no `now_ms` to check it against.
    #[error("recipient.now_ms is required when recipient.receive.dnd is set")]
    MissingTime,
}

/// A configured renderer. [`render`] uses the default configuration.
#[derive(Debug, Clone)]
#[must_use]
pub struct Renderer {
    custom_desc_brackets: bool,
    android_package: Option<String>,
    default_table: Placeholders,
    tables: Vec<(String, Placeholders)>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            custom_desc_brackets: true,
            android_package: None,
            default_table: Placeholders::ZH,
            tables: vec![("en".to_owned(), Placeholders::EN)],
        }
    }
}

static DEFAULT_RENDERER: LazyLock<Renderer> = LazyLock::new(Renderer::default);

/// Renders `message` for `recipient` with the default [`Renderer`].
pub fn render(message: &Message, recipient: &Recipient) -> Result<Rendered, RenderError> {
    DEFAULT_RENDERER.render(message, recipient)
}

impl Renderer {
    /// The default renderer: the seed's rules, Chinese placeholders, an English table for `en`
    /// locales, custom descriptions in brackets.
    pub fn new() -> Self {
        Renderer::default()
    }

    /// Whether a custom element shows as `[desc]` (the seed and the shipped SDK; default) or as
    /// `desc` (what Tencent's server does today).
    pub fn custom_desc_brackets(mut self, brackets: bool) -> Self {
        self.custom_desc_brackets = brackets;
        self
    }

    /// The app's Android package: sounds naming another package fall back to the default sound
    /// (with [`RenderWarning::ForeignAndroidSound`]).
    pub fn android_package(mut self, package: impl Into<String>) -> Self {
        self.android_package = Some(package.into());
        self
    }

    /// The app's Android package, when set with [`Renderer::android_package`].
    pub fn package(&self) -> Option<&str> {
        self.android_package.as_deref()
    }

    /// The table for locales without a table of their own (default: [`Placeholders::ZH`]).
    pub fn default_placeholders(mut self, table: Placeholders) -> Self {
        self.default_table = table;
        self
    }

    /// The table for locales whose primary language is `language` (such as `"en"`), or for one
    /// exact locale (such as `"zh-TW"`, which then wins over `"zh"`), replacing any table already
    /// set for it.
    pub fn placeholders_for(mut self, language: &str, table: Placeholders) -> Self {
        self.tables
            .retain(|(l, _)| !placeholders::same_tag(l, language));
        self.tables.push((language.to_owned(), table));
        self
    }

    /// The table for `locale` (the device's, else the user's): the one set for that exact
    /// locale, else for its language, else the default.
    pub fn table_for(&self, locale: Option<&str>) -> &Placeholders {
        let Some(locale) = locale else {
            return &self.default_table;
        };
        let find = |tag: &str| {
            self.tables
                .iter()
                .find(|(l, _)| placeholders::same_tag(l, tag))
        };
        find(locale)
            .or_else(|| find(placeholders::language(locale)))
            .map_or(&self.default_table, |(_, table)| table)
    }

    /// Renders `message` for `recipient`.
    pub fn render(
        &self,
        message: &Message,
        recipient: &Recipient,
    ) -> Result<Rendered, RenderError> {
        if let Some(reason) = suppression(message, recipient) {
            return Ok(Rendered::Suppressed(reason));
        }
        if let Some(reason) = receive::suppression(message, recipient)? {
            return Ok(Rendered::Suppressed(reason));
        }
        let push = message.push.as_ref();
        let descr = push
            .and_then(|p| p.descr.as_deref())
            .filter(|d| !d.is_empty());
        let body = match descr {
            Some(descr) => descr.to_owned(),
            None => {
                let content = self.content(&message.elements, recipient.locale.as_deref());
                if content.is_empty() {
                    return Ok(Rendered::Suppressed(SuppressReason::NothingToShow));
                }
                match &message.conversation {
                    Conversation::C2c { .. } => content,
                    Conversation::Group { .. } => {
                        let sender = group_sender_name(message);
                        let mut body = String::with_capacity(sender.len() + 4 + content.len());
                        self.table_for(recipient.locale.as_deref())
                            .push_group_sender(&mut body, sender);
                        body.push_str(&content);
                        body
                    }
                }
            }
        };

        let android = push.and_then(|p| p.android.as_ref());
        let ios = push.and_then(|p| p.ios.as_ref());
        let mut warnings = Vec::new();
        let android_sound = self.android_sound(message, recipient, &mut warnings);
        let ext = push
            .and_then(|p| p.ext.clone())
            .or_else(|| first_custom_ext(&message.elements));

        let (title, conversation_id, sender_nickname, group_name) = match &message.conversation {
            Conversation::C2c { .. } => (
                message.sender.user_id.clone(),
                message.sender.user_id.clone(),
                None,
                None,
            ),
            Conversation::Group { id, name } => {
                let name = non_empty(name.as_deref());
                let nickname = non_empty(message.sender.name_card.as_deref())
                    .or_else(|| non_empty(message.sender.nickname.as_deref()));
                (
                    name.unwrap_or(id).to_owned(),
                    id.clone(),
                    nickname.map(str::to_owned),
                    name.map(str::to_owned),
                )
            }
        };

        Ok(Rendered::Notification(Notification {
            message_id: message.id.clone(),
            ttl: message.ttl,
            title,
            android_title: android
                .and_then(|a| non_empty(a.title.as_deref()))
                .map(str::to_owned),
            ios_alert: ios.and_then(|i| {
                let title = non_empty(i.title.as_deref()).map(str::to_owned);
                let subtitle = non_empty(i.subtitle.as_deref()).map(str::to_owned);
                (title.is_some() || subtitle.is_some()).then_some(IosAlert { title, subtitle })
            }),
            body,
            android_sound,
            ios_sound: ios
                .and_then(|i| i.sound.clone())
                // An empty file name is unset, like every other empty setting (rule 7).
                .filter(|sound| !matches!(sound, IosSound::File(name) if name.is_empty()))
                .unwrap_or(IosSound::Default),
            badge: match ios {
                Some(ios) if !ios.badge_enabled => None,
                _ => Some(recipient.unread),
            },
            notify_mode: android
                .and_then(|a| a.notify_mode)
                .unwrap_or(NotifyMode::Normal),
            app_data: AppData {
                conversation_id,
                conversation_type: message.conversation.kind(),
                sender_id: message.sender.user_id.clone(),
                sender_nickname,
                group_name,
                ext,
            },
            warnings,
        }))
    }

    /// The elements' texts concatenated in order, with no separator.
    fn content(&self, elements: &[Element], locale: Option<&str>) -> String {
        let table = self.table_for(locale);
        let mut content = String::new();
        for element in elements {
            match element {
                Element::Text { text } => content.push_str(text),
                Element::Sound => content.push_str(&table.sound),
                Element::File => content.push_str(&table.file),
                Element::Image => content.push_str(&table.image),
                Element::Video => content.push_str(&table.video),
                Element::Location => content.push_str(&table.location),
                Element::Face => content.push_str(&table.face),
                Element::Custom { desc, .. } if desc.is_empty() => {}
                Element::Custom { desc, .. } if self.custom_desc_brackets => {
                    content.push('[');
                    content.push_str(desc);
                    content.push(']');
                }
                Element::Custom { desc, .. } => content.push_str(desc),
            }
        }
        content
    }

    /// Message sound, else the recipient's sound for this conversation type, else none (system
    /// default). The chosen sound falls back to none, with a warning, when the app cannot play
    /// it; an id is kept with a warning (name-only channels cannot use it).
    fn android_sound(
        &self,
        message: &Message,
        recipient: &Recipient,
        warnings: &mut Vec<RenderWarning>,
    ) -> Option<AndroidSound> {
        let from_message = message
            .push
            .as_ref()
            .and_then(|p| p.android.as_ref())
            .and_then(|a| non_empty(a.sound.as_deref()));
        let from_user = match message.conversation {
            Conversation::C2c { .. } => recipient.settings.c2c_sound.as_deref(),
            Conversation::Group { .. } => recipient.settings.group_sound.as_deref(),
        };
        let uri = from_message.or_else(|| non_empty(from_user))?;
        let Ok(sound) = AndroidSound::parse(uri) else {
            warnings.push(RenderWarning::InvalidAndroidSound {
                uri: uri.to_owned(),
            });
            return None;
        };
        if let Some(expected) = &self.android_package
            && sound.package() != expected
        {
            warnings.push(RenderWarning::ForeignAndroidSound {
                uri: uri.to_owned(),
                expected: expected.clone(),
            });
            return None;
        }
        if sound.name().is_none() {
            warnings.push(RenderWarning::AndroidSoundWithoutName {
                uri: uri.to_owned(),
            });
        }
        Some(sound)
    }
}

/// The reasons that need no rendering, in a fixed order.
fn suppression(message: &Message, recipient: &Recipient) -> Option<SuppressReason> {
    match recipient.login {
        LoginState::LoggedOut => return Some(SuppressReason::RecipientLoggedOut),
        LoginState::KickedOffline => return Some(SuppressReason::RecipientKickedOffline),
        LoginState::LoggedIn => {}
    }
    if message.kind == MessageKind::System {
        return Some(SuppressReason::SystemMessage);
    }
    if !recipient.settings.enabled {
        return Some(SuppressReason::RecipientDisabled);
    }
    if message.push.as_ref().is_some_and(|p| !p.enabled) {
        return Some(SuppressReason::MessageDisabled);
    }
    if recipient.user_id == message.sender.user_id {
        return Some(SuppressReason::RecipientIsSender);
    }
    None
}

/// Name card, else nickname, else user id; an empty string counts as not set.
fn group_sender_name(message: &Message) -> &str {
    let sender = &message.sender;
    non_empty(sender.name_card.as_deref())
        .or_else(|| non_empty(sender.nickname.as_deref()))
        .unwrap_or(&sender.user_id)
}

fn first_custom_ext(elements: &[Element]) -> Option<crate::model::Ext> {
    elements.iter().find_map(|e| match e {
        Element::Custom { ext, .. } => Some(ext.clone()),
        _ => None,
    })?
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}
