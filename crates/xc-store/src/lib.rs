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

mod db;
mod migrate;

pub use db::{ConnectionFilter, Db, IdempotencyRecord, NewLink, Page};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shut down")]
    Closed,
    #[error("a record with this {0} already exists")]
    Duplicate(&'static str),
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&rusqlite::Connection) -> Completion + Send>;

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
        let thread = std::thread::Builder::new()
            .name("xc-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            read_permits: tokio::sync::Semaphore::new(READ_POOL),
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
        let (reply, rx) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |conn| {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                let e = E::from(e.into());
                return Box::new(move |_| {
                    let _ = reply.send(Err(e));
                });
            }
            let result = f(&Db::new(conn));
            let end = if result.is_ok() {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            let result = match end {
                Ok(()) => result,
                Err(e) => Err(E::from(e.into())),
            };
            Box::new(move |commit: Result<(), String>| {
                let out = match commit {
                    Ok(()) => result,
                    Err(msg) => Err(E::from(StoreError::Corrupt(format!(
                        "commit failed: {msg}"
                    )))),
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

fn writer_loop(mut conn: rusqlite::Connection, rx: mpsc::Receiver<Job>) {
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
                tracing::error!(error = %e, "cannot begin a write transaction");
                for job in batch {
                    // Run nothing: report the failure to each waiter.
                    drop(job);
                }
                continue;
            }
        };
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&tx)).collect();
        let commit = tx.commit().map_err(|e| e.to_string());
        if let Err(e) = &commit {
            tracing::error!(error = %e, "commit failed");
        }
        for done in completions {
            done(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests;
