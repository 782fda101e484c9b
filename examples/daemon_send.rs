//! A daemon-channel server that sends a few pushes: it starts a hub, prints a device token to
//! give `daemon_device`, then sends one notification every two seconds and prints each outcome
//! (`delivered` when the device acked, `queued` when it is offline — start the device later and
//! it receives the queued ones in order).
//!
//! ```sh
//! cargo run --example daemon_send -- [ADDR] [DEVICE_ID] [COUNT]
//! cargo run --example daemon_device -- ws://ADDR/ TOKEN
//! ```
//!
//! The HS256 secret below is a demo value: a real server reads its secret from its
//! configuration.

use std::time::Duration;

use pushway::core::testing::sample_notification;
use pushway::core::{DeviceToken, PushProvider, TokenKind};
use pushway::daemon::{DeviceAuth, Hub};

const DEMO_SECRET: &[u8] = b"pushway demo secret - not for production!";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7700".to_owned());
    let device_id = args.next().unwrap_or_else(|| "phone-1".to_owned());
    let count: u32 = args.next().map_or(Ok(5), |n| n.parse())?;

    let hub = Hub::builder(DeviceAuth::hs256(DEMO_SECRET)?).build();
    let server = hub.bind(&addr).await?;
    let token = hub
        .auth()
        .issue("demo-user", &device_id, 0, Duration::from_secs(24 * 3600))?;
    println!("listening on {}", server.url());
    println!("device token for {device_id}:\n{token}");
    println!(
        "run: cargo run --example daemon_device -- {} {token}",
        server.url()
    );

    let provider = hub.provider();
    let device = DeviceToken::new(
        TokenKind::Daemon,
        "daemon",
        format!("demo-user/{device_id}"),
    );
    for i in 1..=count {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut notification = sample_notification();
        notification.message_id = format!("demo-{i}");
        notification.body = format!("hello #{i}");
        let outcomes = provider
            .send(&notification, std::slice::from_ref(&device))
            .await;
        println!("{} -> {}", notification.message_id, outcomes[0]);
    }
    println!("stats: {:?}", hub.stats());
    // Give a device that connects late a moment to receive what is queued, then stop.
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.shutdown().await;
    Ok(())
}
