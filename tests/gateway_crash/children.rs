//! The two child processes: the vendor simulators (this test binary again, running
//! [`crate::crash_simulators`]) and the `pushway` gateway. Both are killed when their guard is
//! dropped, so a failing assertion leaves no process behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pushway_mock::fcm::TestServiceAccount;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The environment variable that makes [`crate::crash_simulators`] serve (in the child); its
/// value is the test's temporary directory. Not `PUSHWAY_*`: the gateway reads those.
pub const SIMULATORS_ENV: &str = "GATEWAY_CRASH_SIMULATORS_DIR";
/// The line prefix the simulator child announces itself with.
pub const SIMULATORS_LINE: &str = "CRASH_SIMULATORS=";
/// How long a child may take to announce itself (a cold debug build on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the simulators listen, as the child announces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimulatorUrls {
    /// `https://127.0.0.1:PORT` (TLS, self-signed).
    pub apns: String,
    /// The APNs simulator's certificate, for the gateway to trust.
    pub apns_ca_pem: String,
    /// `http://127.0.0.1:PORT`.
    pub xiaomi: String,
    /// `http://127.0.0.1:PORT` (OAuth and push).
    pub huawei: String,
    /// `https://127.0.0.1:PORT` (TLS, self-signed; HTTP/2): the FCM API base URL.
    pub fcm: String,
    /// The FCM simulator's token endpoint (a full URL).
    pub fcm_token_url: String,
    /// The FCM simulator's certificate, for the gateway to trust.
    pub fcm_ca_pem: String,
    /// `http://127.0.0.1:PORT`, serving `/_control/faults` and `/_control/received`.
    pub control: String,
}

/// The simulator process; killed when dropped (and it exits by itself when its stdin closes,
/// i.e. when this process dies without dropping it).
pub struct SimulatorProcess {
    _child: Child,
    pub urls: SimulatorUrls,
}

impl SimulatorProcess {
    /// Re-runs this test binary as the simulator server, with `dir` holding the APNs key.
    pub async fn start(dir: &Path) -> SimulatorProcess {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new(exe)
            .args(["--exact", "crash_simulators", "--ignored", "--nocapture"])
            .env(SIMULATORS_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the simulator process");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let json = read_until(&mut lines, |line| {
            // libtest may print its own words before ours on the same line.
            line.find(SIMULATORS_LINE)
                .map(|at| line[at + SIMULATORS_LINE.len()..].to_owned())
        })
        .await
        .expect("the simulator process announced its addresses");
        let urls = serde_json::from_str(&json).expect("the announced addresses parse");
        // Read on to the end: libtest in the child prints again later ("has been running for
        // over 60 seconds"), and a closed pipe would kill it then.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        SimulatorProcess {
            _child: child,
            urls,
        }
    }
}

/// A running `pushway serve`; killed (SIGKILL) when dropped.
pub struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl GatewayProcess {
    /// Starts `pushway serve --config <config>` and waits for its "listening" line.
    pub async fn start(config: &Path) -> GatewayProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pushway"));
        command
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        // Only the file configures it: no override from this process's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PUSHWAY_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("spawn pushway");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // "pushway listening on http://127.0.0.1:PORT  (…)": the first URL of that line.
        let base = read_until(&mut lines, |line| {
            let rest = &line[line.find("listening on ")?..];
            let url = &rest[rest.find("http://")?..];
            Some(url.split_whitespace().next()?.to_owned())
        })
        .await
        .expect("pushway printed where it listens");
        // The logs go to stdout too: read on to the end (the child's exit), passed on to stderr
        // for a failure's output, so that a full pipe never blocks the gateway (a store outage
        // logs an error per claim and per request).
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                // Not the admin key `pushway serve` generated and printed: it stays secret.
                if !line.contains("admin key") {
                    eprintln!("pushway: {line}");
                }
            }
        });
        GatewayProcess { child, base }
    }

    /// `kill -9`: no graceful shutdown, no lease released, nothing flushed.
    pub async fn kill9(mut self) {
        // `Child::start_kill` sends SIGKILL on Unix.
        self.child.start_kill().expect("SIGKILL the gateway");
        let status = self.child.wait().await.expect("reap the gateway");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the gateway died of SIGKILL"
        );
    }
}

/// Reads lines until `pick` finds what it wants; `None` when the child closed stdout first.
async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    pick: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(found) = pick(&line) {
                return Some(found);
            }
        }
        None
    };
    tokio::time::timeout(START_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// The files of one run in the temporary directory.
pub struct Files {
    /// The gateway's configuration.
    pub config: PathBuf,
    /// The gateway's SQLite file.
    pub db: PathBuf,
    /// The APNs signing key (PKCS#8 PEM), for the gateway.
    pub apns_key: PathBuf,
    /// The APNs public key (PEM), for the simulator.
    pub apns_public_key: PathBuf,
}

impl Files {
    /// The paths under `dir`.
    pub fn in_dir(dir: &Path) -> Files {
        Files {
            config: dir.join("pushway.toml"),
            db: dir.join("gateway.sqlite3"),
            apns_key: dir.join("apns.p8"),
            apns_public_key: dir.join("apns.pub.pem"),
        }
    }
}

/// A TOML basic string (JSON's string escapes are TOML's).
pub fn toml_str(value: &str) -> String {
    serde_json::to_string(value).expect("a string")
}

/// The gateway's configuration, shared by the SQLite crash test and the Postgres chaos tests:
/// the listeners (port 0: tests run side by side; `pushway serve` generates the admin key), then
/// `store_and_worker` (the `[store]` and `[worker]` sections, which differ), then one app whose
/// APNs, Xiaomi, Huawei and FCM credentials point at the simulators at `urls`.
pub fn gateway_config(urls: &SimulatorUrls, files: &Files, store_and_worker: &str) -> String {
    use crate::simulators;
    use crate::traffic::{API_KEY, APP, CREDENTIAL};
    let s = |v: &str| toml_str(v);
    let path = |p: &Path| toml_str(&p.to_string_lossy());
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[admin]
listen = "127.0.0.1:0"

{store_and_worker}
[apps.{APP}]
api_keys = [{{ name = "crash-test", key = {key} }}]

[apps.{APP}.apns.{CREDENTIAL}]
team_id = {team}
key_id = {key_id}
topic = {topic}
key_file = {apns_key}
production_url = {apns}
sandbox_url = {apns}
ca_cert_pem = {ca}

[apps.{APP}.xiaomi.{CREDENTIAL}]
package = {topic}
channel_id = "im_messages"
app_secret = {xiaomi_secret}
base_url = {xiaomi}
danger_allow_plain_http = true

[apps.{APP}.huawei.{CREDENTIAL}]
app_id = {huawei_app}
client_secret = {huawei_secret}
base_url = {huawei}
danger_allow_plain_http = true

[apps.{APP}.fcm.{CREDENTIAL}]
service_account = {fcm_key}
channel_id = "im_messages"
api_base_url = {fcm}
token_url = {fcm_token_url}
ca_cert_pem = {fcm_ca}
"#,
        key = s(API_KEY),
        team = s(simulators::TEAM_ID),
        key_id = s(simulators::KEY_ID),
        topic = s(simulators::TOPIC),
        apns_key = path(&files.apns_key),
        apns = s(&urls.apns),
        ca = s(&urls.apns_ca_pem),
        xiaomi_secret = s(simulators::XIAOMI_SECRET),
        xiaomi = s(&urls.xiaomi),
        huawei_app = s(simulators::HUAWEI_APP_ID),
        huawei_secret = s(simulators::HUAWEI_SECRET),
        huawei = s(&urls.huawei),
        fcm_key = s(TestServiceAccount::new().key_file_json()),
        fcm = s(&urls.fcm),
        fcm_token_url = s(&urls.fcm_token_url),
        fcm_ca = s(&urls.fcm_ca_pem),
    )
}
