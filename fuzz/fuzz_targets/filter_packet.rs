//! Frames through the edge filter: header parsing (IPv4, IPv6 extension headers, fragments, the
//! packet an ICMP error quotes) and a policy judging them, both ways, with a tiny flow table.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use xc_filter::{Filter, Limits};
use xc_types::filter::{Direction, FilterPolicy};

fn filter() -> &'static Filter {
    static FILTER: OnceLock<Filter> = OnceLock::new();
    FILTER.get_or_init(|| {
        let policy: FilterPolicy = serde_json::from_str(include_str!("filter_policy.json"))
            .expect("the seed policy parses");
        let f = Filter::new(Limits {
            flows: 64,
            fragments: 16,
            ..Limits::default()
        });
        f.apply(&policy).expect("the seed policy applies");
        f
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = xc_filter::parse::parse_frame(data);
    let _ = xc_filter::parse::parse_ip(data);
    let f = filter();
    let _ = f.check(Direction::Inbound, data, 1);
    let _ = f.check(Direction::Outbound, data, 2);
});
