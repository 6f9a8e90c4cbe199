//! STAMP test packets and answers, as the link probes' sockets receive them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_dataplane::stamp;

fuzz_target!(|data: &[u8]| {
    let _ = stamp::parse_test(data);
    let _ = stamp::parse_reflected(data);
    if let Ok(answer) = stamp::reflect(data, stamp::Timestamp(1), stamp::Timestamp(2)) {
        let r = stamp::parse_reflected(&answer).expect("an answer parses");
        let _ = r.reflector_delay();
    }
});
