//! One configured neighbour: its [`Session`] and the TCP connections to it, sans-IO. The driver
//! owns the sockets and names each connection with a [`ConnId`]; it reports connections made or
//! accepted, bytes read and connections closed, and carries out the [`Output`]s (connect, send
//! on a connection, close a connection). Time is an argument.
//!
//! The decisions that need more than one connection live here:
//! - connection collisions (RFC 4271 6.8): while the session has no connection, an incoming one
//!   is taken and a connect in flight is abandoned; while it has one in OpenSent or OpenConfirm,
//!   a second one gets our OPEN too and waits until the peer's BGP identifier is known, then the
//!   connection opened by the speaker with the higher identifier stays and the other gets Cease /
//!   Connection Collision Resolution; a session that reached Established meanwhile keeps its
//!   connection;
//! - a restarting peer: a connection from the peer while the session is Established counts only
//!   if an OPEN arrives on it. That OPEN is decoded, and the peer is known to have restarted
//!   ([`PeerEvent::Restarted`], with whether it announced graceful restart, RFC 4724); the new
//!   connection replaces the old one, whose routes the session keeps as stale when graceful
//!   restart was negotiated.
//!
//! Calling contract: after any call, drain [`Peer::poll_output`] and [`Peer::poll_event`] until
//! both are empty; ask for UPDATEs with [`Peer::poll_update`] only while the connection's writer
//! has room (so a peer that stops reading holds no backlog); sleep until [`Peer::poll_timeout`].

use crate::message::codes::CeaseSubcode;
use crate::message::{Capability, Message, Notification};
use crate::session::{Action, Config, Event, Session, State};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

/// The driver's name for a TCP connection.
pub type ConnId = u64;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the neighbour; report it with [`Peer::connect_done`] and this
    /// attempt number.
    Connect { attempt: u64 },
    /// Write these bytes on the connection.
    Send(ConnId, Vec<u8>),
    /// Close the connection once what was sent on it is written.
    Close(ConnId),
}

/// What happened, for the driver to act on or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// The session's own events (state changes, routes, NOTIFICATIONs).
    Session(Event),
    /// The session's connection closed without a NOTIFICATION, in this state.
    ConnectionLost { state: State, error: Option<String> },
    /// A connect attempt failed.
    ConnectFailed(String),
    /// The peer opened a new session while ours was Established: it restarted. `graceful`: its
    /// OPEN announces graceful restart.
    Restarted { graceful: bool },
    /// Two connections collided; `closed` got Cease / Connection Collision Resolution.
    CollisionResolved { kept: ConnId, closed: ConnId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conn {
    id: ConnId,
    /// Opened by us.
    outgoing: bool,
    /// Our address on it (the next hop of what we export).
    local: IpAddr,
}

/// Bytes held for a connection that is not the session's yet.
const HELD_MAX: usize = 64 * 1024;

#[derive(Debug)]
pub struct Peer {
    session: Session,
    conn: Option<Conn>,
    /// A second connection before Established, with what was read on it: our OPEN was sent on
    /// it so that the peer answers with its own.
    pending: Option<(Conn, Vec<u8>)>,
    /// A connection from the peer while Established, with what was read on it.
    waiting: Option<(Conn, Vec<u8>)>,
    /// The connect in flight, if any (older attempts are ignored).
    attempt: Option<u64>,
    next_attempt: u64,
    outputs: VecDeque<Output>,
    events: VecDeque<PeerEvent>,
    /// The time of the latest call that brought one: what the session's consequences that come
    /// out of `poll_*` (a collision decided, a pending connection adopted) happen at.
    now: Instant,
}

impl Peer {
    pub fn new(cfg: Config, now: Instant) -> Self {
        Self {
            now,
            session: Session::new(cfg),
            conn: None,
            pending: None,
            waiting: None,
            attempt: None,
            next_attempt: 1,
            outputs: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, to change its policies or exports; drain the outputs afterwards.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The session's connection.
    pub fn connection(&self) -> Option<ConnId> {
        self.conn.map(|c| c.id)
    }

    pub fn start(&mut self, now: Instant) {
        self.now = now;
        self.session.start(now);
    }

    /// Stops the session (Cease / Administrative Shutdown when it is up) and closes every
    /// connection.
    pub fn stop(&mut self, now: Instant) {
        self.now = now;
        self.session.stop(now);
        self.drop_spare();
    }

    /// The neighbour is removed from the configuration: Cease / Peer De-configured when the
    /// session is up, every connection closed.
    pub fn deconfigure(&mut self, now: Instant) {
        self.now = now;
        if let Some(c) = self.conn.take() {
            if matches!(
                self.session.state(),
                State::OpenSent | State::OpenConfirm | State::Established
            ) {
                self.send(c.id, Notification::cease(CeaseSubcode::PeerDeconfigured));
            }
            self.outputs.push_back(Output::Close(c.id));
        }
        self.session.disconnected(now);
        self.session.stop(now);
        self.drop_spare();
    }

    fn drop_spare(&mut self) {
        for (c, _) in [self.pending.take(), self.waiting.take()]
            .into_iter()
            .flatten()
        {
            self.outputs.push_back(Output::Close(c.id));
        }
    }

    /// A connection the neighbour opened to us.
    pub fn accepted(&mut self, now: Instant, id: ConnId, local: IpAddr) {
        self.now = now;
        let c = Conn {
            id,
            outgoing: false,
            local,
        };
        match (self.session.state(), self.conn) {
            (State::Idle, _) => self.reject(c, CeaseSubcode::ConnectionRejected),
            (_, None) => {
                self.attempt = None;
                self.adopt(now, c, Vec::new(), false);
            }
            (State::OpenSent | State::OpenConfirm, Some(cur)) if cur.outgoing => {
                self.second_connection(now, c);
            }
            (State::Established, Some(_)) => {
                // RFC 4271 6.8: the established session stays; the new connection counts only
                // if an OPEN arrives on it (the peer restarted).
                if let Some((old, _)) = self.waiting.replace((c, Vec::new())) {
                    self.outputs.push_back(Output::Close(old.id));
                }
            }
            _ => {
                // A second connection from the peer before Established: it gave up on the
                // first one.
                self.replace(now, c, Vec::new(), false, None);
            }
        }
    }

    /// The result of the connect attempt `attempt`: the connection and our address on it, or
    /// why it failed.
    pub fn connect_done(
        &mut self,
        now: Instant,
        attempt: u64,
        result: Result<(ConnId, IpAddr), String>,
    ) {
        self.now = now;
        if self.attempt != Some(attempt) {
            // Abandoned: an incoming connection was taken meanwhile.
            if let Ok((id, _)) = result {
                self.outputs.push_back(Output::Close(id));
            }
            return;
        }
        self.attempt = None;
        let (id, local) = match result {
            Ok(x) => x,
            Err(e) => {
                self.events.push_back(PeerEvent::ConnectFailed(e));
                return;
            }
        };
        let c = Conn {
            id,
            outgoing: true,
            local,
        };
        match self.session.state() {
            // Not wanted (the peer drops it when it sees no OPEN).
            State::Idle | State::Established => self.outputs.push_back(Output::Close(id)),
            _ if self.conn.is_some() => self.second_connection(now, c),
            _ => self.adopt(now, c, Vec::new(), false),
        }
    }

    /// Bytes read on a connection.
    pub fn bytes(&mut self, now: Instant, id: ConnId, data: &[u8]) {
        self.now = now;
        if self.conn.is_some_and(|c| c.id == id) {
            self.session.handle_bytes(now, data);
            return;
        }
        if let Some((c, held)) = &mut self.pending
            && c.id == id
        {
            if held.len() + data.len() <= HELD_MAX {
                held.extend_from_slice(data);
            }
            return;
        }
        let Some((c, held)) = &mut self.waiting else {
            return;
        };
        if c.id != id {
            return;
        }
        if held.len() + data.len() > HELD_MAX {
            return;
        }
        held.extend_from_slice(data);
        let complete = match Message::peek_len(held) {
            Ok(Some(l)) if held.len() >= l => Some(Message::decode(&held[..l])),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        match complete {
            None => {}
            Some(Ok(Message::Open(open))) => {
                let graceful = open
                    .capabilities
                    .iter()
                    .any(|c| matches!(c, Capability::GracefulRestart { .. }));
                self.events.push_back(PeerEvent::Restarted { graceful });
                if let Some((c, held)) = self.waiting.take() {
                    self.replace(now, c, held, false, None);
                }
            }
            // Anything but an OPEN first: not a new session.
            Some(_) => {
                if let Some((c, _)) = self.waiting.take() {
                    self.outputs.push_back(Output::Close(c.id));
                }
            }
        }
    }

    /// A connection closed (by the peer, or failed).
    pub fn closed(&mut self, now: Instant, id: ConnId, error: Option<String>) {
        self.now = now;
        if self.conn.is_some_and(|c| c.id == id) {
            self.conn = None;
            let was = self.session.state();
            self.session.disconnected(now);
            self.flush();
            if was != State::Connect {
                self.events
                    .push_back(PeerEvent::ConnectionLost { state: was, error });
            }
            if let Some((c, held)) = self.pending.take() {
                self.adopt(now, c, held, true);
            } else if let Some((c, held)) = self.waiting.take() {
                self.adopt(now, c, held, false);
            }
        } else if self.pending.as_ref().is_some_and(|(c, _)| c.id == id) {
            self.pending = None;
        } else if self.waiting.as_ref().is_some_and(|(c, _)| c.id == id) {
            self.waiting = None;
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    /// The next thing to do: control messages of the session on its connection, connects,
    /// closes.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(o) = self.outputs.pop_front() {
                return Some(o);
            }
            if let Some(bytes) = self.session.poll_transmit() {
                match self.conn {
                    Some(c) => return Some(Output::Send(c.id, bytes)),
                    None => continue,
                }
            }
            match self.session.poll_action()? {
                Action::Connect => {
                    if self.conn.is_none() && self.attempt.is_none() {
                        let attempt = self.next_attempt;
                        self.next_attempt += 1;
                        self.attempt = Some(attempt);
                        return Some(Output::Connect { attempt });
                    }
                }
                Action::Close => {
                    if let Some(c) = self.conn.take() {
                        self.outputs.push_back(Output::Close(c.id));
                    }
                    // The pending connection is all that is left.
                    if let Some((c, held)) = self.pending.take() {
                        if self.session.state() == State::Connect {
                            self.adopt(self.now, c, held, true);
                        } else {
                            self.outputs.push_back(Output::Close(c.id));
                        }
                    }
                }
            }
        }
    }

    /// The next UPDATE for the session's connection, when the driver can write it.
    pub fn poll_update(&mut self) -> Option<(ConnId, Vec<u8>)> {
        let c = self.conn?;
        self.session.poll_update().map(|u| (c.id, u))
    }

    /// Whether UPDATEs wait for room on the connection.
    pub fn wants_to_send(&self) -> bool {
        self.conn.is_some() && self.session.wants_to_send()
    }

    /// What happened, the session's events included. A session that reaches OpenConfirm
    /// decides a pending collision here.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let e = self.session.poll_event()?;
        if let Event::StateChange {
            to: State::OpenConfirm,
            ..
        } = e
        {
            self.resolve_collision();
        }
        Some(PeerEvent::Session(e))
    }

    fn send(&mut self, id: ConnId, n: Notification) {
        self.outputs
            .push_back(Output::Send(id, Message::Notification(n).encode()));
    }

    /// Refuses a connection with a Cease and closes it.
    fn reject(&mut self, c: Conn, why: CeaseSubcode) {
        self.send(c.id, Notification::cease(why));
        self.outputs.push_back(Output::Close(c.id));
    }

    /// What the session queued for its connection goes there before the connection changes.
    fn flush(&mut self) {
        while let Some(bytes) = self.session.poll_transmit() {
            if let Some(c) = self.conn {
                self.outputs.push_back(Output::Send(c.id, bytes));
            }
        }
    }

    /// Makes `c` the session's connection: the session sends its OPEN (unless `open_sent`), and
    /// what was read on the connection meanwhile is handed over.
    fn adopt(&mut self, now: Instant, c: Conn, held: Vec<u8>, open_sent: bool) {
        self.attempt = None;
        let (v4, v6) = match c.local {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) => (Some(m), None),
                None => (None, Some(a)),
            },
        };
        self.session.set_next_hops(v4, v6);
        self.conn = Some(c);
        if open_sent {
            self.session.connected_after_open(now);
        } else {
            self.session.connected(now);
        }
        if !held.is_empty() {
            self.session.handle_bytes(now, &held);
        }
    }

    /// Puts `c` in place of the session's connection, which is closed (with `reject`, a Cease
    /// first).
    fn replace(
        &mut self,
        now: Instant,
        c: Conn,
        held: Vec<u8>,
        open_sent: bool,
        reject: Option<CeaseSubcode>,
    ) {
        self.flush();
        if let Some(old) = self.conn.take() {
            match reject {
                Some(why) => self.reject(old, why),
                None => self.outputs.push_back(Output::Close(old.id)),
            }
        }
        self.session.disconnected(now);
        self.flush();
        self.adopt(now, c, held, open_sent);
    }

    /// A second connection before Established: our OPEN goes on it too, and the collision is
    /// decided as soon as the peer's identifier is known (at once in OpenConfirm).
    fn second_connection(&mut self, now: Instant, c: Conn) {
        self.outputs
            .push_back(Output::Send(c.id, self.session.open_message()));
        if let Some((old, _)) = self.pending.replace((c, Vec::new())) {
            self.reject(old, CeaseSubcode::ConnectionCollisionResolution);
        }
        if self.session.state() == State::OpenConfirm {
            self.resolve_collision_at(now);
        }
    }

    fn resolve_collision(&mut self) {
        self.resolve_collision_at(self.now);
    }

    /// RFC 4271 6.8: the connection that the speaker with the higher BGP identifier opened
    /// stays. A session that reached Established meanwhile keeps its connection, whatever the
    /// identifiers say: the peer has accepted it too.
    fn resolve_collision_at(&mut self, now: Instant) {
        let Some(peer_id) = self.session.peer_router_id() else {
            return;
        };
        let Some((c, held)) = self.pending.take() else {
            return;
        };
        let kept_current = |p: &mut Self, c: Conn| {
            if let Some(cur) = p.conn {
                p.events.push_back(PeerEvent::CollisionResolved {
                    kept: cur.id,
                    closed: c.id,
                });
            }
            p.reject(c, CeaseSubcode::ConnectionCollisionResolution);
        };
        if self.session.state() == State::Established {
            return kept_current(self, c);
        }
        let we_win = self.session.config().router_id > peer_id;
        if c.outgoing == we_win {
            if let Some(old) = self.conn {
                self.events.push_back(PeerEvent::CollisionResolved {
                    kept: c.id,
                    closed: old.id,
                });
            }
            self.replace(
                now,
                c,
                held,
                true,
                Some(CeaseSubcode::ConnectionCollisionResolution),
            );
        } else {
            kept_current(self, c);
        }
    }
}
