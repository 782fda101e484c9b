//! The reads of `pending`, batched: the pages that concurrent connections ask for (a group
//! message wakes thousands of devices at once, each reading its queue) are read by one
//! statement, each device's rows in seq order and up to its own limit.
//!
//! Why: every SQLite statement runs on its connection's own thread (sqlx), so a statement costs
//! two thread hand-offs and each result row one more; thousands of two-row reads cost far more
//! in those wake-ups than in SQLite's work. The batch's rows come back as one JSON value.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{Checkout, to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{StoreError, StoredPush};

/// Pages read by one statement at most.
const MAX_BATCH: usize = 256;
/// Page requests waiting at most; more wait for room.
const QUEUE: usize = 4096;

/// Whether any of the device's pushes expired, and its page.
pub(super) type Page = (bool, Vec<StoredPush>);

struct Request {
    device: DeviceKey,
    after: u64,
    now_ms: u64,
    limit: usize,
    reply: oneshot::Sender<Result<Page, StoreError>>,
}

/// Hands page reads to the batching task.
#[derive(Debug, Clone)]
pub(super) struct Pager {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").finish_non_exhaustive()
    }
}

impl Pager {
    /// Starts the batching task over `pool`.
    pub(super) fn spawn(pool: SqlitePool) -> Pager {
        let (tx, mut rx) = mpsc::channel::<Request>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                answer(&pool, batch).await;
            }
        });
        Pager { tx }
    }

    /// Whether any of `device`'s pushes expired at `now_ms`, and up to `limit` pushes after
    /// `after`, oldest first (read together with the pages asked for meanwhile).
    pub(super) async fn page(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            device: device.clone(),
            after,
            now_ms,
            limit,
            reply,
        };
        let stopped = || StoreError::new("the daemon queue's page reader stopped");
        self.tx.send(request).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn answer(pool: &SqlitePool, batch: Vec<Request>) {
    match read(pool, &batch).await {
        Ok(mut pages) => {
            for (i, request) in batch.into_iter().enumerate() {
                let page = pages.remove(&i).unwrap_or_default();
                let _ = request.reply.send(Ok(page));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for request in batch {
                let _ = request.reply.send(Err(StoreError::new(message.clone())));
            }
        }
    }
}

/// One statement for the batch: per request (by its index), a first row saying whether any push
/// expired (seq -1), then its page.
async fn read(pool: &SqlitePool, batch: &[Request]) -> Result<HashMap<usize, Page>, StoreError> {
    let requests: Vec<serde_json::Value> = batch
        .iter()
        .map(|r| {
            serde_json::json!([
                r.device.user(),
                r.device.device(),
                to_i64(r.after),
                to_i64(r.now_ms)
            ])
        })
        .collect();
    // SQLite's LIMIT cannot refer to the row: every device reads up to the largest limit of the
    // batch (they are mostly equal: the in-flight window's room), cut to its own below.
    let most = batch.iter().map(|r| r.limit).max().unwrap_or(0);
    let mut checkout = Checkout::acquire(pool).await?;
    let result = sqlx::query(
        "WITH r AS (SELECT key AS i, value ->> 0 AS user, value ->> 1 AS device,
                           value ->> 2 AS after, value ->> 3 AS now
                    FROM json_each(?1))
         SELECT json_group_array(json_array(i, seq, id, frame, expires_at_ms)) FROM (
           SELECT r.i AS i, -1 AS seq, NULL AS id, NULL AS frame,
                  EXISTS (SELECT 1 FROM daemon_queue q WHERE q.user = r.user
                            AND q.device = r.device AND q.expires_at_ms <= r.now)
                    AS expires_at_ms
           FROM r
           UNION ALL
           SELECT r.i, q.seq, q.id, q.frame, q.expires_at_ms
           FROM r JOIN daemon_queue q ON q.seq IN
             (SELECT x.seq FROM daemon_queue x WHERE x.user = r.user AND x.device = r.device
                AND x.seq > r.after ORDER BY x.seq LIMIT ?2))",
    )
    .bind(serde_json::Value::Array(requests).to_string())
    .bind(i64::try_from(most).unwrap_or(i64::MAX))
    .fetch_one(checkout.conn()?)
    .await
    .and_then(|row| row.try_get::<String, _>(0));
    let text = checkout.finish(result)?;
    type Row = (usize, i64, Option<String>, Option<String>, i64);
    let rows: Vec<Row> = serde_json::from_str(&text).map_err(StoreError::new)?;
    let mut pages: HashMap<usize, Page> = HashMap::with_capacity(batch.len());
    for (i, seq, id, frame, expires_at_ms) in rows {
        let page = pages.entry(i).or_default();
        if seq < 0 {
            page.0 = expires_at_ms != 0;
            continue;
        }
        let (Some(id), Some(frame)) = (id, frame) else {
            return Err(StoreError::new("daemon_queue: a push without id or frame"));
        };
        page.1.push(StoredPush {
            seq: to_u64(seq),
            id,
            frame: Arc::from(frame),
            expires_at_ms: to_u64(expires_at_ms),
        });
    }
    for (i, page) in pages.iter_mut() {
        page.1.sort_by_key(|push| push.seq);
        page.1.truncate(batch.get(*i).map_or(0, |r| r.limit));
    }
    Ok(pages)
}
