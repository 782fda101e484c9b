//! The Android sound of a notification: an app resource, by name or by numeric id.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A validated Android app-resource sound: `android.resource://<package>/raw/<name>` (the
/// resource by name) or `android.resource://<package>/<id>` (by its numeric `R.raw` id, the URI
/// the seed's own sample builds from `R.raw.x`).
///
/// Channels that take a URI (Xiaomi `extra.sound_uri`, the daemon) play either form. Channels
/// that need the resource name (Huawei `/raw/<name>`) can only use the first: [`name`] is `None`
/// for an id, and they play the default sound instead (the renderer reports it with
/// [`RenderWarning::AndroidSoundWithoutName`](crate::model::RenderWarning)).
///
/// [`name`]: AndroidSound::name
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AndroidSound {
    uri: String,
    package_end: usize,
    /// Where the resource name starts, for a URI by name.
    name_start: Option<usize>,
}

const SCHEME: &str = "android.resource://";
const RAW: &str = "/raw/";
/// Android resource ids are 32-bit integers (`0x7f……` for an app's own), at most 10 digits.
const MAX_ID_DIGITS: usize = 10;

impl AndroidSound {
    /// Parses and validates an app-resource URI. A name must be a valid Android resource name
    /// (`[a-z0-9_]`, not starting with a digit) without a file extension, which Android ignores
    /// and vendors do not want; an id must be decimal digits of a 32-bit integer.
    pub fn parse(uri: &str) -> Result<AndroidSound, InvalidSound> {
        let invalid = || InvalidSound {
            uri: uri.to_owned(),
        };
        let rest = uri.strip_prefix(SCHEME).ok_or_else(invalid)?;
        let (package, name_start) = match rest.find(RAW) {
            Some(slash) => {
                let name = &rest[slash + RAW.len()..];
                if !is_resource_name(name) {
                    return Err(invalid());
                }
                (&rest[..slash], Some(SCHEME.len() + slash + RAW.len()))
            }
            None => {
                let (package, id) = rest.rsplit_once('/').ok_or_else(invalid)?;
                if !is_resource_id(id) {
                    return Err(invalid());
                }
                (package, None)
            }
        };
        if !is_package(package) {
            return Err(invalid());
        }
        Ok(AndroidSound {
            uri: uri.to_owned(),
            package_end: SCHEME.len() + package.len(),
            name_start,
        })
    }

    /// The whole URI (Xiaomi's `extra.sound_uri`, the daemon's frame).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The app package named in the URI.
    pub fn package(&self) -> &str {
        &self.uri[SCHEME.len()..self.package_end]
    }

    /// The resource name (Huawei's `sound` is `/raw/<name>`); `None` for a numeric id, whose
    /// name only the app knows.
    pub fn name(&self) -> Option<&str> {
        self.name_start.map(|start| &self.uri[start..])
    }
}

/// A Java package name: dot-separated identifiers of ASCII letters, digits and `_`.
fn is_package(package: &str) -> bool {
    !package.is_empty()
        && package.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// An Android resource name: `[a-z_][a-z0-9_]*`.
fn is_resource_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A numeric resource id: the decimal digits of a 32-bit integer (aapt writes ids as signed
/// Java ints, and app ids `0x7f……` are positive).
fn is_resource_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_DIGITS
        && id.bytes().all(|b| b.is_ascii_digit())
        && id.parse::<u32>().is_ok()
}

impl fmt::Debug for AndroidSound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AndroidSound({:?})", self.uri)
    }
}

impl Serialize for AndroidSound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.uri)
    }
}

impl<'de> Deserialize<'de> for AndroidSound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let uri = String::deserialize(d)?;
        AndroidSound::parse(&uri).map_err(de::Error::custom)
    }
}

/// An Android sound that is not an app resource `android.resource://<package>/raw/<name>` or
/// `android.resource://<package>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid Android sound {uri:?}: only app resources `android.resource://<package>/raw/<name>` \
     or `android.resource://<package>/<id>` can be played"
)]
pub struct InvalidSound {
    /// The rejected URI.
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_parse_and_everything_else_is_invalid() {
        let named = AndroidSound::parse("android.resource://com.example.im/raw/dudulu").unwrap();
        assert_eq!(named.package(), "com.example.im");
        assert_eq!(named.name(), Some("dudulu"));
        let id = AndroidSound::parse("android.resource://com.example.im/2131558400").unwrap();
        assert_eq!(id.package(), "com.example.im");
        assert_eq!(id.name(), None);
        assert_eq!(id.uri(), "android.resource://com.example.im/2131558400");
        for bad in [
            "content://media/internal/audio/media/12",
            "android.resource://com.example.im/raw/ding.mp3",
            "android.resource://com.example.im/raw/",
            "android.resource://com.example.im/",
            "android.resource://com.example.im/99999999999",
            "android.resource://com.example.im/4294967296",
            "android.resource://com.example.im/+12",
            "android.resource:///2131558400",
            "android.resource://2131558400",
            "android.resource://com..im/raw/ding",
            "",
        ] {
            assert!(AndroidSound::parse(bad).is_err(), "{bad}");
        }
    }
}
