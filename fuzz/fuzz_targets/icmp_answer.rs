//! ICMP and ICMPv6 messages a raw socket hands the connectivity test.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xc_dataplane::icmp::parse_v4(data);
    let _ = xc_dataplane::icmp::parse_v6(data);
});
