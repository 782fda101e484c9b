//! Sends one IM notification through Xiaomi MiPush and prints each regid's outcome.
//!
//! ```text
//! # against an in-process simulator (no credentials needed); prints the form it received
//! cargo run --example xiaomi_send -- --simulator
//!
//! # against Xiaomi (credentials from the environment or the flags)
//! XIAOMI_APP_SECRET=… XIAOMI_PACKAGE=com.example.chat XIAOMI_CHANNEL_ID=108790 \
//!   cargo run --example xiaomi_send -- --regid 'ab+cd/ef==' --title Alice --body 'hi'
//!
//! # against any compatible endpoint (a proxy, a simulator started on its own)
//! cargo run --example xiaomi_send -- --base-url http://127.0.0.1:18080 --app-secret s \
//!   --package com.example.chat --channel-id 108790 --regid REGID_A
//! ```
//!
//! The AppSecret is never printed.

#[path = "send_cli/mod.rs"]
mod send_cli;

use send_cli::{ModeArg, setting};

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use pushway::core::{
    AndroidSound, AppData, ConversationType, DeviceToken, IosSound, Notification, PushProvider,
    TokenKind,
};
use pushway::xiaomi::{Region, XiaomiProvider};
use pushway_mock::xiaomi::XiaomiSimulator;

#[derive(Parser, Debug)]
#[command(about = "Send one notification through Xiaomi MiPush")]
struct Args {
    /// Send to an in-process Xiaomi simulator instead of Xiaomi.
    #[arg(long)]
    simulator: bool,
    /// Any compatible endpoint instead of the region's host (http:// allowed for simulators).
    #[arg(long)]
    base_url: Option<String>,
    /// The regional host.
    #[arg(long, value_enum, default_value_t = RegionArg::Mainland)]
    region: RegionArg,
    /// The AppSecret (default: $XIAOMI_APP_SECRET).
    #[arg(long)]
    app_secret: Option<String>,
    /// The Android package (default: $XIAOMI_PACKAGE).
    #[arg(long)]
    package: Option<String>,
    /// The Xiaomi notification channel id (default: $XIAOMI_CHANNEL_ID).
    #[arg(long)]
    channel_id: Option<String>,
    /// A regid to send to; repeat for several (default: $XIAOMI_REGIDS, comma-separated).
    #[arg(long = "regid")]
    regids: Vec<String>,
    /// The notification title (the sender, for a C2C chat).
    #[arg(long, default_value = "alice")]
    title: String,
    /// The notification body.
    #[arg(long, default_value = "Are we still meeting at 8?")]
    body: String,
    /// Send as a message of this group id instead of a C2C message from the title's user.
    #[arg(long)]
    group: Option<String>,
    /// A custom sound: a raw resource name of the app (`new_msg` → android.resource://<pkg>/raw/new_msg).
    #[arg(long)]
    sound: Option<String>,
    /// What a tap does.
    #[arg(long, value_enum, default_value_t = ModeArg::Normal)]
    notify_mode: ModeArg,
    /// The activity a `custom` tap opens, e.g. `.ui.ChatActivity`.
    #[arg(long)]
    custom_activity: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RegionArg {
    Mainland,
    Global,
    Russia,
    India,
    Europe,
    Singapore,
}

#[tokio::main]
async fn main() -> ExitCode {
    send_cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let mut secret = setting(args.app_secret, "XIAOMI_APP_SECRET");
    let mut package = setting(args.package, "XIAOMI_PACKAGE");
    let mut channel_id = setting(args.channel_id, "XIAOMI_CHANNEL_ID");
    let mut regids = args.regids;
    if regids.is_empty()
        && let Some(list) = setting(None, "XIAOMI_REGIDS")
    {
        regids = list.split(',').map(str::to_owned).collect();
    }

    let simulator = if args.simulator {
        let secret = secret.get_or_insert_with(|| "SIMULATOR-SECRET".to_owned());
        let package = package.get_or_insert_with(|| "com.example.chat".to_owned());
        channel_id.get_or_insert_with(|| "108790".to_owned());
        if regids.is_empty() {
            regids = vec!["ab+cd/ef==".to_owned(), "REGID_B".to_owned()];
        }
        let sim = XiaomiSimulator::builder()
            .app_secret(secret.clone())
            .package(package.clone())
            .require_channel_id(true)
            .start()
            .await?;
        println!("simulator listening on {}", sim.base_url());
        Some(sim)
    } else {
        None
    };
    let base_url = simulator
        .as_ref()
        .map(XiaomiSimulator::base_url)
        .or(args.base_url);

    let (Some(secret), Some(package), Some(channel_id)) = (secret, package, channel_id) else {
        return Err(
            "need --app-secret, --package and --channel-id (or XIAOMI_* variables), or --simulator"
                .into(),
        );
    };
    if regids.is_empty() {
        return Err("need at least one --regid".into());
    }

    let region = match args.region {
        RegionArg::Mainland => Region::Mainland,
        RegionArg::Global => Region::Global,
        RegionArg::Russia => Region::Russia,
        RegionArg::India => Region::India,
        RegionArg::Europe => Region::Europe,
        RegionArg::Singapore => Region::Singapore,
    };
    let mut builder = XiaomiProvider::builder()
        .app_secret(secret)
        .package(package.clone())
        .channel_id(channel_id)
        .region(region)
        .timeout(Duration::from_secs(args.timeout));
    if let Some(url) = base_url {
        if url.starts_with("http://") {
            eprintln!("warning: plain HTTP to {url}: only for simulators");
            builder = builder.allow_plain_http(true);
        }
        builder = builder.base_url(url);
    }
    if let Some(activity) = args.custom_activity {
        builder = builder.custom_activity(activity);
    }
    let provider = builder.build()?;

    let android_sound = args
        .sound
        .map(|name| AndroidSound::parse(&format!("android.resource://{package}/raw/{name}")))
        .transpose()?;
    let (conversation_id, conversation_type, group_name) = match &args.group {
        Some(id) => (
            id.clone(),
            ConversationType::Group,
            Some(args.title.clone()),
        ),
        None => (args.title.clone(), ConversationType::C2c, None),
    };
    let notification = Notification {
        message_id: format!("xiaomi-send-{}", std::process::id()),
        ttl: Some(Duration::from_secs(86_400)),
        title: args.title.clone(),
        android_title: None,
        ios_alert: None,
        body: args.body,
        android_sound,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: None,
        notify_mode: args.notify_mode.into(),
        app_data: AppData {
            conversation_id,
            conversation_type,
            sender_id: args.title,
            sender_nickname: None,
            group_name,
            ext: None,
        },
    };
    let tokens: Vec<DeviceToken> = regids
        .iter()
        .map(|r| DeviceToken::new(TokenKind::Xiaomi, "cli", r.trim()))
        .collect();

    let outcomes = provider.send(&notification, &tokens).await;

    if let Some(sim) = &simulator {
        // The decoded form only: the headers carry the AppSecret.
        for request in sim.requests() {
            println!("{} {} (decoded form):", request.method, request.path);
            for (key, value) in request.form() {
                println!("  {key} = {value}");
            }
        }
    }
    let mut all_delivered = true;
    for (token, outcome) in tokens.iter().zip(&outcomes) {
        all_delivered &= outcome.is_delivered();
        println!("{}  {outcome}", token.redacted());
        if let pushway::core::Outcome::Delivered {
            vendor_id: Some(id),
        } = outcome
        {
            println!("    xiaomi message id {id}");
        }
    }
    Ok(all_delivered)
}
