//! The Authorization header and X-Amz-Date, and verification against arbitrary header values.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = xc_sigv4::parse_amz_date(s);
    if let Ok(auth) = xc_sigv4::Authorization::parse(s) {
        let headers = [("host", "h"), ("x-amz-date", s), ("x-amz-content-sha256", s)];
        let req = xc_sigv4::Request { method: "POST", path: s, query: s, headers: &headers, body: data };
        let expect = xc_sigv4::Expect {
            region: &auth.region,
            service: &auth.service,
            now: time_now(),
            signed_if_present: &["content-type"],
        };
        let _ = xc_sigv4::verify(&req, &auth, b"secret", &expect);
    }
});

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}
