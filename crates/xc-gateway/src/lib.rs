//! The gateway agent. For now its standalone form: a static configuration file of links
//! ([`config`]), each link a TAP + MACsec + VXLAN path from `xc-dataplane` whose keys are agreed
//! by an MKA participant ([`runtime`]), an admin HTTP endpoint with `/status` and `/metrics`
//! ([`admin`]), and the DANGEROUS keylog ([`keylog`]).
//!
//! ```text
//!  per link:  xc-dataplane TX thread, RX thread ──MKPDUs──► MKA thread (xc_macsec::mka::Participant)
//!                                          ◄──install SAs──┘        └─► keylog, status
//!  tokio:     admin server (axum) reading the status snapshots
//! ```
//! Architecture invariant: no dependency on the control plane crates (`xc-control`, `xc-store`).

pub mod admin;
pub mod config;
pub mod keylog;
pub mod managed;
pub mod netlink;
pub mod probe;
pub mod routing;
pub mod runtime;
pub mod status;

pub use config::{BgpSettings, ConfigError, GatewayConfig, LinkSettings, NeighborSettings};
pub use runtime::Gateway;
