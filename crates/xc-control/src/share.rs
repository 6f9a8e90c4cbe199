//! A connection's bandwidth shared among its links by demand. Each link's transmit side shapes
//! to its part, so that what one side of a connection sends over all of its links together
//! stays within the bandwidth bought, while one flow on one link can still have all of it.
//! Pure: demands in, parts out. The service runs it for a gateway's links at each of its
//! status reports and answers with the parts (`ReportAck::egress`); a gateway reports at once
//! when a link's demand turns (`xc_gateway::demand`), so parts move within a second.
//!
//! The rule, for the links that carry one side's egress of a connection with bandwidth `B` over
//! `n` links, with `floor = B / 4n`:
//! - a link *wants more* when its shaper held it back (`limited`) or it sent at least 90% of
//!   its part;
//! - a link that does not gets what it sends plus a quarter, plus the floor (so that it can
//!   grow and be seen to), at most `B`; a link with no fresh report gets the floor; but a part
//!   shrinks by a quarter at most per answer, so that a TCP flow that backed off for a moment
//!   (a loss halves its window, and it is not held back until it has grown again) finds its
//!   part still there rather than cut to what it sent in its dip;
//! - the links that want more share what the others send less of `B`, equally (max-min fair:
//!   their real demand is hidden by their parts), each at least the floor.
//!
//! What the links send together stays within `B`: the others send what they send, the ones
//! that want more send their equal shares of the rest (the parts may add up to more than `B`;
//! what is sent does not). Only a link that grows into its headroom or its shrinking part before
//! the next answer goes over, by at most that, until the next report (2 s at most).

use xc_types::gateway::{EgressShare, LinkDemand};

/// One link's end on the sending side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub link: u64,
    /// The end's demand, from a fresh report of its gateway; none without one.
    pub demand: Option<LinkDemand>,
    /// The part it shapes to now, as its gateway reported.
    pub part: Option<u64>,
}

/// Whether an end would send more with a larger part.
fn wants_more(e: &End) -> bool {
    e.demand.is_some_and(|d| {
        d.limited
            || (d.bps > 0
                && e.part
                    .is_some_and(|p| u128::from(d.bps) * 10 >= u128::from(p) * 9))
    })
}

/// Each end's part of `bandwidth_bps`, in the order given.
pub fn allocate(bandwidth_bps: u64, ends: &[End]) -> Vec<EgressShare> {
    let n = ends.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    let floor = bandwidth_bps / (4 * n);
    let (wanting, content): (Vec<&End>, Vec<&End>) = ends.iter().partition(|e| wants_more(e));
    let sent_by_content: u64 = content
        .iter()
        .map(|e| e.demand.map_or(0, |d| d.bps))
        .fold(0, u64::saturating_add);
    let rest = bandwidth_bps.saturating_sub(sent_by_content);
    let each = rest / (wanting.len() as u64).max(1);
    ends.iter()
        .map(|e| {
            let bps = if wanting.contains(&e) {
                each.max(floor)
            } else {
                let sent = e.demand.map_or(0, |d| d.bps);
                let slowly = match e.demand {
                    Some(_) => e.part.map_or(0, |p| p - p / 4),
                    None => 0,
                };
                sent.saturating_add(sent / 4)
                    .saturating_add(floor)
                    .max(slowly)
            };
            EgressShare {
                link: e.link,
                bps: bps.min(bandwidth_bps),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1_000_000;

    fn end(link: u64, bps: u64, limited: bool, part: u64) -> End {
        End {
            link,
            demand: Some(LinkDemand { bps, limited }),
            part: Some(part),
        }
    }

    fn parts(v: &[EgressShare]) -> Vec<u64> {
        v.iter().map(|s| s.bps / M).collect()
    }

    #[test]
    fn one_flow_on_one_link_gets_the_whole_bandwidth() {
        // 500 Mbit/s over four links, each starting at a quarter; one link's flow is held back.
        let ends = [
            end(1, 120 * M, true, 125 * M),
            end(2, 0, false, 125 * M),
            end(3, 0, false, 125 * M),
            end(4, 0, false, 125 * M),
        ];
        let got = allocate(500 * M, &ends);
        assert_eq!(got.iter().map(|s| s.link).collect::<Vec<_>>(), [1, 2, 3, 4]);
        // The idle ones shrink by a quarter (they do not use it), toward the floor (500 / 16).
        assert_eq!(parts(&got), [500, 93, 93, 93]);
        // Steady: the flow now sends 495 at a part of 500; it still wants more (90% rule).
        let ends = [
            end(1, 495 * M, false, 500 * M),
            end(2, 0, false, 31 * M),
            end(3, 0, false, 31 * M),
            end(4, 0, false, 31 * M),
        ];
        assert_eq!(parts(&allocate(500 * M, &ends)), [500, 31, 31, 31]);
        // The flow backs off for a moment (a loss): its part shrinks by a quarter, not to what
        // it sends in the dip plus a quarter.
        let ends = [
            end(1, 200 * M, false, 500 * M),
            end(2, 0, false, 31 * M),
            end(3, 0, false, 31 * M),
            end(4, 0, false, 31 * M),
        ];
        assert_eq!(parts(&allocate(500 * M, &ends)), [375, 31, 31, 31]);
    }

    #[test]
    fn links_that_all_want_more_share_equally_and_sum_to_the_bandwidth() {
        let ends = [
            end(1, 480 * M, true, 500 * M),
            end(2, 31 * M, true, 31 * M),
            end(3, 30 * M, true, 31 * M),
            end(4, 0, false, 31 * M),
        ];
        let got = allocate(500 * M, &ends);
        assert_eq!(parts(&got), [166, 166, 166, 31]);
        let ends: Vec<End> = (1..=4).map(|l| end(l, 124 * M, true, 125 * M)).collect();
        let got = allocate(500 * M, &ends);
        assert_eq!(got.iter().map(|s| s.bps).sum::<u64>(), 500 * M);
    }

    #[test]
    fn a_link_that_sends_less_than_its_part_leaves_the_rest_to_the_others() {
        // Link 2 sends 100 of its 250 and is not held back: it keeps 100 + 25 + the floor, and
        // link 1, held back, gets the 400 that link 2 does not send.
        let ends = [
            end(1, 250 * M, true, 250 * M),
            end(2, 100 * M, false, 250 * M),
        ];
        assert_eq!(parts(&allocate(500 * M, &ends)), [400, 187]);
    }

    #[test]
    fn without_reports_each_has_the_floor_and_nothing_is_above_the_bandwidth() {
        let ends = [
            End {
                link: 1,
                demand: None,
                part: None,
            },
            End {
                link: 2,
                demand: None,
                part: Some(250 * M),
            },
        ];
        assert_eq!(parts(&allocate(500 * M, &ends)), [62, 62]);
        // A link that sends more than the bandwidth (a burst) never gets more than it.
        let ends = [end(1, 900 * M, false, 10_000 * M), end(2, 0, false, 0)];
        assert_eq!(parts(&allocate(500 * M, &ends)), [500, 62]);
        assert!(allocate(500 * M, &[]).is_empty());
    }
}
