//! One app's section: its API keys and vendor credentials.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{DaemonConfig, RateConfig, Secret, WebhookConfig};

/// One app: its API keys and vendor credentials, each credential under a name devices register
/// with.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AppConfig {
    /// The keys that reach this app (and only this app).
    pub api_keys: Vec<ApiKeyConfig>,
    /// APNs credentials by name.
    pub apns: BTreeMap<String, ApnsConfig>,
    /// Xiaomi credentials by name.
    pub xiaomi: BTreeMap<String, XiaomiConfig>,
    /// Huawei credentials by name.
    pub huawei: BTreeMap<String, HuaweiConfig>,
    /// Firebase Cloud Messaging credentials by name.
    pub fcm: BTreeMap<String, FcmConfig>,
    /// The daemon channel (pushway's own WebSocket channel); off when absent.
    pub daemon: Option<DaemonConfig>,
    /// The signed delivery webhook; off when absent.
    pub webhook: Option<WebhookConfig>,
    /// How this app's notifications are rendered (placeholder tables per locale).
    pub render: RenderConfig,
}

/// Rendering options of one app.
///
/// ```toml
/// [apps.demo.render]
/// custom_desc_brackets = false          # TIM's server shows a custom element's desc bare
/// [apps.demo.render.placeholders]
/// en = "tim_en"                         # a built-in table: "zh", "en" or "tim_en"
/// zh = { sound = "[语音]", file = "[文件]", image = "[图片]", video = "[视频]",
///        location = "[位置]", face = "[表情]", group_sender = "{sender}： " }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RenderConfig {
    /// Whether a custom element shows as `[desc]` (the seed; default) or `desc`.
    pub custom_desc_brackets: Option<bool>,
    /// The app's Android package: sounds of other packages fall back to the default sound, and
    /// TIM ingest turns `AndroidInfo.Sound` names into `android.resource://<package>/raw/<name>`.
    pub android_package: Option<String>,
    /// The placeholder table per language (`en`) or exact locale (`zh-TW`); locales without one
    /// get the Chinese table (the seed's), and `en` gets pushway's English one unless set here.
    pub placeholders: BTreeMap<String, PlaceholdersConfig>,
}

/// A placeholder table: a built-in one by name, or every word given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PlaceholdersConfig {
    /// `"zh"`, `"en"` or `"tim_en"`.
    Builtin(String),
    /// Every word, and optionally the group sender format (`"{sender}: "`).
    Table(pushway_core::Placeholders),
}

/// One API key: exactly one of `key`, `key_file` (the key itself) or `sha256` (hex of its
/// SHA-256, so the key never needs to be in the configuration).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// A name for logs.
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: Option<Secret>,
    /// A file holding the key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Hex SHA-256 of the key.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl ApiKeyConfig {
    /// A key given inline.
    pub fn inline(name: impl Into<String>, key: impl Into<String>) -> Self {
        ApiKeyConfig {
            name: name.into(),
            key: Some(Secret::new(key)),
            ..ApiKeyConfig::default()
        }
    }
}

/// An APNs token-auth credential; serves both environments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApnsConfig {
    /// The team id.
    pub team_id: String,
    /// The key id.
    pub key_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// The `.p8` key (PKCS#8 PEM).
    #[serde(default)]
    pub key_pem: Option<Secret>,
    /// A file holding the `.p8` key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Production endpoint override (a simulator).
    #[serde(default)]
    pub production_url: Option<String>,
    /// Sandbox endpoint override (a simulator).
    #[serde(default)]
    pub sandbox_url: Option<String>,
    /// An extra trusted root certificate (PEM), for a simulator's self-signed certificate.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// The vendor's rate for this credential (none when absent); on Postgres, the cluster's.
    #[serde(default)]
    pub rate_limit: Option<RateConfig>,
}

/// A Xiaomi MiPush credential.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct XiaomiConfig {
    /// The Android package.
    pub package: String,
    /// The notification channel id registered with Xiaomi.
    pub channel_id: String,
    /// The activity a custom-notify-mode tap opens (`.ui.ChatActivity` or fully qualified);
    /// without it, custom-mode pushes to Xiaomi devices are refused (`custom_activity_missing`).
    #[serde(default)]
    pub custom_activity: Option<String>,
    /// The AppSecret.
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// A file holding the AppSecret.
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    /// Endpoint override (a simulator).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Allows an `http://` endpoint (simulators only).
    #[serde(default)]
    pub danger_allow_plain_http: bool,
    /// The vendor's rate for this credential (none when absent); on Postgres, the cluster's.
    #[serde(default)]
    pub rate_limit: Option<RateConfig>,
}

/// A Huawei Push Kit credential: an OAuth client (`app_id` + `client_secret[_file]`, the v1
/// API) or a service-account key file (`service_account_file`, the v2 API of its project).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HuaweiConfig {
    /// The app id (also the OAuth client id); with a service account, leave it out.
    #[serde(default)]
    pub app_id: String,
    /// The OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the OAuth client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// A service-account key file (JSON, as AppGallery Connect issues it) instead of OAuth.
    #[serde(default)]
    pub service_account_file: Option<PathBuf>,
    /// Endpoint override (a simulator), for both OAuth and push.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Allows an `http://` endpoint (simulators only).
    #[serde(default)]
    pub danger_allow_plain_http: bool,
    /// The vendor's rate for this credential (none when absent); on Postgres, the cluster's.
    #[serde(default)]
    pub rate_limit: Option<RateConfig>,
}

/// A Firebase Cloud Messaging (HTTP v1) credential: a service-account key file of the Firebase
/// project, given as a file (`service_account_file`) or inline (`service_account`, its JSON).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FcmConfig {
    /// The service-account key file's JSON.
    #[serde(default)]
    pub service_account: Option<Secret>,
    /// A service-account key file (JSON, as the Firebase console issues it).
    #[serde(default)]
    pub service_account_file: Option<PathBuf>,
    /// The Firebase project of the send URL (id or number); default: the key file's.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The Android notification channel the app created for chat messages: on Android 8+ it,
    /// not the sound, decides how a notification alerts.
    pub channel_id: String,
    /// The intent-filter action a custom-notify-mode tap opens (default
    /// `pushway.intent.OPEN_CONVERSATION`); the app data arrives as the intent's extras.
    #[serde(default)]
    pub click_action: Option<String>,
    /// API endpoint override (a simulator), in place of `https://fcm.googleapis.com`.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Token endpoint override (a full URL); default: the key file's `token_uri`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// An extra trusted root certificate (PEM), for a simulator's self-signed certificate.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// Allows `http://` endpoints (simulators only).
    #[serde(default)]
    pub danger_allow_plain_http: bool,
    /// The vendor's rate for this credential (none when absent); on Postgres, the cluster's.
    #[serde(default)]
    pub rate_limit: Option<RateConfig>,
}
