//! The service's inputs as the API decodes them, and the checks every id and token passes.

use pushway_core::{ApnsEnv, TokenKind};
use serde::{Deserialize, Serialize};

use super::ServiceError;

/// The longest user id, device id, credential name or idempotency key.
pub const MAX_ID_LEN: usize = 256;
/// The longest device token.
pub const MAX_TOKEN_LEN: usize = 4096;

/// A device kind as the API names it; the APNs environment is a field of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindIn {
    /// An iPhone (APNs).
    Apns,
    /// A Xiaomi phone (MiPush).
    Xiaomi,
    /// A Huawei phone (Push Kit).
    Huawei,
    /// pushway's own long-connection channel.
    Daemon,
}

impl KindIn {
    /// The API's name of a stored token kind, and its APNs environment.
    pub fn of(kind: TokenKind) -> (KindIn, Option<ApnsEnv>) {
        match kind {
            TokenKind::ApnsProduction => (KindIn::Apns, Some(ApnsEnv::Production)),
            TokenKind::ApnsSandbox => (KindIn::Apns, Some(ApnsEnv::Sandbox)),
            TokenKind::Xiaomi => (KindIn::Xiaomi, None),
            TokenKind::Huawei => (KindIn::Huawei, None),
            _ => (KindIn::Daemon, None),
        }
    }
}

/// A device registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    /// The channel.
    pub kind: KindIn,
    /// The APNs environment (required for, and only for, `apns`).
    #[serde(default)]
    pub apns_env: Option<ApnsEnv>,
    /// The credential name the token was issued under (required, except for `daemon` devices:
    /// theirs is `daemon`).
    #[serde(default)]
    pub credential: Option<String>,
    /// The token (required, except for `daemon` devices: the gateway sets theirs,
    /// `<user>/<device>`).
    #[serde(default)]
    pub token: Option<String>,
    /// The device's locale (BCP 47).
    #[serde(default)]
    pub locale: Option<String>,
}

impl DeviceIn {
    /// The stored token kind, checked.
    pub(crate) fn token_kind(&self) -> Result<TokenKind, ServiceError> {
        match (self.kind, self.apns_env) {
            (KindIn::Apns, Some(ApnsEnv::Production)) => Ok(TokenKind::ApnsProduction),
            (KindIn::Apns, Some(ApnsEnv::Sandbox)) => Ok(TokenKind::ApnsSandbox),
            (KindIn::Apns, None) => Err(ServiceError::invalid(
                "apns_env",
                "required for apns devices: \"production\" or \"sandbox\"",
            )),
            (_, Some(_)) => Err(ServiceError::invalid(
                "apns_env",
                "only apns devices have one",
            )),
            (KindIn::Xiaomi, None) => Ok(TokenKind::Xiaomi),
            (KindIn::Huawei, None) => Ok(TokenKind::Huawei),
            (KindIn::Daemon, None) => Ok(TokenKind::Daemon),
        }
    }
}

/// `POST /messages`: one IM message and who to tell.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The message in pushway-core's model, without `id` (the gateway assigns it).
    pub message: serde_json::Map<String, serde_json::Value>,
    /// The recipients (for a group, the members to notify).
    pub recipients: Vec<RecipientIn>,
}

/// One recipient of a message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientIn {
    /// The user.
    pub user_id: String,
    /// Their unread count including this message (the iOS badge).
    #[serde(default)]
    pub unread: u32,
}

/// Checks an id: 1 to [`MAX_ID_LEN`] bytes, no control characters.
pub(crate) fn check_id(field: &str, value: &str) -> Result<(), ServiceError> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(ServiceError::invalid(
            field,
            format!("must be 1 to {MAX_ID_LEN} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a token: 1 to [`MAX_TOKEN_LEN`] bytes, no whitespace or control characters.
pub(crate) fn check_token(value: &str) -> Result<(), ServiceError> {
    if value.is_empty() || value.len() > MAX_TOKEN_LEN {
        return Err(ServiceError::invalid(
            "token",
            format!("must be 1 to {MAX_TOKEN_LEN} bytes"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ServiceError::invalid(
            "token",
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}
