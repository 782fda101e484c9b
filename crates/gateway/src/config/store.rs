//! The store's settings: a SQLite file (the default), or a Postgres database by URL.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// The database's settings.
///
/// ```toml
/// [store]
/// # SQLite (the default): one file, one node.
/// path = "/var/lib/pushway/pushway.sqlite3"
/// # Postgres: several nodes on one database; `path` is then not used (the daemon channel's
/// # queues are in the database too; see `[cluster]` for the node's id).
/// url = "postgres://pushway@10.0.0.5:5432/pushway"
/// max_connections = 10
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The SQLite file (default `./pushway-data/pushway.sqlite3`); its directory is created.
    pub path: PathBuf,
    /// A Postgres database (`postgres://user[:password]@host[:port]/db`, env
    /// `PUSHWAY_STORE__URL`): when set, the gateway keeps its store there instead of in the
    /// SQLite file. Plain TCP, no TLS: a Postgres on loopback or a private network.
    pub url: Option<StoreUrl>,
    /// Connections to Postgres per node (default 10); unused with SQLite.
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("./pushway-data/pushway.sqlite3"),
            url: None,
            max_connections: 10,
        }
    }
}

impl StoreConfig {
    /// Checks the URL's form (scheme `postgres` or `postgresql`, parts Postgres accepts) and
    /// the connection count, without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url {
            crate::store::postgres::connect_options(url.expose())
                .map_err(|e| ConfigError::at("store.url", format!("{url:?}: {e}")))?;
            if self.max_connections == 0 {
                return Err(ConfigError::at(
                    "store.max_connections",
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

/// A database URL, which may carry a password: `Debug` shows it with the password replaced by
/// `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// The URL.
    pub fn new(url: impl Into<String>) -> StoreUrl {
        StoreUrl(url.into())
    }

    /// The URL as given, password included: for connecting only, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password (in the user part or a `password=` parameter) replaced by
    /// `***`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let prefix = if scheme.is_empty() && !url.contains("://") {
        String::new()
    } else {
        format!("{scheme}://")
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{prefix}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::{StoreConfig, StoreUrl};

    #[test]
    fn the_password_never_shows_in_debug() {
        let url = StoreUrl::new("postgres://pushway:s3cr%40t@db.internal:5433/push?password=x2");
        let shown = format!("{url:?}");
        assert_eq!(
            shown,
            "\"postgres://pushway:***@db.internal:5433/push?password=***\""
        );
        let config = StoreConfig {
            url: Some(url),
            ..StoreConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(!debug.contains("x2"), "{debug}");
        assert_eq!(
            format!("{:?}", StoreUrl::new("postgres://pushway@localhost/push")),
            "\"postgres://pushway@localhost/push\""
        );
    }

    #[test]
    fn a_url_that_is_not_postgres_names_the_key() {
        let check = |url: &str| {
            StoreConfig {
                url: Some(StoreUrl::new(url)),
                ..StoreConfig::default()
            }
            .validate()
            .map_err(|e| e.to_string())
        };
        assert_eq!(check("postgres://pushway@localhost:5432/push"), Ok(()));
        assert_eq!(check("postgresql://pushway@localhost/push"), Ok(()));
        assert_eq!(
            check("mysql://root:hunter2@localhost/push"),
            Err(
                "store.url: \"mysql://root:***@localhost/push\": not a postgres:// or \
                 postgresql:// URL"
                    .to_owned()
            )
        );
        let bad_port = check("postgres://pushway:hunter2@localhost:99999/push").unwrap_err();
        assert!(bad_port.starts_with("store.url: \"postgres://pushway:***@localhost:99999/push\": not a valid Postgres URL"), "{bad_port}");
        assert!(!bad_port.contains("hunter2"), "{bad_port}");
    }

    #[test]
    fn check_config_refuses_a_bad_url_and_the_file_sets_one() {
        let mut config = crate::config::Config::default();
        config.store.url = Some(StoreUrl::new("postgres//pushway@localhost/push"));
        assert_eq!(
            crate::check(&config).map_err(|e| e.to_string()),
            Err(
                "store.url: \"postgres//pushway@localhost/push\": not a postgres:// or \
                 postgresql:// URL"
                    .to_owned()
            )
        );
        config.store.url = Some(StoreUrl::new("postgresql://pushway@localhost/push"));
        assert_eq!(crate::check(&config).map_err(|e| e.to_string()), Ok(vec![]));
        use figment::providers::{Format, Toml};
        let config: crate::config::Config = figment::Figment::from(Toml::string(
            "[store]\nurl = \"postgres://pushway:pw@db/push\"\nmax_connections = 32",
        ))
        .extract()
        .expect("parses");
        assert_eq!(
            config.store.url.as_ref().map(StoreUrl::expose),
            Some("postgres://pushway:pw@db/push")
        );
        assert_eq!(config.store.max_connections, 32);
        assert_eq!(StoreConfig::default().max_connections, 10);
    }
}
