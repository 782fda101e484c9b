//! A burst of concurrent sends and the connections it opens. MiPush is HTTP/1.1: a connection
//! carries one request at a time, so without a bound the pool opens one per concurrent send
//! (129 for 500 sends against the simulator before the bound).

use std::sync::Arc;

use pushway_core::PushProvider;
use pushway_mock::xiaomi::XiaomiSimulator;
use pushway_xiaomi::XiaomiProvider;
use pushway_xiaomi::config::DEFAULT_MAX_CONNECTIONS;
use tokio::task::JoinSet;

use crate::common::*;

/// Sends 500 one-regid batches at once; returns how many regids were delivered.
async fn burst(sim: &XiaomiSimulator, provider: XiaomiProvider) -> usize {
    let provider = Arc::new(provider);
    let notification = Arc::new(c2c());
    let mut sends = JoinSet::new();
    for regid in regids(500) {
        let (provider, notification) = (Arc::clone(&provider), Arc::clone(&notification));
        sends.spawn(async move { provider.send(&notification, &tokens(&[regid])).await });
    }
    let mut delivered = 0;
    while let Some(outcomes) = sends.join_next().await {
        delivered += outcomes
            .unwrap()
            .iter()
            .filter(|o| o.is_delivered())
            .count();
    }
    assert_eq!(sim.request_count(), 500);
    delivered
}

// The single-threaded runtime makes the count exact: on a multi-threaded one, a connection
// still being handed back to the pool when the next request starts can make the pool open one
// more (seen: 8 or 9 for `max_connections(8)`; the crate docs say so).
#[tokio::test]
async fn a_burst_of_500_sends_opens_max_connections_connections() {
    let sim = sim().await;
    let provider = provider_builder(&sim).max_connections(8).build().unwrap();
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
    let error = XiaomiProvider::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .channel_id(CHANNEL)
        .max_connections(0)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("max_connections"), "{error}");
}
