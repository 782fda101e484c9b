//! A simulated Android daemon process: connects to a daemon-channel server with its device
//! token, prints every push it receives (each once, even if re-sent), acks it, and reconnects
//! with backoff when the connection drops. Stops on a terminal close (token refused, expired,
//! or replaced by another connection of the same device), or after `SECONDS` (default 60).
//!
//! ```sh
//! cargo run --example daemon_device -- ws://127.0.0.1:7700/ TOKEN [SECONDS]
//! ```

use std::time::Duration;

use pushway::daemon::client::{DeviceClient, Event};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(token)) = (args.next(), args.next()) else {
        eprintln!("usage: daemon_device URL TOKEN [SECONDS]  (daemon_send prints both)");
        std::process::exit(2);
    };
    let seconds: u64 = args.next().map_or(Ok(60), |s| s.parse())?;

    let mut device = DeviceClient::builder(url, token).spawn();
    let run = async {
        while let Some(event) = device.next_event().await {
            match event {
                Event::Connected { device_id } => println!("connected as {device_id}"),
                Event::Push(push) => {
                    let n = &push.notification;
                    println!("push {}: [{}] {}", push.id, n.android_title(), n.body);
                    println!("  app data: {}", n.app_data.to_json());
                }
                Event::Disconnected { error, retry_in } => {
                    println!("disconnected ({error}); retrying in {retry_in:?}");
                }
                Event::Stopped { error } => println!("stopped: {error}"),
                _ => {}
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(seconds), run)
        .await
        .is_err()
    {
        println!("done after {seconds} s");
    }
    Ok(())
}
