//! Memory: idle RSS, and RSS while the workers sweep a store with few and with many pending
//! deliveries (method: `main.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use pushway::core::{Message, Recipient, Rendered, TokenKind, render};
use pushway::gateway::store::sqlite::SqliteStore;
use pushway::gateway::store::{NewDelivery, NewMessage, NewRecipient, Store};
use pushway_mock::apns::TestKey;
use serde_json::json;

use super::api::{Api, token};
use super::procs::{
    APP, CREDENTIAL, Mock, Proc, Rss, StoreAt, cpu_seconds, rss, ticks, write_config,
};
use super::{Ctx, Res, now_ms, round3};

/// Arguments of `memory`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pending deliveries of the large store.
    #[arg(long, default_value_t = 1_000_000)]
    pending: usize,
    /// Pending deliveries of the small store.
    #[arg(long, default_value_t = 1_000)]
    small: usize,
    /// How long RSS is sampled while the workers sweep, in seconds.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
}

/// Recipients (one delivery row each) per stored message.
const PER_MESSAGE: usize = 10_000;

pub async fn run(ctx: &Ctx, args: &Args) -> Res<()> {
    let key = TestKey::generate();
    let mock = Mock::start(&ctx.mock_bin, &key, &ctx.dir)?;

    // Idle: after startup, one registration and one message delivered, then 2 s idle.
    let idle_store = ctx.dir.join("idle.sqlite3");
    let config = write_config(&ctx.dir, &mock, &key, &StoreAt::Sqlite(&idle_store))?;
    let serve = Proc::serve(&ctx.pushway_bin, &config)?;
    let api = Api::new(&serve.url)?;
    api.register("bob", "mi", "xiaomi", 1).await?;
    let body = json!({
        "message": {"conversation": {"type": "c2c", "peer": "bob"},
                    "sender": {"user_id": "alice"}, "elements": [{"type": "text", "text": "hi"}]},
        "recipients": [{"user_id": "bob"}]
    });
    let answer = api.post_message("idle", &body, Some("10s")).await?;
    if answer["recipients"][0]["devices"][0]["state"] != "delivered" {
        return Err(format!("the idle run's message was not delivered: {answer}").into());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss(serve.pid())?;
    drop(serve);

    let small = sweep(ctx, &mock, &key, "small", args.small, args.sample_secs).await?;
    let large = sweep(ctx, &mock, &key, "large", args.pending, args.sample_secs).await?;
    let row = json!({
        "bench": "gateway_memory",
        "idle_rss_kib": idle.total,
        "idle": idle,
        "small_pending": args.small,
        "small_rss_kib": small.max.total,
        "small": small.json(),
        "large_pending": args.pending,
        "large_rss_kib": large.max.total,
        "large": large.json(),
        "rss_growth_kib": i64::try_from(large.max.total).unwrap_or(0)
            - i64::try_from(small.max.total).unwrap_or(0),
        "sample_secs": args.sample_secs,
    });
    println!("{row}");
    Ok(())
}

/// What one sweep measured.
struct Sweep {
    max: Rss,
    last: Rss,
    samples: usize,
    fill_s: f64,
    cpu_s: f64,
    /// Rows finished while sampled (diagnostic: see `swept`).
    swept: u64,
}

impl Sweep {
    fn json(&self) -> serde_json::Value {
        json!({"max": self.max, "last": self.last, "samples": self.samples,
               "fill_s": round3(self.fill_s), "server_cpu_s": self.cpu_s, "swept": self.swept})
    }
}

/// Fills a new store with `pending` deliveries, starts a gateway on it and samples its RSS
/// every 100 ms for `secs` while the workers deliver.
async fn sweep(
    ctx: &Ctx,
    mock: &Mock,
    key: &TestKey,
    name: &str,
    pending: usize,
    secs: u64,
) -> Res<Sweep> {
    let path = ctx.dir.join(format!("{name}.sqlite3"));
    let started = Instant::now();
    fill(&path, pending).await?;
    let fill_s = started.elapsed().as_secs_f64();
    let config = write_config(&ctx.dir, mock, key, &StoreAt::Sqlite(&path))?;
    let serve = Proc::serve(&ctx.pushway_bin, &config)?;
    let cpu0 = ticks(serve.pid())?;
    let mut max = Rss::default();
    let mut last = Rss::default();
    let mut samples = 0;
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        last = rss(serve.pid())?;
        if last.total > max.total {
            max = last;
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_s = cpu_seconds(cpu0, ticks(serve.pid())?);
    drop(serve);
    let swept = swept(&path, pending).await?;
    eprintln!(
        "{name}: {pending} pending (filled in {fill_s:.1} s): max RSS {} KiB, last {} KiB, \
         server CPU {cpu_s:.2} s in {secs} s, {swept} rows finished",
        max.total, last.total
    );
    Ok(Sweep {
        max,
        last,
        samples,
        fill_s,
        cpu_s,
        swept,
    })
}

/// Rows of the `pending` the stopped gateway finished: memory held per delivery shows as
/// growth proportional to this, not to `pending`.
async fn swept(path: &Path, pending: usize) -> Res<u64> {
    let store = SqliteStore::open(path).await?;
    let backlog = store.backlog(now_ms()).await?;
    store.close().await;
    let outstanding: u64 = backlog.depth.iter().map(|(_, _, n)| n).sum();
    Ok((pending as u64).saturating_sub(outstanding))
}

/// Writes `pending` deliveries through the store's own accept (one message per 10,000
/// recipients, one device each, channels APNs, Xiaomi, Huawei in turn).
async fn fill(path: &Path, pending: usize) -> Res<()> {
    let store = SqliteStore::open(path).await?;
    let message: Message = pushway::core::json::from_str(
        r#"{"id": "fill", "conversation": {"type": "c2c", "peer": "bob"},
            "sender": {"user_id": "alice", "nickname": "Alice"},
            "elements": [{"type": "text", "text": "Are we still on for the climb tomorrow?"}]}"#,
    )?;
    let notification = match render(&message, &Recipient::new("bob"))? {
        Rendered::Notification(n) => serde_json::to_string(&n)?,
        Rendered::Suppressed(reason) => return Err(format!("suppressed: {reason:?}").into()),
    };
    let now = now_ms();
    let mut next = 0;
    let mut m = 0;
    while next < pending {
        let count = PER_MESSAGE.min(pending - next);
        let recipients = (next..next + count)
            .map(|i| {
                let (kind, channel) = match i % 3 {
                    0 => (TokenKind::ApnsSandbox, "apns"),
                    1 => (TokenKind::Xiaomi, "xiaomi"),
                    _ => (TokenKind::Huawei, "huawei"),
                };
                NewRecipient {
                    user: format!("u{i}"),
                    unread: 1,
                    suppressed: None,
                    deliveries: vec![NewDelivery {
                        device_id: "d0".to_owned(),
                        kind,
                        credential: CREDENTIAL.to_owned(),
                        token: token(channel, i),
                        notification: 0,
                    }],
                    suppressed_devices: Vec::new(),
                }
            })
            .collect();
        let id = format!("fill-{m}");
        let new = NewMessage {
            id: id.clone(),
            app: APP.to_owned(),
            idempotency_key: id,
            request_hash: [0; 32],
            body: "{}".to_owned(),
            created_at: now,
            expires_at: now + 86_400_000,
            notifications: vec![notification.clone()],
            recipients,
        };
        store.accept(&[new]).await?;
        next += count;
        m += 1;
    }
    store.close().await;
    Ok(())
}
