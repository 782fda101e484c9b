//! Device tokens and the channel they route to.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The APNs environment a token was issued in. A token only works against its own environment's
/// host: a sandbox token sent to production answers `BadDeviceToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApnsEnv {
    /// `api.push.apple.com`: App Store, TestFlight and ad-hoc builds.
    Production,
    /// `api.sandbox.push.apple.com`: development builds.
    Sandbox,
}

/// Which channel a device token belongs to. JSON: `"apns_production"`, `"apns_sandbox"`,
/// `"xiaomi"`, `"huawei"`, `"fcm"`, `"daemon"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenKind {
    /// An APNs token of the production environment.
    ApnsProduction,
    /// An APNs token of the sandbox environment.
    ApnsSandbox,
    /// A Xiaomi MiPush regid.
    Xiaomi,
    /// A Huawei Push Kit token.
    Huawei,
    /// A Firebase Cloud Messaging registration token of an Android app (every Google-certified
    /// Android phone outside mainland China).
    Fcm,
    /// A device id of pushway's own long-connection channel.
    Daemon,
}

impl TokenKind {
    /// The APNs environment, for APNs tokens.
    pub const fn apns_env(self) -> Option<ApnsEnv> {
        match self {
            TokenKind::ApnsProduction => Some(ApnsEnv::Production),
            TokenKind::ApnsSandbox => Some(ApnsEnv::Sandbox),
            _ => None,
        }
    }

    /// Whether the device is an Android device (Android titles and sounds apply).
    pub const fn is_android(self) -> bool {
        matches!(
            self,
            TokenKind::Xiaomi | TokenKind::Huawei | TokenKind::Fcm | TokenKind::Daemon
        )
    }

    /// A stable label: the JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::ApnsProduction => "apns_production",
            TokenKind::ApnsSandbox => "apns_sandbox",
            TokenKind::Xiaomi => "xiaomi",
            TokenKind::Huawei => "huawei",
            TokenKind::Fcm => "fcm",
            TokenKind::Daemon => "daemon",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One device of a recipient: its channel, the vendor credential it was registered under (the
/// seed's certificate / business id: an APNs team+topic, a Xiaomi app, a Huawei app), and the
/// token itself.
///
/// Tokens are secrets in logs: `Debug` and `Display` show only the first characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceToken {
    /// The channel.
    pub kind: TokenKind,
    /// The vendor credential id the token belongs to (an embedder-chosen name).
    pub credential: String,
    /// The token string.
    pub token: String,
}

impl DeviceToken {
    /// A device token.
    pub fn new(kind: TokenKind, credential: impl Into<String>, token: impl Into<String>) -> Self {
        DeviceToken {
            kind,
            credential: credential.into(),
            token: token.into(),
        }
    }

    /// The key of the provider that serves this device.
    pub fn channel_key(&self) -> ChannelKey {
        ChannelKey::new(self.kind, self.credential.clone())
    }

    /// The token shortened for logs: its first six characters and its length.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(&self.token)
    }
}

/// A token shown as its first six characters and its length.
pub struct Redacted<'a>(&'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.0.chars().take(6).collect();
        write!(f, "{prefix}…({} chars)", self.0.chars().count())
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceToken")
            .field("kind", &self.kind)
            .field("credential", &self.credential)
            .field("token", &format_args!("{}", self.redacted()))
            .finish()
    }
}

impl fmt::Display for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.credential, self.redacted())
    }
}

/// What the router registers providers under: a token kind and a vendor credential id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelKey {
    /// The token kind.
    pub kind: TokenKind,
    /// The vendor credential id.
    pub credential: String,
}

impl ChannelKey {
    /// A channel key.
    pub fn new(kind: TokenKind, credential: impl Into<String>) -> Self {
        ChannelKey {
            kind,
            credential: credential.into(),
        }
    }
}

impl fmt::Display for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.credential)
    }
}
