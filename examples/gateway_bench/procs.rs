//! The processes the bench runs: the simulators (`pushway-mock all`), the gateway (`pushway
//! serve`) with its configuration file, the limit server; and what `/proc` says about them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pushway_mock::apns::TestKey;

use super::Res;
pub use super::mock_all::PACKAGE;
use super::mock_all::{self, HUAWEI_APP_ID, HUAWEI_SECRET, KEY_ID, TEAM_ID, XIAOMI_SECRET};

pub const APP: &str = "bench";
pub const API_KEY: &str = "bench-api-key-0123456789abcdef";
pub const CREDENTIAL: &str = "main";
const DAEMON_SECRET: &str = "gateway bench daemon secret, 32+ bytes long";
/// How long a started process has to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process, killed (SIGKILL) and reaped when dropped, so its CPU counts in this
/// process's children's rusage.
pub struct Proc {
    child: Child,
    /// What it printed to say where it listens.
    pub url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `command` with stdout piped; `url` finds the address in a line. The rest of
    /// stdout is read and dropped (a full pipe would stall the child).
    fn spawn(mut command: Command, url: fn(&str) -> Option<String>) -> Res<Proc> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // GATEWAY_BENCH_SERVE_LOG=<file>: keep what the child prints (debugging the bench).
        let mut keep = std::env::var_os("GATEWAY_BENCH_SERVE_LOG")
            .and_then(|path| std::fs::File::create(path).ok());
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(file) = keep.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
                if let Some(found) = url(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(found);
                }
            }
        });
        let mut proc = Proc {
            child,
            url: String::new(),
        };
        proc.url = rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| format!("{program} did not say where it listens"))?;
        Ok(proc)
    }

    /// `pushway serve --config <config>`; logs at `warn` unless `GATEWAY_BENCH_RUST_LOG` says
    /// otherwise (its log goes to this process's stdout reader and is dropped, but for errors
    /// on stderr).
    pub fn serve(bin: &Path, config: &Path) -> Res<Proc> {
        let mut command = Command::new(bin);
        command.arg("serve").arg("--config").arg(config).env(
            "RUST_LOG",
            std::env::var("GATEWAY_BENCH_RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        );
        Proc::spawn(command, |line| {
            line.strip_prefix("pushway listening on ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        })
    }

    /// The limit server (`examples/accept_limit.rs`).
    pub fn limit(bin: &Path) -> Res<Proc> {
        Proc::spawn(Command::new(bin), |line| {
            line.strip_prefix("listening ").map(str::to_owned)
        })
    }
}

/// `pushway-mock all --recording off` and the three JSON lines it printed (base URLs, CA).
pub struct Mock {
    pub proc: Proc,
    pub lines: HashMap<String, serde_json::Value>,
}

impl Mock {
    pub fn start(bin: &Path, key: &TestKey, dir: &Path) -> Res<Mock> {
        let (child, lines) = mock_all::start(bin, key, &dir.join("apns-key.pem"))?;
        let proc = Proc {
            child,
            url: String::new(),
        };
        Ok(Mock { proc, lines })
    }

    fn field(&self, sim: &str, name: &str) -> Res<String> {
        Ok(self.lines[sim][name]
            .as_str()
            .ok_or_else(|| format!("{sim}: no {name}"))?
            .to_owned())
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Where a gateway keeps its store.
pub enum StoreAt<'a> {
    /// A SQLite file.
    Sqlite(&'a Path),
    /// A Postgres database shared by the nodes; this node's `[cluster] node_id`.
    Postgres {
        url: &'a str,
        node: &'a str,
        max_connections: u32,
    },
}

impl StoreAt<'_> {
    /// The `[store]` (and for Postgres `[cluster]`) sections.
    fn toml(&self) -> String {
        match self {
            StoreAt::Sqlite(path) => {
                format!(
                    "[store]\npath = {}\n",
                    toml_str(&path.display().to_string())
                )
            }
            StoreAt::Postgres {
                url,
                node,
                max_connections,
            } => format!(
                "[store]\nurl = {}\nmax_connections = {max_connections}\n\n[cluster]\nnode_id = {}\n",
                toml_str(url),
                toml_str(node)
            ),
        }
    }

    /// The configuration file's name.
    fn file_name(&self) -> String {
        match self {
            StoreAt::Sqlite(_) => "pushway-bench.toml".to_owned(),
            StoreAt::Postgres { node, .. } => format!("pushway-bench-{node}.toml"),
        }
    }
}

/// Writes the gateway's configuration into `dir`: one app whose APNs, Xiaomi and Huawei
/// credentials (all named `main`) point at the simulators, the daemon channel on, the store at
/// `store`. Returns the file's path.
pub fn write_config(dir: &Path, mock: &Mock, key: &TestKey, store: &StoreAt<'_>) -> Res<PathBuf> {
    let apns = mock.field("apns", "base_url")?;
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
request_timeout_secs = 120

[admin]
enabled = false

{store}
[apps.{APP}]
api_keys = [{{ name = "bench", key = {api_key} }}]

[apps.{APP}.apns.{CREDENTIAL}]
team_id = "{TEAM_ID}"
key_id = "{KEY_ID}"
topic = "{PACKAGE}"
key_pem = {key_pem}
sandbox_url = {apns}
production_url = {apns}
ca_cert_pem = {ca}

[apps.{APP}.xiaomi.{CREDENTIAL}]
package = "{PACKAGE}"
channel_id = "im_messages"
custom_activity = ".ui.ChatActivity"
app_secret = "{XIAOMI_SECRET}"
base_url = {xiaomi}
danger_allow_plain_http = true

[apps.{APP}.huawei.{CREDENTIAL}]
app_id = "{HUAWEI_APP_ID}"
client_secret = "{HUAWEI_SECRET}"
base_url = {huawei}
danger_allow_plain_http = true

[apps.{APP}.daemon]
secret = {daemon}
"#,
        store = store.toml(),
        api_key = toml_str(API_KEY),
        key_pem = toml_str(key.private_key_pem()),
        apns = toml_str(&apns),
        ca = toml_str(&mock.field("apns", "ca_cert_pem")?),
        xiaomi = toml_str(&mock.field("xiaomi", "base_url")?),
        huawei = toml_str(&mock.field("huawei", "base_url")?),
        daemon = toml_str(DAEMON_SECRET),
    );
    let path = dir.join(store.file_name());
    std::fs::write(&path, text)?;
    Ok(path)
}

/// utime + stime of a process in clock ticks (1/100 s), from `/proc/<pid>/stat`.
pub fn ticks(pid: u32) -> Res<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .ok_or("malformed stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| -> Res<u64> { Ok(fields.get(i).ok_or("short stat")?.parse()?) };
    Ok(field(11)? + field(12)?)
}

/// CPU seconds between two `ticks` readings.
pub fn cpu_seconds(t0: u64, t1: u64) -> f64 {
    t1.saturating_sub(t0) as f64 / 100.0
}

/// A process's memory from `/proc/<pid>/status`, in KiB: VmRSS, RssAnon, RssFile, RssShmem.
pub fn rss(pid: u32) -> Res<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Rss {
        total: kib("VmRSS:"),
        anon: kib("RssAnon:"),
        file: kib("RssFile:"),
        shmem: kib("RssShmem:"),
    })
}

/// Resident memory, KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Rss {
    pub total: u64,
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
}
