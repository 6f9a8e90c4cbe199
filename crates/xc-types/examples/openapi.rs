//! Prints the native API's OpenAPI document (as the server serves it at `/v1/openapi.json`).
fn main() {
    println!(
        "{}",
        serde_json::to_string_pretty(&xc_types::api::openapi()).unwrap_or_default()
    );
}
