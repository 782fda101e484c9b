//! The service's inputs as the API decodes them, and the checks every id and token passes.

use pushway_core::{ApnsEnv, TokenKind};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::ServiceError;

/// The longest user id, device id, credential name or idempotency key.
pub const MAX_ID_LEN: usize = 256;
/// The longest device token.
pub const MAX_TOKEN_LEN: usize = 4096;

/// A device kind as the API names it; the APNs environment is a field of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TokenKind)]
pub enum KindIn {
    /// An iPhone (APNs).
    Apns,
    /// A Xiaomi phone (MiPush).
    Xiaomi,
    /// A Huawei phone (Push Kit).
    Huawei,
    /// An Android phone with Google Play services (Firebase Cloud Messaging).
    Fcm,
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
            TokenKind::Fcm => (KindIn::Fcm, None),
            _ => (KindIn::Daemon, None),
        }
    }
}

/// The schema of pushway-core's [`ApnsEnv`] (which has none of its own): `"production"` or
/// `"sandbox"`.
pub struct ApnsEnvSchema;

impl PartialSchema for ApnsEnvSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["production", "sandbox"]))
            .description(Some("The APNs environment the token was issued in"))
            .into()
    }
}

impl ToSchema for ApnsEnvSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "ApnsEnv".into()
    }
}

/// A device registration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeviceRegistration)]
pub struct DeviceIn {
    /// The channel (`daemon` only for an app with a daemon channel, else 422
    /// `unsupported-token-kind`).
    pub kind: KindIn,
    /// The APNs environment: required for `apns` devices, refused for the others.
    #[serde(default)]
    #[schema(value_type = Option<ApnsEnvSchema>)]
    pub apns_env: Option<ApnsEnv>,
    /// The credential name the token was issued under (one of the app's credentials of that
    /// kind): 1 to 256 bytes, no control characters. Required, except for `daemon` devices:
    /// theirs is `daemon`.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub credential: Option<String>,
    /// The token: 1 to 4096 bytes, no whitespace or control characters. Required, except for
    /// `daemon` devices: the gateway sets theirs, `<user>/<device>`.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub token: Option<String>,
    /// The device's locale (BCP 47), which picks the placeholder texts: 1 to 256 bytes, no
    /// control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
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
            (KindIn::Fcm, None) => Ok(TokenKind::Fcm),
            (KindIn::Daemon, None) => Ok(TokenKind::Daemon),
        }
    }
}

/// `POST /messages`: one IM message and who to tell.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The message in pushway-core's model, without `id` (the gateway assigns it).
    #[schema(value_type = crate::api::MessageSchema)]
    pub message: serde_json::Map<String, serde_json::Value>,
    /// The recipients (for a group, the members to notify), each named once.
    #[schema(min_items = 1, max_items = 10000)]
    pub recipients: Vec<RecipientIn>,
}

/// One recipient of a message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Recipient)]
pub struct RecipientIn {
    /// The user: 1 to 256 bytes, no control characters.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub user_id: String,
    /// Their unread count including this message (the iOS badge); default 0.
    #[serde(default)]
    #[schema(maximum = 4294967295_u32)]
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
