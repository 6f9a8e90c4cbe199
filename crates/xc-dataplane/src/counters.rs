//! Per-link counters: atomics written by the packet threads, read by status and metrics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Counters of one link, updated without locks.
        #[derive(Debug, Default)]
        pub struct LinkCounters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A point-in-time copy of [`LinkCounters`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        pub struct CounterSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl LinkCounters {
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl CounterSnapshot {
            /// (name, value) pairs, for metrics exposition.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }
        }
    };
}

counters! {
    /// Frames sent protected to the peer (a TAP read of a segmentation-offload frame counts once
    /// per segment sent).
    tx_packets,
    /// Bytes of those frames (inner Ethernet frames, before protection).
    tx_bytes,
    /// Frames validated and written to the TAP.
    rx_packets,
    rx_bytes,
    /// Dropped by the egress policer (over the bandwidth).
    tx_dropped_policer,
    /// Frames the transmit shaper held back until the bandwidth allowed them (the backlog waits
    /// in the TAP's queue; what overflows it is dropped by the kernel, which TCP reacts to).
    tx_shaped,
    /// Dropped by the ingress policer.
    rx_dropped_policer,
    /// Dropped on transmit because no SA is installed yet (MKA not secured).
    tx_dropped_no_sa,
    /// Received frames that failed MACsec validation (bad tag, unknown SCI, no SA, late, ICV).
    rx_dropped_invalid,
    /// Received frames dropped as replays (InPktsLate).
    rx_dropped_replay,
    /// Received frames whose ICV did not verify (InPktsNotValid).
    rx_dropped_icv,
    /// Datagrams that were not VXLAN for this link's VNI.
    rx_dropped_vxlan,
    /// Frames from the attach point's network that its filters (network ACL, security groups)
    /// refused before encryption.
    tx_dropped_filter,
    /// Frames from the peer that the filters refused after decryption.
    rx_dropped_filter,
    /// TAP reads whose offload request (segmentation, checksum) could not be carried out: a
    /// header that does not say what the frame is.
    tx_dropped_offload,
    /// TAP reads of a segmentation-offload frame (TSO, USO) that the link cut into segments.
    tx_segmented,
    /// MKPDUs sent and received on the link.
    mkpdus_tx,
    mkpdus_rx,
    /// Errors writing to the TAP or the socket.
    io_errors,
    /// Keepalives sent (protected, when the link had sent nothing for the liveness interval).
    keepalives_tx,
    /// Keepalives from the peer that validated.
    keepalives_rx,
    /// Times the link was found dead (nothing validated for the detection time): its carrier
    /// went off.
    carrier_downs,
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}
