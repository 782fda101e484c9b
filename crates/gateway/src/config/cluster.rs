//! `[cluster]`: this node's identity among several gateways on one Postgres database (unused
//! on SQLite, where a gateway is alone).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// The node's settings in a cluster on Postgres.
///
/// ```toml
/// [cluster]
/// node_id = "push-1"     # default: <hostname>-<pid>
/// heartbeat_secs = 5
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// This node's id in the `nodes` registry, unique among the live nodes (default the host's
    /// name and the process id, `<hostname>-<pid>`: unique per process; gateways started in
    /// one process must each be given their own).
    pub node_id: String,
    /// How often the node writes its heartbeat to the registry, in seconds (default 5).
    pub heartbeat_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: default_node_id(),
            heartbeat_secs: 5,
        }
    }
}

impl ClusterConfig {
    /// The heartbeat interval (at least one second).
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }

    /// Checks the node id: not empty, at most 200 bytes, no control characters (it is shown in
    /// logs and Postgres' `pg_stat_activity`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let id = &self.node_id;
        if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
            return Err(ConfigError::at(
                "cluster.node_id",
                "must be 1 to 200 bytes without control characters",
            ));
        }
        Ok(())
    }
}

/// `<hostname>-<pid>`: the kernel's host name (Linux), else `$HOSTNAME`, else `pushway`.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pushway".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::ClusterConfig;

    #[test]
    fn the_default_node_id_is_the_host_and_the_process() {
        let id = ClusterConfig::default().node_id;
        let suffix = format!("-{}", std::process::id());
        assert!(id.ends_with(&suffix), "{id}");
        assert!(id.len() > suffix.len(), "{id}");
        assert_eq!(
            ClusterConfig::default()
                .validate()
                .map_err(|e| e.to_string()),
            Ok(())
        );
    }

    #[test]
    fn a_node_id_must_be_printable_and_short() {
        let check = |id: &str| {
            ClusterConfig {
                node_id: id.to_owned(),
                ..ClusterConfig::default()
            }
            .validate()
            .map_err(|e| e.to_string())
        };
        assert_eq!(check("push-1"), Ok(()));
        let refused =
            Err("cluster.node_id: must be 1 to 200 bytes without control characters".to_owned());
        assert_eq!(check(""), refused);
        assert_eq!(check("a\nb"), refused);
        assert_eq!(check(&"x".repeat(201)), refused);
    }
}
