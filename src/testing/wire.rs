//! Pieces shared by the three protocols: the parsed request, the answer
//! before faults touch it, identifiers and escaping.

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use hyper::body::Bytes;

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
    fn xml_escapes() {
        assert_eq!(xml("a<b&\"c'>"), "a&lt;b&amp;&quot;c&apos;&gt;");
    }
}
