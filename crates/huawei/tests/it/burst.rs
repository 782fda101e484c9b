//! A burst of concurrent sends and the connections it opens. Push Kit is HTTP/1.1: a connection
//! carries one request at a time, so without a bound the pool opens one per concurrent send (129
//! for these 500 sends against the simulator before the bound).

use std::sync::Arc;

use pushway_core::PushProvider;
use pushway_huawei::{DEFAULT_MAX_CONNECTIONS, HuaweiProvider};
use pushway_mock::huawei::HuaweiSimulator;
use tokio::task::JoinSet;

use crate::support::*;

/// Sends 500 one-token batches at once, after one send that fetched the access token; returns
/// how many tokens the burst delivered.
async fn burst(sim: &HuaweiSimulator, provider: HuaweiProvider) -> usize {
    // The token fetch first, on a connection of its own that the burst then reuses.
    let first = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(first[0].is_delivered(), "{first:?}");
    assert_eq!(sim.connection_count(), 1);
    let notification = Arc::new(c2c());
    let mut sends = JoinSet::new();
    for device in many(500) {
        let (provider, notification) = (provider.clone(), Arc::clone(&notification));
        sends.spawn(async move { provider.send(&notification, &[device]).await });
    }
    let mut delivered = 0;
    while let Some(outcomes) = sends.join_next().await {
        delivered += outcomes
            .unwrap()
            .iter()
            .filter(|o| o.is_delivered())
            .count();
    }
    assert_eq!((sends_count(sim), token_requests(sim).len()), (501, 1));
    delivered
}

fn sends_count(sim: &HuaweiSimulator) -> usize {
    sends(sim).len()
}

// The single-threaded runtime makes the count exact: on a multi-threaded one, a connection
// still being handed back to the pool when the next send starts can make the pool open one more
// (the crate docs say so).
#[tokio::test]
async fn a_burst_of_500_sends_opens_max_connections_connections() {
    let sim = sim().await;
    let provider = builder(&sim).max_connections(8).build().unwrap();
    assert_eq!(burst(&sim, provider).await, 500);
    assert_eq!(sim.connection_count(), 8);
}

#[tokio::test]
async fn the_default_bound_is_64_connections() {
    let sim = sim().await;
    assert_eq!(burst(&sim, provider(&sim)).await, 500);
    assert_eq!(DEFAULT_MAX_CONNECTIONS, 64);
    assert_eq!(sim.connection_count(), 64);
}

#[test]
fn zero_connections_is_a_config_error() {
    let error = HuaweiProvider::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .max_connections(0)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("max_connections"), "{error}");
}
