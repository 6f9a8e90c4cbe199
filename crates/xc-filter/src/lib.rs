//! Security groups and network ACLs at the connection edge, sans-IO: bytes and milliseconds in,
//! verdicts and counters out.
//!
//! ```text
//!  frame ─► parse (addresses, protocol, ports, flags, fragment, quoted flow of an ICMP error)
//!        ─► network ACL (stateless, lowest number first, implicit deny)
//!        ─► security groups: tracked flow? pass : allow rule? track and pass : drop
//! ```
//! The policy is compiled ([`classify::Compiled`]) into a trie per stage and direction, so a
//! lookup looks only at the rules whose prefix holds the packet's peer. The connection table
//! ([`conntrack::Conntrack`]) is bounded and shared by every link of the attach point on one
//! gateway. [`evaluate`] answers "would this pass?" with the same lookups the data plane makes.
//!
//! Flow logs ([`flowlog`]): a link's view sums the packets it judged per flow and verdict over
//! a window, and hands the window's records to the filter's bounded queue for the gateway.
//!
//! What this crate does not do: read packets from anywhere, keep time, or know about links,
//! connections or the API; the gateway's link threads call [`Filter::check`] (through a
//! [`View`]) after decryption and before encryption.

pub mod classify;
pub mod conntrack;
pub mod engine;
pub mod flowlog;
pub mod parse;
pub mod sync;

pub use classify::{AclVerdict, Compiled, Detail, Probe, RuleRef, SgVerdict};
pub use engine::{
    Applied, DEFAULT_FLOWS, DropCause, Filter, FilterSnapshot, Limits, RuleHits, Verdict, View,
};

use xc_types::filter::Direction;

/// Why a hypothetical new flow would pass or not, stage by stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub acl: AclVerdict,
    /// `None` when the ACL denied first and the groups were not asked.
    pub security_groups: Option<SgVerdict>,
}

impl Evaluation {
    pub fn allowed(&self) -> bool {
        self.acl.allows() && !matches!(self.security_groups, Some(SgVerdict::NoRule))
    }
}

/// "Would this pass?": the first packet of a new flow going `direction`, judged by `compiled`
/// with the same lookups the data plane makes (no tracked flow is consulted).
pub fn evaluate(compiled: &Compiled, direction: Direction, probe: &Probe) -> Evaluation {
    let acl = compiled.network_acl(direction, probe);
    Evaluation {
        acl,
        security_groups: acl
            .allows()
            .then(|| compiled.security_groups(direction, probe)),
    }
}
