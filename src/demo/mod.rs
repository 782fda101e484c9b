//! `pushway demo`: the gateway end to end on embedded defaults. It starts what `pushway serve
//! --simulate` starts — the APNs (TLS), Xiaomi and Huawei simulators in this process and a
//! gateway whose demo app points at them — on a temporary SQLite file and a free port, then acts
//! as an IM back end through the HTTP API only: registers devices, sets push settings, logs a
//! device out and kicks another, sends messages ([`scenario`]). For each message it prints every
//! recipient's outcome from the status API and what each vendor simulator received, checks both
//! against what the demo expects, and fails (exit code 2) on any difference, so it doubles as a
//! smoke test. The daemon channel is not in the demo yet: the gateway does not serve daemon
//! devices so far.

mod api;
mod check;
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
use received::Recorded;
use scenario::Step;

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
    println!("APNs (over TLS), Xiaomi and Huawei simulated in this process; app {DEMO_APP:?}.");
    println!("Everything below goes through the HTTP API, as an IM back end would send it.");

    let result = story(&Api::new(&base, DEMO_APP, &key)?, &sims).await;
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
        "demo OK: {} messages, {} outcomes and {} vendor deliveries exactly as expected",
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
async fn story(api: &Api, sims: &Simulators) -> anyhow::Result<Tally> {
    setup(api).await?;
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
        let (id, status) = api.send_message(step.key, &step.body).await?;
        println!(
            "   POST {} → 202, message {id}",
            api.path("messages?wait=10s")
        );
        let received = Recorded::now(sims).since(&before).per_device(&labels);
        tally.messages += 1;
        tally.outcomes += step.outcomes.len();
        tally.received += step.received.len();
        tally.differences += check_outcomes(step, &status);
        tally.differences += check_received(step, &received);
        ids.push(id);
    }
    if let (Some(step), Some(id)) = (steps.first(), ids.first()) {
        tally.differences += resend(api, sims, step, id).await?;
    }
    Ok(tally)
}

/// Registers every device, sets and reads back settings, applies the login changes.
async fn setup(api: &Api) -> anyhow::Result<()> {
    println!("\n━━ devices, settings and logins");
    for d in scenario::DEVICES {
        let mut body = json!({"kind": d.kind, "credential": DEMO_CREDENTIAL, "token": d.token});
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
async fn resend(api: &Api, sims: &Simulators, step: &Step, id: &str) -> anyhow::Result<usize> {
    println!("\n━━ message 1 again with the same Idempotency-Key (a retried POST)");
    let before = Recorded::now(sims);
    let (again, _) = api.send_message(step.key, &step.body).await?;
    let new = Recorded::now(sims)
        .since(&before)
        .per_device(&HashMap::new());
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
