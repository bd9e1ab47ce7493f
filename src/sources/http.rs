//! The HTTP plumbing shared by the network sources: one client per source,
//! bounded bodies, and a single mapping from transport errors to classes.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use zeroize::Zeroizing;

use crate::error::{BuildError, ErrorClass, SourceError};

/// Default limit on any response body a source reads: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The TLS settings of every source's client: TLS 1.2 and 1.3, HTTP/1.1,
/// server certificates checked against the system's roots by
/// `rustls-platform-verifier` (what reqwest builds for each client when it
/// is given none). Built once: its verifier loads and parses every root
/// certificate of the system, 2 ms and about 100 KiB that each of 10,000
/// roles would otherwise pay; the copies share it (and a TLS session cache,
/// so a second source's first connection to the same STS host resumes).
fn tls_config() -> Result<rustls::ClientConfig, BuildError> {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    // rustls's `ring` provider becomes the process default (once: this
    // runs until the first build succeeds); if the application installed
    // another provider first, that one stays and is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let invalid = |reason: String| BuildError::InvalidConfiguration {
        what: "HTTP client TLS",
        reason,
    };
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| invalid(e.to_string()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A racing first build may lose: its copy is as good.
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// A client with the given connect and whole-request timeouts, on the
/// shared [`tls_config`].
///
/// # Errors
/// [`BuildError::InvalidConfiguration`] if TLS cannot be set up.
pub(crate) fn client(connect_timeout: Duration, request_timeout: Duration) -> Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
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
/// it passes `cap` bytes (the rest is never read into memory). The body
/// is wiped when dropped: answers carry secret keys, session tokens and
/// IMDS tokens.
pub(crate) async fn read_body_capped(
    what: &str,
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Zeroizing<Vec<u8>>, SourceError> {
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(SourceError::invalid_response(format!(
            "{what}: answer of {} bytes is over the {cap}-byte limit",
            response.content_length().unwrap_or_default()
        )));
    }
    // Sized once from the announced length (within the cap) so that it is
    // not reallocated, which would leave unwiped copies behind.
    let announced = response.content_length().unwrap_or(0).min(cap as u64) as usize;
    let mut body = Zeroizing::new(Vec::with_capacity(announced));
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(what, e))? {
        if body.len() + chunk.len() > cap {
            return Err(SourceError::invalid_response(format!(
                "{what}: answer is over the {cap}-byte limit"
            )));
        }
        if body.capacity() < body.len() + chunk.len() {
            // Grow by hand: the old buffer is wiped when `body` is replaced.
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + chunk.len()).max(body.len() * 2).min(cap),
            ));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The longest lifetime believed when it is measured against an answer's
/// `Date`: 36 h, the longest session STS grants (`GetSessionToken`). A
/// `Date` that would make credentials live longer is not believed (a broken
/// clock on the service's side, not ours), and the `Expiration` is kept as
/// sent.
pub(crate) const MAX_DATED_LIFETIME: Duration = Duration::from_secs(36 * 3600);

/// The time of an answer's `Date` header (IMF-fixdate, `Sun, 06 Nov 1994
/// 08:49:37 GMT`), or `None` when there is none, it does not parse, or the
/// answer came from a cache (an `Age` header: its `Date` is stale).
pub(crate) fn server_date(headers: &reqwest::header::HeaderMap) -> Option<SystemTime> {
    if headers.contains_key(reqwest::header::AGE) {
        return None;
    }
    let mut dates = headers.get_all(reqwest::header::DATE).iter();
    let (Some(date), None) = (dates.next(), dates.next()) else {
        return None;
    };
    let text = date.to_str().ok()?.trim();
    if let Some(t) = imf_fixdate(text) {
        return Some(t);
    }
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    Some(SystemTime::from(parsed))
}

/// `text` read as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the
/// form every HTTP server sends) of a year from 1900, with the right
/// weekday; `None` for anything else, which the full RFC 2822 parser then
/// reads (or refuses) as it always did. Several times cheaper than it for
/// the common case: a fixed layout read in place.
fn imf_fixdate(text: &str) -> Option<SystemTime> {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    let b = text.as_bytes();
    if b.len() != 29
        || &b[3..5] != b", "
        || b[7] != b' '
        || b[11] != b' '
        || b[16] != b' '
        || b[19] != b':'
        || b[22] != b':'
        || &b[25..] != b" GMT"
    {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .try_fold(0u16, |n, &d| d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0')))
    };
    let year = number(12, 16).filter(|&y| y >= 1900)?;
    let month = MONTHS.iter().position(|m| m[..] == b[8..11])?;
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let day = u8::try_from(number(5, 7)?).ok()?;
    let date = time::Date::from_calendar_date(i32::from(year), month, day).ok()?;
    if WEEKDAYS[usize::from(date.weekday().number_days_from_monday())][..] != b[..3] {
        return None;
    }
    let [hour, minute, second] = [number(17, 19)?, number(20, 22)?, number(23, 25)?].map(|n| u8::try_from(n).ok());
    let time = time::Time::from_hms(hour?, minute?, second?).ok()?;
    Some(SystemTime::from(date.with_time(time).assume_utc()))
}

/// An expiry read from an answer, moved onto the local clock: the lifetime
/// is measured against the service's own clock (`expiry - server_date`, both
/// from the same answer) and added to `local_now`, so a local clock that is
/// off does not make credentials look longer or shorter lived than they are.
///
/// Without a `server_date`, or when the lifetime so measured is over
/// [`MAX_DATED_LIFETIME`], `expiry` is kept as sent. A lifetime of zero or
/// less stays expired: the result is as far before `local_now`.
pub(crate) fn local_expiry(expiry: SystemTime, server_date: Option<SystemTime>, local_now: SystemTime) -> SystemTime {
    let Some(date) = server_date else {
        return expiry;
    };
    match expiry.duration_since(date) {
        Ok(lifetime) if lifetime > MAX_DATED_LIFETIME => expiry,
        Ok(lifetime) => local_now.checked_add(lifetime).unwrap_or(expiry),
        Err(past) => local_now.checked_sub(past.duration()).unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// `credentials` with their expiry (if any) moved onto the local clock by
/// [`local_expiry`].
pub(crate) fn on_local_clock(
    credentials: crate::credentials::Credentials,
    server_date: Option<SystemTime>,
    local_now: SystemTime,
) -> crate::credentials::Credentials {
    match credentials.expiry() {
        Some(expiry) if server_date.is_some() => {
            let local = expiry_on_local_clock(expiry, server_date, local_now);
            credentials.with_expiry(local)
        }
        _ => credentials,
    }
}

/// [`local_expiry`], with a debug log of the skew when it moves the expiry:
/// what [`on_local_clock`] does to credentials, for a reader that sets the
/// expiry before it builds them.
pub(crate) fn expiry_on_local_clock(
    expiry: SystemTime,
    server_date: Option<SystemTime>,
    local_now: SystemTime,
) -> SystemTime {
    let local = local_expiry(expiry, server_date, local_now);
    if local != expiry {
        tracing::debug!(
            skew_secs = signed_secs(server_date.unwrap_or(local_now), local_now),
            "credentials expiry measured against the service's Date and moved onto the local clock"
        );
    }
    local
}

/// `a - b` in whole seconds, signed (saturating).
pub(crate) fn signed_secs(a: SystemTime, b: SystemTime) -> i64 {
    match a.duration_since(b) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map(|s| -s).unwrap_or(i64::MIN),
    }
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

/// The longest request id kept, in characters.
pub(crate) const MAX_REQUEST_ID_CHARS: usize = 64;

/// A request id from the network (an STS `<RequestId>`, an
/// `x-amzn-RequestId` header) made safe to show: only ASCII letters,
/// digits and `-_.+/=` are kept (UUIDs and base64 ids), at most
/// [`MAX_REQUEST_ID_CHARS`] of them. `None` when nothing is left: a request
/// id can carry neither a forged log line nor 64 KiB into an error.
pub(crate) fn safe_request_id(raw: &str) -> Option<String> {
    // Byte by byte: every byte kept is ASCII, and no byte of a multi-byte
    // character is.
    let keep = |b: &u8| b.is_ascii_alphanumeric() || b"-_.+/=".contains(b);
    // The common case, an id that is all kept bytes and short enough,
    // copied at once.
    if !raw.is_empty() && raw.len() <= MAX_REQUEST_ID_CHARS && raw.bytes().all(|b| keep(&b)) {
        return Some(raw.to_string());
    }
    let mut id = String::with_capacity(raw.len().min(MAX_REQUEST_ID_CHARS));
    id.extend(raw.bytes().filter(keep).take(MAX_REQUEST_ID_CHARS).map(char::from));
    (!id.is_empty()).then_some(id)
}

/// Text from the network made safe for a message: printable, `secret` (if
/// any) replaced, at most 200 characters. [`safe_text`] with one secret.
pub(crate) fn printable(text: &str, secret: Option<&str>) -> String {
    safe_text(text, secret.as_slice(), 200)
}

/// `url` as it may be shown (errors, logs, `Debug`): without its
/// `user:password@` part, which is a secret.
pub(crate) fn shown_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_string();
    }
    let mut shown = url.clone();
    // Only URLs that cannot have a user refuse these, and they have none.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.as_str().to_string()
}

/// An endpoint as configured (a URL that may not parse) as it may be
/// shown: [`shown_url`] when it parses with a host; otherwise everything up to the last
/// `@` before any `?` or `#` is dropped after the scheme, since it may be a
/// `user:password` the parser could not place.
pub(crate) fn shown_raw_url(raw: &str) -> String {
    if let Ok(url) = Url::parse(raw.trim())
        && url.has_host()
    {
        return shown_url(&url);
    }
    let start = raw.find("//").map_or(0, |i| i + 2);
    let end = raw[start..].find(['?', '#']).map_or(raw.len(), |i| start + i);
    match raw[start..end].rfind('@') {
        Some(at) => format!("{}{}", &raw[..start], &raw[start + at + 1..]),
        None => raw.to_string(),
    }
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
    let url = Url::parse(raw.trim()).map_err(|e| invalid(format!("`{}` is not a URL: {e}", shown_raw_url(raw))))?;
    if url.host().is_none() {
        return Err(invalid(format!("`{}` has no host", shown_url(&url))));
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

    /// The IMF-fixdate fast path reads what the RFC 2822 parser reads, and
    /// leaves to it (returns `None`) what it does not read alike.
    #[test]
    fn imf_fixdate_agrees_with_the_rfc_2822_parser() {
        let rfc2822 = |text: &str| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822)
                .ok()
                .map(SystemTime::from)
        };
        let layout = time::format_description::parse(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
        )
        .unwrap();
        // Every day from 1900 to 9999 (one in 97, at a changing hour) and
        // the ends of the range.
        let mut secs: i64 = -2_208_988_800;
        let mut n = 0;
        while secs <= 253_402_300_799 {
            let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let text = t.format(&layout).unwrap();
            let expected = rfc2822(&text);
            assert!(expected.is_some(), "{text}");
            assert_eq!(imf_fixdate(&text), expected, "{text}");
            secs += 97 * 86_400 + 3_607;
            n += 1;
        }
        assert!(n > 30_000);
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sun, 06 Nov 1994 08:60:37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun,  6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sat, 06 Nov 1894 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 0x Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 2026 08:49:37 GMT",
            "Fri, 29 Feb 2028 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            let fast = imf_fixdate(text);
            assert!(fast.is_none() || fast == rfc2822(text), "{text}");
        }
        assert!(imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT").is_some());
    }

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

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn lifetimes_are_measured_against_the_date_and_bounded() {
        let hour = Duration::from_secs(3600);
        let local = t(1_796_004_000);
        // The service two hours ahead or behind: an hour from local now.
        let ahead = local + 2 * hour;
        assert_eq!(local_expiry(ahead + hour, Some(ahead), local), local + hour);
        let behind = local - 2 * hour;
        assert_eq!(local_expiry(behind + hour, Some(behind), local), local + hour);
        // No Date: kept as sent.
        assert_eq!(local_expiry(ahead + hour, None, local), ahead + hour);
        // Already expired by the service's clock: expired here too.
        assert_eq!(local_expiry(ahead - hour, Some(ahead), local), local - hour);
        assert_eq!(local_expiry(ahead, Some(ahead), local), local);
        // A Date that makes the lifetime over 36 h is not believed.
        let broken = t(0);
        assert_eq!(local_expiry(ahead + hour, Some(broken), local), ahead + hour);
        assert_eq!(
            local_expiry(local + MAX_DATED_LIFETIME, Some(local), local),
            local + MAX_DATED_LIFETIME
        );
        // The ends of time do not panic.
        let _ = local_expiry(t(u64::from(u32::MAX)), Some(t(0)), local);
        let _ = local_expiry(t(0), Some(t(u64::from(u32::MAX))), t(1));
    }

    #[test]
    fn server_dates() {
        use reqwest::header::{AGE, DATE, HeaderMap, HeaderValue};
        let headers = |pairs: &[(reqwest::header::HeaderName, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(name.clone(), HeaderValue::from_str(value).unwrap());
            }
            map
        };
        let date = "Mon, 30 Nov 2026 02:00:00 GMT";
        assert_eq!(server_date(&headers(&[(DATE, date)])), Some(t(1_796_004_000)));
        assert_eq!(server_date(&headers(&[])), None);
        assert_eq!(server_date(&headers(&[(DATE, "yesterday")])), None);
        assert_eq!(server_date(&headers(&[(DATE, "")])), None);
        // A cached answer's Date is stale; two Dates are one too many.
        assert_eq!(server_date(&headers(&[(DATE, date), (AGE, "10")])), None);
        assert_eq!(server_date(&headers(&[(DATE, date), (DATE, date)])), None);
    }

    #[test]
    fn shown_urls_lose_their_user_and_password() {
        let shown = |raw: &str| shown_url(&Url::parse(raw).unwrap());
        assert_eq!(
            shown("https://admin:hunter2@sts.example.com:8443/path?q=1"),
            "https://sts.example.com:8443/path?q=1"
        );
        assert_eq!(shown("http://token@127.0.0.1:4566/"), "http://127.0.0.1:4566/");
        assert_eq!(shown("http://:pw@127.0.0.1/"), "http://127.0.0.1/");
        assert_eq!(shown("https://sts.amazonaws.com/"), "https://sts.amazonaws.com/");
        // As configured, parsing or not.
        assert_eq!(shown_raw_url("http://u:pw@127.0.0.1:1/"), "http://127.0.0.1:1/");
        assert_eq!(shown_raw_url("http://u:p/w@[::zz]/x?a@b"), "http://[::zz]/x?a@b");
        assert_eq!(shown_raw_url("//u:pw@evil.example/creds"), "//evil.example/creds");
        assert_eq!(shown_raw_url("u:pw@host"), "host");
        assert_eq!(shown_raw_url("not a url"), "not a url");
        let e = parse_endpoint("sts", "http://u:secretpw@[::zz]/", false).unwrap_err();
        assert!(!e.to_string().contains("secretpw"), "{e}");
    }

    #[test]
    fn request_ids_keep_a_safe_charset_and_64_characters() {
        assert_eq!(
            safe_request_id("c6104cbe-af31-11e0-8154-cbc7ccf896c7").as_deref(),
            Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7")
        );
        assert_eq!(safe_request_id("a+b/c=_.\r\nX: y").as_deref(), Some("a+b/c=_.Xy"));
        assert_eq!(safe_request_id(&"z".repeat(100)).map(|s| s.len()), Some(64));
        assert_eq!(safe_request_id("\n <>\u{202e}é"), None);
        assert_eq!(safe_request_id(""), None);
        // The fast path (an id kept whole) and the filter agree, at the
        // length limit too.
        let filtered = |raw: &str| {
            let id: String = raw
                .bytes()
                .filter(|b| b.is_ascii_alphanumeric() || b"-_.+/=".contains(b))
                .take(MAX_REQUEST_ID_CHARS)
                .map(char::from)
                .collect();
            (!id.is_empty()).then_some(id)
        };
        for raw in [
            "a".repeat(63),
            "a".repeat(64),
            "a".repeat(65),
            format!("{}\n", "b".repeat(64)),
            "id with spaces".to_string(),
            "AbC-_.+/=09".to_string(),
            "é".to_string(),
        ] {
            assert_eq!(safe_request_id(&raw), filtered(&raw), "{raw:?}");
        }
    }

    #[test]
    fn loopback_and_ip() {
        let u = Url::parse("http://169.254.170.2/creds").unwrap();
        assert!(!is_loopback(&u));
        assert_eq!(host_ip(&u), Some("169.254.170.2".parse().unwrap()));
    }
}
