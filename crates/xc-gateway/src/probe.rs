//! Connectivity tests run on request of the control plane: ping and traceroute towards an
//! address on the other side of a connection, from an address of this gateway's own network (so
//! that the answer comes back through the connection), with the system's `ping` and
//! `traceroute`.

use ipnet::IpNet;
use std::net::IpAddr;
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

/// Reads `N packets transmitted, M received` and `rtt min/avg/max/mdev = a/b/c/d ms`.
fn parse_ping(out: &str, r: &mut TestResult) {
    for line in out.lines() {
        if line.contains("packets transmitted") {
            let nums: Vec<u32> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|t| t.parse().ok())
                .collect();
            if let [sent, received, ..] = nums[..] {
                r.sent = sent;
                r.received = received;
            }
        }
        if let Some(rest) = line.split(" = ").nth(1)
            && line.starts_with("rtt")
        {
            let v: Vec<f64> = rest
                .trim_end_matches(" ms")
                .split('/')
                .filter_map(|t| t.trim().parse().ok())
                .collect();
            if v.len() >= 3 {
                (r.rtt_min_ms, r.rtt_avg_ms, r.rtt_max_ms) = (Some(v[0]), Some(v[1]), Some(v[2]));
            }
        }
    }
    if r.sent > 0 {
        r.loss_percent = f64::from(r.sent - r.received.min(r.sent)) * 100.0 / f64::from(r.sent);
    }
}

/// Reads the hop lines of `traceroute -n`: ` 1  10.0.1.1  0.064 ms`.
fn parse_traceroute(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?;
            n.parse::<u32>().ok()?;
            Some(w.next().unwrap_or("*").to_owned())
        })
        .collect()
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
    let count = req.count.clamp(1, 100).to_string();
    let mut ping = tokio::process::Command::new("ping");
    ping.args(["-n", "-c", &count, "-i", "0.2", "-W", "1"]);
    if let Some(s) = src {
        ping.args(["-I", &s.to_string()]);
    }
    match ping.arg(target.to_string()).output().await {
        Ok(o) => parse_ping(&String::from_utf8_lossy(&o.stdout), &mut r),
        Err(e) => r.error = Some(format!("cannot run ping: {e}")),
    }
    let mut trace = tokio::process::Command::new("traceroute");
    trace.args(["-n", "-w", "1", "-q", "1", "-m", "12"]);
    if let Some(s) = src {
        trace.args(["-s", &s.to_string()]);
    }
    match trace.arg(target.to_string()).output().await {
        Ok(o) => r.hops = parse_traceroute(&String::from_utf8_lossy(&o.stdout)),
        Err(e) => {
            r.error.get_or_insert(format!("cannot run traceroute: {e}"));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ping_and_traceroute() {
        let mut r = TestResult::default();
        parse_ping(
            "3 packets transmitted, 2 received, 33.3333% packet loss, time 404ms\nrtt min/avg/max/mdev = 0.204/0.319/0.512/0.136 ms\n",
            &mut r,
        );
        assert_eq!((r.sent, r.received), (3, 2));
        assert!((r.loss_percent - 33.33).abs() < 0.01);
        assert_eq!((r.rtt_min_ms, r.rtt_max_ms), (Some(0.204), Some(0.512)));
        let hops = parse_traceroute(
            "traceroute to 10.1.1.10 (10.1.1.10), 12 hops max, 60 byte packets\n 1  10.0.1.1  0.064 ms\n 2  *\n 3  10.1.1.10  0.569 ms\n",
        );
        assert_eq!(hops, ["10.0.1.1", "*", "10.1.1.10"]);
    }
}
