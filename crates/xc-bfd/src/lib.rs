//! BFD in asynchronous mode (RFC 5880) for single-hop sessions (RFC 5881), sans-IO: packets and
//! `now` in, packets, timer deadlines and state changes out. The driver owns the UDP socket (port
//! 3784, TTL 255) and the clock.
//!
//! Calling contract: feed every received control packet to [`Session::handle_packet`], call
//! [`Session::handle_timeout`] once [`Session::poll_timeout`] has passed, and after every call
//! drain [`Session::poll_transmit`] and [`Session::poll_event`]. A session going down is reported
//! at once, with its diagnostic, so BGP can withdraw routes over the link.

pub mod packet;
mod session;

pub use packet::{DecodeError, Diag, Packet, State};
pub use session::{Config, Event, Session};
