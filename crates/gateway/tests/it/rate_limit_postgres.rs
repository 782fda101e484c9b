//! A credential's vendor rate on Postgres is the cluster's: every node leases blocks of units
//! from one `rate_buckets` row (docs/postgres.md, "Vendor rate limits across nodes"). These run
//! on Postgres whatever `PUSHWAY_TEST_STORE` says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pushway_delivery::{Lease, RateLimitConfig, RateLimiter, RateSource, SOURCE_BACKOFF};
use pushway_gateway::config::{Config, RateConfig, StoreUrl};
use pushway_gateway::store::postgres::PgStore;
use pushway_gateway::{Gateway, start};
use pushway_mock::postgres::{PgOptions, PgServer};
use serde_json::json;
use sqlx::Row;

use crate::support::{Harness, KEY, c2c, fresh_database};

/// 1 unit a second, a burst of 5, waiting at most `max_wait`.
fn slow(max_wait: Duration) -> RateLimitConfig {
    let mut config = RateLimitConfig::per_second(1.0);
    config.burst = 5;
    config.max_wait = max_wait;
    config
}

#[tokio::test]
async fn two_nodes_lease_from_one_row() {
    let url = fresh_database();
    let a = PgStore::open(&url, 2).await.expect("node a");
    let b = PgStore::open(&url, 2).await.expect("node b");
    let on_a = a.rate_source("chat", "xiaomi", "mi");
    let on_b = b.rate_source("chat", "xiaomi", "mi");

    // A new bucket is full: the whole burst at once.
    let first = on_a.lease(&slow(Duration::ZERO), 5).await.expect("lease");
    assert_eq!(
        first,
        Lease::Granted {
            after: Duration::ZERO
        }
    );
    // The other node finds it empty: its unit's turn is up to 1 s away.
    let refused = on_b.lease(&slow(Duration::ZERO), 1).await.expect("lease");
    let Lease::Refused { after } = refused else {
        panic!("{refused:?}")
    };
    assert!(
        after > Duration::ZERO && after <= Duration::from_secs(1),
        "{after:?}"
    );
    // Allowed to wait 2 s, it gets the unit, to be spent when its turn comes.
    let waited = on_b
        .lease(&slow(Duration::from_secs(2)), 1)
        .await
        .expect("lease");
    let Lease::Granted { after } = waited else {
        panic!("{waited:?}")
    };
    assert!(
        after > Duration::ZERO && after <= Duration::from_secs(1),
        "{after:?}"
    );
    // Now the next unit is 1 to 2 s away; refusing it changes nothing.
    let Lease::Refused { after } = on_a.lease(&slow(Duration::ZERO), 1).await.expect("lease")
    else {
        panic!("granted beyond the rate")
    };
    assert!(
        after > Duration::from_secs(1) && after <= Duration::from_secs(2),
        "{after:?}"
    );

    let rows = sqlx::query("SELECT app_id, kind, credential, granted FROM rate_buckets")
        .fetch_all(a.pool())
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one row per credential");
    let row = &rows[0];
    let key: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(key, ("chat".into(), "xiaomi".into(), "mi".into()));
    assert!(!row.get::<bool, _>(3), "the last lease was refused");
    // Another credential has its own bucket, full.
    let other = a.rate_source("chat", "xiaomi", "other");
    let lease = other.lease(&slow(Duration::ZERO), 5).await.expect("lease");
    assert_eq!(
        lease,
        Lease::Granted {
            after: Duration::ZERO
        }
    );
}

#[tokio::test]
async fn postgres_away_refuses_sends_and_they_resume_when_it_is_back() {
    // Durable commits: the server is stopped as a crash, and the schema must survive it.
    let server = PgServer::start(&PgOptions::default()).expect("postgres");
    let url = server.create_database().expect("database");
    let store = PgStore::open(&url, 2).await.expect("store");
    let mut config = RateLimitConfig::per_second(100.0);
    config.burst = 10;
    let limiter = RateLimiter::shared(config, Arc::new(store.rate_source("chat", "xiaomi", "mi")))
        .expect("limiter");
    for _ in 0..10 {
        assert_eq!(limiter.acquire(1).await, Ok(()));
    }

    server.stop(true).expect("stop");
    // The next block cannot be leased: refused for the backoff, not sent, no panic.
    assert_eq!(limiter.acquire(1).await, Err(SOURCE_BACKOFF));
    let Err(left) = limiter.acquire(1).await else {
        panic!("sent while Postgres is away")
    };
    assert!(left <= SOURCE_BACKOFF, "{left:?}");

    server.start_again().expect("start again");
    tokio::time::sleep(SOURCE_BACKOFF).await;
    let mut resumed = false;
    // The pool reconnects on its own; a few backoffs at most.
    for _ in 0..20 {
        if limiter.acquire(1).await.is_ok() {
            resumed = true;
            break;
        }
        tokio::time::sleep(SOURCE_BACKOFF).await;
    }
    assert!(resumed, "sends resume once Postgres is back");
}

/// The rate of the demo app's Xiaomi credential in the cluster test.
const RATE: f64 = 20.0;
const BURST: u32 = 2;
/// `lease_block` of that rate: 100 ms of it, at most the burst.
const BLOCK: u32 = 2;

/// Gateway A (the harness) and gateway B on one fresh database, both with the demo app's
/// Xiaomi credential limited to 20 requests a second (burst 2), claiming few rows at a time so
/// that both nodes keep sends waiting for the rate.
async fn two_gateways() -> (Harness, Gateway) {
    let h = Harness::start_with(|config, _| {
        config.store.url = Some(StoreUrl::new(fresh_database()));
        config.cluster.node_id = "a".to_owned();
        config.worker.claim_batch = 4;
        config.worker.max_in_flight = 8;
        let mi = config.apps.get_mut("demo").expect("demo");
        let mi = mi.xiaomi.get_mut("demo").expect("xiaomi");
        mi.rate_limit = Some(RateConfig::per_second(RATE).with_burst(BURST));
    })
    .await;
    let mut config: Config = h.config().clone();
    config.cluster.node_id = "b".to_owned();
    let b = start(config).await.expect("gateway b starts");
    (h, b)
}

/// The Xiaomi requests `at` has made (its vendor-call histogram's count).
async fn requests_of(h: &Harness, at: &str) -> u64 {
    let text = h
        .http
        .get(format!("{at}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    text.lines()
        .filter(|l| l.starts_with("pushway_vendor_request_duration_seconds_count"))
        .filter(|l| l.contains("channel=\"xiaomi\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_gateways_send_at_the_credentials_rate_together() {
    let (h, b) = two_gateways().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    let start = Instant::now();
    // One message, one request each: far more than the rate allows in the window below.
    let posts = (0..120).map(|i| {
        let body = json!({"message": c2c("alice", "bob", &format!("m{i}")),
                          "recipients": [{"user_id": "bob"}]});
        let request = h
            .http
            .post(format!("{}/v1/apps/demo/messages", h.base))
            .bearer_auth(KEY)
            .header("idempotency-key", format!("k{i}"))
            .json(&body);
        async move {
            let response = request.send().await.expect("post");
            assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
        }
    });
    futures_util::future::join_all(posts).await;

    // Until 40 requests reached the simulator: two nodes each at the full rate would get
    // there in under 1 s, one shared rate not before 1.8 s.
    let mut sent = h.sims.xiaomi.request_count();
    while sent < 40 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {sent} sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        sent = h.sims.xiaomi.request_count();
    }
    // Every request counted was sent within [start, window].
    let window = start.elapsed().as_secs_f64();
    let nodes = 2.0;
    let bound = f64::from(BURST) + RATE * window + nodes * f64::from(BLOCK - 1);
    assert!(
        sent as f64 <= bound,
        "{sent} requests in {window:.3} s: more than the documented bound {bound:.1}"
    );
    // Both nodes sent: the rate was shared, not taken by one of them.
    let (on_a, on_b) = (
        requests_of(&h, &h.base).await,
        requests_of(&h, &format!("http://{}", b.addr())).await,
    );
    eprintln!("{sent} requests in {window:.3} s (bound {bound:.1}); a sent {on_a}, b {on_b}");
    assert!(on_a > 0 && on_b > 0, "a sent {on_a}, b sent {on_b}");
    b.stop(Duration::from_secs(5)).await;
}
