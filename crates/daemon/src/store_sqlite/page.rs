//! The reader: the pages connections read (a group message wakes thousands of devices at once,
//! each reading its queue), the queue lengths and the token generations, on a connection and
//! thread of their own, so reads never wait for the writer's fsync.
//!
//! Reads handed over together run in one read transaction (one snapshot, one lock of the WAL's
//! index for all of them), each by a statement kept prepared.

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::{connect, stopped, to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{StoreError, StoredPush};

/// Reads run in one transaction at most.
const MAX_BATCH: usize = 256;
/// Reads waiting at most; more wait for room.
const QUEUE: usize = 4096;

/// Whether any of the device's pushes expired, and its page.
pub(super) type Page = (bool, Vec<StoredPush>);

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Request {
    Page {
        device: DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
        reply: Reply<Page>,
    },
    Len {
        device: DeviceKey,
        reply: Reply<usize>,
    },
    Generation {
        device: DeviceKey,
        reply: Reply<u64>,
    },
    /// Ends the thread (closing its connection), then answers.
    Close(oneshot::Sender<()>),
}

/// Hands reads to the reader thread.
#[derive(Debug, Clone)]
pub(super) struct Reader {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").finish_non_exhaustive()
    }
}

impl Reader {
    /// Opens a connection to the (created, migrated) database at `path` on a new thread.
    pub(super) async fn spawn(path: PathBuf) -> Result<Reader, StoreError> {
        let (tx, rx) = mpsc::channel::<Request>(QUEUE);
        let (opened, open) = oneshot::channel();
        std::thread::Builder::new()
            .name("pushway-daemon-queue-reader".to_owned())
            .spawn(move || match connect(&path, false) {
                Ok(conn) => {
                    let _ = opened.send(Ok(()));
                    serve(conn, rx);
                }
                Err(e) => {
                    let _ = opened.send(Err(StoreError::new(e)));
                }
            })
            .map_err(StoreError::new)?;
        open.await.map_err(|_| stopped())??;
        Ok(Reader { tx })
    }

    /// Whether any of `device`'s pushes expired at `now_ms`, and up to `limit` pushes after
    /// `after`, oldest first.
    pub(super) async fn page(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.ask(|reply| Request::Page {
            device: device.clone(),
            after,
            now_ms,
            limit,
            reply,
        })
        .await
    }

    /// How many pushes `device` has queued.
    pub(super) async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        self.ask(|reply| Request::Len {
            device: device.clone(),
            reply,
        })
        .await
    }

    /// `device`'s token generation (0 until first bumped).
    pub(super) async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        self.ask(|reply| Request::Generation {
            device: device.clone(),
            reply,
        })
        .await
    }

    async fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(request(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Ends the reader after the reads handed over before; waits for it.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Request::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

fn serve(conn: Connection, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // One snapshot for the batch; without it each statement takes its own.
        let together = batch.len() > 1 && conn.execute_batch("BEGIN").is_ok();
        let mut close = None;
        for request in batch.drain(..) {
            match request {
                Request::Page {
                    device,
                    after,
                    now_ms,
                    limit,
                    reply,
                } => {
                    let _ = reply.send(page(&conn, &device, after, now_ms, limit));
                }
                Request::Len { device, reply } => {
                    let _ = reply.send(len(&conn, &device));
                }
                Request::Generation { device, reply } => {
                    let _ = reply.send(generation(&conn, &device));
                }
                Request::Close(done) => close = Some(done),
            }
        }
        if together || !conn.is_autocommit() {
            let _ = conn.execute_batch("COMMIT");
        }
        if let Some(done) = close {
            // The connection closes before the caller is answered.
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

fn page(
    conn: &Connection,
    device: &DeviceKey,
    after: u64,
    now_ms: u64,
    limit: usize,
) -> Result<Page, StoreError> {
    read_page(conn, device, after, now_ms, limit).map_err(StoreError::new)
}

fn read_page(
    conn: &Connection,
    device: &DeviceKey,
    after: u64,
    now_ms: u64,
    limit: usize,
) -> Result<Page, rusqlite::Error> {
    let mut expired = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM daemon_queue
                        WHERE user = ?1 AND device = ?2 AND expires_at_ms <= ?3)",
    )?;
    let any_expired: bool = expired.query_row(
        params![device.user(), device.device(), to_i64(now_ms)],
        |row| row.get(0),
    )?;
    let mut read = conn.prepare_cached(
        "SELECT seq, id, frame, expires_at_ms FROM daemon_queue
         WHERE user = ?1 AND device = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
    )?;
    let mut rows = read.query(params![
        device.user(),
        device.device(),
        to_i64(after),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut pushes = Vec::new();
    while let Some(row) = rows.next()? {
        pushes.push(StoredPush {
            seq: to_u64(row.get(0)?),
            id: row.get(1)?,
            // Read in place: one copy, into the `Arc`.
            frame: Arc::from(row.get_ref(2)?.as_str()?),
            expires_at_ms: to_u64(row.get(3)?),
        });
    }
    Ok((any_expired, pushes))
}

fn len(conn: &Connection, device: &DeviceKey) -> Result<usize, StoreError> {
    let count = conn
        .prepare_cached("SELECT COUNT(*) FROM daemon_queue WHERE user = ?1 AND device = ?2")
        .and_then(|mut count| {
            count.query_row(params![device.user(), device.device()], |row| {
                row.get::<_, i64>(0)
            })
        })
        .map_err(StoreError::new)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

fn generation(conn: &Connection, device: &DeviceKey) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "SELECT generation FROM daemon_token_generation WHERE user = ?1 AND device = ?2",
    )
    .and_then(|mut read| {
        read.query_row(params![device.user(), device.device()], |row| {
            row.get::<_, i64>(0)
        })
    })
    .map(to_u64)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        e => Err(StoreError::new(e)),
    })
}
