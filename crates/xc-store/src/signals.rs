//! Signals between replicas: PostgreSQL's LISTEN/NOTIFY.
//!
//! A replica that changed something others wait on tells them with [`Store::signal`] (a
//! `pg_notify` after the change is committed, so a replica woken by it reads the change). Each
//! replica holds one more connection that listens ([`Store::listen`]) and hands every signal from
//! another replica to a callback. A replica's own signals are skipped: it woke its own waiters
//! already. When the listening connection is lost, it is opened again, and every signal is
//! delivered once then, for what may have been said while nobody listened.
//!
//! A signal may name what it is about ([`Store::signal_about`]: the gateways whose configuration
//! changed), so that a replica wakes only the blocking queries it concerns. The payload is the
//! sender's instance id, then the names, separated by spaces; a name never holds one.
//!
//! On SQLite there is nobody to tell: one server owns the file.

use crate::{Database, Store, StoreError};
use postgres::fallible_iterator::FallibleIterator;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one replica tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Some gateway's configuration may have changed: blocking queries read it again.
    ConfigChanged,
    /// The leader's planner has work (a connection accepted, changed or deleted).
    Work,
    /// A gateway answered a request another replica may be waiting for ([`crate::AskKind`]).
    Answered,
}

/// A signal heard from another replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub signal: Signal,
    /// What it is about, when the sender said (for [`Signal::ConfigChanged`]: gateway ids);
    /// `None` is about everything.
    pub about: Option<Vec<String>>,
}

/// The most bytes of names one signal carries: PostgreSQL refuses a payload of 8,000 bytes or
/// more, and a signal about more is sent as one about everything.
const MAX_ABOUT_BYTES: usize = 7_000;

impl Signal {
    pub const ALL: [Self; 3] = [Self::ConfigChanged, Self::Work, Self::Answered];

    /// The PostgreSQL channel it is sent on.
    pub fn channel(self) -> &'static str {
        match self {
            Self::ConfigChanged => "xconnect_config",
            Self::Work => "xconnect_work",
            Self::Answered => "xconnect_answered",
        }
    }

    fn from_channel(channel: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.channel() == channel)
    }
}

/// How long the listener blocks before it looks whether the store was closed.
const LISTEN_TICK: Duration = Duration::from_secs(1);
/// How often an idle listening connection is checked (a peer that vanished without closing the
/// TCP connection sends nothing either).
const LISTEN_PROBE: Duration = Duration::from_secs(5);
/// How long to wait before opening a lost listening connection again.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

impl Store {
    /// Whether other servers may share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.database, Database::Postgres(_))
    }

    /// Tells the other replicas (nothing to do on SQLite).
    pub async fn signal(&self, signal: Signal) -> Result<(), StoreError> {
        self.signal_about(signal, &[]).await
    }

    /// Tells the other replicas, naming what the signal is about (none: everything). Names must
    /// not hold whitespace; too many to fit a payload are sent as everything.
    pub async fn signal_about(&self, signal: Signal, about: &[String]) -> Result<(), StoreError> {
        if !self.is_shared() {
            return Ok(());
        }
        let mut payload = self.instance.clone();
        let size: usize = about.iter().map(|a| a.len() + 1).sum();
        if size <= MAX_ABOUT_BYTES && about.iter().all(|a| !a.contains(char::is_whitespace)) {
            for a in about {
                payload.push(' ');
                payload.push_str(a);
            }
        }
        self.read(move |db| {
            db.conn.query_row(
                "SELECT pg_notify(?1, ?2)",
                [signal.channel(), payload.as_str()],
                |_| Ok(()),
            )?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    /// Calls `on` with every signal another replica sends, on a thread of its own, until the
    /// store is closed. Does nothing on SQLite; `false` then.
    pub fn listen(&self, on: impl Fn(Heard) + Send + 'static) -> Result<bool, StoreError> {
        let Database::Postgres(config) = &self.database else {
            return Ok(false);
        };
        let config = (**config).clone();
        let (origin, closed) = (self.instance.clone(), self.closed.clone());
        std::thread::Builder::new()
            .name("xc-store-listen".into())
            .spawn(move || listen_loop(&config, &origin, &closed, &on))
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(true)
    }
}

fn listen_loop(
    config: &crate::PgDatabase,
    origin: &str,
    closed: &Arc<AtomicBool>,
    on: &dyn Fn(Heard),
) {
    let mut lost = false;
    while !closed.load(Ordering::Relaxed) {
        match listen_once(config, origin, closed, on, &mut lost) {
            Ok(()) => return,
            Err(e) => {
                if !lost {
                    tracing::warn!(error = %e, "lost the connection that listens to other replicas; opening it again");
                }
                lost = true;
                std::thread::sleep(LISTEN_RETRY);
            }
        }
    }
}

/// One listening connection, until it is lost (`Err`) or the store is closed (`Ok`). `lost`
/// says whether an earlier one was lost (and is cleared once this one listens), so that each
/// outage is logged once.
fn listen_once(
    config: &crate::PgDatabase,
    origin: &str,
    closed: &AtomicBool,
    on: &dyn Fn(Heard),
    lost: &mut bool,
) -> Result<(), String> {
    let e = |e: postgres::Error| e.to_string();
    let mut client = config.connect().map_err(e)?;
    let listen: Vec<String> = Signal::ALL
        .iter()
        .map(|s| format!("LISTEN {}", s.channel()))
        .collect();
    client.batch_execute(&listen.join("; ")).map_err(e)?;
    if std::mem::take(lost) {
        tracing::info!("listening to other replicas again");
        // What was said while nobody listened is not known: act as if all of it was.
        for signal in Signal::ALL {
            on(Heard {
                signal,
                about: None,
            });
        }
    }
    let mut probed = Instant::now();
    loop {
        if closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        {
            let mut notifications = client.notifications();
            let mut heard = notifications.timeout_iter(LISTEN_TICK);
            while let Some(n) = heard.next().map_err(e)? {
                let mut words = n.payload().split(' ');
                if words.next() != Some(origin)
                    && let Some(signal) = Signal::from_channel(n.channel())
                {
                    let about: Vec<String> = words.map(str::to_owned).collect();
                    on(Heard {
                        signal,
                        about: (!about.is_empty()).then_some(about),
                    });
                }
            }
        }
        if client.is_closed() {
            return Err("the server closed the connection".into());
        }
        if probed.elapsed() >= LISTEN_PROBE {
            client.is_valid(LISTEN_PROBE).map_err(e)?;
            probed = Instant::now();
        }
    }
}
