//! BGP-4, sans-IO. This first part is the message codec: every message type, capabilities in
//! either OPEN layout, 4-octet AS numbers, multiprotocol IPv4/IPv6 unicast, and decode errors that
//! carry the NOTIFICATION (code, subcode) to answer them with. The FSM, RIBs and policy build on it.

pub mod message;

pub use message::{
    AsPathSegment, Attribute, Capability, DecodeError, Message, Notification, Open, Origin,
    RouteRefresh, Update,
};
