//! Sends one IM notification through Firebase Cloud Messaging (HTTP v1) and prints each token's
//! outcome.
//!
//! ```text
//! # by default: against an in-process FCM simulator (TLS, pushway-mock's test service account;
//! # no credentials needed); one of its two tokens is unregistered; prints the JSON it received
//! cargo run --example fcm_send
//!
//! # against FCM, with the Firebase project's service-account key file
//! FCM_SERVICE_ACCOUNT=/path/to/service-account.json \
//!   cargo run --example fcm_send -- --token 'fGw0qy4TGgk:APA91b…' --title Alice --body 'hi'
//!
//! # against any compatible endpoint (a proxy, `pushway-mock fcm` started on its own)
//! cargo run --example fcm_send -- --service-account key.json --api-base-url https://127.0.0.1:18084 \
//!   --token-url https://127.0.0.1:18084/token --ca-cert sim.pem --token fcm-token-a
//! ```
//!
//! The service account's private key and the access token are never printed; tokens are shown
//! shortened.

#[path = "send_cli/mod.rs"]
mod send_cli;

use send_cli::{ModeArg, setting};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pushway::core::{
    AndroidSound, AppData, ConversationType, DeviceToken, IosSound, Notification, PushProvider,
    TokenKind,
};
use pushway::fcm::FcmProvider;
use pushway_mock::fcm::{FcmSimulator, TestServiceAccount, TokenState};

const SIM_TOKENS: [&str; 2] = [
    "fKx3dR9bQ0y:APA91bH-example-TOKEN-A",
    "fKx3dR9bQ0y:APA91bH-example-TOKEN-B",
];

#[derive(Parser, Debug)]
#[command(about = "Send one notification through Firebase Cloud Messaging")]
struct Args {
    /// The service-account key file of the Firebase project (default: $FCM_SERVICE_ACCOUNT);
    /// without one, the notification goes to an in-process FCM simulator.
    #[arg(long)]
    service_account: Option<PathBuf>,
    /// The project of the send URL (default: $FCM_PROJECT_ID, else the key file's).
    #[arg(long)]
    project_id: Option<String>,
    /// A registration token; repeat for several (default: $FCM_TOKENS, comma-separated).
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// Any compatible API endpoint instead of https://fcm.googleapis.com (http:// allowed).
    #[arg(long)]
    api_base_url: Option<String>,
    /// The OAuth token endpoint instead of the key file's `token_uri` (http:// allowed).
    #[arg(long)]
    token_url: Option<String>,
    /// An extra trusted root certificate (PEM file), e.g. a simulator's self-signed one.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The notification title (the sender, for a C2C chat).
    #[arg(long, default_value = "alice")]
    title: String,
    /// The notification body.
    #[arg(long, default_value = "Are we still meeting at 8?")]
    body: String,
    /// Send as a message of this group id instead of a C2C message from the title's user.
    #[arg(long)]
    group: Option<String>,
    /// A custom sound: a raw resource name of the app (`new_msg` → `res/raw/new_msg`).
    #[arg(long)]
    sound: Option<String>,
    /// What a tap does (`custom`: the click action's activity, with the app data as extras).
    #[arg(long, value_enum, default_value_t = ModeArg::Normal)]
    notify_mode: ModeArg,
    /// The badge number (`notification_count`).
    #[arg(long)]
    badge: Option<u32>,
    /// The Android notification channel the app created for chat messages.
    #[arg(long, default_value = "im_messages")]
    channel_id: String,
    /// The intent-filter action a custom-mode tap opens (default: the crate's).
    #[arg(long)]
    click_action: Option<String>,
    /// The app package (the sound URI's package).
    #[arg(long, default_value = "com.example.chat")]
    package: String,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    send_cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let notification = notification(&args)?;
    let key_path = args
        .service_account
        .or_else(|| setting(None, "FCM_SERVICE_ACCOUNT").map(Into::into));
    let project_id = setting(args.project_id, "FCM_PROJECT_ID");
    let mut tokens = args.tokens;
    if tokens.is_empty()
        && let Some(list) = setting(None, "FCM_TOKENS")
    {
        tokens = list.split(',').map(str::to_owned).collect();
    }

    let mut builder = FcmProvider::builder()
        .channel_id(args.channel_id)
        .timeout(Duration::from_secs(args.timeout));
    let simulator = match key_path {
        Some(path) => {
            builder = builder.service_account_file(path);
            None
        }
        None => {
            let account = TestServiceAccount::new();
            let sim = FcmSimulator::builder()
                .service_account(account.key())
                .start()
                .await?;
            // One unregistered token shows a per-token outcome (404 UNREGISTERED).
            sim.set_token_state(SIM_TOKENS[1], TokenState::Unregistered);
            println!("FCM simulator listening on {} (TLS)", sim.base_url());
            if tokens.is_empty() {
                tokens = SIM_TOKENS.map(str::to_owned).to_vec();
            }
            builder = builder
                .service_account_json(account.key_file_json())
                .api_base_url(sim.base_url())
                .token_url(sim.token_url())
                .add_root_certificate_pem(sim.cert_pem().unwrap_or_default().as_bytes().to_vec());
            Some(sim)
        }
    };
    if tokens.is_empty() {
        return Err("need at least one --token (or FCM_TOKENS)".into());
    }
    if let Some(project) = project_id {
        builder = builder.project_id(project);
    }
    for url in [&args.api_base_url, &args.token_url].into_iter().flatten() {
        if url.starts_with("http://") {
            eprintln!("note: plain http to {url}: for simulators and local proxies only");
            builder = builder.allow_plain_http(true);
        }
    }
    if let Some(url) = args.api_base_url {
        builder = builder.api_base_url(url);
    }
    if let Some(url) = args.token_url {
        builder = builder.token_url(url);
    }
    if let Some(path) = args.ca_cert {
        let pem =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        builder = builder.add_root_certificate_pem(pem);
    }
    if let Some(action) = args.click_action {
        builder = builder.click_action(action);
    }
    let provider = builder.build()?;
    println!("sending to {}", provider.send_url());

    let devices: Vec<DeviceToken> = tokens
        .iter()
        .map(|t| DeviceToken::new(TokenKind::Fcm, "app", t.clone()))
        .collect();
    let outcomes = provider.send(&notification, &devices).await;
    for (device, outcome) in devices.iter().zip(&outcomes) {
        println!("{device}: {outcome}");
    }

    if let Some(sim) = &simulator {
        println!(
            "simulator: {} access token request(s), {} send(s), {} accepted",
            sim.token_request_count(),
            sim.request_count(),
            sim.accepted_count()
        );
        // One request per token; they differ only in `token`: print the first.
        if let Some(request) = sim.requests().first() {
            let mut body = request.json();
            // The tokens are already listed above, shortened.
            body["message"]["token"] = serde_json::json!("…");
            println!("simulator received POST {}:", request.request.path);
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
    }
    Ok(outcomes.iter().all(|o| o.is_delivered()))
}

fn notification(args: &Args) -> Result<Notification, Box<dyn std::error::Error>> {
    let android_sound = args
        .sound
        .as_ref()
        .map(|name| AndroidSound::parse(&format!("android.resource://{}/raw/{name}", args.package)))
        .transpose()?;
    let (conversation_id, conversation_type, group_name) = match args.group.clone() {
        Some(id) => (id.clone(), ConversationType::Group, Some(id)),
        None => (args.title.clone(), ConversationType::C2c, None),
    };
    Ok(Notification {
        message_id: "example-1".to_owned(),
        ttl: Some(Duration::from_secs(86_400)),
        title: args.title.clone(),
        android_title: None,
        ios_alert: None,
        body: args.body.clone(),
        android_sound,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: args.badge,
        notify_mode: args.notify_mode.into(),
        app_data: AppData {
            conversation_id,
            conversation_type,
            sender_id: args.title.clone(),
            sender_nickname: None,
            group_name,
            ext: None,
        },
    })
}
