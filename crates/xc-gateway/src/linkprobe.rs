//! Continuous probing of every link: once a second a STAMP test packet (RFC 8762,
//! `xc_dataplane::stamp`) from this gateway to the peer's link address, which the peer's
//! reflector answers; the round trip, less the time the reflector held it, is the link's RTT.
//! What the probes found is kept per link for the minute sampler ([`crate::samples`]).
//!
//! Cost: per link and second, one 44-byte UDP payload each way and its answer (about 90 bytes
//! on the wire with the MACsec and VXLAN overhead each: under 3 kbit/s per direction), and a
//! few microseconds of CPU.
//!
//! The reflector listens on the STAMP port on every address, and answers only senders that are
//! the peer end of one of this gateway's links (anything else is dropped), so it reflects
//! nothing back out of the underlay. A probe unanswered after [`ANSWER_WITHIN`] is lost.

use crate::samples::ProbeMinute;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use xc_dataplane::stamp::{self, TestPacket, Timestamp};
use xc_types::gateway::MAX_RTTS_PER_MINUTE;

/// Between two probes on a link.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe not answered within this is counted lost.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A link to probe: its id and the peer's link address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTarget {
    pub id: u64,
    pub peer: IpAddr,
}

/// The other address of a point-to-point subnet (/31 or /127), which is the peer's.
pub fn peer_of(own: ipnet::IpNet) -> Option<IpAddr> {
    match own {
        ipnet::IpNet::V4(n) if n.prefix_len() == 31 => {
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(n.addr()) ^ 1)))
        }
        ipnet::IpNet::V6(n) if n.prefix_len() == 127 => Some(IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(n.addr()) ^ 1,
        ))),
        _ => None,
    }
}

type Book = Arc<Mutex<BTreeMap<u64, ProbeMinute>>>;
/// Probes waiting for their answer, by (peer, sequence number): the link and when it was sent.
type Pending = Arc<Mutex<HashMap<(IpAddr, u32), (u64, Instant)>>>;
type Targets = Arc<dyn Fn() -> Vec<ProbeTarget> + Send + Sync>;

/// The running probes; dropping it stops them.
#[derive(Debug)]
pub struct Probes {
    book: Book,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Probes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Probes {
    /// Starts the reflector and the sender (on the current tokio runtime); `targets` says which
    /// links there are now.
    pub async fn start(targets: Targets) -> std::io::Result<Self> {
        let book: Book = Arc::default();
        let allowed: Arc<Mutex<HashSet<IpAddr>>> = Arc::default();
        let mut tasks = Vec::new();
        match UdpSocket::bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            stamp::PORT,
        ))
        .await
        {
            Ok(sock) => tasks.push(tokio::spawn(reflect(sock, allowed.clone()))),
            Err(e) => tracing::warn!(
                error = %e,
                port = stamp::PORT,
                "cannot listen for link probes: this gateway's links will not answer their peers' probes"
            ),
        }
        let sock =
            Arc::new(UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)).await?);
        let pending: Pending = Arc::default();
        tasks.push(tokio::spawn(send(
            sock.clone(),
            targets,
            allowed,
            pending.clone(),
            book.clone(),
        )));
        tasks.push(tokio::spawn(receive(sock, pending, book.clone())));
        Ok(Self { book, tasks })
    }

    /// Takes what the probes found on link `id` since the last take.
    pub fn take(&self, id: u64) -> ProbeMinute {
        self.book
            .lock()
            .ok()
            .and_then(|mut b| b.remove(&id))
            .unwrap_or_default()
    }
}

fn record(book: &Book, id: u64, rtt: Option<Duration>) {
    if let Ok(mut b) = book.lock() {
        let m = b.entry(id).or_default();
        m.sent += 1;
        if let Some(rtt) = rtt {
            m.answered += 1;
            if m.rtts_us.len() < MAX_RTTS_PER_MINUTE {
                m.rtts_us.push(rtt.as_micros() as u64);
            }
        }
    }
}

async fn reflect(sock: UdpSocket, allowed: Arc<Mutex<HashSet<IpAddr>>>) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let received = Timestamp::now();
        if !allowed.lock().is_ok_and(|a| a.contains(&from.ip())) {
            continue;
        }
        if let Ok(answer) = stamp::reflect(&buf[..n], received, Timestamp::now()) {
            let _ = sock.send_to(&answer, from).await;
        }
    }
}

async fn send(
    sock: Arc<UdpSocket>,
    targets: Targets,
    allowed: Arc<Mutex<HashSet<IpAddr>>>,
    pending: Pending,
    book: Book,
) {
    let mut seqs: BTreeMap<u64, u32> = BTreeMap::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        // Probes that had their chance are lost.
        let lost: Vec<u64> = match pending.lock() {
            Ok(mut p) => {
                let mut lost = Vec::new();
                p.retain(|_, (id, at)| {
                    let keep = now.duration_since(*at) < ANSWER_WITHIN;
                    if !keep {
                        lost.push(*id);
                    }
                    keep
                });
                lost
            }
            Err(_) => Vec::new(),
        };
        for id in lost {
            record(&book, id, None);
        }
        let list = targets();
        if let Ok(mut a) = allowed.lock() {
            *a = list.iter().map(|t| t.peer).collect();
        }
        seqs.retain(|id, _| list.iter().any(|t| t.id == *id));
        for t in list {
            let seq = seqs.entry(t.id).or_insert(0);
            *seq = seq.wrapping_add(1);
            let packet = stamp::encode_test(&TestPacket {
                seq: *seq,
                timestamp: Timestamp::now(),
            });
            if let Ok(mut p) = pending.lock() {
                p.insert((t.peer, *seq), (t.id, Instant::now()));
            }
            // A send that fails (the link has no route yet) is a probe lost.
            let _ = sock
                .send_to(&packet, SocketAddr::new(t.peer, stamp::PORT))
                .await;
        }
    }
}

async fn receive(sock: Arc<UdpSocket>, pending: Pending, book: Book) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let now = Instant::now();
        let Ok(r) = stamp::parse_reflected(&buf[..n]) else {
            continue;
        };
        let sent = pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&(from.ip(), r.sender_seq)));
        if let Some((id, at)) = sent {
            let rtt = now.duration_since(at).saturating_sub(r.reflector_delay());
            record(&book, id, Some(rtt));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_the_other_end_of_a_point_to_point_subnet() {
        let p = |s: &str| peer_of(s.parse().expect("net")).map(|a| a.to_string());
        assert_eq!(p("169.254.0.0/31").as_deref(), Some("169.254.0.1"));
        assert_eq!(p("169.254.0.1/31").as_deref(), Some("169.254.0.0"));
        assert_eq!(p("fd58::3/127").as_deref(), Some("fd58::2"));
        assert_eq!(p("192.168.50.1/30"), None);
    }

    /// A prober whose target is its own reflector, on loopback: probes are answered and timed.
    /// Needs root (the STAMP port is below 1024), as CI runs it.
    #[tokio::test]
    async fn probes_are_answered_and_timed() {
        let probes = Probes::start(Arc::new(|| {
            vec![ProbeTarget {
                id: 9,
                peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
            }]
        }))
        .await
        .expect("probes");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = ProbeMinute::default();
        while got.answered < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let m = probes.take(9);
            got.sent += m.sent;
            got.answered += m.answered;
            got.rtts_us.extend(m.rtts_us);
        }
        assert!(got.answered >= 3, "{got:?}");
        assert!(got.rtts_us.iter().all(|&r| r < 1_000_000), "{got:?}");
    }
}
