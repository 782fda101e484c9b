//! The text shown for elements that are not text.

use std::borrow::Cow;

/// What each non-text element shows in a push body. A table is data: pick the built-in Chinese
/// ([`Placeholders::ZH`], the seed's) or English ([`Placeholders::EN`]) one, or build your own.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    };

    /// An English table, chosen for recipients whose locale's language is `en`.
    pub const EN: Placeholders = Placeholders {
        sound: Cow::Borrowed("[Voice]"),
        file: Cow::Borrowed("[File]"),
        image: Cow::Borrowed("[Image]"),
        video: Cow::Borrowed("[Video]"),
        location: Cow::Borrowed("[Location]"),
        face: Cow::Borrowed("[Sticker]"),
    };
}

impl Default for Placeholders {
    fn default() -> Self {
        Placeholders::ZH
    }
}

/// The primary language subtag of a BCP 47 locale, lower-cased: `"en-US"` → `"en"`,
/// `"zh_Hans_CN"` → `"zh"`.
pub(crate) fn language(locale: &str) -> &str {
    locale.split(['-', '_']).next().unwrap_or(locale)
}
