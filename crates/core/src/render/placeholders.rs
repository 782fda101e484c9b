//! The text shown for elements that are not text, and the group body's sender prefix, per
//! language.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The sender prefix of a group body when a table does not say (`"<sender>: "`, DESIGN.md §4.3).
pub const DEFAULT_GROUP_SENDER: &str = "{sender}: ";

/// What each non-text element shows in a push body, and how a group body names its sender. A
/// table is data: pick a built-in one ([`Placeholders::ZH`], the seed's; [`Placeholders::EN`];
/// [`Placeholders::TIM_EN`], Tencent's English words) or build your own (JSON/TOML: the six
/// words, and optionally `group_sender`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholders {
    /// A voice message (seed: `[语音]`).
    pub sound: Cow<'static, str>,
    /// A file (seed: `[文件]`).
    pub file: Cow<'static, str>,
    /// An image (seed: `[图片]`).
    pub image: Cow<'static, str>,
    /// A video.
    pub video: Cow<'static, str>,
    /// A location.
    pub location: Cow<'static, str>,
    /// A sticker / face.
    pub face: Cow<'static, str>,
    /// The group body's sender prefix: `{sender}` stands for the sender's name (name card, else
    /// nickname, else user id), the content follows. Default [`DEFAULT_GROUP_SENDER`]; the
    /// seed's Chinese page writes `"{sender}： "` (full-width colon), the shipped SDK `": "`
    /// (tim.md §4.2).
    #[serde(default = "default_group_sender")]
    pub group_sender: Cow<'static, str>,
}

fn default_group_sender() -> Cow<'static, str> {
    Cow::Borrowed(DEFAULT_GROUP_SENDER)
}

impl Placeholders {
    /// The seed's table (Chinese), the default.
    pub const ZH: Placeholders = Placeholders {
        sound: Cow::Borrowed("[语音]"),
        file: Cow::Borrowed("[文件]"),
        image: Cow::Borrowed("[图片]"),
        video: Cow::Borrowed("[视频]"),
        location: Cow::Borrowed("[位置]"),
        face: Cow::Borrowed("[表情]"),
        group_sender: Cow::Borrowed(DEFAULT_GROUP_SENDER),
    };

    /// pushway's English table, chosen by default for recipients whose locale's language is
    /// `en`.
    pub const EN: Placeholders = Placeholders {
        sound: Cow::Borrowed("[Voice]"),
        file: Cow::Borrowed("[File]"),
        image: Cow::Borrowed("[Image]"),
        video: Cow::Borrowed("[Video]"),
        location: Cow::Borrowed("[Location]"),
        face: Cow::Borrowed("[Sticker]"),
        group_sender: Cow::Borrowed(DEFAULT_GROUP_SENDER),
    };

    /// The English words of Tencent's English documentation, for teams migrating from TIM.
    /// Tencent's English "Message Formats" page (intl 1047/33527, tim.md §2 source F) gives the
    /// push text of a location as `[Location]` and of a face as `[Face]`; it gives none for
    /// voice, file, image and video (nor does the Chinese page), so those keep [`Self::EN`]'s
    /// words, which translate the SDK's `[语音]`, `[文件]`, `[图片]`, `[视频]` \[inferred\].
    pub const TIM_EN: Placeholders = Placeholders {
        sound: Cow::Borrowed("[Voice]"),
        file: Cow::Borrowed("[File]"),
        image: Cow::Borrowed("[Image]"),
        video: Cow::Borrowed("[Video]"),
        location: Cow::Borrowed("[Location]"),
        face: Cow::Borrowed("[Face]"),
        group_sender: Cow::Borrowed(DEFAULT_GROUP_SENDER),
    };

    /// A built-in table by name: `"zh"`, `"en"` or `"tim_en"`.
    pub fn builtin(name: &str) -> Option<Placeholders> {
        match name {
            "zh" => Some(Placeholders::ZH),
            "en" => Some(Placeholders::EN),
            "tim_en" => Some(Placeholders::TIM_EN),
            _ => None,
        }
    }

    /// Appends the group body's sender prefix for `sender` to `out`: `group_sender` with its
    /// first `{sender}` replaced (a table without `{sender}` shows no name).
    pub(crate) fn push_group_sender(&self, out: &mut String, sender: &str) {
        match self.group_sender.split_once("{sender}") {
            Some((before, after)) => {
                out.push_str(before);
                out.push_str(sender);
                out.push_str(after);
            }
            None => out.push_str(&self.group_sender),
        }
    }
}

impl Default for Placeholders {
    fn default() -> Self {
        Placeholders::ZH
    }
}

/// The primary language subtag of a BCP 47 locale: `"en-US"` → `"en"`, `"zh_Hans_CN"` → `"zh"`.
pub(crate) fn language(locale: &str) -> &str {
    locale.split(['-', '_']).next().unwrap_or(locale)
}

/// Whether two locale tags are the same, ignoring case and `-`/`_`: `"zh_TW"` = `"zh-tw"`.
pub(crate) fn same_tag(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            norm(x) == norm(y)
        })
}
