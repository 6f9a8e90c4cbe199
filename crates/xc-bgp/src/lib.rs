//! BGP-4, sans-IO: the message codec ([`message`]: every message type, capabilities in either
//! OPEN layout, 4-octet AS numbers, multiprotocol IPv4/IPv6 unicast, decode errors that carry the
//! NOTIFICATION to answer them with, the protocol's codes as enums and in words), one session's
//! FSM ([`session`]: timers, OPEN checks, Adj-RIB-In through the import policy, max-prefix,
//! Adj-RIB-Out sent as the peer reads, route refresh, graceful restart), one neighbour and its
//! TCP connections ([`peer`]: collision resolution, a restarting peer recognised from its OPEN),
//! the import policy ([`policy`]: prefix lists with length ranges, local preference from
//! communities) and the Loc-RIB with the decision process and multipath ([`rib`]). The driver owns
//! the sockets and the clock.

pub mod message;
pub mod peer;
pub mod policy;
pub mod rib;
pub mod session;

pub use message::{
    AsPathSegment, Attribute, Capability, DecodeError, Message, Notification, Open, Origin,
    RouteRefresh, Update,
};
