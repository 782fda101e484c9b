//! The database state of each run: the outbox refilled through the gateway's own accept, the
//! rows counted after the run, and the other session's open transaction.

use std::time::{Duration, Instant};

use pushway::core::TokenKind;
use pushway::gateway::store::postgres::PgStore;
use pushway::gateway::store::{NewDelivery, NewMessage, NewRecipient, Store};
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Res, now_ms};

/// Recipients (one delivery row each) per stored message.
const PER_MESSAGE: usize = 10_000;

/// The app and credential of every row.
const APP: &str = "bench";
const CREDENTIAL: &str = "main";

/// A rendered notification of typical size (what a group text message renders to).
const NOTIFICATION: &str = r#"{"title":"Alice","body":"Are we still on for the climb tomorrow?","badge":1,"sound":"default","thread_id":"c2c:alice","category":"message"}"#;

/// Empties the outbox and writes `rows` pending deliveries through `Store::accept` (channels
/// APNs, Xiaomi, Huawei in turn), then vacuums, analyzes and checkpoints, so every run starts
/// from the same state: no dead row versions, fresh statistics, no dirty pages to flush.
pub async fn refill(store: &PgStore, rows: usize) -> Res<()> {
    // `outbox_finished` has no foreign key to messages: named, or it would keep its rows.
    sqlx::raw_sql("TRUNCATE messages, outbox_finished CASCADE")
        .execute(store.pool())
        .await?;
    let now = now_ms();
    let mut next = 0;
    let mut m = 0;
    while next < rows {
        let count = PER_MESSAGE.min(rows - next);
        let recipients = (next..next + count)
            .map(|i| {
                let kind = match i % 3 {
                    0 => TokenKind::ApnsSandbox,
                    1 => TokenKind::Xiaomi,
                    _ => TokenKind::Huawei,
                };
                NewRecipient {
                    user: format!("u{i}"),
                    unread: 1,
                    suppressed: None,
                    deliveries: vec![NewDelivery {
                        device_id: "d0".to_owned(),
                        kind,
                        credential: CREDENTIAL.to_owned(),
                        token: format!("{i:064x}"),
                        notification: 0,
                    }],
                    suppressed_devices: Vec::new(),
                }
            })
            .collect();
        let id = format!("fill-{now}-{m}");
        let message = NewMessage {
            id: id.clone(),
            app: APP.to_owned(),
            idempotency_key: id,
            request_hash: [0; 32],
            body: "{}".to_owned(),
            created_at: now,
            expires_at: now + 86_400_000,
            notifications: vec![NOTIFICATION.to_owned()],
            recipients,
        };
        store.accept(&[message]).await?;
        next += count;
        m += 1;
    }
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(store.pool())
        .await?;
    sqlx::raw_sql("CHECKPOINT").execute(store.pool()).await?;
    Ok(())
}

/// The outbox's rows by state after a run.
#[derive(Debug, Clone, Copy)]
pub struct Count {
    pub delivered: u64,
    pub pending: u64,
    pub in_flight: u64,
}

pub async fn count(store: &PgStore) -> Res<Count> {
    let (delivered, pending, in_flight): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'delivered'),
                count(*) FILTER (WHERE state = 'pending'),
                count(*) FILTER (WHERE state = 'in_flight')
         FROM deliveries",
    )
    .fetch_one(store.pool())
    .await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Count {
        delivered: n(delivered),
        pending: n(pending),
        in_flight: n(in_flight),
    })
}

/// A transaction with an xid held open in a session of its own, closed by [`OpenTx::end`] or
/// after its longest hold, whichever comes first.
pub struct OpenTx {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Res<f64>>,
}

impl OpenTx {
    pub async fn begin(url: &str, longest: Duration) -> Res<OpenTx> {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::raw_sql("BEGIN").execute(&mut conn).await?;
        // An xid (not just a snapshot): the oldest xmin of the cluster stays here while open.
        let _: i64 = sqlx::query_scalar("SELECT txid_current()")
            .fetch_one(&mut conn)
            .await?;
        let opened = Instant::now();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = stopped => {}
                () = tokio::time::sleep(longest) => {}
            }
            sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
            let held = opened.elapsed().as_secs_f64();
            conn.close().await?;
            Ok(held)
        });
        Ok(OpenTx { stop, task })
    }

    /// Commits the transaction (if its longest hold has not already) and says how long it was
    /// open, in seconds.
    pub async fn end(self) -> Res<f64> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
