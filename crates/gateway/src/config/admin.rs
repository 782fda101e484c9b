//! `[admin]`: the admin listener (admin API and console), apart from the API's, with its own key.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use crate::auth::{KeyHash, hash_key, parse_hash};

/// The admin listener: `/admin/v1` (dead letters…) and the console (`/console`), reached with the
/// admin key only (app API keys do not reach it, nor does the admin key reach `/v1`).
///
/// ```toml
/// [admin]
/// listen = "127.0.0.1:8081"
/// key_sha256 = "<hex SHA-256 of the admin key>"
/// ```
///
/// Without `key_sha256` or `key_file`, [`start`](crate::start) leaves the listener off (with a
/// warning); `pushway serve` generates a key instead and prints it once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Whether the admin listener runs (default yes).
    pub enabled: bool,
    /// Where it listens (default `127.0.0.1:8081`: loopback only, as the console's cookie is
    /// not `Secure`; put a TLS proxy in front to reach it from elsewhere).
    pub listen: SocketAddr,
    /// Hex SHA-256 of the admin key, so the key itself never needs to be in the configuration.
    pub key_sha256: Option<String>,
    /// A file holding the admin key.
    pub key_file: Option<PathBuf>,
    /// How long a console login lasts, in seconds (default 8 hours).
    pub session_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            key_sha256: None,
            key_file: None,
            session_secs: 8 * 3600,
        }
    }
}

impl AdminConfig {
    /// Whether a key is configured (`key_sha256` or `key_file`).
    pub fn has_key(&self) -> bool {
        self.key_sha256.is_some() || self.key_file.is_some()
    }

    /// The admin key's hash, if one is configured; an error when both or a bad one are given.
    // Read at start-up only, before any request is served, so a blocking read is fine here.
    pub fn key_hash(&self) -> Result<Option<KeyHash>, ConfigError> {
        match (&self.key_sha256, &self.key_file) {
            (Some(_), Some(_)) => Err(ConfigError::at(
                "admin.key_sha256",
                "set either key_sha256 or key_file, not both",
            )),
            (Some(hex), None) => parse_hash(hex.trim()).map(Some).ok_or_else(|| {
                ConfigError::at("admin.key_sha256", "not 64 hex digits (a SHA-256)")
            }),
            (None, Some(path)) => {
                let key = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::at("admin.key_file", format!("{}: {e}", path.display()))
                })?;
                let key = key.trim_end_matches(['\r', '\n']);
                if key.is_empty() {
                    return Err(ConfigError::at(
                        "admin.key_file",
                        format!("{}: empty", path.display()),
                    ));
                }
                Ok(Some(hash_key(key)))
            }
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::auth::hex;

    #[test]
    fn the_key_is_a_hash_or_a_file_not_both() {
        let hash = hash_key("pw_admin");
        let mut config = AdminConfig {
            key_sha256: Some(hex(&hash)),
            ..AdminConfig::default()
        };
        assert_eq!(config.key_hash().ok(), Some(Some(hash)));
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "pw_admin").expect("write");
        config.key_file = Some(file.path().to_owned());
        let both = config.key_hash();
        assert!(both.is_err_and(|e| e.to_string().contains("not both")));
        config.key_sha256 = None;
        assert_eq!(config.key_hash().ok(), Some(Some(hash)));
        config.key_file = None;
        assert_eq!(config.key_hash().ok(), Some(None));
        config.key_sha256 = Some("abc".to_owned());
        let bad = config.key_hash();
        assert!(bad.is_err_and(|e| e.to_string().starts_with("admin.key_sha256:")));
    }
}
