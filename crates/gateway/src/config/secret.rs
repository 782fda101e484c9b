//! Secrets: given inline or read from a `*_file` key, never shown in `Debug`.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// A secret value: `Debug` never shows it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secret given inline or in a file, exactly one of them; `key` names it in errors.
// Read at start-up and on an operator's reload (files of a few KB): a blocking read is fine here.
pub(crate) fn secret(
    key: &str,
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
) -> Result<Secret, ConfigError> {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    match (inline, file) {
        (Some(secret), None) => Ok(secret.clone()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Secret::new(s.trim_end_matches(['\r', '\n'])))
            .map_err(|e| {
                ConfigError::at(&format!("{key}_file"), format!("{}: {e}", path.display()))
            }),
        (Some(_), Some(_)) => Err(ConfigError::at(
            key,
            format!("set either {leaf} or {leaf}_file, not both"),
        )),
        (None, None) => Err(ConfigError::at(
            key,
            format!("{leaf} or {leaf}_file is required"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{ApiKeyConfig, AppConfig, Config, XiaomiConfig};

    #[test]
    fn secrets_never_show_in_debug() {
        let mut app = AppConfig::default();
        app.api_keys
            .push(ApiKeyConfig::inline("main", "pw_very_secret_key"));
        let mi = XiaomiConfig {
            app_secret: Some(Secret::new("xiaomi-very-secret")),
            ..XiaomiConfig::default()
        };
        app.xiaomi.insert("mi".to_owned(), mi);
        let mut config = Config::default();
        config.apps.insert("chat".to_owned(), app);
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("very_secret") && !debug.contains("very-secret"),
            "{debug}"
        );
        assert!(debug.contains("Secret(<redacted>)"));
    }

    #[test]
    fn a_secret_is_inline_or_in_a_file_not_both() {
        let file = Some(PathBuf::from("/nonexistent"));
        let inline = Some(Secret::new("s"));
        let both = secret("apps.a.xiaomi.mi.app_secret", &inline, &file);
        assert!(both.is_err_and(|e| e.to_string().contains("not both")));
        let neither = secret("apps.a.xiaomi.mi.app_secret", &None, &None);
        assert!(neither.is_err_and(|e| e.to_string().starts_with("apps.a.xiaomi.mi.app_secret:")));
        let missing = secret("k", &None, &file);
        assert!(missing.is_err_and(|e| e.to_string().starts_with("k_file: /nonexistent")));
    }
}
