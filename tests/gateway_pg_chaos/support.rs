//! What both tests share: the Postgres server, the nodes' configuration, the well-behaved back
//! end that posts messages, and the reads of the store and of the simulators.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pushway_mock::apns::TestKey;
use pushway_mock::postgres::{PgOptions, PgServer};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{PgPool, Row};

use crate::children::{Files, SimulatorUrls, gateway_config, toml_str};
use crate::simulators::Control;
use crate::traffic::{self, API_KEY, APP};

/// Every vendor channel's simulator, by its control name.
pub const SIMULATORS: [&str; 4] = ["apns", "xiaomi", "huawei", "fcm"];
/// The bound on each wait (a trigger, the settling at the end).
pub const WAIT: Duration = Duration::from_secs(120);

/// A private Postgres server. Durable commits (`synchronous_commit` on: a commit returns once
/// its WAL is written), so a crash of the server loses nothing committed; `fsync` off, because
/// only processes crash here, never the machine, and the kernel keeps what was written. A small
/// WAL (checkpoints more often): the test's disk footprint stays small.
pub fn start_postgres() -> PgServer {
    let setting = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let options = PgOptions {
        fast_unsafe: false,
        settings: vec![
            setting("fsync", "off"),
            setting("max_wal_size", "64MB"),
            setting("min_wal_size", "32MB"),
        ],
    };
    PgServer::start(&options).expect("a private Postgres server (apt-get install postgresql)")
}

/// What each chaos test starts from: a private Postgres (see [`start_postgres`]), the URL of a
/// fresh database on it, and a scratch directory with the APNs signing key's files written.
pub async fn ground() -> (PgServer, String, tempfile::TempDir, Files) {
    let postgres = tokio::task::spawn_blocking(start_postgres)
        .await
        .expect("start Postgres");
    let url = postgres.create_database().expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Files::in_dir(dir.path());
    let key = TestKey::generate();
    std::fs::write(&files.apns_key, key.private_key_pem()).expect("write the APNs key");
    std::fs::write(&files.apns_public_key, key.public_key_pem()).expect("write its public key");
    (postgres, url, dir, files)
}

/// One node's configuration: the app on the simulators at `urls`, the store on Postgres at
/// `url`, a lease of `lease_secs`; `dir`/`name`.sqlite3 is its `store.path` (unused on Postgres).
pub fn node_config(
    urls: &SimulatorUrls,
    files: &Files,
    url: &str,
    dir: &Path,
    name: &str,
    lease_secs: u64,
) -> String {
    let store_and_worker = format!(
        r#"[store]
url = {url}
max_connections = 10
path = {db}

[worker]
lease_secs = {lease_secs}
poll_interval_ms = 50
claim_batch = 100
max_in_flight = 8
max_attempts = 1000
backoff_base_ms = 100
backoff_max_ms = 1000
"#,
        url = toml_str(url),
        db = toml_str(&dir.join(format!("{name}.sqlite3")).to_string_lossy()),
    );
    gateway_config(urls, files, &store_and_worker)
}

/// The answers the back end got, by kind.
#[derive(Debug, Default, Clone)]
pub struct Answers {
    /// `202`.
    pub accepted: usize,
    /// `503` with a `Retry-After` (retried after it, same key).
    pub unavailable: usize,
    /// No answer (connection refused or reset, or the client's timeout): the node was gone.
    pub no_answer: usize,
}

/// A well-behaved IM back end: posts message `m` under its own `Idempotency-Key` until it is
/// acknowledged, over the nodes in turn when one does not answer.
pub struct Poster {
    http: reqwest::Client,
    /// Each node's base URL (a restarted node listens on a new port).
    pub bases: Mutex<Vec<String>>,
    /// What came back so far.
    pub answers: Mutex<Answers>,
}

impl Poster {
    /// A back end of the nodes at `bases`; a request gets `timeout` (longer than the gateway's
    /// request timeout, 30 s, so a gateway that hangs past its own timeout shows as no answer).
    pub fn new(bases: Vec<String>, timeout: Duration) -> Poster {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("HTTP client");
        Poster {
            http,
            bases: Mutex::new(bases),
            answers: Mutex::default(),
        }
    }

    /// Posts message `m`, first to node `node`, until a `202`; its message id. Any status but
    /// `202` and `503` + `Retry-After` fails the test.
    pub async fn post(&self, m: usize, mut node: usize) -> String {
        loop {
            let base = {
                let bases = self.bases.lock().expect("lock");
                bases[node % bases.len()].clone()
            };
            let sent = self
                .http
                .post(format!("{base}/v1/apps/{APP}/messages"))
                .bearer_auth(API_KEY)
                .header("idempotency-key", traffic::label(m))
                .header("content-type", "application/json")
                .body(traffic::message_body(m))
                .send()
                .await;
            let answer = match sent {
                Ok(answer) => answer,
                Err(_) => {
                    self.answers.lock().expect("lock").no_answer += 1;
                    node += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let status = answer.status();
            let retry_after = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            match status {
                StatusCode::ACCEPTED => {
                    self.answers.lock().expect("lock").accepted += 1;
                    return body["message_id"]
                        .as_str()
                        .expect("a message id")
                        .to_owned();
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    let secs = retry_after
                        .unwrap_or_else(|| panic!("message {m}: 503 without Retry-After: {body}"));
                    self.answers.lock().expect("lock").unavailable += 1;
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                other => panic!("message {m}: {other} {body}"),
            }
        }
    }
}

/// Delivery rows by state.
pub async fn states(pool: &PgPool) -> BTreeMap<String, usize> {
    let rows = sqlx::query("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        .fetch_all(pool)
        .await
        .expect("count rows");
    rows.iter()
        .map(|row| {
            let n: i64 = row.get(1);
            (row.get(0), usize::try_from(n).expect("a count"))
        })
        .collect()
}

/// Waits (bounded) until all `deliveries` rows are `delivered`; panics with the states if not.
pub async fn wait_all_delivered(pool: &PgPool, deliveries: usize) {
    let deadline = Instant::now() + WAIT;
    let all = BTreeMap::from([("delivered".to_owned(), deliveries)]);
    loop {
        let now = states(pool).await;
        if now == all {
            return;
        }
        assert!(Instant::now() < deadline, "never all delivered: {now:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The (label, token) pairs messages `0..messages` go to.
pub fn expected(messages: usize) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for m in 0..messages {
        for i in traffic::recipients_of(m) {
            for device in traffic::devices_of(i) {
                pairs.insert((traffic::label(m), device.token));
            }
        }
    }
    pairs
}

/// How many times each (label, token) pair reached a simulator, and each simulator's total.
pub async fn received(control: &Control) -> (BTreeMap<(String, String), usize>, Vec<usize>) {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut totals = Vec::new();
    for simulator in SIMULATORS {
        let entries = control.received(simulator).await;
        totals.push(entries.len());
        for entry in entries {
            let token = entry["token"].as_str().expect("a token").to_owned();
            let label = entry["data"]["ext"].as_str().expect("the message's ext");
            *counts.entry((label.to_owned(), token)).or_default() += 1;
        }
    }
    (counts, totals)
}

/// Asserts that the pairs received are exactly `expected`: none missing, none unknown.
pub fn assert_exactly(
    counts: &BTreeMap<(String, String), usize>,
    expected: &BTreeSet<(String, String)>,
) {
    let distinct: BTreeSet<(String, String)> = counts.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&distinct).collect();
    let unexpected: Vec<_> = distinct.difference(expected).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged (message, token) pairs never received, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        unexpected.is_empty(),
        "{} pairs received that were never sent, e.g. {:?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(5)]
    );
}

/// Milliseconds since the Unix epoch: the gateway's clock (leases are written in it).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}
