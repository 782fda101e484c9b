//! What the renderer replaced by a default instead of failing the push.

use serde::{Deserialize, Serialize};

/// A setting the renderer could not honour and replaced by its default, reported on the
/// [`Notification`](crate::Notification) it still rendered. A sound is cosmetic: it never
/// costs the push (DESIGN.md §4.6).
///
/// JSON: `{"warning":"<label>","uri":"…"}`, the label being [`RenderWarning::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum RenderWarning {
    /// The Android sound is not an app resource URI (`content://…`, a file extension, a
    /// malformed name): every channel plays the default sound.
    InvalidAndroidSound {
        /// The sound as set.
        uri: String,
    },
    /// The Android sound names another app's package, whose resources the app cannot play:
    /// every channel plays the default sound.
    ForeignAndroidSound {
        /// The sound as set.
        uri: String,
        /// The app's package, as configured on the renderer.
        expected: String,
    },
    /// The Android sound is a numeric resource id (`android.resource://<package>/<id>`): channels
    /// that take a URI (Xiaomi, the daemon) play it, channels that need the resource name
    /// (Huawei's `/raw/<name>`, FCM's `sound`) play the default sound.
    AndroidSoundWithoutName {
        /// The sound as set.
        uri: String,
    },
}

impl RenderWarning {
    /// A stable label (the JSON `warning` value) for logs and metrics.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RenderWarning::InvalidAndroidSound { .. } => "invalid_android_sound",
            RenderWarning::ForeignAndroidSound { .. } => "foreign_android_sound",
            RenderWarning::AndroidSoundWithoutName { .. } => "android_sound_without_name",
        }
    }
}
