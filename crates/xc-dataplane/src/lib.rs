//! Link I/O for the gateway: a TAP device on one side, VXLAN over UDP on the other, every frame
//! protected with MACsec in between (DESIGN.md section 4).
//!
//! ```text
//!  TX thread: TAP read ─► policer ─► SecY protect ─► VXLAN header ─► UDP send to the peer
//!  RX thread: UDP recv ─► VXLAN decode ─┬─ EtherType 888E (MKPDU) ─► control channel (to MKA)
//!                                       └─ MACsec ─► policer ─► SecY validate ─► TAP write
//! ```
//! Each thread owns its half of the SecY (the TX thread the transmit SA, the RX thread the receive
//! SAs), so the packet path takes no lock; key changes and rate changes arrive on channels checked
//! between frames. Buffers are allocated once per thread. Counters are atomics.
//!
//! What this crate does not do: key agreement (the gateway drives `xc_macsec::mka` and installs
//! the SAs through [`link::LinkHandle`]), routing, or anything about configuration files.

pub mod counters;
pub mod link;
pub mod mtu;
pub mod policer;
pub mod vxlan;

pub use counters::{CounterSnapshot, LinkCounters};
pub use link::{Link, LinkConfig, LinkHandle};
