//! Persistence for the control plane. This is the only crate that holds SQL.
//!
//! [`Store`] owns one SQLite database in WAL mode. Writes go through a single writer thread that
//! commits whatever requests are queued together in one transaction (group commit), each inside its
//! own savepoint, so one request's failure never touches another's and an fsync is shared by many
//! requests. A write is acknowledged only after its transaction is durable (`synchronous=FULL`).
//! Reads run on a small pool of read-only connections and see the last committed state.
//!
//! Callers pass closures over [`Db`], whose methods are the typed queries; the control plane's
//! business rules run inside those closures, so a check and the change it guards are one
//! transaction. What this crate deliberately does not do: decide anything. It stores and loads.
//!
//! ```text
//!  async callers ──write(f)──► std mpsc ──► writer thread: BEGIN; SAVEPOINT f1..fn; COMMIT ──► oneshot replies
//!  async callers ──read(f)───► spawn_blocking on a pooled read connection
//! ```

mod alarms;
mod audit;
mod db;
mod events;
mod filters;
mod flowlogs;
mod histogram;
mod maintenance;
mod metrics;
mod migrate;
mod quotas;
mod usage;

pub use alarms::{AlarmHistoryRecord, AlarmRecord, AttemptRecord, DeliveryRecord, WebhookRecord};
pub use audit::{AuditFilter, AuditRow};
pub use db::{ConnectionFilter, Db, IdempotencyRecord, NewLink, Page};
pub use events::EventRecord;
pub use filters::{NetworkAclRow, PrefixListRow, SecurityGroupRow};
pub use flowlogs::{FlowLogFilter, FlowLogRow, FlowLogSettingRow};
pub use histogram::Histogram;
pub use maintenance::MaintenanceRow;
pub use metrics::{LinkMinute, ROLLUP_SPANS};
pub use quotas::Counted;
pub use usage::{Meterable, MeteredRow};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// Nothing could be written, and nothing was: the disk is full or the database read-only.
    /// A retry succeeds once the operator has made room; nothing is wrong with the data.
    #[error("{0}")]
    Unwritable(Unwritable),
    /// A commit failed for another reason; nothing of the transaction was kept.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shut down")]
    Closed,
    #[error("a record with this {0} already exists")]
    Duplicate(&'static str),
    #[error("cannot start the store's writer thread: {0}")]
    Thread(String),
}

/// Why the database cannot be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    #[error("the disk holding the database is full")]
    DiskFull,
    #[error("the database or its directory is read-only")]
    ReadOnly,
}

thread_local! {
    /// The last time a write on this thread failed for want of room (or of write permission):
    /// when SQLite then rolls back the whole transaction, the writer tells its waiters why.
    static LAST_UNWRITABLE: std::cell::Cell<Option<Unwritable>> = const { std::cell::Cell::new(None) };
}

impl Unwritable {
    fn of(e: &rusqlite::Error) -> Option<Self> {
        let u = match e.sqlite_error_code()? {
            rusqlite::ErrorCode::DiskFull => Self::DiskFull,
            rusqlite::ErrorCode::ReadOnly => Self::ReadOnly,
            _ => return None,
        };
        LAST_UNWRITABLE.set(Some(u));
        Some(u)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match Unwritable::of(&e) {
            Some(u) => Self::Unwritable(u),
            None => Self::Sqlite(e),
        }
    }
}

/// How a batch's commit went, for each of its writes.
#[derive(Debug, Clone)]
enum Commit {
    Done,
    Unwritable(Unwritable),
    Failed(String),
}

impl Commit {
    fn of(r: Result<(), rusqlite::Error>) -> Self {
        match r {
            Ok(()) => Self::Done,
            Err(e) => match Unwritable::of(&e) {
                Some(u) => Self::Unwritable(u),
                None => Self::Failed(e.to_string()),
            },
        }
    }
}

type Completion = Box<dyn FnOnce(Commit) + Send>;
/// A write: given the open transaction (or why none could be opened), it runs and says how to
/// answer its caller once the batch's commit is known.
type Job = Box<dyn FnOnce(Result<&rusqlite::Connection, &StoreError>) -> Completion + Send>;

/// Runs `statements` in order through the connection's statement cache (each write's savepoint
/// is opened and closed without parsing its SQL again).
fn run_cached(conn: &rusqlite::Connection, statements: &[&str]) -> Result<(), rusqlite::Error> {
    for sql in statements {
        conn.prepare_cached(sql)?.execute([])?;
    }
    Ok(())
}

/// Whether a write's changes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// When it succeeds ([`Store::write`]).
    IfOk,
    /// Never ([`Store::try_write`]).
    Never,
}

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// Read connections kept open; also the most reads that run at once (more would only queue on
/// the blocking pool and open fresh connections).
const READ_POOL: usize = 8;

pub struct Store {
    path: PathBuf,
    writer: Mutex<Option<mpsc::SyncSender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<rusqlite::Connection>>,
    read_permits: tokio::sync::Semaphore,
    /// How long each commit took.
    commits: std::sync::Arc<Histogram>,
}

impl StoreError {
    /// The same error, for another waiter of a failed batch.
    fn duplicate(&self) -> Self {
        match self {
            Self::Unwritable(u) => Self::Unwritable(*u),
            Self::Closed => Self::Closed,
            Self::Duplicate(w) => Self::Duplicate(w),
            other => Self::CommitFailed(other.to_string()),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = open_connection(path, false)?;
        migrate::run(&mut conn)?;
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        let commits = std::sync::Arc::new(Histogram::default());
        let timed = commits.clone();
        let thread = std::thread::Builder::new()
            .name("xc-store-writer".into())
            .spawn(move || writer_loop(conn, rx, &timed))
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            read_permits: tokio::sync::Semaphore::new(READ_POOL),
            commits,
        })
    }

    /// Runs `f` in a write transaction. Its changes are committed (durably) before this returns
    /// `Ok`; if `f` returns `Err`, none of its changes remain.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, E> + Send + 'static,
    {
        self.run_write(f, Keep::IfOk).await
    }

    /// Runs `f` in a write transaction and rolls its changes back whatever it returns: a change
    /// tried, not made. `f` sees the database as its own changes leave it (every check and
    /// trigger runs), and what it returns is all that remains of them.
    pub async fn try_write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, E> + Send + 'static,
    {
        self.run_write(f, Keep::Never).await
    }

    async fn run_write<R, E, F>(&self, f: F, keep: Keep) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, E> + Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |conn| {
            let conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    let e = E::from(e.duplicate());
                    return Box::new(move |_| {
                        let _ = reply.send(Err(e));
                    });
                }
            };
            if let Err(e) = run_cached(conn, &["SAVEPOINT job"]) {
                let e = E::from(e.into());
                return Box::new(move |_| {
                    let _ = reply.send(Err(e));
                });
            }
            let result = f(&Db::new(conn));
            let end = if result.is_ok() && keep == Keep::IfOk {
                run_cached(conn, &["RELEASE job"])
            } else {
                run_cached(conn, &["ROLLBACK TO job", "RELEASE job"])
            };
            let result = match end {
                Ok(()) => result,
                Err(e) => Err(E::from(e.into())),
            };
            Box::new(move |commit: Commit| {
                let out = match commit {
                    Commit::Done => result,
                    Commit::Unwritable(u) => Err(E::from(StoreError::Unwritable(u))),
                    Commit::Failed(msg) => Err(E::from(StoreError::CommitFailed(msg))),
                };
                let _ = reply.send(out);
            })
        });
        let sender = self
            .writer
            .lock()
            .map_err(|_| E::from(StoreError::Closed))?
            .clone()
            .ok_or_else(|| E::from(StoreError::Closed))?;
        // A full queue blocks; hand that wait to the blocking pool rather than the reactor.
        if let Err(mpsc::TrySendError::Full(job)) | Err(mpsc::TrySendError::Disconnected(job)) =
            sender.try_send(job)
        {
            tokio::task::spawn_blocking(move || sender.send(job))
                .await
                .map_err(|_| E::from(StoreError::Closed))?
                .map_err(|_| E::from(StoreError::Closed))?;
        }
        rx.await.map_err(|_| E::from(StoreError::Closed))?
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, E> + Send + 'static,
    {
        let _permit = self
            .read_permits
            .acquire()
            .await
            .map_err(|_| E::from(StoreError::Closed))?;
        let conn = self.take_reader().map_err(E::from)?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&Db::new(&conn));
            (conn, result)
        })
        .await
        .map_err(|_| E::from(StoreError::Closed))?;
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READ_POOL
        {
            pool.push(conn);
        }
        result
    }

    fn take_reader(&self) -> Result<rusqlite::Connection, StoreError> {
        if let Some(c) = self.readers.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(c);
        }
        open_connection(&self.path, true)
    }

    /// How long the commits took (each a batch of writes, made durable).
    pub fn commit_times(&self) -> &Histogram {
        &self.commits
    }

    /// Stops the writer after the queued writes are committed.
    pub fn close(&self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(t) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(mut conn: rusqlite::Connection, rx: mpsc::Receiver<Job>, commits: &Histogram) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let e = StoreError::from(e);
                tracing::error!(error = %e, "cannot begin a write transaction");
                // Run nothing: each waiter gets the reason.
                for job in batch {
                    job(Err(&e))(Commit::Done);
                }
                continue;
            }
        };
        // SQLite may roll the whole transaction back on its own (SQLITE_FULL, I/O errors):
        // then what the batch wrote so far is gone, and the rest of it must not run outside a
        // transaction; each waiter is told why.
        let mut aborted: Option<StoreError> = None;
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        for job in batch {
            if let Some(e) = &aborted {
                completions.push(job(Err(e)));
                continue;
            }
            LAST_UNWRITABLE.set(None);
            completions.push(job(Ok(&tx)));
            if tx.is_autocommit() {
                aborted = Some(match LAST_UNWRITABLE.take() {
                    Some(u) => StoreError::Unwritable(u),
                    None => {
                        StoreError::CommitFailed("the database rolled the transaction back".into())
                    }
                });
            }
        }
        let commit = match aborted {
            None => {
                let began = std::time::Instant::now();
                let c = Commit::of(tx.commit());
                commits.observe(began.elapsed());
                c
            }
            Some(StoreError::Unwritable(u)) => Commit::Unwritable(u),
            Some(e) => Commit::Failed(e.to_string()),
        };
        match &commit {
            Commit::Done => {}
            Commit::Unwritable(u) => tracing::error!(
                "a commit of {} writes failed: {u}; nothing of them was written",
                completions.len()
            ),
            Commit::Failed(e) => tracing::error!(error = %e, "commit failed"),
        }
        for done in completions {
            done(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests;
