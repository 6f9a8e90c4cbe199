//! MACsec Key Agreement (IEEE 802.1X-2010 clause 9) with a pre-shared CAK, sans-IO.

pub mod kdf;
pub mod mkpdu;
mod participant;

pub use participant::{Event, MkaConfig, MkaStatus, Participant, Problem};
