//! VXLAN headers of underlay datagrams.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xc_dataplane::vxlan::decode(data);
});
