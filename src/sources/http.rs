//! The HTTP plumbing shared by the network sources: one client per source,
//! bounded bodies, and a single mapping from transport errors to classes.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::Url;

use crate::error::{BuildError, ErrorClass, SourceError};

/// Default limit on any response body a source reads: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Installs rustls's `ring` provider as the process default, once. If the
/// application installed another provider first, that one stays.
fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client with the given connect and whole-request timeouts.
///
/// # Errors
/// [`BuildError::InvalidConfiguration`] if TLS cannot be set up.
pub(crate) fn client(connect_timeout: Duration, request_timeout: Duration) -> Result<reqwest::Client, BuildError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| BuildError::InvalidConfiguration {
            what: "HTTP client",
            reason: e.to_string(),
        })
}

/// The HTTP settings a network source's builder collects (connect timeout,
/// read timeout, body cap); what is left unset takes the source's defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HttpOptions {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_body_bytes: Option<usize>,
}

/// A source's defaults for [`HttpOptions`] and the names its configuration
/// errors give them.
pub(crate) struct HttpDefaults {
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    /// `what` of the error for a zero timeout.
    pub(crate) timeouts_what: &'static str,
    /// `what` of the error for a zero body cap.
    pub(crate) body_cap_what: &'static str,
}

impl HttpOptions {
    /// Fills in `defaults`, checks that both timeouts and the body cap are
    /// above zero, and builds a [`client`] whose whole-request timeout is the
    /// connect plus the read timeout. Returns it with the body cap.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for a zero timeout or body cap,
    /// or if TLS cannot be set up.
    pub(crate) fn build(self, defaults: &HttpDefaults) -> Result<(reqwest::Client, usize), BuildError> {
        let connect = self.connect_timeout.unwrap_or(defaults.connect_timeout);
        let read = self.read_timeout.unwrap_or(defaults.read_timeout);
        if connect.is_zero() || read.is_zero() {
            return Err(BuildError::InvalidConfiguration {
                what: defaults.timeouts_what,
                reason: "timeouts must be above zero".into(),
            });
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(defaults.max_body_bytes);
        if max_body_bytes == 0 {
            return Err(BuildError::InvalidConfiguration {
                what: defaults.body_cap_what,
                reason: "must be above zero".into(),
            });
        }
        Ok((client(connect, connect + read)?, max_body_bytes))
    }
}

/// Maps a transport error to a class. Timeouts are [`ErrorClass::Timeout`];
/// refused, reset or dropped connections and broken bodies are
/// [`ErrorClass::Retryable`]. The URL is stripped: it may carry a query.
pub(crate) fn transport_error(what: &str, error: reqwest::Error) -> SourceError {
    let error = error.without_url();
    let class = if error.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::Retryable
    };
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "connection dropped while reading the answer"
    } else {
        "request failed"
    };
    SourceError::new(class, format!("{what}: {kind}")).with_cause(error)
}

/// Reads a response body, failing with [`ErrorClass::InvalidResponse`] once
/// it passes `cap` bytes (the rest is never read into memory).
pub(crate) async fn read_body_capped(
    what: &str,
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, SourceError> {
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(SourceError::invalid_response(format!(
            "{what}: answer of {} bytes is over the {cap}-byte limit",
            response.content_length().unwrap_or_default()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(what, e))? {
        if body.len() + chunk.len() > cap {
            return Err(SourceError::invalid_response(format!(
                "{what}: answer is over the {cap}-byte limit"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Text from the network made safe to keep in an error message, a log or a
/// snapshot: control characters dropped, every value of `secrets` replaced
/// by [`REDACTED`](crate::REDACTED), then cut to `max_chars` (with `…`).
/// Redaction comes before the cut, so a secret straddling the cut cannot
/// survive as a prefix. Services may echo what was sent (AWS's
/// `SignatureDoesNotMatch` can quote the canonical request, session token
/// included).
pub(crate) fn safe_text(text: &str, secrets: &[&str], max_chars: usize) -> String {
    let mut text: String = text.trim().chars().filter(|c| !c.is_control()).collect();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, crate::REDACTED);
    }
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Text from the network made safe for a message: printable, `secret` (if
/// any) replaced, at most 200 characters. [`safe_text`] with one secret.
pub(crate) fn printable(text: &str, secret: Option<&str>) -> String {
    safe_text(text, secret.as_slice(), 200)
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The host of `url` as an IP address, if it is one.
pub(crate) fn host_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Parses an endpoint URL: https, or plain http only for loopback hosts
/// unless `allow_http` is set.
///
/// # Errors
/// [`BuildError::InvalidConfiguration`] for a URL that does not parse, has
/// another scheme, no host, or is plain http to a non-loopback host.
pub(crate) fn parse_endpoint(what: &'static str, raw: &str, allow_http: bool) -> Result<Url, BuildError> {
    let invalid = |reason: String| BuildError::InvalidConfiguration { what, reason };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(format!("`{raw}` is not a URL: {e}")))?;
    if url.host().is_none() {
        return Err(invalid(format!("`{raw}` has no host")));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err(invalid(format!(
            "plain http to `{}` is refused: use https, a loopback host, or allow http explicitly",
            url.host_str().unwrap_or_default()
        ))),
        other => Err(invalid(format!("scheme `{other}` is not http or https"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(parse_endpoint("sts", "https://sts.eu-west-1.amazonaws.com", false).is_ok());
        assert!(parse_endpoint("sts", "http://127.0.0.1:4566", false).is_ok());
        assert!(parse_endpoint("sts", "http://localhost:4566", false).is_ok());
        assert!(parse_endpoint("sts", "http://[::1]:4566", false).is_ok());
        assert!(parse_endpoint("sts", "http://sts.internal:80", false).is_err());
        assert!(parse_endpoint("sts", "http://sts.internal:80", true).is_ok());
        assert!(parse_endpoint("sts", "ftp://127.0.0.1", false).is_err());
        assert!(parse_endpoint("sts", "not a url", false).is_err());
    }

    #[test]
    fn safe_text_redacts_before_cutting() {
        let secret = "SESSIONTOKENVALUE0123456789";
        // The secret straddles the cut at 20 characters.
        let text = format!("0123456789abcde\n{secret} tail");
        let safe = safe_text(&text, &[secret], 20);
        assert!(!safe.contains("SESSIONTOKEN"), "{safe}");
        assert_eq!(safe, "0123456789abcde** re…");
        assert_eq!(safe_text("  short  ", &[""], 20), "short");
    }

    #[test]
    fn loopback_and_ip() {
        let u = Url::parse("http://169.254.170.2/creds").unwrap();
        assert!(!is_loopback(&u));
        assert_eq!(host_ip(&u), Some("169.254.170.2".parse().unwrap()));
    }
}
