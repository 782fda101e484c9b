//! The device client reconnects with backoff and keeps receiving.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{DeviceClient, Event};
use pushway_daemon::{CloseReason, Hub, MemoryStore, QueueStore};

use crate::support::*;

#[tokio::test]
async fn the_client_reconnects_after_the_server_goes_away_and_gets_what_was_queued() {
    let store: Arc<dyn QueueStore> = Arc::new(MemoryStore::new());
    let hub = Hub::builder(auth()).shared_store(store.clone()).build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let token = hub
        .auth()
        .issue(USER, "phone-1", 0, Duration::from_secs(600))
        .unwrap();
    let mut client = DeviceClient::builder(server.url(), token)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .spawn();
    assert!(matches!(
        within(client.next_event()).await,
        Some(Event::Connected { .. })
    ));

    // The server shuts down (1001 going away), a push is queued meanwhile, a new server
    // process comes up on the same address with the same store.
    server.shutdown().await;
    match within(client.next_event()).await {
        Some(Event::Disconnected { error, .. }) => {
            assert_eq!(error.close_reason(), Some(CloseReason::GoingAway));
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let outcomes = hub
        .provider()
        .send(&notification("m1"), &[device("phone-1")])
        .await;
    assert_eq!(outcomes, [Outcome::Queued]);
    let hub2 = Hub::builder(auth()).shared_store(store).build();
    let _server2 = hub2.bind(addr).await.unwrap();

    let push = loop {
        match within(client.next_event()).await {
            Some(Event::Push(push)) => break push,
            Some(Event::Connected { device_id }) => assert_eq!(device_id, "phone-1"),
            Some(Event::Disconnected { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(push.id, "m1");
    eventually(async || hub2.queue_len(USER, "phone-1").await.unwrap() == 0).await;
}
