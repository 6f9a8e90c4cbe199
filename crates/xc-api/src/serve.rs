//! Serving the router on TCP (plain or TLS) with every client bounded in time and in number, so
//! that connections that send nothing, send their headers a byte at a time or declare a body they
//! never send cannot starve the clients that do their work:
//!
//! - a connection waiting for its next request is closed after [`Limits::idle`]; once the first
//!   byte of a request has come, its headers must be complete within [`Limits::header`] (and a
//!   TLS handshake within the same time); a body must arrive within [`Limits::body`]
//!   (`read_body`, answered 408);
//! - at most [`Limits::max_connections`] connections, and [`Limits::max_per_address`] from one
//!   address: a new connection over either takes the place of the one idle the longest (no
//!   request in flight), or, when every one is busy, is answered 503 and closed at once;
//! - an accept that fails for want of file descriptors closes an idle connection and goes on.
//!
//! ```text
//!  accept loop ──admit (table: id → address, activity, kill)──► per connection: hyper (h1/h2)
//!                                                                  + watchdog (1 s ticks)
//! ```

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

/// How long and how many clients may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the first byte of a request (or of a TLS handshake) to the end of its headers.
    pub header: Duration,
    /// For a request's whole body.
    pub body: Duration,
    /// A connection with no request in flight and none begun.
    pub idle: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            max_connections: 1024,
            max_per_address: 256,
        }
    }
}

impl Limits {
    /// The limits for a process that may hold `open_files` descriptors: connections leave room
    /// for the database, the log and the listener.
    pub fn for_open_files(open_files: u64) -> Self {
        let usable = usize::try_from(open_files.saturating_sub(64)).unwrap_or(usize::MAX);
        let max_connections = usable.clamp(16, 16_384);
        Self {
            max_connections,
            max_per_address: (max_connections / 4).max(8),
            ..Self::default()
        }
    }
}

/// What a connection is doing, as its watchdog and the admission of others see it.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Requests being handled.
    in_flight: AtomicUsize,
    /// Milliseconds since `start` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds since `start` (plus one) of the first byte read while idle: a request (or
    /// a TLS handshake) has begun; 0 when none has.
    head_since: AtomicU64,
    /// Whether a request has been answered on it.
    served: std::sync::atomic::AtomicBool,
}

/// How long a new connection that has had no request yet is not taken for an idle one.
const NEW_CONNECTION_GRACE_MS: u64 = 1_000;

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(0, Ordering::SeqCst);
    }

    fn end(&self) {
        self.served.store(true, Ordering::SeqCst);
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle_since.store(self.now_ms(), Ordering::SeqCst);
        }
    }

    fn read_some(&self) {
        self.read_some_at(self.now_ms());
    }

    fn read_some_at(&self, now: u64) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let _ =
                self.head_since
                    .compare_exchange(0, now + 1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Why the connection should be closed now, if it should.
    fn overdue(&self, limits: &Limits) -> Option<&'static str> {
        self.overdue_at(limits, self.now_ms())
    }

    fn overdue_at(&self, limits: &Limits, now: u64) -> Option<&'static str> {
        if self.busy() {
            return None;
        }
        let head = self.head_since.load(Ordering::SeqCst);
        if head != 0 && now.saturating_sub(head - 1) > millis(limits.header) {
            return Some("its request headers took too long");
        }
        if head == 0
            && now.saturating_sub(self.idle_since.load(Ordering::SeqCst)) > millis(limits.idle)
        {
            return Some("it was idle too long");
        }
        None
    }

    /// How long it has been idle, for choosing whom to close; `None` while busy, while a request
    /// has begun, and for a new connection in its first second that has not had a request yet
    /// (its first bytes may be on their way to being read: a client that connects and sends at
    /// once must not be taken for an idle one).
    fn idle_for(&self) -> Option<u64> {
        self.idle_for_at(self.now_ms())
    }

    fn idle_for_at(&self, now: u64) -> Option<u64> {
        let served = self.served.load(Ordering::SeqCst);
        let new = !served && now < NEW_CONNECTION_GRACE_MS;
        (!self.busy() && self.head_since.load(Ordering::SeqCst) == 0 && !new)
            .then(|| now.saturating_sub(self.idle_since.load(Ordering::SeqCst)))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's stream, noting reads for its watchdog.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

struct Entry {
    address: IpAddr,
    activity: Arc<Activity>,
    kill: Arc<Notify>,
}

/// The open connections.
#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

enum Admission {
    Admitted { id: u64, kill: Arc<Notify> },
    Refused,
}

impl Table {
    /// Makes room for a connection from `address` (closing the idlest connection in its way)
    /// and admits it, or refuses it when every connection in the way is busy.
    fn admit(&mut self, address: IpAddr, activity: &Arc<Activity>, limits: &Limits) -> Admission {
        let from_address = self.open.values().filter(|e| e.address == address).count();
        if from_address >= limits.max_per_address && !self.close_idlest(Some(address)) {
            return Admission::Refused;
        }
        if self.open.len() >= limits.max_connections && !self.close_idlest(None) {
            return Admission::Refused;
        }
        self.next += 1;
        let kill = Arc::new(Notify::new());
        self.open.insert(
            self.next,
            Entry {
                address,
                activity: activity.clone(),
                kill: kill.clone(),
            },
        );
        Admission::Admitted {
            id: self.next,
            kill,
        }
    }

    /// Closes the connection idle the longest (of `address`, if given); whether there was one.
    fn close_idlest(&mut self, address: Option<IpAddr>) -> bool {
        let victim = self
            .open
            .iter()
            .filter(|(_, e)| address.is_none_or(|a| e.address == a))
            .filter_map(|(id, e)| e.activity.idle_for().map(|t| (t, *id)))
            .max()
            .map(|(_, id)| id);
        match victim.and_then(|id| self.open.remove(&id)) {
            Some(e) => {
                e.kill.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// lets the requests in flight finish (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors: make room by closing the idlest connection.
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    let closed = table.lock().is_ok_and(|mut t| t.close_idlest(None));
                    tracing::warn!(
                        closed_an_idle_one = closed,
                        "out of file descriptors accepting a connection"
                    );
                } else {
                    tracing::warn!(error = %e, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let activity = Arc::new(Activity::new());
        let admission = match table.lock() {
            Ok(mut t) => t.admit(peer.ip(), &activity, &limits),
            Err(_) => Admission::Refused,
        };
        let Admission::Admitted { id, kill } = admission else {
            tracing::warn!(%peer, "connection refused: every connection in the way is busy");
            if tls.is_none() {
                tasks.spawn(refuse(stream));
            }
            continue;
        };
        let conn = Connection {
            router: router.clone(),
            activity,
            kill,
            limits,
            peer,
            stop: stop_rx.clone(),
        };
        let (table, tls) = (table.clone(), tls.clone());
        tasks.spawn(async move {
            let _ = stream.set_nodelay(true);
            conn.run(stream, tls).await;
            if let Ok(mut t) = table.lock() {
                t.open.remove(&id);
            }
        });
    }
    let _ = stop_tx.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after 10 s; stopping anyway");
    }
    Ok(())
}

/// Answers a connection there is no room for, at once.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::json!({
        "code": "ServiceUnavailableException",
        "message": "the server has no room for another connection now; retry shortly",
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Write the answer, then read (and drop) what the client sends for a moment before closing:
    // closing with its request unread would reset the connection and lose the answer.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let mut left: usize = 64 << 10;
        while left > 0 {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

struct Connection {
    router: Router,
    activity: Arc<Activity>,
    kill: Arc<Notify>,
    limits: Limits,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
        let watched = Watched {
            inner: stream,
            activity: self.activity.clone(),
        };
        match tls {
            None => self.http(watched).await,
            Some(acceptor) => {
                // The handshake is bounded like request headers.
                match tokio::time::timeout(self.limits.header, acceptor.accept(watched)).await {
                    Ok(Ok(s)) => self.http(s).await,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake took too long"),
                }
            }
        }
    }

    async fn http<S>(self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            router,
            activity,
            kill,
            limits,
            peer,
            mut stop,
        } = self;
        let counted = activity.clone();
        let service =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let (router, counted) = (router.clone(), counted.clone());
                counted.begin();
                async move {
                    let response = router.oneshot(req.map(axum::body::Body::new)).await;
                    counted.end();
                    response
                }
            });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut stopping = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = kill.notified() => {
                    tracing::debug!(%peer, "idle connection closed to make room");
                    return;
                }
                Ok(()) = stop.changed(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = tick.tick() => {
                    if let Some(why) = activity.overdue(&limits) {
                        tracing::debug!(%peer, "connection closed: {why}");
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_per_address: usize) -> Limits {
        Limits {
            max_connections,
            max_per_address,
            ..Limits::default()
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn a_new_connection_takes_the_place_of_the_idlest_and_busy_ones_stay() {
        let mut t = Table::default();
        let l = limits(3, 2);
        let busy = Arc::new(Activity::new());
        busy.begin();
        let idle = Arc::new(Activity::new());
        idle.begin();
        idle.end();
        // Not a candidate: new, no request yet (its first bytes may be about to be read).
        let fresh = Activity::new();
        assert_eq!(fresh.idle_for_at(10), None);
        assert!(fresh.idle_for_at(NEW_CONNECTION_GRACE_MS + 10).is_some());
        fresh.read_some_at(NEW_CONNECTION_GRACE_MS + 20);
        assert_eq!(
            fresh.idle_for_at(NEW_CONNECTION_GRACE_MS + 30),
            None,
            "its request began"
        );
        assert!(matches!(t.admit(A, &busy, &l), Admission::Admitted { .. }));
        assert!(matches!(t.admit(A, &idle, &l), Admission::Admitted { .. }));
        // A's third: the idle one makes room; the busy one stays.
        let third = Arc::new(Activity::new());
        third.begin();
        assert!(matches!(t.admit(A, &third, &l), Admission::Admitted { .. }));
        assert_eq!(t.open.len(), 2);
        assert!(t.open.values().all(|e| e.activity.busy()));
        // A's fourth: both of A's are busy.
        assert!(matches!(
            t.admit(A, &Arc::new(Activity::new()), &l),
            Admission::Refused
        ));
        // Another address still gets in, up to the total.
        assert!(matches!(
            t.admit(B, &Arc::new(Activity::new()), &l),
            Admission::Admitted { .. }
        ));
        assert_eq!(t.open.len(), 3);
    }

    #[test]
    fn limits_follow_the_file_limit() {
        let l = Limits::for_open_files(256);
        assert_eq!((l.max_connections, l.max_per_address), (192, 48));
        let l = Limits::for_open_files(20);
        assert_eq!((l.max_connections, l.max_per_address), (16, 8));
    }

    #[test]
    fn a_begun_request_must_finish_its_headers_and_an_idle_one_waits_longer() {
        let l = Limits {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            ..Limits::default()
        };
        let a = Activity::new();
        assert_eq!(a.overdue_at(&l, 59_000), None, "idle, within its time");
        a.read_some_at(59_000);
        assert_eq!(
            a.overdue_at(&l, 68_000),
            None,
            "a request begun, headers within 10 s"
        );
        assert_eq!(
            a.overdue_at(&l, 69_500),
            Some("its request headers took too long")
        );
        a.begin();
        assert_eq!(
            a.overdue_at(&l, 999_000),
            None,
            "a request in flight is never cut"
        );
        a.end();
        let ended = a.idle_since.load(Ordering::SeqCst);
        assert_eq!(a.overdue_at(&l, ended + 60_000), None);
        assert_eq!(
            a.overdue_at(&l, ended + 60_001),
            Some("it was idle too long")
        );
    }
}
