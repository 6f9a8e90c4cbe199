//! Connectivity tests run on request of the control plane: ping and trace towards an address on
//! the other side of a connection, from an address of this gateway's own network (so that the
//! answer comes back through the connection). The gateway sends the ICMP echo requests itself,
//! on a raw socket, with a rising TTL for the trace (the packets are `xc_dataplane::icmp`'s):
//! a gateway host needs neither `ping` nor `traceroute`.

use ipnet::IpNet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use xc_dataplane::icmp::{self, Answer};
use xc_types::gateway::{TestRequest, TestResult};

/// A local address inside one of `prefixes`, of the same family as `target`.
fn source_for(target: IpAddr, prefixes: &[IpNet]) -> Option<IpAddr> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for a in addrs {
        let Some(sa) = a.address else { continue };
        let ip: IpAddr = if let Some(v4) = sa.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = sa.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if ip.is_ipv4() == target.is_ipv4() && prefixes.iter().any(|p| p.contains(&ip)) {
            return Some(ip);
        }
    }
    None
}

/// How long a probe waits for its answer.
const WAIT: Duration = Duration::from_secs(1);
/// Between two echo requests of the ping.
const INTERVAL: Duration = Duration::from_millis(200);
/// Hops a trace goes at most.
const MAX_HOPS: u8 = 12;
/// Sequence numbers of the trace's probes start here (the ping's are below).
const TRACE_SEQ: u16 = 1000;

/// A raw ICMP (or ICMPv6) socket that sends our echo requests to one target, from one source,
/// and reads what comes back about them (every ICMP message arrives on a raw socket; only those
/// about our `id` count).
struct Prober {
    sock: socket2::Socket,
    target: IpAddr,
    id: u16,
}

impl Prober {
    fn open(target: IpAddr, source: Option<IpAddr>) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let (domain, proto) = if target.is_ipv4() {
            (Domain::IPV4, Protocol::ICMPV4)
        } else {
            (Domain::IPV6, Protocol::ICMPV6)
        };
        let sock = Socket::new(domain, Type::RAW, Some(proto)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open a raw ICMP socket ({e}): the gateway runs as root, or with CAP_NET_RAW"),
            )
        })?;
        if let Some(s) = source {
            sock.bind(&SocketAddr::new(s, 0).into())?;
        }
        Ok(Self {
            sock,
            target,
            id: rand::random(),
        })
    }

    fn send(&self, ttl: u8, seq: u16) -> io::Result<()> {
        if self.target.is_ipv4() {
            self.sock.set_ttl_v4(u32::from(ttl))?;
        } else {
            self.sock.set_unicast_hops_v6(u32::from(ttl))?;
        }
        let m = xc_dataplane::icmp::echo_request(self.target, self.id, seq, b"xconnect test");
        self.sock
            .send_to(&m, &SocketAddr::new(self.target, 0).into())?;
        Ok(())
    }

    /// The next answer about our echoes, and who sent it, until `deadline`.
    fn recv(&self, deadline: Instant) -> io::Result<Option<(IpAddr, Answer)>> {
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock.set_read_timeout(Some(left))?;
            let (n, from) = match nix::sys::socket::recvfrom::<nix::sys::socket::SockaddrStorage>(
                self.sock.as_raw_fd(),
                &mut buf,
            ) {
                Ok(x) => x,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let from = from.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|v4| IpAddr::V4(v4.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
            });
            let answer = if self.target.is_ipv4() {
                icmp::parse_v4(&buf[..n])
            } else {
                icmp::parse_v6(&buf[..n])
            };
            if let (Some(from), Some(a)) = (from, answer)
                && a.id() == self.id
            {
                return Ok(Some((from, a)));
            }
        }
    }

    /// `count` echo requests, one every 200 ms, each answered within a second or lost.
    fn ping(&self, count: u16, r: &mut TestResult) -> io::Result<()> {
        let mut sent_at = Vec::with_capacity(usize::from(count));
        let mut rtts: Vec<f64> = Vec::new();
        let mut answered = vec![false; usize::from(count)];
        let mut next = Instant::now();
        let mut last_wait = None;
        loop {
            let now = Instant::now();
            if sent_at.len() < usize::from(count) && now >= next {
                self.send(64, sent_at.len() as u16)?;
                sent_at.push(Instant::now());
                next += INTERVAL;
                if sent_at.len() == usize::from(count) {
                    last_wait = Some(Instant::now() + WAIT);
                }
            }
            let until = match last_wait {
                Some(t) => t,
                None => next,
            };
            if let Some((_, Answer::EchoReply { seq, .. })) = self.recv(until)?
                && let Some(at) = sent_at.get(usize::from(seq))
                && !answered[usize::from(seq)]
            {
                answered[usize::from(seq)] = true;
                rtts.push(at.elapsed().as_secs_f64() * 1000.0);
            }
            let done = rtts.len() == usize::from(count);
            if done || last_wait.is_some_and(|t| Instant::now() >= t) {
                break;
            }
        }
        r.sent = u32::from(count);
        r.received = rtts.len() as u32;
        r.loss_percent = f64::from(r.sent - r.received) * 100.0 / f64::from(r.sent);
        if !rtts.is_empty() {
            let sum: f64 = rtts.iter().sum();
            r.rtt_min_ms = rtts.iter().copied().reduce(f64::min);
            r.rtt_max_ms = rtts.iter().copied().reduce(f64::max);
            r.rtt_avg_ms = Some(sum / rtts.len() as f64);
        }
        Ok(())
    }

    /// The path: an echo request with a TTL of 1, 2, ... and who answered each (`*` where none
    /// did), until the target answers or cannot be reached.
    fn trace(&self) -> io::Result<Vec<String>> {
        let mut hops = Vec::new();
        for ttl in 1..=MAX_HOPS {
            let seq = TRACE_SEQ + u16::from(ttl);
            self.send(ttl, seq)?;
            let deadline = Instant::now() + WAIT;
            let mut hop = None;
            while let Some((from, a)) = self.recv(deadline)? {
                if a.seq() == seq {
                    hop = Some((from, a));
                    break;
                }
            }
            match hop {
                None => hops.push("*".to_owned()),
                Some((from, a)) => {
                    hops.push(from.to_string());
                    if !matches!(a, Answer::TimeExceeded { .. }) {
                        break;
                    }
                }
            }
        }
        Ok(hops)
    }
}

pub async fn run(req: &TestRequest, prefixes: &[IpNet]) -> TestResult {
    let mut r = TestResult {
        id: req.id.clone(),
        target: req.target.clone(),
        ..TestResult::default()
    };
    let target: IpAddr = match req.target.parse() {
        Ok(t) => t,
        Err(_) => {
            r.error = Some(format!("{} is not an IP address", req.target));
            return r;
        }
    };
    let src = source_for(target, prefixes);
    r.source = src.map(|s| s.to_string());
    let count = req.count.clamp(1, 100) as u16;
    tokio::task::spawn_blocking(move || {
        let probed = Prober::open(target, src).and_then(|p| {
            p.ping(count, &mut r)?;
            r.hops = p.trace()?;
            Ok(())
        });
        if let Err(e) = probed {
            r.error = Some(format!("probing {target}: {e}"));
        }
        r
    })
    .await
    .unwrap_or_else(|e| TestResult {
        id: req.id.clone(),
        target: req.target.clone(),
        error: Some(format!("the probe stopped: {e}")),
        ..TestResult::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prober against the loopback. Needs root (raw ICMP sockets), as the gateway has and
    /// CI runs it; without, the result's error says so.
    #[tokio::test]
    async fn pings_and_traces_the_loopback() {
        for target in ["127.0.0.1", "::1"] {
            let req = TestRequest {
                id: "t".into(),
                target: target.into(),
                count: 3,
            };
            let r = run(&req, &[]).await;
            assert_eq!((r.sent, r.received), (3, 3), "{r:?}");
            assert!(r.rtt_avg_ms.is_some_and(|ms| ms >= 0.0), "{r:?}");
            assert_eq!(r.hops, [target], "{r:?}");
            assert_eq!(r.error, None);
        }
        let bad = run(
            &TestRequest {
                id: "t".into(),
                target: "not-an-ip".into(),
                count: 1,
            },
            &[],
        )
        .await;
        assert!(bad.error.is_some_and(|e| e.contains("not an IP address")));
    }
}
