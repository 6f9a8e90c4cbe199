//! 802.1Q tags of frames from a customer-facing interface: read and taken off without a panic,
//! and a frame tagged again (priority 0) gives the same bytes back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_dataplane::dot1q;

fuzz_target!(|data: &[u8]| {
    let mut untagged = Vec::new();
    if let Ok(Some(tag)) = dot1q::pop(data, &mut untagged)
        && dot1q::valid_vid(tag.vid).is_ok()
        && data[14..16] == tag.vid.to_be_bytes()
    {
        let mut again = Vec::new();
        dot1q::push(&untagged, tag.vid, &mut again).expect("a valid VLAN id tags");
        assert_eq!(again, data);
    }
});
