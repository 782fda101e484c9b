//! A restart with the SQLite store loses nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::{Hub, SqliteStore};

use crate::support::*;

pub fn temp_db(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "pushway-daemon-{name}-{}-{nanos}.db",
        std::process::id()
    ))
}

pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test]
async fn queued_pushes_survive_a_restart_with_the_sqlite_store() {
    let path = temp_db("restart");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let hub = Hub::builder(auth()).store(store.clone()).build();
        let server = hub.bind("127.0.0.1:0").await.unwrap();
        // One push is sent and never acked (the device vanishes), two are queued offline.
        let token = hub
            .auth()
            .issue(USER, "phone-1", 0, Duration::from_secs(60))
            .unwrap();
        let mut conn = Connection::connect(&server.url(), &token, &ConnectOptions::default())
            .await
            .unwrap();
        let hub_provider = hub.provider();
        let sending = tokio::spawn(async move {
            hub_provider
                .send(&notification("m1"), &[device("phone-1")])
                .await
        });
        assert_eq!(within(conn.next()).await.unwrap().id, "m1");
        drop(conn); // no ack: the connection just goes away
        assert_eq!(within(sending).await.unwrap(), [Outcome::Queued]);
        for id in ["m2", "m3"] {
            assert_eq!(
                hub.provider()
                    .send(&notification(id), &[device("phone-1")])
                    .await,
                [Outcome::Queued]
            );
        }
        server.shutdown().await;
        store.close().await;
    }

    let store = SqliteStore::open(&path).await.unwrap();
    let hub = Hub::builder(auth()).store(store.clone()).build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    assert_eq!(hub.queue_len(USER, "phone-1").await.unwrap(), 3);
    let token = hub
        .auth()
        .issue(USER, "phone-1", 0, Duration::from_secs(60))
        .unwrap();
    let mut conn = Connection::connect(&server.url(), &token, &ConnectOptions::default())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let push = within(conn.next()).await.unwrap();
        conn.ack(&push.id).await.unwrap();
        ids.push(push.id);
    }
    assert_eq!(ids, ["m1", "m2", "m3"]);
    eventually(async || hub.queue_len(USER, "phone-1").await.unwrap() == 0).await;
    server.shutdown().await;
    store.close().await;
    remove_db(&path);
}
