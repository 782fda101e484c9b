//! Runs the APNs simulator for benchmarks and third-party client checks.
//!
//! `cargo run --release -p pushway-mock --example apns_sim -- [--tls] [--port N] [--record] [--production]`
//! prints one JSON line — the address, the base URL, a valid provider token, the team, key id and
//! topic, the path of the PKCS#8 test key it wrote, and the certificate path in TLS mode — then
//! serves until killed. Recording is off unless `--record` is given. It plays the development
//! environment (answers carry `apns-unique-id`) unless `--production` is given.

use std::time::Duration;

use pushway_mock::Recording;
use pushway_mock::apns::{ApnsEnvironment, ApnsSimulator, TestKey};

const TEAM: &str = "TEAM123456";
const KID: &str = "TEST123456";
const TOPIC: &str = "com.example.app";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let port: u16 = value("--port").map_or(Ok(0), |p| p.parse())?;
    let dir = value("--dir").unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let key = TestKey::generate();
    let key_path = format!("{dir}/AuthKey_{KID}.p8");
    std::fs::write(&key_path, key.private_key_pem())?;
    let recording = if flag("--record") {
        Recording::Last(100_000)
    } else {
        Recording::Off
    };
    let sim = ApnsSimulator::builder()
        .bind(([127, 0, 0, 1], port).into())
        .tls(flag("--tls"))
        .key(TEAM, KID, key.public_key_pem())
        .topic(TOPIC)
        .recording(recording)
        .environment(if flag("--production") {
            ApnsEnvironment::Production
        } else {
            ApnsEnvironment::Development
        })
        .start()
        .await?;
    let cert_path = match sim.ca_cert_pem() {
        Some(pem) => {
            let path = format!("{dir}/apns_sim_cert.pem");
            std::fs::write(&path, pem)?;
            serde_json::Value::String(path)
        }
        None => serde_json::Value::Null,
    };
    let jwt = key.provider_token(KID, TEAM, sim.script().now_ms() / 1000);
    let line = serde_json::json!({
        "simulator": "apns",
        "addr": sim.addr().to_string(),
        "base_url": sim.base_url(),
        "jwt": jwt,
        "team_id": TEAM,
        "key_id": KID,
        "topic": TOPIC,
        "key_path": key_path,
        "cert_path": cert_path,
    });
    println!("{line}");
    let every = value("--report-every").map_or(Ok(0), |s| s.parse::<u64>())?;
    loop {
        tokio::time::sleep(Duration::from_secs(every.max(1))).await;
        if every > 0 {
            eprintln!("{{\"requests\":{}}}", sim.request_count());
            if flag("--record") {
                report(&sim);
            }
        }
    }
}

/// Prints a summary of what the recorded requests looked like (third-party client checks).
fn report(sim: &ApnsSimulator) {
    use std::collections::BTreeMap;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for r in sim.requests() {
        let key = match r.reason() {
            Some(reason) => reason.to_string(),
            None => format!("{:?}", r.status()),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    eprintln!("{}", serde_json::json!({ "outcomes": outcomes }));
    if let Some(last) = sim.requests().last() {
        let headers: BTreeMap<String, String> = last
            .request
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        eprintln!(
            "{}",
            serde_json::json!({
                "path": last.request.path,
                "headers": headers,
                "body": String::from_utf8_lossy(&last.request.body),
                "jwt_header": last.jwt.as_ref().map(|j| j.header.clone()),
                "jwt_claims": last.jwt.as_ref().map(|j| j.claims.clone()),
                "jwt_signature": last.jwt.as_ref().map(|j| format!("{:?}", j.signature)),
                "connection": last.connection_id,
            })
        );
    }
}
