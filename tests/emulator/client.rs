//! A plain HTTP client for the tests that talk to the emulator directly,
//! and the timestamp form its documents use.

use std::time::{Duration, SystemTime};

/// A reqwest client with a 10 s timeout, no proxy, rustls on `ring`.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Sends `request` and reads the whole answer as text, whatever its status.
pub async fn text(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

/// Parses an RFC 3339 UTC timestamp, asserting the AWS form: `Z`, whole
/// seconds.
pub fn rfc3339(text: &str) -> SystemTime {
    assert!(text.ends_with('Z') && !text.contains('.'), "{text}");
    SystemTime::from(time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap())
}
