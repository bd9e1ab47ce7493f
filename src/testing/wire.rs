//! Pieces shared by the three protocols: the parsed request, the answer
//! before faults touch it, identifiers and escaping.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use hyper::body::Bytes;

/// The largest request body read, in bytes; a larger one gets
/// `413 Payload Too Large`.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// A request, read whole. No `Debug`: it may carry secrets.
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    /// Query and form parameters (the form body wins on a clash).
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) body: String,
}

impl Incoming {
    /// The value of header `name`, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// An answer, before it is written. No `Debug`: it may carry secrets.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// An answer with this status, content type and body.
    pub(crate) fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body: body.into(),
        }
    }

    /// Adds a header; a value that is not a valid header value is left out.
    pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), value));
        }
        self
    }
}

/// A status from a number, 500 when it is not a valid status.
pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The page a load balancer sends when the service behind it fails.
pub(crate) fn html_500() -> Reply {
    Reply::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/html",
        "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n\
         <center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n",
    )
}

/// `t` as a UTC date-time, whole seconds; `None` outside what `time` can
/// represent.
fn utc(t: SystemTime) -> Option<time::OffsetDateTime> {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => i64::try_from(e.duration().as_secs()).ok()?.checked_neg()?,
    };
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .filter(|t| (0..=9999).contains(&t.year()))
}

/// `t` as an HTTP date (IMF-fixdate, RFC 7231): `Mon, 30 Nov 2026 02:00:00
/// GMT`. `None` outside years 0–9999.
pub(crate) fn http_date(t: SystemTime) -> Option<String> {
    let t = utc(t)?;
    let weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][usize::from(t.weekday().number_days_from_monday())];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(t.month()) - 1)];
    Some(format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// `t` in SigV4's ISO 8601 basic form, `20261130T020000Z`. `None` outside
/// years 0–9999.
pub(crate) fn amz_date(t: SystemTime) -> Option<String> {
    let t = utc(t)?;
    Some(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Parses SigV4's `20261130T020000Z`; `None` if it is not that form.
pub(crate) fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let day = u8::try_from(digits(6..8)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(digits(9..11)?).ok()?,
        u8::try_from(digits(11..13)?).ok()?,
        u8::try_from(digits(13..15)?).ok()?,
    )
    .ok()?;
    let secs = date.with_time(clock).assume_utc().unix_timestamp();
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Parses an HTTP date in IMF-fixdate form; `None` otherwise.
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    // "Mon, 30 Nov 2026 02:00:00 GMT"
    let rest = text.trim().get(5..)?;
    let mut parts = rest.split(' ');
    let (Some(day), Some(month), Some(year), Some(hms), Some("GMT"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == month)? + 1;
    let hms = hms.replace(':', "");
    if day.len() != 2 || year.len() != 4 || hms.len() != 6 {
        return None;
    }
    parse_amz_date(&format!("{year}{month:02}{day}T{hms}Z"))
}

/// Characters of base64, the alphabet of secrets and tokens.
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Characters of access key IDs and role IDs.
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect()
}

/// `len` random characters of `[A-Z0-9]`.
pub(crate) fn upper_alnum(len: usize) -> String {
    random_from(UPPER_ALNUM, len)
}

/// `len` random characters of base64.
pub(crate) fn base64ish(len: usize) -> String {
    random_from(BASE64, len)
}

/// `len` random lower-case hex digits.
pub(crate) fn hex(len: usize) -> String {
    random_from(b"0123456789abcdef", len)
}

/// A random request ID in the UUID form AWS uses.
pub(crate) fn request_id() -> String {
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!("{}-{}-4{}-{variant}{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12))
}

/// Escapes text for XML content.
pub(crate) fn xml(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// Decodes base64url (with or without padding); `None` if it is not.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_aws_shapes() {
        let id = request_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
        assert!(
            upper_alnum(16)
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(base64ish(40).len(), 40);
        assert_ne!(base64ish(40), base64ish(40));
    }

    #[test]
    fn base64url_decodes() {
        assert_eq!(base64url_decode("eyJzdWIiOiJhIn0").unwrap(), br#"{"sub":"a"}"#);
        assert_eq!(base64url_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert!(base64url_decode("not base64!").is_none());
    }

    #[test]
    fn dates_have_the_http_and_sigv4_forms() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_004_000); // 2026-11-30T02:00:00Z
        assert_eq!(http_date(t).unwrap(), "Mon, 30 Nov 2026 02:00:00 GMT");
        assert_eq!(amz_date(t).unwrap(), "20261130T020000Z");
        assert_eq!(parse_amz_date("20261130T020000Z"), Some(t));
        assert_eq!(parse_http_date("Mon, 30 Nov 2026 02:00:00 GMT"), Some(t));
        for bad in [
            "",
            "20261130T020000",
            "2026113OT020000Z",
            "20261340T020000Z",
            "20261130T250000Z",
            "+0261130T020000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Mon, 30 Nov 2026 02:00:00 UTC"), None);
        assert_eq!(parse_http_date("30 Nov"), None);
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            None
        );
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(xml("a<b&\"c'>"), "a&lt;b&amp;&quot;c&apos;&gt;");
    }
}
