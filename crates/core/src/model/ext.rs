//! Extension bytes carried to the app unchanged.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Opaque extension bytes (the seed's `byte[] ext`), delivered to the app byte-exact.
///
/// JSON form: a string holds UTF-8 text as is; bytes that are not UTF-8 are written as
/// `{"base64": "<standard base64>"}`. Both forms are accepted on input. In the app data the same
/// rule applies: key `ext` carries UTF-8 text, key `ext_base64` carries anything else (see
/// [`crate::AppData`]).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Ext(Vec<u8>);

impl Ext {
    /// Wraps raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Ext(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as text when they are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Standard base64 of the bytes (the encoding used when they are not UTF-8).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<&str> for Ext {
    fn from(text: &str) -> Self {
        Ext(text.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Ext {
    fn from(bytes: Vec<u8>) -> Self {
        Ext(bytes)
    }
}

impl fmt::Debug for Ext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(text) => write!(f, "Ext({text:?})"),
            None => write!(f, "Ext(base64:{})", self.to_base64()),
        }
    }
}

impl Serialize for Ext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.as_str() {
            Some(text) => serializer.serialize_str(text),
            None => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("base64", &self.to_base64())?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExtVisitor;

        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = Ext;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UTF-8 string or {\"base64\": \"...\"}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ext, E> {
                Ok(Ext::from(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ext, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "base64" {
                        return Err(de::Error::unknown_field(&key, &["base64"]));
                    }
                    let text: String = map.next_value()?;
                    let decoded = STANDARD
                        .decode(text.as_bytes())
                        .map_err(|e| de::Error::custom(format!("invalid base64: {e}")))?;
                    bytes = Some(decoded);
                }
                bytes
                    .map(Ext)
                    .ok_or_else(|| de::Error::missing_field("base64"))
            }
        }

        deserializer.deserialize_any(ExtVisitor)
    }
}
