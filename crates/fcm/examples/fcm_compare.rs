//! pushway's side of the firebase-admin check (`crates/fcm/tests/firebase_admin/run.sh`): sends
//! each case of `cases.json` through [`FcmProvider`] to a running FCM simulator (`pushway-mock
//! fcm`), one case after the other, and prints one JSON line per case with its outcome. The
//! request bodies themselves are read back from the simulator and compared with what
//! firebase-admin sent for the same cases (`compare.py`).
//!
//! ```text
//! fcm_compare --cases cases.json --key-file test-service-account.json \
//!   --base-url https://127.0.0.1:PORT --token-url https://127.0.0.1:PORT/token --ca-cert sim.pem
//! ```
//!
//! Exits 1 when a case is not delivered, 2 on bad arguments.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use pushway_core::{
    AndroidSound, AppData, ConversationType, DeviceToken, IosSound, Notification, NotifyMode,
    PushProvider, TokenKind,
};
use pushway_fcm::FcmProvider;
use serde_json::Value;

fn arg(name: &str) -> Result<String, String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .ok_or_else(|| format!("missing {name} VALUE"))
}

fn text(case: &Value, key: &str) -> Option<String> {
    case[key].as_str().map(str::to_owned)
}

/// The notification a case describes (the same reading as `send.js`).
fn notification(case: &Value) -> Result<Notification, String> {
    let required = |key: &str| text(case, key).ok_or_else(|| format!("case without {key}"));
    let body = match &case["body_repeat"] {
        Value::Array(pair) => {
            let piece = pair.first().and_then(Value::as_str).unwrap_or_default();
            let times = pair.get(1).and_then(Value::as_u64).unwrap_or(0);
            piece.repeat(usize::try_from(times).map_err(|e| e.to_string())?)
        }
        _ => required("body")?,
    };
    let conversation_type = match required("conversation_type")?.as_str() {
        "c2c" => ConversationType::C2c,
        "group" => ConversationType::Group,
        other => return Err(format!("conversation_type {other:?}")),
    };
    let android_sound = text(case, "sound")
        .map(|uri| AndroidSound::parse(&uri).map_err(|e| format!("sound {uri:?}: {e}")))
        .transpose()?;
    Ok(Notification {
        message_id: format!("cmp-{}", required("name")?),
        ttl: case["ttl_secs"].as_u64().map(Duration::from_secs),
        title: required("title")?,
        android_title: text(case, "android_title"),
        ios_alert: None,
        body,
        android_sound,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: case["badge"]
            .as_u64()
            .map(|b| u32::try_from(b).map_err(|e| e.to_string()))
            .transpose()?,
        notify_mode: if text(case, "mode").as_deref() == Some("custom") {
            NotifyMode::Custom
        } else {
            NotifyMode::Normal
        },
        app_data: AppData {
            conversation_id: required("conversation_id")?,
            conversation_type,
            sender_id: required("sender_id")?,
            sender_nickname: text(case, "sender_nickname"),
            group_name: text(case, "group_name"),
            ext: text(case, "ext").map(|e| e.as_str().into()),
        },
    })
}

async fn run() -> Result<bool, String> {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(arg("--cases")?).map_err(|e| format!("--cases: {e}"))?,
    )
    .map_err(|e| format!("--cases: {e}"))?;
    let ca = std::fs::read(arg("--ca-cert")?).map_err(|e| format!("--ca-cert: {e}"))?;
    let mut builder = FcmProvider::builder()
        .service_account_file(arg("--key-file")?)
        .api_base_url(arg("--base-url")?)
        .token_url(arg("--token-url")?)
        .add_root_certificate_pem(ca)
        .connections(1);
    if let Some(channel) = text(&spec, "channel_id") {
        builder = builder.channel_id(channel);
    }
    if let Some(action) = text(&spec, "click_action") {
        builder = builder.click_action(action);
    }
    let provider = builder.build().map_err(|e| e.to_string())?;
    let mut all_delivered = true;
    for case in spec["cases"].as_array().ok_or("no cases")? {
        let notification = notification(case)?;
        let token = text(case, "token").ok_or("case without token")?;
        let outcomes = provider
            .send(
                &notification,
                &[DeviceToken::new(TokenKind::Fcm, "app", token)],
            )
            .await;
        let delivered = outcomes.iter().all(|o| o.is_delivered());
        all_delivered &= delivered;
        let outcome = outcomes.first().map(ToString::to_string);
        println!(
            "{}",
            serde_json::json!({"case": case["name"], "delivered": delivered, "outcome": outcome})
        );
    }
    Ok(all_delivered)
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("fcm_compare: {e}");
            ExitCode::from(2)
        }
    }
}
