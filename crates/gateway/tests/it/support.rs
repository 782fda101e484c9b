//! A gateway with the demo app (every vendor pointing at a simulator) and a second app, on a
//! temporary SQLite file, or on a fresh Postgres database when `PUSHWAY_TEST_STORE=postgres`
//! (the same tests on both stores: README's test command runs this binary once more with it).

use std::time::Duration;

use pushway_gateway::config::{ApiKeyConfig, AppConfig, Config, StoreUrl};
use pushway_gateway::simulate::{DEMO_APP, Simulators};
use pushway_gateway::{Gateway, start};
use pushway_mock::apns::TestKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

pub const KEY: &str = "pw_test_demo_key";
pub const OTHER_APP: &str = "other";
pub const OTHER_KEY: &str = "pw_test_other_key";

pub struct Harness {
    gateway: Option<Gateway>,
    config: Config,
    pub sims: Simulators,
    pub http: reqwest::Client,
    pub base: String,
    pub db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_, _| {}).await
    }

    /// Starts with `edit` applied to the config (the demo app is `apps["demo"]`).
    pub async fn start_with(edit: impl FnOnce(&mut Config, &Simulators)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = TestKey::generate();
        let sims = Simulators::start(&key).await.expect("simulators");
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().expect("addr");
        config.store.path = dir.path().join("gateway.sqlite3");
        if on_postgres() {
            config.store.url = Some(StoreUrl::new(fresh_database()));
        }
        config.worker.poll_interval_ms = 20;
        config.worker.backoff_base_ms = 50;
        config.worker.backoff_max_ms = 200;
        config.apps.insert(DEMO_APP.to_owned(), sims.app(&key, KEY));
        let mut other = AppConfig::default();
        other
            .api_keys
            .push(ApiKeyConfig::inline("other", OTHER_KEY));
        config.apps.insert(OTHER_APP.to_owned(), other);
        edit(&mut config, &sims);
        let db = config.store.path.clone();
        let gateway = start(config.clone()).await.expect("gateway starts");
        let base = format!("http://{}", gateway.addr());
        Harness {
            gateway: Some(gateway),
            config,
            sims,
            http: reqwest::Client::new(),
            base,
            db,
            _dir: dir,
        }
    }

    /// The running gateway.
    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().expect("the gateway runs")
    }

    /// The configuration it started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops the gateway gracefully within `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(gateway) = self.gateway.take() {
            gateway.stop(grace).await;
        }
    }

    /// Starts the gateway again on the same database (on a new port).
    pub async fn restart(&mut self) {
        let gateway = start(self.config.clone()).await.expect("gateway restarts");
        self.base = format!("http://{}", gateway.addr());
        self.gateway = Some(gateway);
    }

    /// Starts the gateway again on the same database with `edit` applied to its config.
    pub async fn restart_with(&mut self, edit: impl FnOnce(&mut Config)) {
        edit(&mut self.config);
        self.restart().await;
    }

    /// The admin listener's base URL (`http://host:port`), when it runs.
    pub fn admin_base(&self) -> Option<String> {
        let gateway = self.gateway.as_ref()?;
        gateway.admin_addr().map(|a| format!("http://{a}"))
    }

    /// Posts a message under `key` without waiting; its id.
    pub async fn post_nowait(&self, key: &str, body: Value) -> String {
        let a = self
            .send(
                Method::POST,
                "/v1/apps/demo/messages",
                Some(KEY),
                &[("idempotency-key", key)],
                Some(body.to_string()),
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        a.body["message_id"].as_str().expect("id").to_owned()
    }

    /// A request with the demo key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, Some(KEY), &[], body.map(|b| b.to_string()))
            .await
    }

    /// A request with full control: key, extra headers, raw body (sent as JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let mut has_type = false;
        for (name, value) in headers {
            has_type |= name.eq_ignore_ascii_case("content-type");
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            if !has_type {
                request = request.header("content-type", "application/json");
            }
            request = request.body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            retry_after,
            body,
        }
    }

    /// Registers a device of the demo app.
    pub async fn device(&self, user: &str, device: &str, kind: &str, token: &str) {
        let mut body = json!({"kind": kind, "credential": "demo", "token": token});
        if kind == "apns" {
            body["apns_env"] = json!("sandbox");
        }
        let a = self
            .call(
                Method::PUT,
                &format!("/v1/apps/demo/users/{user}/devices/{device}"),
                Some(body),
            )
            .await;
        assert!(a.status.is_success(), "register {device}: {:?}", a.body);
    }

    /// Posts a message under `key` and waits up to 10 s for its first outcomes.
    pub async fn post_message(&self, key: &str, body: Value) -> Answer {
        self.send(
            Method::POST,
            "/v1/apps/demo/messages?wait=10s",
            Some(KEY),
            &[("idempotency-key", key)],
            Some(body.to_string()),
        )
        .await
    }

    /// Rows in a table of the store (to prove nothing was stored).
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// The one integer `sql` answers, read from the store (SQLite or Postgres).
    pub async fn scalar(&self, sql: &str) -> i64 {
        let rows = self.pairs(&format!("SELECT '', ({sql})")).await;
        rows.first().map(|r| r.1).expect("one row")
    }

    /// The (text, integer) rows `sql` answers, read from the store (SQLite or Postgres).
    pub async fn pairs(&self, sql: &str) -> Vec<(String, i64)> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.config.store.url {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url.expose()).await.expect("connect");
                let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
                pool.close().await;
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&self.db)
                    .read_only(true);
                let pool = sqlx::SqlitePool::connect_with(options)
                    .await
                    .expect("open db");
                let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
                pool.close().await;
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
        }
    }

    /// Polls a message's status until `done` holds (at most 10 s).
    pub async fn status_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..500 {
            let a = self
                .call(Method::GET, &format!("/v1/apps/demo/messages/{id}"), None)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            if done(&a.body) {
                return a.body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("status of {id} never reached the expected state");
    }
}

/// Whether this run's gateways keep their store on Postgres (`PUSHWAY_TEST_STORE=postgres`);
/// any other value but unset or `sqlite` is refused, so a typo cannot run SQLite twice.
pub fn on_postgres() -> bool {
    match std::env::var("PUSHWAY_TEST_STORE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("PUSHWAY_TEST_STORE={other:?}: expected postgres or sqlite"),
    }
}

/// A fresh, empty database on the Postgres server shared by the test processes (started on
/// first use); its URL.
pub fn fresh_database() -> String {
    pushway_mock::postgres::shared_database().expect("a Postgres test database")
}

/// A C2C text message from `sender` to `peer`.
pub fn c2c(sender: &str, peer: &str, text: &str) -> Value {
    json!({
        "conversation": {"type": "c2c", "peer": peer},
        "sender": {"user_id": sender},
        "elements": [{"type": "text", "text": text}]
    })
}

/// Every token the Xiaomi simulator was sent (its requests' `registration_id` lists), sorted.
pub fn xiaomi_tokens(h: &Harness) -> Vec<String> {
    let mut sent: Vec<String> = h
        .sims
        .xiaomi
        .requests()
        .iter()
        .filter_map(|r| r.form_value("registration_id"))
        .flat_map(|ids| ids.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    sent.sort();
    sent
}

/// The device entries of recipient `user` in a status body.
pub fn devices_of<'a>(status: &'a Value, user: &str) -> &'a Value {
    recipient(status, user)
        .get("devices")
        .unwrap_or(&Value::Null)
}

/// Recipient `user` of a status body.
pub fn recipient<'a>(status: &'a Value, user: &str) -> &'a Value {
    status["recipients"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["user_id"] == user))
        .unwrap_or(&Value::Null)
}

/// Asserts `answer` is the problem `slug` with `status`.
pub fn assert_problem(answer: &Answer, status: u16, slug: &str) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(
        answer.body["type"],
        format!("/problems/{slug}"),
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["status"], status);
}

/// The plan (`EXPLAIN (COSTS OFF)`) of the Postgres claim at now 62,000 from the start key
/// `start` (run_at, notification_id, id), with sequential scans off: tiny tables would be read
/// whole, and the planner prefers the index on its own once the table is larger than a few pages.
pub async fn claim_plan(
    store: &pushway_gateway::store::postgres::PgStore,
    start: (i64, i64, i64),
) -> String {
    let sql = format!(
        "EXPLAIN (COSTS OFF) {}",
        pushway_gateway::store::postgres::CLAIM_SQL
    );
    let mut conn = store.pool().acquire().await.expect("conn");
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(2_000_i64)
        .bind(62_000_i64)
        .bind(100_i64)
        .bind(start.0)
        .bind(start.1)
        .bind(start.2)
        .fetch_all(&mut *conn)
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    plan.join("\n")
}

/// A Postgres store on a fresh database (4 connections) with the app `chat`.
pub async fn pg_chat_store() -> pushway_gateway::store::postgres::PgStore {
    use pushway_gateway::store::Store;
    let store = pushway_gateway::store::postgres::PgStore::open(&fresh_database(), 4)
        .await
        .expect("open");
    store
        .sync_apps(&[("chat".to_owned(), vec![])], 0)
        .await
        .expect("apps");
    store
}

/// The first column of what `sql`, with `arg` as `$1`, returns on `store`'s pool.
pub async fn first_column<T>(
    store: &pushway_gateway::store::postgres::PgStore,
    sql: &'static str,
    arg: &str,
) -> Vec<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::query(sql)
        .bind(arg)
        .fetch_all(store.pool())
        .await
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
