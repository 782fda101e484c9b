//! Sends one IM notification through APNs and prints its outcome.
//!
//! ```text
//! # against an in-process APNs simulator (TLS with its own certificate; no credentials needed)
//! cargo run --example apns_send -- --simulator
//!
//! # to a real device (credentials from the environment or the flags)
//! APNS_KEY_PATH=AuthKey_K7Q2M9X4PL.p8 APNS_KEY_ID=K7Q2M9X4PL APNS_TEAM_ID=T3AM1D9ZQ8 \
//! APNS_TOPIC=com.example.chat APNS_TOKEN=4a1f…e8 \
//!   cargo run --example apns_send -- --sandbox --title Alice --body 'hi'
//!
//! # to any compatible endpoint (a proxy, a simulator started on its own; http:// is h2c)
//! cargo run --example apns_send -- --base-url http://127.0.0.1:18443 --key-path test.p8 \
//!   --key-id KEY1234567 --team-id TEAM123456 --topic com.example.app --token 4a1f…e8
//! ```
//!
//! The signing key is never printed.

#[path = "send_cli/mod.rs"]
mod send_cli;

use send_cli::setting;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pushway::apns::ApnsProvider;
use pushway::core::{
    ApnsEnv, AppData, ConversationType, DeviceToken, IosSound, Notification, NotifyMode,
    PushProvider, TokenKind,
};
use pushway_mock::apns::{ApnsSimulator, TestKey};

#[derive(Parser, Debug)]
#[command(about = "Send one notification through APNs")]
struct Args {
    /// Send to an in-process APNs simulator (TLS) instead of Apple.
    #[arg(long)]
    simulator: bool,
    /// Any compatible endpoint instead of Apple's host; http:// speaks h2c (simulators only).
    #[arg(long)]
    base_url: Option<String>,
    /// A PEM root certificate to trust as well (e.g. a simulator's).
    #[arg(long)]
    ca_cert: Option<String>,
    /// The sandbox environment (development builds) instead of production.
    #[arg(long)]
    sandbox: bool,
    /// The `.p8` signing key file (default: $APNS_KEY_PATH).
    #[arg(long)]
    key_path: Option<String>,
    /// The key id (default: $APNS_KEY_ID).
    #[arg(long)]
    key_id: Option<String>,
    /// The team id (default: $APNS_TEAM_ID).
    #[arg(long)]
    team_id: Option<String>,
    /// The app's bundle id (default: $APNS_TOPIC).
    #[arg(long)]
    topic: Option<String>,
    /// The device token, hex (default: $APNS_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// The notification title (the sender, for a C2C chat).
    #[arg(long, default_value = "alice")]
    title: String,
    /// The notification body.
    #[arg(long, default_value = "Are we still meeting at 8?")]
    body: String,
    /// Send as a message of this group id instead of a C2C message from the title's user.
    #[arg(long)]
    group: Option<String>,
    /// A sound file of the app bundle (default: the system sound); `none` for silence.
    #[arg(long)]
    sound: Option<String>,
    /// The badge number.
    #[arg(long)]
    badge: Option<u32>,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    send_cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let env = if args.sandbox {
        ApnsEnv::Sandbox
    } else {
        ApnsEnv::Production
    };
    let mut key_pem = match setting(args.key_path, "APNS_KEY_PATH") {
        Some(path) => Some(
            tokio::fs::read(&path)
                .await
                .map_err(|e| format!("cannot read the key file {path}: {e}"))?,
        ),
        None => None,
    };
    let mut key_id = setting(args.key_id, "APNS_KEY_ID");
    let mut team_id = setting(args.team_id, "APNS_TEAM_ID");
    let mut topic = setting(args.topic, "APNS_TOPIC");
    let mut token = setting(args.token, "APNS_TOKEN");
    let mut ca_cert = match args.ca_cert {
        Some(path) => Some(tokio::fs::read(&path).await?),
        None => None,
    };
    let mut base_url = args.base_url;

    let simulator = if args.simulator {
        let key = TestKey::generate();
        let kid = key_id
            .get_or_insert_with(|| "KEY1234567".to_owned())
            .clone();
        let team = team_id
            .get_or_insert_with(|| "TEAM123456".to_owned())
            .clone();
        let topic = topic
            .get_or_insert_with(|| "com.example.chat".to_owned())
            .clone();
        token.get_or_insert_with(|| {
            "4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8".to_owned()
        });
        key_pem = Some(key.private_key_pem().as_bytes().to_vec());
        let sim = ApnsSimulator::builder()
            .key(&team, &kid, key.public_key_pem())
            .topic(&topic)
            .start()
            .await?;
        println!("simulator listening on {}", sim.base_url());
        base_url = Some(sim.base_url());
        ca_cert = sim.ca_cert_pem().map(String::into_bytes);
        Some(sim)
    } else {
        None
    };

    let (Some(key_pem), Some(key_id), Some(team_id), Some(topic), Some(token)) =
        (key_pem, key_id, team_id, topic, token)
    else {
        return Err("need --key-path, --key-id, --team-id, --topic and --token (or APNS_* variables), or --simulator".into());
    };

    let mut builder = ApnsProvider::builder()
        .key_pem(key_pem)
        .key_id(key_id)
        .team_id(team_id)
        .topic(topic)
        .environment(env)
        .request_timeout(Duration::from_secs(args.timeout));
    if let Some(url) = base_url {
        builder = builder
            .insecure_h2c(url.starts_with("http://"))
            .base_url(url);
    }
    if let Some(pem) = ca_cert {
        builder = builder.add_root_certificate_pem(pem);
    }
    let provider = builder.build()?;

    let (conversation_id, conversation_type, group_name) = match &args.group {
        Some(id) => (id.clone(), ConversationType::Group, Some(id.clone())),
        None => (args.title.clone(), ConversationType::C2c, None),
    };
    let notification = Notification {
        message_id: format!("apns-send-{}", std::process::id()),
        ttl: Some(Duration::from_secs(24 * 3600)),
        title: args.title.clone(),
        android_title: None,
        ios_alert: None,
        body: args.body,
        android_sound: None,
        ios_sound: match args.sound.as_deref() {
            None => IosSound::Default,
            Some("none") => IosSound::NoSoundNoVibration,
            Some(file) => IosSound::File(file.to_owned()),
        },
        badge: args.badge,
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id,
            conversation_type,
            sender_id: args.title,
            sender_nickname: None,
            group_name,
            ext: None,
        },
        warnings: Vec::new(),
    };
    let kind = match env {
        ApnsEnv::Production => TokenKind::ApnsProduction,
        ApnsEnv::Sandbox => TokenKind::ApnsSandbox,
    };
    let device = DeviceToken::new(kind, "apns_send", token);
    let outcomes = provider
        .send(&notification, std::slice::from_ref(&device))
        .await;
    let mut ok = true;
    for outcome in &outcomes {
        println!("{}: {outcome}", device.redacted());
        if let Ok(json) = serde_json::to_string(outcome) {
            println!("{json}");
        }
        ok &= outcome.is_delivered();
    }
    if let Some(sim) = &simulator {
        for request in sim.requests() {
            println!(
                "simulator received {} {} → {:?}",
                request.request.method,
                request.request.path,
                request.status()
            );
            println!("  body: {}", String::from_utf8_lossy(&request.request.body));
        }
    }
    Ok(ok)
}
