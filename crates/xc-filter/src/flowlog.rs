//! Flow logs as the link threads gather them: each link thread's view keeps its own window of
//! records (no lock on the packet path), and hands the window's records to the filter's bounded
//! queue when the window closes; the gateway drains the queue to its file and its reports.
//!
//! Bounds: a window keeps at most [`MAX_FLOWS_PER_WINDOW`] records per link thread (further
//! flows are counted and the window ends with a `SKIPDATA` record), and the queue at most
//! [`QUEUE_CAPACITY`] (a window that does not fit leaves a `SKIPDATA` record per interface
//! instead, kept apart so that it is never lost).

use crate::parse::{Headers, Transport};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use xc_types::flowlog::{FlowAction, FlowLogRecord, FlowLogSpec, LogStatus, VERSION};

/// Most records one link thread keeps in one window.
pub const MAX_FLOWS_PER_WINDOW: usize = 10_000;
/// Most records waiting in a filter's queue for the gateway.
pub const QUEUE_CAPACITY: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    action: FlowAction,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    packets: u64,
    bytes: u64,
    first: u64,
    last: u64,
}

/// One link thread's window of records.
#[derive(Debug)]
pub(crate) struct Window {
    pub(crate) spec: Arc<FlowLogSpec>,
    opened: Option<u64>,
    flows: HashMap<Key, Tally>,
    /// The flow of the last packet, counted here until another flow's packet comes: a burst of
    /// one flow (the usual case) costs no hash lookup per packet.
    hot: Option<(Key, Tally)>,
    /// Flows not kept for want of room: their first and last packet.
    skipped: Option<(u64, u64)>,
}

/// Whether a flow is one of the sampled: a hash of its addresses and ports that is the same
/// both ways, so that a sampled flow is logged whole.
fn sampled(sampling: u32, h: &Headers) -> bool {
    if sampling <= 1 {
        return true;
    }
    let (sp, dp) = h.transport.flow_ports();
    let a = (h.src, sp);
    let b = (h.dst, dp);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    // SipHash with fixed keys: the same answer on every link thread and every gateway.
    #[allow(deprecated)]
    let mut s = std::hash::SipHasher::new();
    (h.protocol, lo, hi).hash(&mut s);
    s.finish().is_multiple_of(u64::from(sampling))
}

impl Window {
    pub(crate) fn new(spec: Arc<FlowLogSpec>) -> Self {
        Self {
            spec,
            opened: None,
            flows: HashMap::new(),
            hot: None,
            skipped: None,
        }
    }

    /// Counts a packet, at `now` (milliseconds on the link threads' clock).
    pub(crate) fn record(&mut self, h: &Headers, action: FlowAction, now: u64) {
        if !sampled(self.spec.sampling, h) {
            return;
        }
        self.opened.get_or_insert(now);
        let (src_port, dst_port) = match h.transport {
            Transport::Ports { src, dst, .. } => (src, dst),
            _ => (0, 0),
        };
        let key = Key {
            src: h.src,
            dst: h.dst,
            src_port,
            dst_port,
            protocol: h.protocol,
            action,
        };
        let len = h.len as u64;
        if let Some((k, t)) = &mut self.hot
            && *k == key
        {
            t.packets += 1;
            t.bytes += len;
            t.last = now;
            return;
        }
        self.cool();
        self.hot = Some((
            key,
            Tally {
                packets: 1,
                bytes: len,
                first: now,
                last: now,
            },
        ));
    }

    /// Adds the hot flow's count to the window's.
    fn cool(&mut self) {
        let Some((key, hot)) = self.hot.take() else {
            return;
        };
        if let Some(t) = self.flows.get_mut(&key) {
            t.packets += hot.packets;
            t.bytes += hot.bytes;
            t.first = t.first.min(hot.first);
            t.last = t.last.max(hot.last);
        } else if self.flows.len() < MAX_FLOWS_PER_WINDOW {
            self.flows.insert(key, hot);
        } else {
            let s = self.skipped.get_or_insert((hot.first, hot.last));
            s.0 = s.0.min(hot.first);
            s.1 = s.1.max(hot.last);
        }
    }

    /// Whether the window has run its length.
    pub(crate) fn due(&self, now: u64) -> bool {
        self.opened
            .is_some_and(|o| now.saturating_sub(o) >= u64::from(self.spec.aggregation_secs) * 1_000)
    }

    /// Closes the window: its records, with times on the Unix clock (`to_unix_ms` is what to
    /// add to the link threads' clock).
    pub(crate) fn close(&mut self, to_unix_ms: i64) -> Vec<FlowLogRecord> {
        self.cool();
        self.opened = None;
        let secs = |ms: u64| (ms as i64).saturating_add(to_unix_ms).div_euclid(1_000);
        let spec = &self.spec;
        let mut out: Vec<FlowLogRecord> = self
            .flows
            .drain()
            .map(|(k, t)| FlowLogRecord {
                version: VERSION,
                account_id: spec.account_id.clone(),
                interface_id: spec.interface_id.clone(),
                srcaddr: Some(k.src),
                dstaddr: Some(k.dst),
                srcport: Some(k.src_port),
                dstport: Some(k.dst_port),
                protocol: Some(k.protocol),
                packets: Some(t.packets),
                bytes: Some(t.bytes),
                start: secs(t.first),
                end: secs(t.last),
                action: Some(k.action),
                log_status: LogStatus::Ok,
            })
            .collect();
        out.sort_by_key(|r| (r.start, r.srcaddr, r.dstaddr, r.srcport, r.dstport));
        if let Some((first, last)) = self.skipped.take() {
            out.push(FlowLogRecord::skipped(
                &spec.account_id,
                &spec.interface_id,
                secs(first),
                secs(last),
            ));
        }
        out
    }
}

/// The filter's queue of closed windows' records.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    records: VecDeque<FlowLogRecord>,
    /// Interfaces whose records did not fit: (account, interface) to the span lost.
    lost: BTreeMap<(String, String), (i64, i64)>,
}

impl Queue {
    pub(crate) fn push(&mut self, records: Vec<FlowLogRecord>) {
        for r in records {
            if self.records.len() < QUEUE_CAPACITY {
                self.records.push_back(r);
            } else {
                let span = self
                    .lost
                    .entry((r.account_id, r.interface_id))
                    .or_insert((r.start, r.end));
                span.0 = span.0.min(r.start);
                span.1 = span.1.max(r.end);
            }
        }
    }

    /// At most `max` records, oldest first; the spans lost come first, as `SKIPDATA` records.
    pub(crate) fn take(&mut self, max: usize) -> Vec<FlowLogRecord> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(((account, interface), (start, end))) = self.lost.pop_first() else {
                break;
            };
            out.push(FlowLogRecord::skipped(&account, &interface, start, end));
        }
        let n = max.saturating_sub(out.len()).min(self.records.len());
        out.extend(self.records.drain(..n));
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len() + self.lost.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::build::{frame, ip, tcp};
    use crate::parse::{Frame, parse_frame};

    fn headers(src: &str, dst: &str, sport: u16, dport: u16, payload: usize) -> Headers {
        let mut t = tcp(sport, dport, crate::parse::tcp::ACK);
        t.extend(std::iter::repeat_n(0u8, payload));
        let f = frame(&ip(
            src.parse().expect("addr"),
            dst.parse().expect("addr"),
            6,
            &t,
        ));
        match parse_frame(&f) {
            Ok(Frame::Ip(h)) => h,
            other => panic!("{other:?}"),
        }
    }

    fn spec(sampling: u32) -> Arc<FlowLogSpec> {
        Arc::new(FlowLogSpec {
            account_id: "111122223333".into(),
            interface_id: "7".into(),
            sampling,
            aggregation_secs: 10,
        })
    }

    #[test]
    fn a_window_sums_each_flow_and_action_and_closes_on_time() {
        let mut w = Window::new(spec(1));
        let a = headers("10.0.0.1", "10.1.0.1", 40000, 22, 100);
        let b = headers("10.0.0.1", "10.1.0.1", 40001, 23, 0);
        w.record(&a, FlowAction::Accept, 1_000);
        w.record(&a, FlowAction::Accept, 4_500);
        w.record(&b, FlowAction::Reject, 2_000);
        assert!(!w.due(10_999));
        assert!(w.due(11_000));
        let records = w.close(1_733_251_200_000);
        assert_eq!(records.len(), 2, "{records:?}");
        let accepted = &records[0];
        assert_eq!(accepted.dstport, Some(22));
        assert_eq!(accepted.packets, Some(2));
        assert_eq!(accepted.bytes, Some(2 * (20 + 20 + 100)));
        assert_eq!(
            (accepted.start, accepted.end),
            (1_733_251_201, 1_733_251_204)
        );
        assert_eq!(accepted.action, Some(FlowAction::Accept));
        let rejected = &records[1];
        assert_eq!(
            rejected.line(),
            "2 111122223333 7 10.0.0.1 10.1.0.1 40001 23 6 1 40 1733251202 1733251202 REJECT OK"
        );
        assert!(!w.due(100_000), "an empty window is never due");
        assert!(w.close(0).is_empty());
    }

    #[test]
    fn interleaved_flows_add_up() {
        let mut w = Window::new(spec(1));
        let a = headers("10.0.0.1", "10.1.0.1", 40000, 22, 0);
        let b = headers("10.0.0.1", "10.1.0.1", 40001, 22, 0);
        for (h, t) in [
            (&a, 1_000),
            (&b, 2_000),
            (&a, 3_000),
            (&a, 4_000),
            (&b, 5_000),
        ] {
            w.record(h, FlowAction::Accept, t);
        }
        let r = w.close(0);
        let count = |port: u16| {
            r.iter()
                .find(|x| x.srcport == Some(port))
                .map(|x| (x.packets, x.start, x.end))
        };
        assert_eq!(count(40000), Some((Some(3), 1, 4)));
        assert_eq!(count(40001), Some((Some(2), 2, 5)));
    }

    #[test]
    fn a_full_window_ends_with_a_skipdata_record() {
        let mut w = Window::new(spec(1));
        for port in 0..(MAX_FLOWS_PER_WINDOW as u16 + 5) {
            w.record(
                &headers("10.0.0.1", "10.1.0.1", port, 80, 0),
                FlowAction::Accept,
                u64::from(port),
            );
        }
        let records = w.close(0);
        assert_eq!(records.len(), MAX_FLOWS_PER_WINDOW + 1);
        let last = records.last().expect("a record");
        assert_eq!(last.log_status, LogStatus::SkipData);
        assert_eq!(last.srcaddr, None);
    }

    #[test]
    fn sampling_keeps_a_flow_whole_both_ways() {
        let mut kept = 0;
        for port in 1000..3000u16 {
            let there = headers("10.0.0.1", "10.1.0.1", port, 443, 0);
            let back = headers("10.1.0.1", "10.0.0.1", 443, port, 0);
            assert_eq!(sampled(10, &there), sampled(10, &back));
            kept += usize::from(sampled(10, &there));
        }
        // One in ten of 2,000 flows, give or take what a hash gives.
        assert!((100..=300).contains(&kept), "{kept} of 2000 sampled");
    }

    #[test]
    fn a_full_queue_keeps_what_was_lost_as_skipdata() {
        let mut q = Queue::default();
        let one = |i: i64| FlowLogRecord {
            start: i,
            end: i + 1,
            ..FlowLogRecord::skipped("a", "7", 0, 0)
        };
        q.push((0..QUEUE_CAPACITY as i64 + 3).map(one).collect());
        assert_eq!(q.len(), QUEUE_CAPACITY + 1);
        let first = q.take(2);
        assert_eq!(first[0].log_status, LogStatus::SkipData);
        assert_eq!(
            (first[0].start, first[0].end),
            (QUEUE_CAPACITY as i64, QUEUE_CAPACITY as i64 + 3)
        );
        assert_eq!(first[1].start, 0);
        assert_eq!(q.take(usize::MAX).len(), QUEUE_CAPACITY - 1);
    }
}
