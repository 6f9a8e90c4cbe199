//! Link I/O for the gateway: a TAP device on one side, VXLAN over UDP on the other, every frame
//! protected with MACsec in between.
//!
//! ```text
//!  to the peer:   TAP read ─► shaper ─► SecY protect ─► VXLAN header ─► UDP send
//!  from the peer: UDP recv ─► VXLAN decode ─┬─ EtherType 888E (MKPDU), 88B5 (path-MTU probe)
//!                                           │     ─► control channel (to the gateway)
//!                                           └─ MACsec ─► policer ─► SecY validate
//!                                                ─► coalescer (TCP segments joined) ─► TAP write
//! ```
//! One thread per link (or per worker, with several cores per link: [`lanes`]) does both, in
//! bounded bursts, and owns both halves of its SecY (the transmit SA, the receive SAs), so the
//! packet path takes no lock but the shaper's when a rate is set; key changes arrive on channels
//! checked between bursts. Buffers are allocated once. Counters are atomics.
//!
//! It also makes 802.1Q VLAN sub-interfaces in user space ([`access`]): the customer-facing side of
//! a provider edge, where the kernel may have no VLAN devices.
//!
//! What this crate does not do: key agreement (the gateway drives `xc_macsec::mka` and installs
//! the SAs through [`link::LinkHandle`]), routing, or anything about configuration files.

pub mod access;
pub mod busy_poll;
pub mod checksum;
pub mod counters;
pub mod dot1q;
pub mod icmp;
pub mod idle_poll;
pub mod lanes;
pub mod link;
pub mod liveness;
pub mod mtu;
pub mod offload;
pub mod packet;
pub mod pathmtu;
pub mod policer;
pub mod segment;
pub mod stamp;
pub mod vxlan;

pub use access::{Access, AccessConfig, AccessSnapshot};
pub use counters::{CounterSnapshot, LinkCounters};
pub use idle_poll::IdlePoll;
pub use link::{Link, LinkConfig, LinkHandle};

/// Whether an I/O error only means "nothing there yet" (a non-blocking read with nothing queued,
/// or a signal): the caller tries again later.
pub(crate) fn nothing_yet(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}
