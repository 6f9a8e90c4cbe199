//! BGP-4, sans-IO: the message codec ([`message`]: every message type, capabilities in either
//! OPEN layout, 4-octet AS numbers, multiprotocol IPv4/IPv6 unicast, decode errors that carry the
//! NOTIFICATION to answer them with) and one session's FSM ([`session`]: timers, OPEN checks,
//! Adj-RIB-In through an import filter, max-prefix). The driver owns the TCP connection.

pub mod message;
pub mod session;

pub use message::{
    AsPathSegment, Attribute, Capability, DecodeError, Message, Notification, Open, Origin,
    RouteRefresh, Update,
};
