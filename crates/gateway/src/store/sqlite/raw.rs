//! The hot paths' SQLite connections: rusqlite connections of their own, each on a dedicated
//! thread which runs whole transactions.
//!
//! Why: sqlx runs every SQLite statement on the connection's own thread and hands each result
//! row back through a channel, so a statement costs two thread hand-offs and a row one more;
//! on a small machine those wake-ups cost more than SQLite's work (profiled: over half of the
//! server's CPU in the end-to-end benchmark was in those threads, most of it in futex calls).
//! Here a transaction costs one hand-off each way; rows are bound and read in place by
//! statements kept prepared, instead of the JSON arrays the sqlx paths batch rows into.
//!
//! Write transactions queued together run as one (each in a savepoint of its own) with one
//! commit: an accept, a claim and an outcome batch arriving at once write the pages they share
//! and sync the WAL once.
//!
//! The accept path's commits and lookups, claims, outcomes, lease releases and the message
//! summary run here; the migrations and the cold paths (registrations, settings, the console)
//! stay on sqlx's connections. Every write transaction starts with `BEGIN IMMEDIATE`, which
//! takes SQLite's one write lock before it reads anything, so the two writers never see each
//! other half-way; one waits for the other (the busy timeout).
//!
//! The writer does not checkpoint the WAL itself: SQLite's automatic checkpoint runs inside the
//! `COMMIT` that takes the WAL past its threshold, so that commit's callers (a group message's
//! `202`, the hand-off of its rows to the workers) waited while thousands of pages were copied
//! into the database file and synced (profiled: 6 % of the hot threads' CPU in the end-to-end
//! benchmark, all of it on the writer, after the accept's commit). A checkpointer thread with a
//! connection of its own does it instead, at the same threshold (see [`Checkpointer`]).

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// Write transactions run together at most (one commit, one WAL sync for all of them).
const MAX_GROUP: usize = 64;
/// Statements kept prepared (the hot paths use about twenty).
const STATEMENT_CACHE: usize = 64;
/// WAL pages after a commit from which the checkpointer is asked to run: SQLite's own
/// automatic checkpoint threshold.
const CHECKPOINT_PAGES: c_int = 1000;

thread_local! {
    /// The WAL's pages after the last commit of this thread's connection (its WAL hook).
    static WAL_PAGES: Cell<c_int> = const { Cell::new(0) };
}

/// The writer's WAL hook: notes the WAL's size. Setting it also turns SQLite's automatic
/// checkpoint off on that connection (the two share the one hook).
fn note_wal_pages(_: &Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// How a transaction's caller is answered once the commit's fate is known (`Some`: it failed).
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A write transaction's body: run on the connection (or told why it cannot run), it says
/// whether it succeeded (else its savepoint is rolled back) and how to answer afterwards.
type Body = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> (bool, Finish) + Send>;

enum Job {
    /// Runs alone, outside any transaction.
    Plain(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A write transaction; `durable`: see [`HotConn::transaction`].
    Write { durable: bool, body: Body },
}

/// A connection and its thread (which ends when the last clone is dropped).
#[derive(Clone)]
pub(super) struct HotConn {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for HotConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotConn").finish_non_exhaustive()
    }
}

impl HotConn {
    /// Opens a connection to the (existing, migrated) database at `path`, read-only or
    /// read-write.
    pub(super) fn open(
        path: &Path,
        busy_timeout: Duration,
        read_only: bool,
    ) -> Result<HotConn, StoreError> {
        let mode = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(raw_err)?;
        conn.busy_timeout(busy_timeout).map_err(raw_err)?;
        // As sqlx's connections are set up (`SqliteStore::open`), but for foreign keys on the
        // writer: its inserts are a message's own rows, written in the message's transaction,
        // and nothing it deletes has dependent rows, so the checks (a parent lookup per row,
        // a quarter of a 25,000-row accept's insert time) cannot fail there. The cascades of
        // pruning run on sqlx's writer, where they are on. `synchronous` is set by each
        // transaction.
        conn.execute_batch(if read_only {
            "PRAGMA foreign_keys = ON; PRAGMA temp_store = memory;"
        } else {
            "PRAGMA foreign_keys = OFF; PRAGMA temp_store = memory;"
        })
        .map_err(raw_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = if read_only {
            None
        } else {
            Some(Checkpointer::spawn(path)?)
        };
        HotConn::serve_on_thread(conn, checkpointer)
    }

    /// Runs `conn`'s thread; a writer's commits ask `checkpointer` for checkpoints.
    fn serve_on_thread(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
    ) -> Result<HotConn, StoreError> {
        if checkpointer.is_some() {
            conn.wal_hook(Some(note_wal_pages));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pushway-sqlite".to_owned())
            .spawn(move || serve(conn, &queue, checkpointer.as_ref()))
            .map_err(StoreError::new)?;
        Ok(HotConn { jobs })
    }

    /// Runs `f` on the connection's thread, outside any transaction, and answers its result.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job::Plain(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `f` in a write transaction: committed when `f` succeeds (its changes undone
    /// otherwise), answered once the commit is done. `durable`: the commit syncs the WAL
    /// before it answers (`synchronous = FULL`: for what the API acknowledges) rather than
    /// leaving it to the next sync (`NORMAL`: the workers' own bookkeeping, whose loss in a
    /// power cut only makes rows due again); a group with one durable transaction is durable.
    pub(super) async fn transaction<T, F>(&self, durable: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let body: Body = Box::new(move |conn: Result<&Connection, &StoreError>| {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(e) => Err(e.duplicate()),
            };
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit: Option<&StoreError>| {
                let _ = reply.send(match commit {
                    None => result,
                    Some(e) => Err(e.duplicate()),
                });
            });
            (ok, finish)
        });
        self.send(Job::Write { durable, body })?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

/// Checkpoints a database's WAL on a thread and connection of its own, when asked (see the
/// module's documentation). `PASSIVE`: it copies what no reader still needs, never waits for
/// a reader or the writer, and the writer goes on appending meanwhile; the WAL starts over from
/// its beginning at the first write after a checkpoint that copied it all.
#[derive(Debug, Clone)]
pub(super) struct Checkpointer {
    /// Holds one request at most: requests made while one waits are the same request.
    ask: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread, with a read-write connection to `path`; it ends when the last clone
    /// is dropped.
    fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(raw_err)?;
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("pushway-ckpt".to_owned())
            .spawn(move || {
                while asked.recv().is_ok() {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        // The next commit past the threshold asks again.
                        tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                    }
                }
            })
            .map_err(StoreError::new)?;
        Ok(Checkpointer { ask })
    }

    /// Asks for a checkpoint (at once if none is asked for yet; never waits).
    fn ask(&self) {
        let _ = self.ask.try_send(());
    }
}

/// The connection's thread: runs queued jobs, write transactions queued together as one; after
/// a commit that left the WAL at [`CHECKPOINT_PAGES`] or more, asks `checkpointer` for one.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Job>, checkpointer: Option<&Checkpointer>) {
    // The `synchronous` setting the connection has (set only when a group needs another).
    let mut synchronous = None;
    while let Ok(first) = queue.recv() {
        let mut writes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Plain(f) => f(&mut conn),
                Job::Write { durable, body } => writes.push((durable, body)),
            }
            if writes.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        if !writes.is_empty() {
            commit_group(&conn, writes, &mut synchronous);
        }
        if let Some(checkpointer) = checkpointer
            && WAL_PAGES.with(|p| p.replace(0)) >= CHECKPOINT_PAGES
        {
            checkpointer.ask();
        }
    }
}

/// Runs write transactions in one `BEGIN IMMEDIATE` … `COMMIT`, each in a savepoint: a body
/// that fails has its savepoint rolled back and the others go on. Should SQLite end the
/// transaction itself (it rolls back on some I/O errors), the bodies run so far are answered
/// with the error and the rest start a new transaction.
fn commit_group(conn: &Connection, writes: Vec<(bool, Body)>, synchronous: &mut Option<bool>) {
    let durable = writes.iter().any(|(durable, _)| *durable);
    let mut writes = writes.into_iter().map(|(_, body)| body).peekable();
    while writes.peek().is_some() {
        let begin = match (*synchronous == Some(durable), durable) {
            (true, _) => "BEGIN IMMEDIATE",
            (false, true) => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
            (false, false) => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
        };
        // Unknown until the batch ran (it may fail after the pragma).
        *synchronous = None;
        if let Err(e) = conn.execute_batch(begin) {
            let e = raw_err(e);
            for body in writes {
                let (_, finish) = body(Err(&e));
                finish(Some(&e));
            }
            return;
        }
        *synchronous = Some(durable);
        // A savepoint copies every page it changes first (SQLite's statement journal): a
        // transaction alone in its group goes without one; its failure rolls the whole back.
        if writes.len() == 1
            && let Some(body) = writes.next()
        {
            let (ok, finish) = body(Ok(conn));
            let outcome = if ok {
                conn.execute_batch("COMMIT").err().map(|e| {
                    let _ = conn.execute_batch("ROLLBACK");
                    raw_err(e)
                })
            } else {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                // Its own error answers it.
                None
            };
            finish(outcome.as_ref());
            return;
        }
        let mut ran: Vec<Finish> = Vec::new();
        let mut ended = None;
        for body in writes.by_ref() {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                let e = raw_err(e);
                let (_, finish) = body(Err(&e));
                ran.push(finish);
                ended = Some(e);
                break;
            }
            let (ok, finish) = body(Ok(conn));
            ran.push(finish);
            if conn.is_autocommit() {
                ended = Some(StoreError::new("SQLite rolled the transaction back"));
                break;
            }
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = conn.execute_batch(end) {
                ended = Some(raw_err(e));
                break;
            }
        }
        let outcome = match ended {
            Some(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Some(e)
            }
            None => conn.execute_batch("COMMIT").err().map(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                raw_err(e)
            }),
        };
        for finish in ran {
            finish(outcome.as_ref());
        }
    }
}

impl StoreError {
    /// The same error again (one failure answers several callers).
    fn duplicate(&self) -> StoreError {
        StoreError(self.0.clone())
    }
}

fn stopped() -> StoreError {
    StoreError::new("the SQLite connection's thread stopped")
}

pub(super) fn raw_err(e: rusqlite::Error) -> StoreError {
    StoreError::new(e)
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use rusqlite::params;

    use super::*;

    fn values(path: &Path) -> Vec<i64> {
        let conn = Connection::open(path).expect("open");
        let mut read = conn.prepare("SELECT v FROM t ORDER BY v").expect("prepare");
        read.query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Transactions queued together commit together; one that fails undoes only its own
    /// writes and answers its own error; the others answer after the commit.
    #[tokio::test]
    async fn a_failing_transaction_of_a_group_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        Connection::open(&path)
            .expect("create")
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER UNIQUE)")
            .expect("schema");
        let hot = HotConn::open(&path, Duration::from_secs(5), false).expect("open");

        // Hold the thread until all three are queued, so they run as one group.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let hold = hot.run(move |_| held.recv().map_err(StoreError::new));
        let mut hold = Box::pin(hold);
        assert!((&mut hold).now_or_never().is_none());
        let insert = |values: Vec<i64>| {
            hot.transaction(false, move |conn| {
                for v in values {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", params![v])
                        .map_err(raw_err)?;
                }
                Ok(())
            })
        };
        let mut first = Box::pin(insert(vec![1, 2]));
        // 3 goes in, then 1 again breaks the unique key: 3 must be undone too.
        let mut failing = Box::pin(insert(vec![3, 1]));
        let mut last = Box::pin(insert(vec![4]));
        for pending in [&mut first, &mut failing, &mut last] {
            assert!(pending.now_or_never().is_none());
        }
        release.send(()).expect("release");
        hold.await.expect("hold");
        first.await.expect("first commits");
        let error = failing
            .await
            .expect_err("the failing one answers its error");
        assert!(error.to_string().contains("UNIQUE"), "{error}");
        last.await.expect("last commits");
        assert_eq!(values(&path), [1, 2, 4]);
    }

    /// A database in WAL mode with a table of blobs; its path.
    fn blob_table(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("t.sqlite3");
        Connection::open(&path)
            .expect("create")
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (b BLOB)")
            .expect("schema");
        path
    }

    /// Writes `rows` blobs of 4,000 bytes (a page each) in one transaction, then waits until
    /// the connection's thread is past that job (a plain job queued after it has run).
    async fn write_pages(hot: &HotConn, rows: usize) {
        hot.transaction(true, move |conn| {
            for i in 0..rows {
                conn.execute(
                    "INSERT INTO t (b) VALUES (?1)",
                    params![vec![i as u8; 4000]],
                )
                .map_err(raw_err)?;
            }
            Ok(())
        })
        .await
        .expect("write");
        hot.run(|_| Ok(())).await.expect("barrier");
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).expect("database file").len()
    }

    /// The writer's commit does not checkpoint: a commit that takes the WAL past the threshold
    /// leaves the database file as it was and asks the checkpointer once; a small one asks
    /// nothing.
    #[tokio::test]
    async fn the_writer_asks_for_checkpoints_and_runs_none_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = blob_table(&dir);
        let before = file_len(&path);
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let conn = Connection::open(&path).expect("open");
        let hot = HotConn::serve_on_thread(conn, Some(Checkpointer { ask })).expect("serve");

        write_pages(&hot, 10).await;
        assert!(asked.try_recv().is_err(), "asked after a small commit");
        // SQLite's own checkpoint would run in this commit: 1,200 pages written.
        write_pages(&hot, 1200).await;
        assert!(asked.try_recv().is_ok(), "not asked past the threshold");
        assert!(asked.try_recv().is_err(), "asked twice");
        assert_eq!(
            file_len(&path),
            before,
            "the commit copied pages into the file"
        );
    }

    /// Asked, the checkpointer copies the WAL into the database file.
    #[tokio::test]
    async fn the_checkpointer_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = blob_table(&dir);
        let (ask, _asked) = mpsc::sync_channel::<()>(1);
        let conn = Connection::open(&path).expect("open");
        let hot = HotConn::serve_on_thread(conn, Some(Checkpointer { ask })).expect("serve");
        write_pages(&hot, 1200).await;
        assert!(file_len(&path) < 1200 * 4000);

        Checkpointer::spawn(&path).expect("checkpointer").ask();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while file_len(&path) < 1200 * 4000 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            file_len(&path) >= 1200 * 4000,
            "the database file holds {} bytes",
            file_len(&path)
        );
    }

    /// A transaction alone in its group (no savepoint) that fails leaves nothing and answers
    /// its own error; the next one commits.
    #[tokio::test]
    async fn a_failing_transaction_alone_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        Connection::open(&path)
            .expect("create")
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER UNIQUE)")
            .expect("schema");
        let hot = HotConn::open(&path, Duration::from_secs(5), false).expect("open");
        let insert = |values: Vec<i64>| {
            hot.transaction(true, move |conn| {
                for v in values {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", params![v])
                        .map_err(raw_err)?;
                }
                Ok(())
            })
        };
        let error = insert(vec![5, 5]).await.expect_err("the duplicate fails");
        assert!(error.to_string().contains("UNIQUE"), "{error}");
        insert(vec![6]).await.expect("the next commits");
        assert_eq!(values(&path), [6]);
    }
}
