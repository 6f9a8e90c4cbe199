//! What `/status` reports (and `xconnect gateway status` prints): defined in `xc-types`, since the
//! gateway reports the same to the control plane.

pub use xc_types::gateway::status::*;
