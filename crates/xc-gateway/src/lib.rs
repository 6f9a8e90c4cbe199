//! The gateway agent, in two forms that share everything after the configuration: standalone,
//! from a TOML file ([`config`]), or managed, following the control plane ([`managed`]). Either
//! way one configuration schema ([`xc_types::gateway::ConfigDoc`]) is checked into a
//! [`GatewayConfig`] and applied by [`runtime::apply`]: links (each a TAP + MACsec + VXLAN path
//! from `xc-dataplane` whose keys an MKA participant agrees, [`runtime`]), their addresses and
//! bridges through rtnetlink ([`netlink`]), then the BGP speaker and BFD ([`routing`]). Beside
//! them: the admin endpoint with `/status` and `/metrics` ([`admin`]), connectivity probes
//! ([`probe`]), files that hold secrets ([`files`]) and the DANGEROUS keylog ([`keylog`]). A
//! managed gateway also probes every link continuously ([`linkprobe`], STAMP) and reports a
//! sample of each minute ([`samples`]) with its status, and the links' demand ([`demand`]), by which
//! the control plane shares a connection's bandwidth among its links.
//!
//! ```text
//!  per link:  xc-dataplane link thread ──MKPDUs──► MKA thread (xc_macsec::mka::Participant)
//!                     ◄──install SAs──────────────┘        └─► keylog, status
//!  xc-netlink thread: addresses, bridges, up/down         routing: speaker task, kernel thread
//!  tokio:     admin server (axum) reading the status snapshots; managed: watch and report loops
//! ```
//! Architecture invariants: no dependency on the control plane crates (`xc-control`,
//! `xc-store`); no external programs run (no `ip`, `ping` or `traceroute`).

pub mod admin;
pub mod config;
pub mod demand;
pub mod files;
pub mod flowlog;
pub mod flowsync;
pub mod keylog;
pub mod linkprobe;
pub mod managed;
pub mod netlink;
pub mod probe;
pub mod routing;
pub mod runtime;
pub mod samples;
pub mod status;

pub use config::{BgpSettings, ConfigError, GatewayConfig, LinkSettings, NeighborSettings};
pub use runtime::Gateway;
