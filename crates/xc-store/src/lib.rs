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
mod asks;
mod audit;
mod cluster;
pub mod copy;
mod db;
mod events;
mod filters;
mod flowlogs;
mod histogram;
mod maintenance;
mod metrics;
mod migrate;
mod pgtls;
mod quotas;
mod signals;
pub mod sql;
#[doc(hidden)]
pub mod testing;
mod usage;

pub use alarms::{AlarmHistoryRecord, AlarmRecord, AttemptRecord, DeliveryRecord, WebhookRecord};
pub use asks::{AskKind, AskRow};
pub use audit::{AuditFilter, AuditRow};
pub use cluster::{LeaseRow, ReplicaRow};
pub use db::{ConnectionFilter, Db, IdempotencyRecord, NewLink, Page};
pub use events::EventRecord;
pub use filters::{NetworkAclRow, PrefixListRow, SecurityGroupRow};
pub use flowlogs::{FlowLogFilter, FlowLogRow, FlowLogSettingRow};
pub use histogram::Histogram;
pub use maintenance::MaintenanceRow;
pub use metrics::{LinkMinute, ROLLUP_SPANS};
pub use pgtls::{PgDatabase, SslMode};
pub use quotas::Counted;
pub use signals::{Heard, Signal};
pub use usage::{Meterable, MeteredRow};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(Box<sql::PgError>),
    /// The database server cannot be reached (or went away mid-request); nothing of the
    /// request was committed unless it was acknowledged. A retry succeeds once it is back.
    #[error("the database cannot be reached: {0}")]
    Unreachable(String),
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
    /// A leader's write under a fencing token that is no longer the lease's: another replica
    /// leads now, and the write was not made.
    #[error("fenced: lease token {token} is no longer current (another replica leads)")]
    Fenced { token: i64 },
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

impl From<sql::Error> for StoreError {
    fn from(e: sql::Error) -> Self {
        match e {
            sql::Error::Sqlite(e) => e.into(),
            sql::Error::Postgres(e) if e.is_unreachable() => Self::Unreachable(e.to_string()),
            sql::Error::Postgres(e) => Self::Postgres(e),
            e @ (sql::Error::NoRow | sql::Error::Value { .. }) => Self::Corrupt(e.to_string()),
        }
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
    Unreachable(String),
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
type Job = Box<dyn FnOnce(Result<sql::Conn<'_>, &StoreError>) -> Completion + Send>;

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

/// Where the data lives: `sqlite:PATH` (the embedded default) or a PostgreSQL URL
/// (`postgres://user:password@host:port/dbname`).
#[derive(Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(Box<PgDatabase>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Shown without the password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Self::Postgres(pg) => {
                let c = pg.config();
                let host = c
                    .get_hosts()
                    .first()
                    .map_or("localhost".to_owned(), |h| match h {
                        postgres::config::Host::Tcp(h) => h.clone(),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    });
                let port = c.get_ports().first().copied().unwrap_or(5432);
                write!(
                    f,
                    "postgres://{}@{host}:{port}/{}",
                    c.get_user().unwrap_or(""),
                    c.get_dbname().unwrap_or("")
                )?;
                match pg.ssl_mode() {
                    SslMode::Prefer => Ok(()),
                    mode => write!(f, "?sslmode={}", mode.as_str()),
                }
            }
        }
    }
}

impl std::str::FromStr for Database {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(
                    "sqlite: needs a path, as in sqlite:/var/lib/xconnect/xconnect.db".into(),
                );
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(Box::new(PgDatabase::parse(s)?)));
        }
        Err("expected sqlite:PATH or postgres://user:password@host:port/dbname".into())
    }
}

/// Every write transaction takes this transaction-scoped advisory lock first, so writes are
/// serialised across replicas as SQLite's single writer serialises them in one process.
const PG_WRITE_LOCK: i64 = 0x7863_5772_6974_6501; // "xcWrite\x01"
/// Held while migrations run, so replicas starting together migrate once.
const PG_MIGRATE_LOCK: i64 = 0x7863_4d69_6772_6101; // "xcMigra\x01"

/// A pooled read connection.
enum Reader {
    Lite(rusqlite::Connection),
    Pg(Box<std::cell::RefCell<sql::PgSession>>),
}

impl Reader {
    fn conn(&self) -> sql::Conn<'_> {
        match self {
            Self::Lite(c) => sql::Conn::sqlite(c),
            Self::Pg(s) => sql::Conn::postgres(s),
        }
    }

    /// Whether it can be used again.
    fn healthy(&self) -> bool {
        match self {
            Self::Lite(_) => true,
            Self::Pg(s) => !s.borrow().is_closed(),
        }
    }
}

pub struct Store {
    database: Database,
    writer: Mutex<Option<mpsc::SyncSender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Reader>>,
    read_permits: tokio::sync::Semaphore,
    /// PostgreSQL: the connection of [`Store::write_beside`], apart from the writer's.
    beside: Mutex<Option<sql::PgSession>>,
    /// How long each commit took.
    commits: std::sync::Arc<Histogram>,
    /// This store among those on one database: the origin of its [`Signal`]s.
    instance: String,
    /// Set when closed: threads of its own ([`Store::listen`]) stop.
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StoreError {
    /// The same error, for another waiter of a failed batch.
    fn duplicate(&self) -> Self {
        match self {
            Self::Unwritable(u) => Self::Unwritable(*u),
            Self::Unreachable(m) => Self::Unreachable(m.clone()),
            Self::Closed => Self::Closed,
            Self::Fenced { token } => Self::Fenced { token: *token },
            Self::Duplicate(w) => Self::Duplicate(w),
            other => Self::CommitFailed(other.to_string()),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.database)
            .finish()
    }
}

/// `greatest(a, b, ...)` and `least(a, b, ...)` as PostgreSQL has them (NULLs ignored; NULL when
/// every argument is), so the typed queries are written once for both backends.
fn add_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::{Value, ValueRef};
    fn pick(ctx: &rusqlite::functions::Context<'_>, greater: bool) -> rusqlite::Result<Value> {
        let mut best: Option<Value> = None;
        for i in 0..ctx.len() {
            let v = match ctx.get_raw(i) {
                ValueRef::Null => continue,
                ValueRef::Integer(n) => Value::Integer(n),
                ValueRef::Real(r) => Value::Real(r),
                other => Value::from(other),
            };
            let as_f64 = |v: &Value| match v {
                Value::Integer(n) => *n as f64,
                Value::Real(r) => *r,
                _ => f64::NAN,
            };
            let better = |b: &Value| {
                let (x, y) = (as_f64(&v), as_f64(b));
                if greater { x > y } else { x < y }
            };
            if best.as_ref().is_none_or(better) {
                best = Some(v);
            }
        }
        Ok(best.unwrap_or(Value::Null))
    }
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("greatest", -1, flags, |ctx| pick(ctx, true))?;
    conn.create_scalar_function("least", -1, flags, |ctx| pick(ctx, false))?;
    Ok(())
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
    add_functions(&conn)?;
    Ok(conn)
}

/// Runs `f` on a thread of its own: the synchronous PostgreSQL client runs a small runtime of
/// its own, which may not be started on a thread that drives async tasks.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn pg_connect(pg: &PgDatabase, read_only: bool) -> Result<sql::PgSession, StoreError> {
    let mut client = pg
        .connect()
        .map_err(|e| StoreError::from(sql::Error::pg(e, "")))?;
    // A statement that waits on a lock longer than this fails rather than hanging the writer;
    // an abandoned transaction is ended by the server.
    let mut setup = String::from(
        "SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'",
    );
    if read_only {
        setup.push_str("; SET default_transaction_read_only = on");
    }
    client
        .batch_execute(&setup)
        .map_err(|e| StoreError::from(sql::Error::pg(e, &setup)))?;
    Ok(sql::PgSession::new(client))
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::connect(&Database::Sqlite(path.to_owned()))
    }

    /// Opens the database (creating a SQLite file if needed) and applies pending migrations.
    pub fn connect(database: &Database) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        let commits = std::sync::Arc::new(Histogram::default());
        let timed = commits.clone();
        let thread = match database {
            Database::Sqlite(path) => {
                let mut conn = open_connection(path, false)?;
                migrate::run(&mut conn)?;
                std::thread::Builder::new()
                    .name("xc-store-writer".into())
                    .spawn(move || writer_loop(conn, rx, &timed))
            }
            Database::Postgres(config) => {
                let session = off_runtime(|| {
                    let mut session = pg_connect(config, false)?;
                    migrate::run_postgres(session.client(), PG_MIGRATE_LOCK)?;
                    Ok::<_, StoreError>(session)
                })?;
                let config = (**config).clone();
                std::thread::Builder::new()
                    .name("xc-store-writer".into())
                    .spawn(move || pg_writer_loop(&config, Some(session), rx, &timed))
            }
        }
        .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            database: database.clone(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            read_permits: tokio::sync::Semaphore::new(READ_POOL),
            beside: Mutex::new(None),
            commits,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            closed: Default::default(),
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
            if let Err(e) = conn.batch(&["SAVEPOINT job"]) {
                let e = E::from(e.into());
                return Box::new(move |_| {
                    let _ = reply.send(Err(e));
                });
            }
            let result = f(&Db::new(conn));
            let end = if result.is_ok() && keep == Keep::IfOk {
                conn.batch(&["RELEASE job"])
            } else {
                conn.batch(&["ROLLBACK TO job", "RELEASE job"])
            };
            let result = match end {
                Ok(()) => result,
                Err(e) => Err(E::from(e.into())),
            };
            Box::new(move |commit: Commit| {
                let out = match commit {
                    Commit::Done => result,
                    Commit::Unwritable(u) => Err(E::from(StoreError::Unwritable(u))),
                    Commit::Unreachable(m) => Err(E::from(StoreError::Unreachable(m))),
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
    /// Runs `f` in a short write transaction of its own, beside the writer's queue and, on
    /// PostgreSQL, without the replicas' write lock: for a replica's heartbeat and the holder's
    /// lease renewal, which must not wait behind other writes (a leader whose renewal queued
    /// behind a burst of writes lost its lease under load). `f` may only make changes that are
    /// safe without that lock: single statements, on rows no writer's check depends on changing
    /// (a replica's own heartbeat row; [`Db::renew_lease`], which changes neither the lease's
    /// holder nor its token). On SQLite, the writer's queue, as any write.
    pub async fn write_beside<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, E> + Send + 'static,
    {
        let Database::Postgres(pg) = &self.database else {
            return self.write(f).await;
        };
        let pg = pg.clone();
        let held = self.beside.lock().ok().and_then(|mut s| s.take());
        let (session, result) = tokio::task::spawn_blocking(move || {
            let session = match held.filter(|s| !s.is_closed()) {
                Some(s) => s,
                None => match pg_connect(&pg, false) {
                    Ok(s) => s,
                    Err(e) => return (None, Err(E::from(e))),
                },
            };
            let cell = std::cell::RefCell::new(session);
            let conn = sql::Conn::postgres(&cell);
            let result = match conn.batch(&["BEGIN"]) {
                Err(e) => Err(E::from(StoreError::from(e))),
                Ok(()) => match f(&Db::new(conn)) {
                    Ok(r) => match conn.batch(&["SELECT 1", "COMMIT"]) {
                        Ok(()) => Ok(r),
                        Err(e) => Err(E::from(StoreError::from(e))),
                    },
                    Err(e) => Err(e),
                },
            };
            if result.is_err() {
                let _ = conn.batch(&["ROLLBACK"]);
            }
            (Some(cell.into_inner()), result)
        })
        .await
        .map_err(|_| E::from(StoreError::Closed))?;
        if let Some(s) = session.filter(|s| !s.is_closed())
            && let Ok(mut slot) = self.beside.lock()
        {
            *slot = Some(s);
        }
        result
    }

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
        let reader = self.take_reader().await.map_err(E::from)?;
        let (reader, result) = tokio::task::spawn_blocking(move || {
            let result = f(&Db::new(reader.conn()));
            (reader, result)
        })
        .await
        .map_err(|_| E::from(StoreError::Closed))?;
        if reader.healthy()
            && let Ok(mut pool) = self.readers.lock()
            && pool.len() < READ_POOL
        {
            pool.push(reader);
        }
        result
    }

    async fn take_reader(&self) -> Result<Reader, StoreError> {
        if let Some(c) = self.readers.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(c);
        }
        match &self.database {
            Database::Sqlite(path) => Ok(Reader::Lite(open_connection(path, true)?)),
            Database::Postgres(config) => {
                let config = config.clone();
                let session = tokio::task::spawn_blocking(move || pg_connect(&config, true))
                    .await
                    .map_err(|_| StoreError::Closed)??;
                Ok(Reader::Pg(Box::new(std::cell::RefCell::new(session))))
            }
        }
    }

    /// How long the commits took (each a batch of writes, made durable).
    pub fn commit_times(&self) -> &Histogram {
        &self.commits
    }

    /// Stops the writer after the queued writes are committed.
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
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

/// The jobs queued now, up to a batch.
fn next_batch(rx: &mpsc::Receiver<Job>) -> Option<Vec<Job>> {
    let first = rx.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn writer_loop(mut conn: rusqlite::Connection, rx: mpsc::Receiver<Job>, commits: &Histogram) {
    while let Some(batch) = next_batch(&rx) {
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
            completions.push(job(Ok(sql::Conn::sqlite(&tx))));
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
        finish(completions, commit);
    }
}

/// Answers a batch's waiters, after logging a failed commit once.
fn finish(completions: Vec<Completion>, commit: Commit) {
    match &commit {
        Commit::Done => {}
        Commit::Unwritable(u) => tracing::error!(
            "a commit of {} writes failed: {u}; nothing of them was written",
            completions.len()
        ),
        Commit::Unreachable(e) => tracing::error!(
            "a commit of {} writes failed: the database cannot be reached ({e}); nothing of them was written",
            completions.len()
        ),
        Commit::Failed(e) => tracing::error!(error = %e, "commit failed"),
    }
    for done in completions {
        done(commit.clone());
    }
}

/// The PostgreSQL writer: the same group commit, each batch one transaction that first takes
/// the cluster-wide write lock. A lost connection fails the batch (nothing of it committed) and
/// is opened again for the next one.
fn pg_writer_loop(
    config: &PgDatabase,
    mut session: Option<sql::PgSession>,
    rx: mpsc::Receiver<Job>,
    commits: &Histogram,
) {
    while let Some(batch) = next_batch(&rx) {
        if session.as_ref().is_none_or(sql::PgSession::is_closed) {
            session = match pg_connect(config, false) {
                Ok(s) => {
                    tracing::info!("reconnected to the database");
                    Some(s)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot reach the database");
                    for job in batch {
                        job(Err(&e))(Commit::Done);
                    }
                    continue;
                }
            };
        }
        let Some(s) = session.take() else { continue };
        let cell = std::cell::RefCell::new(s);
        let conn = sql::Conn::postgres(&cell);
        let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})");
        if let Err(e) = conn.batch(&[&begin]) {
            let e = StoreError::from(e);
            tracing::error!(error = %e, "cannot begin a write transaction");
            let _ = conn.batch(&["ROLLBACK"]);
            for job in batch {
                job(Err(&e))(Commit::Done);
            }
            session = Some(cell.into_inner());
            continue;
        }
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        let mut lost: Option<StoreError> = None;
        for job in batch {
            if let Some(e) = &lost {
                completions.push(job(Err(e)));
                continue;
            }
            completions.push(job(Ok(conn)));
            if cell.borrow().is_closed() {
                lost = Some(StoreError::Unreachable(
                    "the connection closed during the transaction".into(),
                ));
            }
        }
        let commit = match lost {
            Some(StoreError::Unreachable(why)) => Commit::Unreachable(why),
            Some(e) => Commit::Failed(e.to_string()),
            None => {
                let began = std::time::Instant::now();
                // A transaction that failed in a way no savepoint undid cannot commit (and
                // PostgreSQL would answer COMMIT with a rollback, not an error): ask first.
                let c = match conn.batch(&["SELECT 1", "COMMIT"]) {
                    Ok(()) => Commit::Done,
                    Err(e) => {
                        let _ = conn.batch(&["ROLLBACK"]);
                        match StoreError::from(e) {
                            StoreError::Unreachable(m) => Commit::Unreachable(m),
                            e => Commit::Failed(e.to_string()),
                        }
                    }
                };
                commits.observe(began.elapsed());
                c
            }
        };
        session = Some(cell.into_inner());
        finish(completions, commit);
    }
}

#[cfg(test)]
mod tests;
