//! The JSON credentials document, one parser for every place it appears:
//! the instance metadata service, the container credentials endpoint, a
//! `credential_process` program's output and the boto-style map.
//!
//! All of them carry `AccessKeyId`, `SecretAccessKey`, a session token and
//! `Expiration` under PascalCase names; a [`DocumentKind`] says what else a
//! caller's format needs. Caller-specific checks that need the raw document
//! (IMDS's `Code`) run between [`read`] and [`Document::into_credentials`];
//! [`parse`] does both steps for everyone else.
//!
//! Errors never carry a value from the document: a JSON error reports only
//! its category and position, and field errors name the field.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::credentials::{Credentials, CredentialsError};
use crate::error::SourceError;

/// Which format a document is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    /// The instance metadata service: `Token` and `Expiration` required.
    /// `Code` is for the caller to check (see [`Document::code`]).
    Imds,
    /// The container credentials endpoint: `Expiration` required, `Token`
    /// optional.
    Container,
    /// A `credential_process` program's output: `Version` must be 1;
    /// `SessionToken` (or `Token`), `Expiration`, `StartTime` optional.
    CredentialProcess,
    /// The boto-style map: as [`CredentialProcess`](Self::CredentialProcess)
    /// without `Version`.
    Boto,
}

impl DocumentKind {
    /// Whether `Version` must be present and 1.
    fn needs_version(self) -> bool {
        self == Self::CredentialProcess
    }

    /// Whether `SessionToken` is read (else only `Token` is).
    fn reads_session_token(self) -> bool {
        matches!(self, Self::CredentialProcess | Self::Boto)
    }

    /// Whether `StartTime`, when present, is the issue time.
    fn reads_start_time(self) -> bool {
        matches!(self, Self::CredentialProcess | Self::Boto)
    }

    /// Whether a session token is required.
    fn needs_token(self) -> bool {
        self == Self::Imds
    }

    /// Whether `Expiration` is required.
    fn needs_expiration(self) -> bool {
        matches!(self, Self::Imds | Self::Container)
    }
}

/// Where a document failed to parse as JSON: the category and position,
/// never the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError {
    category: serde_json::error::Category,
    line: usize,
    column: usize,
}

impl JsonError {
    fn new(e: &serde_json::Error) -> Self {
        Self {
            category: e.classify(),
            line: e.line(),
            column: e.column(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} error at line {} column {}",
            self.category, self.line, self.column
        )
    }
}

/// A document that does not make credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DocumentError {
    /// Not JSON, or a field of the wrong JSON type.
    Json(JsonError),
    /// A field is missing or not acceptable.
    Field(CredentialsError),
}

impl DocumentError {
    /// As an [`InvalidResponse`](crate::ErrorClass::InvalidResponse) error of
    /// a network source, prefixed with `what`.
    pub(crate) fn into_source_error(self, what: &str) -> SourceError {
        SourceError::invalid_response(format!("{what}: {self}"))
    }
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "the document is not valid JSON ({e})"),
            Self::Field(e) => e.fmt(f),
        }
    }
}

impl From<CredentialsError> for DocumentError {
    fn from(e: CredentialsError) -> Self {
        Self::Field(e)
    }
}

impl From<DocumentError> for CredentialsError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Json(json) => CredentialsError::Invalid {
                field: "JSON document",
                reason: json.to_string(),
            },
            DocumentError::Field(e) => e,
        }
    }
}

/// A credentials document as read, before the kind's rules are applied.
/// Unknown fields (`LastUpdated`, `Type`, `RoleArn`, ...) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Document {
    version: Option<u8>,
    code: Option<String>,
    message: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<Zeroizing<String>>,
    session_token: Option<Zeroizing<String>>,
    // IMDS and the container endpoint call it `Token`; the AWS CLI accepts
    // both in a `credential_process` document.
    token: Option<Zeroizing<String>>,
    expiration: Option<String>,
    start_time: Option<String>,
    account_id: Option<String>,
}

/// Reads a document's JSON, without checking its fields.
pub(crate) fn read(body: &[u8]) -> Result<Document, DocumentError> {
    serde_json::from_slice(body).map_err(|e| DocumentError::Json(JsonError::new(&e)))
}

/// Reads a document and makes credentials of it, by the rules of `kind`.
/// `issued_at` is the issue time unless the document's `StartTime` says
/// otherwise (for the kinds that read it).
pub(crate) fn parse(body: &[u8], issued_at: SystemTime, kind: DocumentKind) -> Result<Credentials, DocumentError> {
    read(body)?.into_credentials(issued_at, kind)
}

impl Document {
    /// IMDS's `Code` (`Success`, or why there are no credentials). Text
    /// from the network: make it safe before showing it.
    pub(crate) fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// IMDS's `Message`, explaining a `Code` other than `Success`. Text
    /// from the network: make it safe before showing it.
    pub(crate) fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Makes credentials of the fields, by the rules of `kind`.
    pub(crate) fn into_credentials(
        self,
        issued_at: SystemTime,
        kind: DocumentKind,
    ) -> Result<Credentials, DocumentError> {
        if kind.needs_version() {
            match self.version {
                Some(1) => {}
                Some(v) => {
                    return Err(CredentialsError::Invalid {
                        field: "Version",
                        reason: format!("unsupported version {v}, expected 1"),
                    }
                    .into());
                }
                None => return Err(CredentialsError::Missing("Version").into()),
            }
        }
        let time = |field, v: &str| parse_rfc3339(v).map_err(|reason| CredentialsError::Invalid { field, reason });
        let issued_at = match &self.start_time {
            Some(s) if kind.reads_start_time() => time("StartTime", s)?,
            _ => issued_at,
        };
        let secret = self
            .secret_access_key
            .ok_or(CredentialsError::Missing("SecretAccessKey"))?;
        let mut creds = Credentials::new(
            self.access_key_id.ok_or(CredentialsError::Missing("AccessKeyId"))?,
            secret.as_str(),
            issued_at,
        )?;
        let session_token = self.session_token.filter(|_| kind.reads_session_token());
        match session_token.or(self.token) {
            Some(token) => creds = creds.with_session_token(token.as_str())?,
            None if kind.needs_token() => return Err(CredentialsError::Missing("Token").into()),
            None => {}
        }
        match &self.expiration {
            Some(exp) => creds = creds.with_expiry(time("Expiration", exp)?),
            None if kind.needs_expiration() => return Err(CredentialsError::Missing("Expiration").into()),
            None => {}
        }
        if let Some(account) = self.account_id {
            creds = creds.with_account_id(account);
        }
        Ok(creds)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u8>,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

impl Credentials {
    /// The JSON document an AWS CLI `credential_process` prints (`Version: 1`).
    pub fn to_credential_process_json(&self) -> Zeroizing<String> {
        self.to_json(Some(1), false)
    }

    /// Parses a `credential_process` document.
    ///
    /// # Errors
    /// [`CredentialsError`] when the JSON does not parse, `Version` is not 1,
    /// or a field is missing or malformed.
    pub fn from_credential_process_json(json: &str, issued_at: SystemTime) -> Result<Self, CredentialsError> {
        Ok(parse(json.as_bytes(), issued_at, DocumentKind::CredentialProcess)?)
    }

    /// The boto-style map as JSON: `AccessKeyId`, `SecretAccessKey`,
    /// `SessionToken`, `Expiration` and `StartTime` (python-stslib's `boto` format).
    pub fn to_boto_json(&self) -> Zeroizing<String> {
        self.to_json(None, true)
    }

    /// Parses the boto-style map (as boto3's `get_credentials()` or an STS
    /// `Credentials` element in JSON). `StartTime`, when present, becomes
    /// the issue time; otherwise `issued_at` is used.
    ///
    /// # Errors
    /// [`CredentialsError`] when the JSON does not parse or a field is missing or malformed.
    pub fn from_boto_json(json: &str, issued_at: SystemTime) -> Result<Self, CredentialsError> {
        Ok(parse(json.as_bytes(), issued_at, DocumentKind::Boto)?)
    }

    fn to_json(&self, version: Option<u8>, start_time: bool) -> Zeroizing<String> {
        let expiration = self.expiry().map(format_rfc3339);
        let start = start_time.then(|| format_rfc3339(self.issued_at()));
        let doc = WireOut {
            version,
            access_key_id: self.access_key_id(),
            secret_access_key: self.secret_access_key(),
            session_token: self.session_token(),
            expiration: expiration.as_deref(),
            start_time: start.as_deref(),
            account_id: self.account_id(),
        };
        // Written into a buffer big enough from the start (every character
        // escaped as `\uXXXX` at worst, plus the names), so that it is never
        // reallocated: a reallocation would leave an unwiped copy of the
        // secret behind.
        let fields = [
            doc.access_key_id,
            doc.secret_access_key,
            doc.session_token.unwrap_or_default(),
            doc.expiration.unwrap_or_default(),
            doc.start_time.unwrap_or_default(),
            doc.account_id.unwrap_or_default(),
        ];
        let capacity = 256 + 6 * fields.iter().map(|f| f.len()).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        // Serializing borrowed strings into a `Vec` cannot fail, and
        // serde_json writes UTF-8.
        if serde_json::to_writer(&mut *out, &doc).is_err() {
            return Zeroizing::new(String::new());
        }
        let bytes = std::mem::take(&mut *out);
        match String::from_utf8(bytes) {
            Ok(text) => Zeroizing::new(text),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Zeroizing::new(String::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;
    use proptest::prelude::*;
    use std::time::Duration;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";
    const KINDS: [DocumentKind; 4] = [
        DocumentKind::Imds,
        DocumentKind::Container,
        DocumentKind::CredentialProcess,
        DocumentKind::Boto,
    ];

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn field(e: DocumentError) -> CredentialsError {
        match e {
            DocumentError::Field(f) => f,
            DocumentError::Json(j) => panic!("expected a field error, got {j}"),
        }
    }

    #[test]
    fn imds_document() {
        let doc = format!(
            r#"{{"Code":"Success","LastUpdated":"2026-11-22T18:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAEXAMPLE",
               "SecretAccessKey":"{SECRET}","Token":"{TOKEN}","Expiration":"2026-11-22T19:00:00Z"}}"#
        );
        let read = read(doc.as_bytes()).unwrap();
        assert_eq!(read.code(), Some("Success"));
        assert_eq!(read.message(), None);
        let c = read.into_credentials(t(1_795_370_400), DocumentKind::Imds).unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.issued_at(), t(1_795_370_400));
        // IMDS needs the token and the expiry.
        let no_token = r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-11-22T19:00:00Z"}"#;
        let e = parse(no_token.as_bytes(), t(0), DocumentKind::Imds).unwrap_err();
        assert_eq!(field(e), CredentialsError::Missing("Token"));
        // `SessionToken` is not an IMDS field.
        let session =
            r#"{"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","Expiration":"2026-11-22T19:00:00Z"}"#;
        let e = parse(session.as_bytes(), t(0), DocumentKind::Imds).unwrap_err();
        assert_eq!(field(e), CredentialsError::Missing("Token"));
        // `Code` is for the caller: the parser itself does not look at it.
        let denied = r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role"}"#;
        let read = super::read(denied.as_bytes()).unwrap();
        assert_eq!(read.code(), Some("AssumeRoleUnauthorizedAccess"));
        assert_eq!(read.message(), Some("EC2 cannot assume the role"));
    }

    #[test]
    fn container_document() {
        let doc = format!(
            r#"{{"AccessKeyId":"ASIAECS","SecretAccessKey":"{SECRET}","Token":"T0K","Expiration":"2026-11-22T19:00:00Z",
               "RoleArn":"arn:aws:iam::123456789012:role/task","AccountId":"123456789012"}}"#
        );
        let c = parse(doc.as_bytes(), t(5), DocumentKind::Container).unwrap();
        assert_eq!(c.session_token(), Some("T0K"));
        assert_eq!(c.account_id(), Some("123456789012"));
        assert_eq!(c.issued_at(), t(5));
        // The token is optional, the expiry is not.
        let no_token = r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-11-22T19:00:00Z"}"#;
        assert_eq!(
            parse(no_token.as_bytes(), t(0), DocumentKind::Container)
                .unwrap()
                .session_token(),
            None
        );
        let no_expiry = r#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T"}"#;
        let e = parse(no_expiry.as_bytes(), t(0), DocumentKind::Container).unwrap_err();
        assert_eq!(field(e), CredentialsError::Missing("Expiration"));
    }

    #[test]
    fn credential_process_document() {
        let doc = format!(
            r#"{{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"{SECRET}","SessionToken":"{TOKEN}",
               "Expiration":"2026-11-22T19:00:00Z","AccountId":"123456789012"}}"#
        );
        let c = parse(doc.as_bytes(), t(7), DocumentKind::CredentialProcess).unwrap();
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.account_id(), Some("123456789012"));
        assert_eq!(c.issued_at(), t(7));
        // Long-term keys: no token, no expiry.
        let long = r#"{"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"S"}"#;
        let l = parse(long.as_bytes(), t(0), DocumentKind::CredentialProcess).unwrap();
        assert_eq!((l.session_token(), l.expiry()), (None, None));
    }

    #[test]
    fn version_must_be_one() {
        let v2 = br#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"}"#;
        let e = field(parse(v2, t(0), DocumentKind::CredentialProcess).unwrap_err());
        assert!(matches!(e, CredentialsError::Invalid { field: "Version", .. }), "{e}");
        assert!(e.to_string().contains("unsupported version 2"), "{e}");
        let none = br#"{"AccessKeyId":"A","SecretAccessKey":"S"}"#;
        let e = parse(none, t(0), DocumentKind::CredentialProcess).unwrap_err();
        assert_eq!(field(e), CredentialsError::Missing("Version"));
        // The version is checked before the fields.
        let empty_v2 = br#"{"Version":2}"#;
        let e = field(parse(empty_v2, t(0), DocumentKind::CredentialProcess).unwrap_err());
        assert!(matches!(e, CredentialsError::Invalid { field: "Version", .. }), "{e}");
        // The other kinds do not look at it.
        for kind in [DocumentKind::Boto, DocumentKind::Container] {
            let doc = br#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-11-22T19:00:00Z"}"#;
            assert!(parse(doc, t(0), kind).is_ok(), "{kind:?}");
        }
    }

    #[test]
    fn token_alias() {
        let token_only =
            br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"OLD","Expiration":"2026-11-22T19:00:00Z"}"#;
        let both = br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"OLD","SessionToken":"NEW","Expiration":"2026-11-22T19:00:00Z"}"#;
        for kind in KINDS.into_iter().filter(|k| !k.needs_version()) {
            let c = parse(token_only, t(0), kind).unwrap();
            assert_eq!(c.session_token(), Some("OLD"), "{kind:?}");
        }
        // `SessionToken` wins where it is read; IMDS and ECS read only `Token`.
        for (kind, want) in [
            (DocumentKind::Boto, "NEW"),
            (DocumentKind::Imds, "OLD"),
            (DocumentKind::Container, "OLD"),
        ] {
            assert_eq!(parse(both, t(0), kind).unwrap().session_token(), Some(want), "{kind:?}");
        }
        let process = br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","Token":"OLD"}"#;
        assert_eq!(
            parse(process, t(0), DocumentKind::CredentialProcess)
                .unwrap()
                .session_token(),
            Some("OLD")
        );
    }

    #[test]
    fn boto_start_time_is_the_issue_time() {
        let doc = br#"{"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","StartTime":"2026-11-22T18:00:00Z","Expiration":"2026-11-22T19:00:00.250000Z"}"#;
        let c = parse(doc, t(0), DocumentKind::Boto).unwrap();
        assert_eq!(c.issued_at(), t(1_795_370_400));
        assert_eq!(c.duration(), Some(Duration::from_millis(3_600_250)));
        // IMDS and ECS keep the time of the fetch.
        let c = parse(doc, t(9), DocumentKind::Container).unwrap();
        assert_eq!(c.issued_at(), t(9));
        let bad = br#"{"AccessKeyId":"A","SecretAccessKey":"S","StartTime":"yesterday"}"#;
        let e = field(parse(bad, t(0), DocumentKind::Boto).unwrap_err());
        assert!(matches!(e, CredentialsError::Invalid { field: "StartTime", .. }), "{e}");
    }

    #[test]
    fn missing_and_malformed_fields() {
        let cases: [(&str, CredentialsError); 2] = [
            (
                r#"{"AccessKeyId":"A","Token":"T","Expiration":"2026-11-22T19:00:00Z"}"#,
                CredentialsError::Missing("SecretAccessKey"),
            ),
            (
                r#"{"SecretAccessKey":"S","Token":"T","Expiration":"2026-11-22T19:00:00Z"}"#,
                CredentialsError::Missing("AccessKeyId"),
            ),
        ];
        for kind in KINDS.into_iter().filter(|k| !k.needs_version()) {
            for (doc, want) in &cases {
                let e = parse(doc.as_bytes(), t(0), kind).unwrap_err();
                assert_eq!(&field(e), want, "{kind:?} {doc}");
            }
            let bad_exp = br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"tomorrow"}"#;
            let e = field(parse(bad_exp, t(0), kind).unwrap_err());
            assert!(
                matches!(
                    e,
                    CredentialsError::Invalid {
                        field: "Expiration",
                        ..
                    }
                ),
                "{e}"
            );
        }
        // A malformed secret is refused without being shown.
        let bad_secret = format!(
            r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET} x","Token":"{TOKEN}","Expiration":"2026-11-22T19:00:00Z"}}"#
        );
        let e = parse(bad_secret.as_bytes(), t(0), DocumentKind::Imds).unwrap_err();
        assert!(!e.to_string().contains(SECRET), "{e}");
    }

    #[test]
    fn json_errors_give_the_position_and_no_secret() {
        let broken = format!("{{\"AccessKeyId\":\"A\",\n\"SecretAccessKey\":\"{SECRET}\",\"Token\":5}}");
        for kind in KINDS {
            let e = parse(broken.as_bytes(), t(0), kind).unwrap_err();
            assert!(matches!(e, DocumentError::Json(_)), "{kind:?}: {e}");
            let text = e.to_string();
            assert_eq!(text, "the document is not valid JSON (Data error at line 2 column 70)");
            assert!(!format!("{e:?}").contains(SECRET));
            // The same error as a source's and as a `CredentialsError`.
            let source = e.clone().into_source_error("IMDS credentials");
            assert_eq!(source.class(), ErrorClass::InvalidResponse);
            assert_eq!(source.message(), format!("IMDS credentials: {text}"));
            let creds = CredentialsError::from(e);
            assert_eq!(
                creds.to_string(),
                "invalid JSON document: Data error at line 2 column 70"
            );
        }
        let cut = format!(r#"{{"Version":1,"AccessKeyId":"A","SecretAccessKey":"{SECRET}""#);
        let e = parse(cut.as_bytes(), t(0), DocumentKind::CredentialProcess).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the document is not valid JSON (Eof error at line 1"),
            "{e}"
        );
        assert!(!e.to_string().contains(SECRET), "{e}");
        let e = parse(b"<html>", t(0), DocumentKind::Container).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the document is not valid JSON (Syntax error at line 1 column 1)"
        );
    }

    #[test]
    fn written_documents_read_back() {
        let c = Credentials::new("ASIAEXAMPLE", SECRET, t(1_795_370_400))
            .unwrap()
            .with_session_token(TOKEN)
            .unwrap()
            .with_expiry(t(1_795_374_000))
            .with_account_id("123456789012");
        let process = c.to_credential_process_json();
        assert_eq!(
            parse(process.as_bytes(), c.issued_at(), DocumentKind::CredentialProcess).unwrap(),
            c
        );
        let boto = c.to_boto_json();
        assert_eq!(parse(boto.as_bytes(), t(0), DocumentKind::Boto).unwrap(), c);
    }

    #[test]
    fn written_documents_are_never_reallocated() {
        // A reallocation would leave an unwiped copy of the secret: the
        // buffer still has exactly the capacity it was given.
        let c = Credentials::new("ASIAEXAMPLE", SECRET, t(1_795_370_400))
            .unwrap()
            .with_session_token("T".repeat(3000))
            .unwrap()
            .with_expiry(t(1_795_374_000));
        let time = format_rfc3339(t(0)).len();
        let fields = c.access_key_id().len() + c.secret_access_key().len() + 3000;
        assert_eq!(c.to_boto_json().capacity(), 256 + 6 * (fields + 2 * time));
        assert_eq!(c.to_credential_process_json().capacity(), 256 + 6 * (fields + time));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            for kind in KINDS {
                let _ = parse(&body, t(0), kind);
            }
        }

        #[test]
        fn arbitrary_field_values_never_panic(
            key in ".{0,40}",
            secret in ".{0,40}",
            token in ".{0,40}",
            expiration in ".{0,40}",
            version in any::<u8>(),
        ) {
            let doc = serde_json::json!({
                "Version": version,
                "AccessKeyId": key,
                "SecretAccessKey": secret,
                "Token": token,
                "SessionToken": token,
                "Expiration": expiration,
                "StartTime": expiration,
            })
            .to_string();
            for kind in KINDS {
                let _ = parse(doc.as_bytes(), t(0), kind);
            }
        }
    }
}
