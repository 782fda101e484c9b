//! Router end to end: one group message to 10,000 recipients spread over the four channels,
//! time from the first dispatch to the last outcome.
//!
//! ```text
//! cargo build --release -p pushway-mock --bin pushway-mock
//! cargo run --release --example router_e2e -- [--recipients 10000] [--modes per-recipient,by-badge]
//! ```
//!
//! Method:
//! - The APNs (TLS), Xiaomi and Huawei simulators run in a **separate process**
//!   (`pushway-mock all --recording off`, started and killed by this program), so the CPU this
//!   process uses is pushway's alone and the simulators' CPU is read from their `/proc/<pid>/stat`.
//! - The daemon hub runs **in this process**, with one [`DeviceClient`] (a real WebSocket
//!   connection that acks every push) per daemon recipient, minus `--daemon-offline` recipients
//!   that have no connection (their push is queued). The device clients' CPU therefore counts as
//!   this process's CPU: it is an upper bound of pushway's.
//! - Recipient `i` has one device on channel `i % 4` (APNs, Xiaomi, Huawei, daemon) and an unread
//!   count of `1 + i % 99`, so every recipient's notification is rendered for them (the badge
//!   differs). Every provider is wrapped in the delivery layers (retry, hygiene, bulkhead,
//!   timeout) as in production, with up to 1,000 attempts in flight for APNs and the daemon and
//!   64 for Xiaomi and Huawei, each waiting up to 60 s for a slot.
//! - After a warm-up dispatch (one device per channel: connections, OAuth token, JWT), all
//!   recipients are rendered (timed apart), then dispatched through one [`Router`], all
//!   dispatches in flight at once (or `--window` at most):
//!   - `per-recipient`: one `Router::dispatch` per recipient (10,000 dispatches of one device);
//!   - `by-badge`: recipients whose rendered notifications are equal share one dispatch (99
//!     dispatches of about 101 devices, which the router batches per channel).
//! - Reported per mode: time from the first dispatch to the last outcome, notifications/s, the
//!   outcome counts per channel (every outcome must be delivered or queued, or the program exits
//!   with an error), this process's CPU (user+sys) during the dispatch phase and per
//!   notification, the simulators' CPU, and the p50/p99 time to each dispatch's report. The last
//!   line of each mode is one JSON object.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use pushway::apns::ApnsProvider;
use pushway::core::{
    ApnsEnv, ChannelKey, DeviceToken, Message, Notification, PushProvider, Recipient, Rendered,
    Router, TokenKind, render,
};
use pushway::daemon::client::DeviceClient;
use pushway::daemon::{DeviceAuth, Hub};
use pushway::delivery::{ConcurrencyConfig, DeliveryBuilder, DeliveryConfig, RecordingSink};
use pushway::huawei::{HuaweiProvider, IntentTarget};
use pushway::xiaomi::XiaomiProvider;
use pushway_mock::apns::TestKey;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

#[path = "support/mock_all.rs"]
mod mock_all;

use mock_all::{HUAWEI_APP_ID, HUAWEI_SECRET, KEY_ID, PACKAGE, TEAM_ID, XIAOMI_SECRET};

type Res<T> = Result<T, Box<dyn Error>>;

const CHANNELS: [&str; 4] = ["apns", "xiaomi", "huawei", "daemon"];
/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// One group message to many recipients over the four channels through the Router.
#[derive(Debug, Parser)]
struct Args {
    /// Recipients (one device each, channel = index % 4).
    #[arg(long, default_value_t = 10_000)]
    recipients: usize,
    /// Daemon recipients without a connection (their push is queued).
    #[arg(long, default_value_t = 0)]
    daemon_offline: usize,
    /// Modes to run, in order: `per-recipient`, `by-badge`.
    #[arg(long, value_delimiter = ',', default_value = "per-recipient,by-badge")]
    modes: Vec<String>,
    /// Dispatches in flight at most (0: all at once).
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// The `pushway-mock` binary (default: next to this example's directory).
    #[arg(long)]
    mock_bin: Option<PathBuf>,
    /// Bound of each mode's dispatch phase, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

/// The simulator process; killed when dropped.
struct Mock {
    child: Child,
    lines: HashMap<String, serde_json::Value>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    if args.recipients < 4 {
        return Err("--recipients must be at least 4".into());
    }
    let key = TestKey::generate();
    let mock = start_mock(&args, &key)?;
    let router_parts = build_router(&mock, &key).await?;
    let Parts {
        router,
        hub,
        server,
        sink,
    } = router_parts;

    // Recipients and their devices.
    let devices: Vec<DeviceToken> = (0..args.recipients).map(device).collect();
    let daemon_ids: Vec<&str> = devices
        .iter()
        .filter(|d| d.kind == TokenKind::Daemon)
        .map(|d| d.token.as_str())
        .collect();
    let offline = args.daemon_offline.min(daemon_ids.len());
    let online = &daemon_ids[..daemon_ids.len() - offline];

    // The daemon devices: one DeviceClient each, counting the pushes they take.
    let received = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut device_tasks = Vec::with_capacity(online.len());
    // A daemon device's token string is its address, `<user>/<device>`.
    let key = |address: &str| pushway::daemon::DeviceKey::parse(address);
    let connected =
        |address: &&str| key(address).is_some_and(|k| hub.is_connected(k.user(), k.device()));
    for id in online {
        let device = key(id).ok_or("not a daemon device address")?;
        let token =
            hub.auth()
                .issue(device.user(), device.device(), 0, Duration::from_secs(3600))?;
        let mut client = DeviceClient::builder(server.url(), token).spawn();
        let received = received.clone();
        device_tasks.push(tokio::spawn(async move {
            while client.next_push().await.is_some() {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !online.iter().all(connected) {
        if Instant::now() > deadline {
            let n = online.iter().filter(|id| connected(id)).count();
            return Err(format!("only {n} of {} daemon devices connected", online.len()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{} daemon devices connected in {:.2} s ({offline} offline)",
        online.len(),
        started.elapsed().as_secs_f64()
    );

    let message: Message = pushway::core::json::from_str(include_str!("demo/group.json"))?;
    let router = Arc::new(router);

    // Warm-up: one device per channel, outside the recipient set (the daemon one is online).
    let mut warm_devices: Vec<DeviceToken> =
        (0..3).map(|c| device(args.recipients * 4 + c)).collect();
    if let Some(id) = online.first() {
        warm_devices.push(DeviceToken::new(TokenKind::Daemon, "daemon", *id));
    }
    let mut warm_message = message.clone();
    warm_message.id = format!("{}-warm-up", message.id);
    let warm = notification(&warm_message, 0, 1)?;
    let report = router.dispatch(&warm, &warm_devices).await;
    if let Some(bad) = report.results().iter().find(|r| !r.outcome.is_delivered()) {
        return Err(format!("warm-up: {} → {}", bad.device, bad.outcome).into());
    }
    let warm_received = usize::from(!online.is_empty());

    let mut failed = false;
    for (round, mode) in args.modes.iter().enumerate() {
        let before = received.load(Ordering::Relaxed);
        let result = run_mode(&args, mode, &message, &router, &devices, &mock).await?;
        // Each mode pushes once to every online daemon device; the warm-up once to one of them.
        let expected = before + online.len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got = received.load(Ordering::Relaxed) - before;
        let mut line = result.json;
        line["daemon_connected"] = json!(online.len());
        line["daemon_offline"] = json!(offline);
        line["daemon_devices_received"] = json!(got);
        let ok = result.all_reached && got == online.len();
        line["ok"] = json!(ok);
        if !ok {
            failed = true;
            eprintln!(
                "FAILED ({mode}): not every outcome is delivered/queued, or the daemon devices \
                 received {got} of {} pushes",
                online.len()
            );
        }
        if round == 0 {
            line["warm_up_pushes_received"] = json!(warm_received);
        }
        println!("{line}");
    }

    let dead = sink.dead().len();
    for task in device_tasks {
        task.abort();
    }
    server.shutdown().await;
    drop(mock);
    if dead > 0 {
        return Err(format!("{dead} token(s) reached the token sink as dead").into());
    }
    if failed {
        return Err("some outcomes were neither delivered nor queued".into());
    }
    Ok(())
}

/// What one mode measured.
struct ModeResult {
    json: serde_json::Value,
    all_reached: bool,
}

async fn run_mode(
    args: &Args,
    mode: &str,
    message: &Message,
    router: &Arc<Router>,
    devices: &[DeviceToken],
    mock: &Mock,
) -> Res<ModeResult> {
    // Render per recipient: the badge (unread count) differs.
    let mut message = message.clone();
    message.id = format!("{}-{mode}", message.id);
    let render_started = Instant::now();
    let notes: Vec<Notification> = (0..devices.len())
        .map(|i| notification(&message, i, unread(i)))
        .collect::<Res<_>>()?;
    let render_seconds = render_started.elapsed().as_secs_f64();

    let jobs: Vec<(Notification, Vec<DeviceToken>)> = match mode {
        "per-recipient" => notes
            .into_iter()
            .zip(devices)
            .map(|(n, d)| (n, vec![d.clone()]))
            .collect(),
        "by-badge" => {
            let mut groups: Vec<(Notification, Vec<DeviceToken>)> = Vec::new();
            let mut by_badge: HashMap<Option<u32>, Vec<usize>> = HashMap::new();
            for (n, d) in notes.into_iter().zip(devices) {
                let candidates = by_badge.entry(n.badge).or_default();
                match candidates.iter().find(|&&g| groups[g].0 == n) {
                    Some(&g) => groups[g].1.push(d.clone()),
                    None => {
                        candidates.push(groups.len());
                        groups.push((n, vec![d.clone()]));
                    }
                }
            }
            groups
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    let dispatches = jobs.len();
    let window = if args.window == 0 {
        dispatches
    } else {
        args.window
    };

    let slots = Arc::new(Semaphore::new(window));
    let sim0 = ticks(&format!("/proc/{}/stat", mock.child.id()))?;
    let cpu0 = ticks("/proc/self/stat")?;
    let t0 = Instant::now();
    let phase = async {
        let mut set = JoinSet::new();
        for (note, targets) in jobs {
            let router = router.clone();
            let slot = slots.clone().acquire_owned().await?;
            set.spawn(async move {
                let report = router.dispatch(&note, &targets).await;
                drop(slot);
                (report, t0.elapsed())
            });
        }
        let mut reports = Vec::with_capacity(dispatches);
        while let Some(joined) = set.join_next().await {
            reports.push(joined?);
        }
        Res::Ok(reports)
    };
    let reports = tokio::time::timeout(Duration::from_secs(args.timeout_secs), phase)
        .await
        .map_err(|_| format!("{mode}: not every outcome within {} s", args.timeout_secs))??;
    let wall = reports
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let cpu = (ticks("/proc/self/stat")? - cpu0) as f64 / TICKS_PER_SECOND;
    let sim = (ticks(&format!("/proc/{}/stat", mock.child.id()))? - sim0) as f64 / TICKS_PER_SECOND;

    let mut outcomes: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut total = 0usize;
    let mut all_reached = true;
    for (report, _) in &reports {
        for result in report.results() {
            total += 1;
            all_reached &= result.outcome.is_delivered();
            *outcomes
                .entry(channel_name(result.device.kind))
                .or_default()
                .entry(result.outcome.as_str())
                .or_default() += 1;
        }
    }
    all_reached &= total == devices.len();
    let mut latencies: Vec<Duration> = reports.iter().map(|(_, at)| *at).collect();
    latencies.sort();
    let quantile = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };

    println!(
        "{mode}: {total} notifications in {dispatches} dispatches, first dispatch → last outcome \
         {:.3} s = {:.0}/s; client CPU {:.2} s = {:.1} µs/notification; simulators CPU {:.2} s; \
         render {:.2} µs/recipient",
        wall,
        total as f64 / wall,
        cpu,
        cpu * 1e6 / total as f64,
        sim,
        render_seconds * 1e6 / devices.len() as f64,
    );
    for (name, counts) in &outcomes {
        println!("  {name:<7} {counts:?}");
    }
    let json = json!({
        "bench": "router_e2e",
        "mode": mode,
        "recipients": devices.len(),
        "notifications": total,
        "dispatches": dispatches,
        "window": window,
        "seconds": round3(wall),
        "per_s": (total as f64 / wall).round(),
        "client_cpu_s": round3(cpu),
        "client_cpu_us_per_notification": round3(cpu * 1e6 / total as f64),
        "simulators_cpu_s": round3(sim),
        "render_us_per_recipient": round3(render_seconds * 1e6 / devices.len() as f64),
        "dispatch_report_ms": {"p50": round3(quantile(0.5)), "p99": round3(quantile(0.99))},
        "outcomes": outcomes,
    });
    Ok(ModeResult { json, all_reached })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn unread(i: usize) -> u32 {
    1 + (i % 99) as u32
}

/// The message rendered for recipient `i` (unread count `unread`).
fn notification(message: &Message, i: usize, unread: u32) -> Res<Notification> {
    let mut recipient = Recipient::new(format!("member-{i}"));
    recipient.unread = unread;
    match render(message, &recipient)? {
        Rendered::Notification(n) => Ok(n),
        Rendered::Suppressed(reason) => {
            Err(format!("recipient {i} suppressed: {}", reason.as_str()).into())
        }
    }
}

fn channel_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::ApnsSandbox | TokenKind::ApnsProduction => CHANNELS[0],
        TokenKind::Xiaomi => CHANNELS[1],
        TokenKind::Huawei => CHANNELS[2],
        _ => CHANNELS[3],
    }
}

/// Recipient `i`'s device: channel `i % 4`, a token shaped like a real one.
fn device(i: usize) -> DeviceToken {
    let h = (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) | 1;
    match i % 4 {
        0 => DeviceToken::new(
            TokenKind::ApnsSandbox,
            "chat",
            format!("{h:032x}{:032x}", h.rotate_left(64)),
        ),
        1 => DeviceToken::new(TokenKind::Xiaomi, "chat", regid(i as u64)),
        2 => DeviceToken::new(
            TokenKind::Huawei,
            "chat",
            format!("IQAAAACy0kYkAABwsc{i:0112x}"),
        ),
        _ => DeviceToken::new(
            TokenKind::Daemon,
            "daemon",
            format!("user-member-{i}/member-{i}"),
        ),
    }
}

/// A regid shaped like a real one: 43 base64 characters (with `+` and `/`) and `=`.
fn regid(i: u64) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = String::with_capacity(44);
    for _ in 0..43 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(char::from(B64[(state >> 58) as usize]));
    }
    out.push('=');
    out
}

/// utime + stime of a process, in clock ticks, from its `stat` file.
fn ticks(path: &str) -> Res<u64> {
    let stat = std::fs::read_to_string(path)?;
    let after = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .ok_or("malformed stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| -> Res<u64> { Ok(fields.get(i).ok_or("short stat")?.parse()?) };
    Ok(field(11)? + field(12)?)
}

/// Starts `pushway-mock all` and reads its three JSON lines.
fn start_mock(args: &Args, key: &TestKey) -> Res<Mock> {
    let bin = match &args.mock_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .ok_or("no target directory")?
            .join("pushway-mock"),
    };
    let key_path =
        std::env::temp_dir().join(format!("pushway-router-e2e-{}.pem", std::process::id()));
    let started = mock_all::start(&bin, key, &key_path);
    let _ = std::fs::remove_file(&key_path);
    let (child, lines) = started?;
    Ok(Mock { child, lines })
}

/// The router and what the bench needs besides it.
struct Parts {
    router: Router,
    hub: Hub,
    server: pushway::daemon::Server,
    sink: Arc<RecordingSink>,
}

async fn build_router(mock: &Mock, key: &TestKey) -> Res<Parts> {
    let field = |sim: &str, name: &str| -> Res<String> {
        Ok(mock.lines[sim][name]
            .as_str()
            .ok_or_else(|| format!("{sim}: no {name}"))?
            .to_owned())
    };
    let apns = ApnsProvider::builder()
        .key_pem(key.private_key_pem().as_bytes().to_vec())
        .key_id(KEY_ID)
        .team_id(TEAM_ID)
        .topic(PACKAGE)
        .environment(ApnsEnv::Sandbox)
        .base_url(field("apns", "base_url")?)
        .add_root_certificate_pem(field("apns", "ca_cert_pem")?.into_bytes())
        .build()?;
    let xiaomi = XiaomiProvider::builder()
        .app_secret(XIAOMI_SECRET)
        .package(PACKAGE)
        .channel_id("im_messages")
        .custom_activity(".ui.ChatActivity")
        .base_url(field("xiaomi", "base_url")?)
        .allow_plain_http(true)
        .build()?;
    let huawei = HuaweiProvider::builder()
        .app_id(HUAWEI_APP_ID)
        .client_secret(HUAWEI_SECRET)
        .intent_target(IntentTarget::new("pushway", "chat").package(PACKAGE))
        .base_url(field("huawei", "base_url")?)
        .allow_plain_http(true)
        .build()?;

    let auth = DeviceAuth::hs256(b"router e2e bench secret, 32+ bytes long")?;
    let hub = Hub::builder(auth).build();
    let server = hub.bind("127.0.0.1:0").await?;

    let sink = Arc::new(RecordingSink::new());
    let layered = |provider: Arc<dyn PushProvider>, in_flight: usize| {
        let mut concurrency = ConcurrencyConfig::default();
        concurrency.max_in_flight = in_flight;
        concurrency.max_wait = Duration::from_secs(60);
        let mut config = DeliveryConfig::default();
        config.concurrency = Some(concurrency);
        DeliveryBuilder::new(config, sink.clone()).build(provider)
    };
    let mut router = Router::new();
    router
        .register(
            ChannelKey::new(TokenKind::ApnsSandbox, "chat"),
            layered(Arc::new(apns), 1000)?,
        )
        .register(
            ChannelKey::new(TokenKind::Xiaomi, "chat"),
            layered(Arc::new(xiaomi), 64)?,
        )
        .register(
            ChannelKey::new(TokenKind::Huawei, "chat"),
            layered(Arc::new(huawei), 64)?,
        )
        .register(
            ChannelKey::new(TokenKind::Daemon, "daemon"),
            layered(Arc::new(hub.provider()), 1000)?,
        );
    Ok(Parts {
        router,
        hub,
        server,
        sink,
    })
}
