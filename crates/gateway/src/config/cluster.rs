//! `[cluster]`: this node's identity among the nodes that share one Postgres store.

use serde::Deserialize;

use super::ConfigError;

/// This node among the nodes on one Postgres database (unused with SQLite).
///
/// ```toml
/// [cluster]
/// node_id = "push-1"   # default: <hostname>-<pid>
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The node's id, unique among the live nodes (default `<hostname>-<pid>`). The daemon
    /// channel records which node each device is connected to under it; a node restarted with
    /// the same id takes its old entries over (and clears them).
    pub node_id: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: default_node_id(),
        }
    }
}

impl ClusterConfig {
    /// Checks the node id (not empty, at most 200 characters: it is stored and logged).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.node_id.trim().is_empty() || self.node_id.len() > 200 {
            return Err(ConfigError::at(
                "cluster.node_id",
                "must be 1 to 200 characters, not blank",
            ));
        }
        Ok(())
    }
}

/// `<hostname>-<pid>`: unique per process on a host, and readable in `pg_stat_activity` and the
/// presence table. The host name comes from the kernel (Linux) or `HOSTNAME`, else `pushway`.
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
    fn the_default_node_id_is_host_and_pid_and_a_blank_one_is_refused() {
        let config = ClusterConfig::default();
        let pid = format!("-{}", std::process::id());
        assert!(config.node_id.ends_with(&pid), "{}", config.node_id);
        assert!(config.node_id.len() > pid.len(), "{}", config.node_id);
        assert_eq!(config.validate().map_err(|e| e.to_string()), Ok(()));
        let blank = ClusterConfig {
            node_id: "  ".to_owned(),
        };
        assert_eq!(
            blank.validate().map_err(|e| e.to_string()),
            Err("cluster.node_id: must be 1 to 200 characters, not blank".to_owned())
        );
        use figment::providers::{Format, Toml};
        let config: crate::config::Config =
            figment::Figment::from(Toml::string("[cluster]\nnode_id = \"push-1\""))
                .extract()
                .expect("parses");
        assert_eq!(config.cluster.node_id, "push-1");
    }
}
