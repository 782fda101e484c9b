//! Sends one IM notification through Huawei Push Kit and prints each token's outcome.
//!
//! ```text
//! # against an in-process simulator (no credentials needed); prints the JSON it received
//! cargo run --example huawei_send -- --simulator
//!
//! # against Huawei, v1 with OAuth client credentials (from the environment or the flags)
//! HUAWEI_APP_ID=104567890 HUAWEI_CLIENT_SECRET=… \
//!   cargo run --example huawei_send -- --token 'IQAAAACy0…' --title Alice --body 'hi'
//!
//! # against Huawei, v2 with a service-account key file (JWT, PS256)
//! HUAWEI_SERVICE_ACCOUNT=/path/to/key.json cargo run --example huawei_send -- --token 'IQAAAACy0…'
//!
//! # against any compatible endpoint (a proxy, `pushway-mock huawei` started on its own)
//! cargo run --example huawei_send -- --base-url http://127.0.0.1:18081 --app-id 104567890 \
//!   --client-secret s --token IQAAAACy0aaaTOKEN-A
//! ```
//!
//! The client secret and the private key are never printed; tokens are shown shortened.

#[path = "send_cli/mod.rs"]
mod send_cli;

use send_cli::{ModeArg, setting};

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pushway::core::{
    AndroidSound, AppData, ConversationType, DeviceToken, IosSound, Notification, PushProvider,
    TokenKind,
};
use pushway::huawei::{HuaweiProvider, IntentTarget, ServiceAccountKey};
use pushway_mock::huawei::HuaweiSimulator;

#[derive(Parser, Debug)]
#[command(about = "Send one notification through Huawei Push Kit")]
struct Args {
    /// Send to an in-process Huawei simulator instead of Huawei.
    #[arg(long)]
    simulator: bool,
    /// Any compatible endpoint serving both the OAuth and the push API (http:// allowed).
    #[arg(long)]
    base_url: Option<String>,
    /// The app id (OAuth client id) for the v1 API (default: $HUAWEI_APP_ID).
    #[arg(long)]
    app_id: Option<String>,
    /// The project id for the v2 API (default: $HUAWEI_PROJECT_ID; with a key file, its project).
    #[arg(long)]
    project_id: Option<String>,
    /// The OAuth client secret (default: $HUAWEI_CLIENT_SECRET).
    #[arg(long)]
    client_secret: Option<String>,
    /// A service-account key file, for JWT auth instead of OAuth (default: $HUAWEI_SERVICE_ACCOUNT).
    #[arg(long)]
    service_account: Option<std::path::PathBuf>,
    /// A device token; repeat for several (default: $HUAWEI_TOKENS, comma-separated).
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// The notification title (the sender, for a C2C chat).
    #[arg(long, default_value = "alice")]
    title: String,
    /// The notification body.
    #[arg(long, default_value = "Are we still meeting at 8?")]
    body: String,
    /// Send as a message of this group id instead of a C2C message from the title's user.
    #[arg(long)]
    group: Option<String>,
    /// A custom sound: a raw resource name of the app (`new_msg` → `/raw/new_msg`).
    #[arg(long)]
    sound: Option<String>,
    /// What a tap does.
    #[arg(long, value_enum, default_value_t = ModeArg::Normal)]
    notify_mode: ModeArg,
    /// The badge number (sent only with --badge-class).
    #[arg(long)]
    badge: Option<u32>,
    /// The launcher activity whose icon shows the badge.
    #[arg(long)]
    badge_class: Option<String>,
    /// The app package (the sound URI's package and the custom intent's package).
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
    let mut app_id = setting(args.app_id, "HUAWEI_APP_ID");
    let project_id = setting(args.project_id, "HUAWEI_PROJECT_ID");
    let mut secret = setting(args.client_secret, "HUAWEI_CLIENT_SECRET");
    let key_path = args
        .service_account
        .or_else(|| setting(None, "HUAWEI_SERVICE_ACCOUNT").map(Into::into));
    let mut tokens = args.tokens;
    if tokens.is_empty()
        && let Some(list) = setting(None, "HUAWEI_TOKENS")
    {
        tokens = list.split(',').map(str::to_owned).collect();
    }

    let simulator = if args.simulator {
        let app = app_id.get_or_insert_with(|| "104567890".to_owned()).clone();
        let secret = secret
            .get_or_insert_with(|| "SIMULATOR-SECRET".to_owned())
            .clone();
        if tokens.is_empty() {
            tokens = vec![
                "IQAAAACy0aaaTOKEN-A".to_owned(),
                "IQAAAACy0bbbTOKEN-B".to_owned(),
            ];
        }
        let sim = HuaweiSimulator::builder()
            .app_id(app)
            .client_secret(secret)
            .start()
            .await?;
        // One unregistered token shows a per-token outcome (80100000 partial success).
        sim.unregister(["IQAAAACy0bbbTOKEN-B"]);
        println!("simulator listening on {}", sim.base_url());
        Some(sim)
    } else {
        None
    };
    let base_url = simulator
        .as_ref()
        .map(HuaweiSimulator::base_url)
        .or(args.base_url);
    if tokens.is_empty() {
        return Err("need at least one --token (or HUAWEI_TOKENS)".into());
    }

    let mut builder = HuaweiProvider::builder()
        .timeout(Duration::from_secs(args.timeout))
        .intent_target(IntentTarget::new("pushway", "open").package(args.package.clone()));
    if let Some(url) = base_url {
        let plain = url.starts_with("http://");
        if plain {
            eprintln!("note: plain http to {url}: for simulators and local proxies only");
        }
        builder = builder.base_url(url).allow_plain_http(plain);
    }
    if let Some(class) = args.badge_class {
        builder = builder.badge_class(class);
    }
    builder = match (&key_path, secret) {
        (Some(path), _) => {
            let json = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            builder.service_account(ServiceAccountKey::from_json(&json)?)
        }
        (None, Some(secret)) => builder.client_secret(secret),
        (None, None) => {
            return Err(
                "need --client-secret (or HUAWEI_CLIENT_SECRET), --service-account, \
                        or --simulator"
                    .into(),
            );
        }
    };
    builder = match (app_id, project_id) {
        (Some(app), None) if key_path.is_none() => builder.app_id(app),
        (_, Some(project)) => builder.project_id(project),
        (_, None) if key_path.is_some() => builder, // the key file's project (v2)
        _ => return Err("need --app-id (v1) or --project-id (v2)".into()),
    };
    let provider = builder.build()?;
    println!("sending to {}", provider.send_url());

    let notification = notification(
        &args.title,
        &args.body,
        args.group,
        args.sound,
        &args.package,
        args.notify_mode,
        args.badge,
    )?;
    let devices: Vec<DeviceToken> = tokens
        .iter()
        .map(|t| DeviceToken::new(TokenKind::Huawei, "app", t.clone()))
        .collect();
    let outcomes = provider.send(&notification, &devices).await;
    for (device, outcome) in devices.iter().zip(&outcomes) {
        println!("{device}: {outcome}");
    }

    if let Some(sim) = &simulator {
        for request in sim.requests() {
            if request.path.ends_with("messages:send") {
                let mut body = request.json();
                // The tokens are already listed above, shortened.
                body["message"]["token"] = serde_json::json!(["…"]);
                println!("simulator received POST {}:", request.path);
                println!("{}", serde_json::to_string_pretty(&body)?);
            }
        }
    }
    let all_delivered = outcomes.iter().all(|o| o.is_delivered());
    Ok(all_delivered)
}

fn notification(
    title: &str,
    body: &str,
    group: Option<String>,
    sound: Option<String>,
    package: &str,
    mode: ModeArg,
    badge: Option<u32>,
) -> Result<Notification, Box<dyn std::error::Error>> {
    let android_sound = sound
        .map(|name| AndroidSound::parse(&format!("android.resource://{package}/raw/{name}")))
        .transpose()?;
    let (conversation_id, conversation_type, group_name) = match group {
        Some(id) => (id.clone(), ConversationType::Group, Some(id)),
        None => (title.to_owned(), ConversationType::C2c, None),
    };
    Ok(Notification {
        message_id: "example-1".to_owned(),
        ttl: Some(Duration::from_secs(86_400)),
        title: title.to_owned(),
        android_title: None,
        ios_alert: None,
        body: body.to_owned(),
        android_sound,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge,
        notify_mode: mode.into(),
        app_data: AppData {
            conversation_id,
            conversation_type,
            sender_id: title.to_owned(),
            sender_nickname: None,
            group_name,
            ext: None,
        },
    })
}
