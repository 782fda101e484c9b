//! The end-to-end demo: pushway's main job against the bundled simulators.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! It starts the APNs (TLS), Xiaomi, Huawei and FCM (TLS) simulators and the daemon hub in this
//! process, connects a simulated daemon device, and registers one recipient with five devices, one
//! per channel. Then it renders and dispatches a C2C message and a group message with mixed elements
//! and per-message settings, and prints per channel what the vendor actually received and the
//! outcome. It also shows a suppressed push (a recipient who turned pushes off) and a dead token
//! reaching the token sink. Nothing leaves 127.0.0.1.

mod channels;
mod received;

use std::error::Error;

use pushway::core::{DeviceToken, Message, Recipient, Rendered, TokenKind, render};

use channels::Channels;

const APNS_TOKEN: &str = "4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8";
const DEAD_APNS_TOKEN: &str = "d00d8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8";
const XIAOMI_REGID: &str = "aB3+Xy9/kLmN0pQ=";
const HUAWEI_TOKEN: &str = "IQAAAACy0bbbTOKEN-bob-mate60";
const FCM_TOKEN: &str = "fKx3dR9bQ0y:APA91bH-bob-pixel8";
const DAEMON_DEVICE: &str = "bob-pixel-7";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut channels = Channels::start().await?;
    println!("simulators and hub (all on 127.0.0.1):");
    for (name, url) in channels.endpoints() {
        println!("  {name:<8} {url}");
    }

    let bob = devices();
    println!("\nrecipient bob has {} devices:", bob.len());
    for device in &bob {
        println!("  {device}");
    }

    let c2c: Message = pushway::core::json::from_str(include_str!("c2c.json"))?;
    let group: Message = pushway::core::json::from_str(include_str!("group.json"))?;
    let mut recipient = Recipient::new("bob");
    recipient.unread = 3;

    for (title, message) in [
        ("C2C message from alice", &c2c),
        ("group message in 周末登山队", &group),
    ] {
        println!("\n━━ {title}");
        let notification = match render(message, &recipient)? {
            Rendered::Notification(n) => n,
            Rendered::Suppressed(reason) => {
                println!("   suppressed: {}", reason.as_str());
                continue;
            }
        };
        channels.clear();
        let report = channels.router.dispatch(&notification, &bob).await;
        let rows = channels.received(&report).await;
        received::print_table(&rows);
        // Every channel must have delivered, and its vendor (or device) received the push.
        let failed: Vec<_> = rows
            .iter()
            .filter(|r| r.outcome != "delivered" || r.title == received::NOTHING)
            .map(|r| r.channel)
            .collect();
        if !failed.is_empty() {
            return Err(format!("not delivered or not received: {failed:?}").into());
        }
        recipient.unread += 1;
    }

    println!("\n━━ the same C2C message to carol, who turned offline pushes off");
    let mut carol = Recipient::new("carol");
    carol.settings.enabled = false;
    match render(&c2c, &carol)? {
        Rendered::Suppressed(reason) => {
            println!("   suppressed: {} (nothing sent)", reason.as_str())
        }
        Rendered::Notification(_) => return Err("carol must not get a push".into()),
    }

    println!("\n━━ bob's old iPhone: APNs says the token is gone (410 Unregistered)");
    let old_phone = [DeviceToken::new(
        TokenKind::ApnsSandbox,
        "chat",
        DEAD_APNS_TOKEN,
    )];
    channels
        .apns_sim
        .script()
        .unregister_token(DEAD_APNS_TOKEN, 1_764_000_000_000);
    let Rendered::Notification(notification) = render(&c2c, &recipient)? else {
        return Err("expected a notification".into());
    };
    let report = channels.router.dispatch(&notification, &old_phone).await;
    for result in report.results() {
        println!("   {} → {}", result.device, result.outcome);
    }
    let dead = channels.sink.dead();
    println!("   token sink received {} dead token(s):", dead.len());
    for token in &dead {
        println!("     delete {} ({})", token.device, token.reason);
    }
    if dead.len() != 1 {
        return Err("the dead token must reach the sink exactly once".into());
    }

    channels.shutdown().await;
    println!("\ndone.");
    Ok(())
}

/// Bob's five devices, one per channel.
fn devices() -> Vec<DeviceToken> {
    vec![
        DeviceToken::new(TokenKind::ApnsSandbox, "chat", APNS_TOKEN),
        DeviceToken::new(TokenKind::Xiaomi, "chat", XIAOMI_REGID),
        DeviceToken::new(TokenKind::Huawei, "chat", HUAWEI_TOKEN),
        DeviceToken::new(TokenKind::Fcm, "chat", FCM_TOKEN),
        DeviceToken::new(TokenKind::Daemon, "daemon", format!("bob/{DAEMON_DEVICE}")),
    ]
}
