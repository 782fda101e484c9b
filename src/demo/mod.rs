//! `pushway demo`: the gateway end to end on embedded defaults. It starts what `pushway serve
//! --simulate` starts — the APNs (TLS), Xiaomi, Huawei and FCM (TLS) simulators in this process and a
//! gateway whose demo app points at them and has a daemon channel — on a temporary SQLite file
//! and a free port, then acts as an IM back end through the HTTP API only: registers devices,
//! sets push settings, logs a device out and kicks another, connects a daemon device (a real
//! WebSocket client of the gateway's daemon endpoint), sends messages ([`scenario`]). For each
//! message it prints every recipient's outcome from the status API and what each vendor
//! simulator and daemon device received, checks both against what the demo expects, and fails
//! (exit code 2) on any difference, so it doubles as a smoke test. A daemon device that was off
//! connects after its message: it gets the queued push, and the status turns `delivered`.

mod api;
mod check;
mod daemon;
mod received;
mod scenario;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use pushway::gateway::config::Config;
use pushway::gateway::simulate::{self, DEMO_APP, DEMO_CREDENTIAL, Simulators};
use pushway::gateway::{auth, start};
use reqwest::{Method, StatusCode};
use serde_json::json;

use api::Api;
use check::{check_outcomes, check_received};
use daemon::DaemonDevices;
use received::{Received, Recorded};
use scenario::{Reconnect, Step};

/// Runs the demo; an error when the gateway could not run it or an outcome was not the
/// expected one.
pub(crate) async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let key = auth::generate_key();
    let (sims, app) = simulate::demo(&key)
        .await
        .context("starting the simulators")?;
    let mut config = Config::default();
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.store.path = dir.path().join("demo.sqlite3");
    config.apps.insert(DEMO_APP.to_owned(), app);
    let gateway = start(config).await.context("starting the gateway")?;
    let base = format!("http://{}", gateway.addr());
    println!("pushway demo: the gateway on {base}, its store a temporary SQLite file,");
    println!(
        "APNs and FCM (over TLS), Xiaomi and Huawei simulated in this process; app {DEMO_APP:?}."
    );
    println!("Everything below goes through the HTTP API, as an IM back end would send it;");
    println!(
        "daemon devices are WebSocket clients of the gateway's daemon endpoint, in this process."
    );

    let api = Api::new(&base, DEMO_APP, &key)?;
    let result = story(&api, &sims, &mut DaemonDevices::new(&base, &api)).await;
    gateway.stop(Duration::from_secs(5)).await;
    drop(sims);
    let tally = result?;

    println!(
        "\nTry it yourself: `cargo run --release -- serve --simulate` starts the same gateway"
    );
    println!("on 127.0.0.1:8080 and prints its API key; then, for example:");
    let auth =
        "-H 'Authorization: Bearer <the key it printed>' -H 'Content-Type: application/json'";
    println!(
        "  curl -X PUT http://127.0.0.1:8080/v1/apps/demo/users/bob/devices/phone {auth} \\\n    \
         -d '{{\"kind\":\"xiaomi\",\"credential\":\"demo\",\"token\":\"regid-bob\"}}'"
    );
    println!(
        "  curl -X POST 'http://127.0.0.1:8080/v1/apps/demo/messages?wait=5s' {auth} \\\n    \
         -H 'Idempotency-Key: first' -d '{{\"message\":{{\"conversation\":{{\"type\":\"c2c\",\"peer\":\"bob\"}},\
         \"sender\":{{\"user_id\":\"alice\"}},\"elements\":[{{\"type\":\"text\",\"text\":\"hello\"}}]}},\
         \"recipients\":[{{\"user_id\":\"bob\"}}]}}'"
    );
    println!();
    if tally.differences > 0 {
        println!(
            "demo FAILED: {} difference(s) from what the demo expects (marked ✗ above)",
            tally.differences
        );
        bail!("the demo's outcomes differ from what it expects");
    }
    println!(
        "demo OK: {} messages, {} outcomes and {} deliveries received exactly as expected",
        tally.messages, tally.outcomes, tally.received
    );
    Ok(())
}

/// What the story checked.
#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    outcomes: usize,
    received: usize,
    differences: usize,
}

/// Sets up users through the API, then sends every message of the [`scenario`] and checks it.
async fn story(api: &Api, sims: &Simulators, daemons: &mut DaemonDevices) -> anyhow::Result<Tally> {
    setup(api).await?;
    for (user, device) in scenario::ONLINE_DAEMONS {
        daemons.connect(api, user, device).await?;
    }
    let labels: HashMap<String, String> = scenario::DEVICES
        .iter()
        .map(|d| (d.token.to_owned(), format!("{}/{}", d.user, d.device)))
        .collect();
    let mut tally = Tally::default();
    let steps = scenario::steps();
    let mut ids = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        println!("\n━━ {}. {}", i + 1, step.title);
        let before = Recorded::now(sims);
        let daemons_before = daemons.count();
        let (id, status) = api.send_message(step.key, &step.body).await?;
        println!(
            "   POST {} → 202, message {id}",
            api.path("messages?wait=10s")
        );
        // A daemon device reported `delivered` has acked: its client may still be recording.
        for label in delivered_daemons(&status) {
            daemons.wait_for(&label, &id).await;
        }
        let mut received = Recorded::now(sims).since(&before).per_device(&labels);
        received.extend(daemons.since(daemons_before));
        received.sort_by(|a, b| (a.vendor, &a.device).cmp(&(b.vendor, &b.device)));
        tally.messages += 1;
        tally.outcomes += step.outcomes.len();
        tally.received += step.received.len();
        tally.differences += check_outcomes(&step.outcomes, &status);
        tally.differences += check_received(&step.received, &received);
        if let Some(reconnect) = &step.reconnect {
            tally.outcomes += reconnect.outcomes.len();
            tally.received += 1;
            tally.differences += comes_online(api, daemons, reconnect, &id).await?;
        }
        ids.push(id);
    }
    if let (Some(step), Some(id)) = (steps.first(), ids.first()) {
        tally.differences += resend(api, sims, daemons, step, id).await?;
    }
    Ok(tally)
}

/// The `user/device` of every daemon delivery a status body shows `delivered`.
fn delivered_daemons(status: &serde_json::Value) -> Vec<String> {
    let mut labels = Vec::new();
    for r in status["recipients"].as_array().into_iter().flatten() {
        for d in r["devices"].as_array().into_iter().flatten() {
            if d["kind"] == "daemon" && d["state"] == "delivered" {
                labels.push(format!(
                    "{}/{}",
                    r["user_id"].as_str().unwrap_or_default(),
                    d["device_id"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    labels
}

/// The daemon device of `reconnect`, off when message `id` was sent, connects: it receives the
/// queued push and acks it, and the message's status turns `delivered` for it. Returns the
/// number of differences.
async fn comes_online(
    api: &Api,
    daemons: &mut DaemonDevices,
    reconnect: &Reconnect,
    id: &str,
) -> anyhow::Result<usize> {
    let label = format!("{}/{}", reconnect.user, reconnect.device);
    println!("   {label} comes online:");
    let before = daemons.count();
    daemons
        .connect(api, reconnect.user, reconnect.device)
        .await?;
    daemons.wait_for(&label, id).await;
    let received = daemons.since(before);
    let mut differences = check_received(std::slice::from_ref(&reconnect.received), &received);
    let status = api.settled_for(id, &label).await?;
    differences += check_outcomes(&reconnect.outcomes, &status);
    Ok(differences)
}

/// Registers every device, sets and reads back settings, applies the login changes.
async fn setup(api: &Api) -> anyhow::Result<()> {
    println!("\n━━ devices, settings and logins");
    for d in scenario::DEVICES {
        // A daemon device names no credential or token: the gateway sets them.
        let mut body = match d.kind {
            "daemon" => json!({"kind": "daemon"}),
            _ => json!({"kind": d.kind, "credential": DEMO_CREDENTIAL, "token": d.token}),
        };
        if let Some(env) = d.apns_env {
            body["apns_env"] = json!(env);
        }
        let path = api.path(&format!("users/{}/devices/{}", d.user, d.device));
        api.call(Method::PUT, &path, &[], Some(&body), StatusCode::CREATED)
            .await?;
        let env = d.apns_env.map(|e| format!(" ({e})")).unwrap_or_default();
        println!("   PUT  {path:<50} → 201  {}{env}", d.kind);
    }
    for (user, settings) in scenario::settings() {
        let path = api.path(&format!("users/{user}/settings"));
        api.call(Method::PUT, &path, &[], Some(&settings), StatusCode::OK)
            .await?;
        let read = api
            .call(Method::GET, &path, &[], None, StatusCode::OK)
            .await?;
        if read != settings {
            bail!("{path} reads back {read}, not {settings}");
        }
        println!("   PUT  {path:<50} → 200  {settings} (read back the same)");
    }
    for (user, device, change) in scenario::LOGINS {
        let path = api.path(&format!("users/{user}/devices/{device}/{change}"));
        api.call(Method::POST, &path, &[], None, StatusCode::NO_CONTENT)
            .await?;
        println!("   POST {path:<50} → 204");
    }
    Ok(())
}

/// Posts the first message again under its `Idempotency-Key`, as a back end retrying a POST
/// whose answer it lost: the same message id, and nothing sent twice. Returns the number of
/// differences.
async fn resend(
    api: &Api,
    sims: &Simulators,
    daemons: &DaemonDevices,
    step: &Step,
    id: &str,
) -> anyhow::Result<usize> {
    println!("\n━━ message 1 again with the same Idempotency-Key (a retried POST)");
    let before = Recorded::now(sims);
    let daemons_before = daemons.count();
    let (again, _) = api.send_message(step.key, &step.body).await?;
    let mut new: Vec<Received> = Recorded::now(sims)
        .since(&before)
        .per_device(&HashMap::new());
    new.extend(daemons.since(daemons_before));
    println!(
        "   POST {} → 202, message {again}",
        api.path("messages?wait=10s")
    );
    let mut differences = 0;
    if again == id {
        println!("   the same message id; vendors received nothing new");
    } else {
        println!("   ✗ expected message {id} again, got {again}");
        differences += 1;
    }
    if !new.is_empty() {
        println!("   ✗ vendors received {} new request(s)", new.len());
        differences += 1;
    }
    Ok(differences)
}
