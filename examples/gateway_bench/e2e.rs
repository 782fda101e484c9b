//! End to end: one group message to many recipients on every channel, from the POST to the
//! last outcome recorded (method: `main.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pushway::daemon::client::{DeviceClient, Event};
use pushway_mock::apns::TestKey;
use serde_json::{Value, json};

use super::api::{Api, CHANNELS, in_parallel};
use super::cluster::{Cluster, StoreKind};
use super::procs::{Mock, cpu_seconds, rss, ticks};
use super::{Ctx, Res, now_ms, round3};

/// Arguments of `e2e`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recipients of the group message (user `i` has `1 + i % 4` devices).
    #[arg(long, default_value_t = 10_000)]
    recipients: usize,
    /// Group messages posted one after the other (each once the previous one's deliveries are
    /// final), each measured and printed as its own line: more samples per registration (the
    /// registrations take most of a run's time).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// The wait between two reads of the message's summary (`GET .../summary`: counts, one
    /// aggregate read, which still visits every delivery row of the message), in milliseconds.
    /// The time measured does not depend on it: it comes from the deliveries' `updated_at_ms`
    /// in the full status, read once at the end. But each read is the observer's load on the
    /// server while it delivers (profiled: 6% of the server's CPU at one read per 250 ms), so
    /// it reads once a second.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// How long every delivery may take to be final, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Registration requests in flight.
    #[arg(long, default_value_t = 32)]
    width: usize,
    /// Diagnosis only, not the figure: devices on APNs, Xiaomi and Huawei only (channel
    /// `(i + j) % 3`), to see the gateway's rate without the daemon channel.
    #[arg(long)]
    without_daemon: bool,
    /// The gateway's store: `sqlite` (a file in the scratch directory, one node) or `postgres`.
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// With `--store postgres`: the database to use (it must be empty); by default a private
    /// server is started from the machine's binaries (default durability) and a database made.
    #[arg(long)]
    pub pg_url: Option<String>,
    /// `pushway serve` nodes on the one Postgres database (the POST goes to node 0; every
    /// node's workers deliver; daemon device `k` connects to node `k % nodes`).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// With `--store postgres`: each node's `[store] max_connections`.
    #[arg(long, default_value_t = 10)]
    pub max_connections: u32,
}

/// One registered device: user, device id, channel, token number.
type Device = (String, String, &'static str, usize);

pub async fn run(ctx: &Ctx, args: &Args) -> Res<()> {
    let key = TestKey::generate();
    let mock = Mock::start(&ctx.mock_bin, &key, &ctx.dir)?;
    let cluster = Cluster::start(ctx, args, &mock, &key).await?;
    // The Postgres server's CPU over the whole run (it is no child of this process): what
    // bench/parse_runs.py takes out of the others' share.
    let pg_run0 = cluster.postgres_cpu_s();
    let api = Api::new(&cluster.nodes[0].url)?;
    let node_apis = cluster
        .nodes
        .iter()
        .map(|node| Api::new(&node.url))
        .collect::<Res<Vec<Api>>>()?;

    // Devices: user i has 1 + i % 4, device j on channel (i + j) % 4; four warm-up users with
    // one device per channel.
    let mut devices: Vec<Device> = Vec::new();
    let channels = if args.without_daemon { 3 } else { 4 };
    for i in 0..args.recipients {
        for j in 0..1 + i % 4 {
            let n = devices.len();
            let channel = CHANNELS[(i + j) % channels];
            devices.push((format!("u{i}"), format!("d{j}"), channel, n));
        }
    }
    let deliveries = devices.len();
    for (c, channel) in CHANNELS.iter().enumerate() {
        devices.push((
            format!("warm-{c}"),
            "d0".to_owned(),
            channel,
            deliveries + c,
        ));
    }
    let started = Instant::now();
    let api2 = api.clone();
    in_parallel(
        devices.clone(),
        args.width,
        move |(user, device, channel, n)| {
            let api = api2.clone();
            async move { api.register(&user, &device, channel, n).await }
        },
    )
    .await?;
    let registered_s = started.elapsed().as_secs_f64();

    // The daemon devices: a token each, then a connected client each.
    let daemon: Vec<Device> = devices
        .iter()
        .filter(|d| d.2 == "daemon")
        .cloned()
        .collect();
    let tokens = Arc::new(std::sync::Mutex::new(Vec::with_capacity(daemon.len())));
    let (api2, tokens2) = (api.clone(), tokens.clone());
    in_parallel(daemon.clone(), args.width, move |(user, device, _, _)| {
        let (api, tokens) = (api2.clone(), tokens2.clone());
        async move {
            let token = api.daemon_token(&user, &device).await?;
            tokens.lock().map_err(|_| "poisoned")?.push(token);
            Ok(())
        }
    })
    .await?;
    let tokens = std::mem::take(&mut *tokens.lock().map_err(|_| "poisoned")?);
    let connected = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(tokens.len());
    for (k, token) in tokens.into_iter().enumerate() {
        let node = &node_apis[k % node_apis.len()];
        let mut client = DeviceClient::builder(node.daemon_url(), token).spawn();
        let (connected, received) = (connected.clone(), received.clone());
        clients.push(tokio::spawn(async move {
            while let Some(event) = client.next_event().await {
                match event {
                    Event::Connected { .. } => {
                        connected.fetch_add(1, Ordering::Relaxed);
                    }
                    Event::Push(_) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while connected.load(Ordering::Relaxed) < daemon.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} daemon devices connected",
                connected.load(Ordering::Relaxed),
                daemon.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{} devices registered in {registered_s:.1} s; {} daemon clients connected",
        devices.len(),
        daemon.len()
    );

    // The group message, rendered per recipient by the gateway (unread = 1 + i % 99).
    let mut message: serde_json::Map<String, Value> =
        serde_json::from_str(include_str!("../demo/group.json"))?;
    message.remove("id");
    let warm_recipients: Vec<Value> = (0..4)
        .map(|c| json!({"user_id": format!("warm-{c}"), "unread": 1}))
        .collect();
    let warm = api
        .post_message(
            "warm-up",
            &json!({"message": message, "recipients": warm_recipients}),
            Some("10s"),
        )
        .await?;
    let warm_states = states(&warm);
    if warm_states.len() != 4 || warm_states.iter().any(|(_, s, _)| s != "delivered") {
        return Err(format!("warm-up not delivered on every channel: {warm}").into());
    }
    let recipients: Vec<Value> = (0..args.recipients)
        .map(|i| json!({"user_id": format!("u{i}"), "unread": 1 + i % 99}))
        .collect();
    let body = json!({"message": message, "recipients": recipients});
    let mut all_ok = true;
    for round in 1..=args.repeat {
        // A key of its own per message, so each is a new message, not a replay.
        let key = if round == 1 {
            "group".to_owned()
        } else {
            format!("group-{round}")
        };
        let received_before = received.load(Ordering::Relaxed);
        let (cpu0, sim0) = (cluster.ticks()?, ticks(mock.proc.pid())?);
        let pg0 = cluster.postgres_cpu_s();
        let t0 = now_ms();
        let answer = api.post_message(&key, &body, None).await?;
        let accepted_ms = now_ms() - t0;
        let id = answer["message_id"].as_str().ok_or("no message_id")?;
        let posted = Instant::now();
        let until = posted + Duration::from_secs(args.timeout_secs);
        // The summary (counts, one aggregate read) until every delivery is final; then the full
        // status once, for the times and outcomes of every delivery.
        loop {
            tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
            let summary = api.summary(id).await?;
            let total = summary["deliveries"]["total"].as_u64().unwrap_or(0);
            if total == deliveries as u64 && summary["settled"] == json!(true) {
                break;
            }
            if Instant::now() > until {
                return Err(
                    format!("not every delivery final within {} s", args.timeout_secs).into(),
                );
            }
        }
        let (cpu, sim) = (
            cpu_seconds(cpu0, cluster.ticks()?),
            cpu_seconds(sim0, ticks(mock.proc.pid())?),
        );
        let pg_cpu = match (pg0, cluster.postgres_cpu_s()) {
            (Some(a), Some(b)) => Some(round3(b - a)),
            _ => None,
        };
        let status = api.status(id).await?;
        let all = states(&status);
        let last = all.iter().map(|(_, _, at)| *at).max().unwrap_or(t0);
        let seconds = (last - t0) as f64 / 1000.0;
        let mut outcomes: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        // When each channel's last outcome was recorded, in seconds after the POST.
        let mut last_by_kind: BTreeMap<String, f64> = BTreeMap::new();
        for (kind, state, at) in &all {
            let s = last_by_kind.entry(kind.clone()).or_default();
            *s = s.max(round3((at - t0) as f64 / 1000.0));
            *outcomes
                .entry(kind.clone())
                .or_default()
                .entry(state.clone())
                .or_default() += 1;
        }
        // Every online daemon client gets its push (a `queued` one still arrives, later).
        // The warm-up user's daemon device is not a recipient of the group message.
        let daemon_recipients = daemon.len().saturating_sub(1);
        let wait_until = Instant::now() + Duration::from_secs(10);
        while received.load(Ordering::Relaxed) - received_before < daemon_recipients
            && Instant::now() < wait_until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = received.load(Ordering::Relaxed) - received_before;
        let reached = all
            .iter()
            .all(|(_, s, _)| s == "delivered" || s == "queued");
        let ok = reached && all.len() == deliveries && got == daemon_recipients;
        let row = json!({
            "bench": "gateway_e2e",
            "recipients": args.recipients,
            "n": deliveries,
            "deliveries": deliveries,
            "renderings": 99.min(args.recipients),
            "seconds": round3(seconds),
            "per_s": (deliveries as f64 / seconds).round(),
            "accept_ms": accepted_ms,
            "server_cpu_s": cpu,
            "server_cpu_us_per_delivery": round3(cpu * 1e6 / deliveries as f64),
            "simulators_cpu_s": sim,
            "server_rss_kib": cluster
                .nodes
                .iter()
                .map(|node| rss(node.pid()).map(|r| r.total))
                .sum::<Res<u64>>()?,
            "store": args.store.name(),
            "nodes": cluster.nodes.len(),
            "postgres_cpu_s": pg_cpu,
            "postgres_cpu_us_per_delivery": pg_cpu.map(|s| round3(s * 1e6 / deliveries as f64)),
            "postgres_run_cpu_s": match (pg_run0, cluster.postgres_cpu_s()) {
                (Some(a), Some(b)) => Some(round3(b - a)),
                _ => None,
            },
            "daemon_clients": daemon_recipients,
            "daemon_received": got,
            "registered_s": round3(registered_s),
            "outcomes": outcomes,
            "last_outcome_s": last_by_kind,
            "ok": ok,
            "sample": round,
        });
        println!("{row}");
        all_ok &= ok;
    }
    for client in clients {
        client.abort();
    }
    drop(cluster);
    if !all_ok {
        return Err(
            "not every delivery ended delivered or queued, or a daemon client \
                    missed its push"
                .into(),
        );
    }
    Ok(())
}

/// Every delivery of a status or `?wait=` answer: kind, state, `updated_at_ms`.
fn states(status: &Value) -> Vec<(String, String, i64)> {
    status["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["devices"].as_array().into_iter().flatten())
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or("?").to_owned(),
                d["state"].as_str().unwrap_or("?").to_owned(),
                d["updated_at_ms"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}
