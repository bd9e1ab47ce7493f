//! STS answers (AWS Query protocol, XML), read with quick-xml's pull reader.
//!
//! Only the fields credrefresh uses are read; unknown elements are ignored.
//! The root element says what the document is: the success element of the
//! call (`AssumeRoleResponse`, …) or an error (`ErrorResponse`, in either
//! of its two shapes). Parse errors never quote the body: it may hold a
//! secret access key or a session token.

use std::time::SystemTime;

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use zeroize::Zeroizing;

use crate::clock::parse_rfc3339;
use crate::credentials::Credentials;
use crate::error::SourceError;
use crate::sources::http::safe_request_id;

/// The STS call an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    AssumeRole,
    GetSessionToken,
    AssumeRoleWithWebIdentity,
}

impl Call {
    /// The `Action` parameter, also the prefix of the answer's elements.
    pub(crate) const fn action(self) -> &'static str {
        match self {
            Call::AssumeRole => "AssumeRole",
            Call::GetSessionToken => "GetSessionToken",
            Call::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
        }
    }

    /// `STS <action>`, as error messages name the call.
    pub(crate) const fn what(self) -> &'static str {
        match self {
            Call::AssumeRole => "STS AssumeRole",
            Call::GetSessionToken => "STS GetSessionToken",
            Call::AssumeRoleWithWebIdentity => "STS AssumeRoleWithWebIdentity",
        }
    }

    /// The element of a success answer that holds the result.
    const fn result_element(self) -> &'static str {
        match self {
            Call::AssumeRole => "AssumeRoleResult",
            Call::GetSessionToken => "GetSessionTokenResult",
            Call::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentityResult",
        }
    }
}

/// Credentials read from a success answer, with what else was useful in it.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) credentials: Credentials,
    /// The `AssumedRoleUser` ARN, when the call has one.
    pub(crate) assumed_role_arn: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// An AWS error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
}

/// The longest AWS error message kept, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 512;

/// What a body turned out to be.
pub(crate) enum Answer {
    Success(Box<Parsed>),
    Error(AwsError),
}

/// Why a body is not an STS document. Never quotes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    /// Not well-formed XML, or cut short.
    Malformed,
    /// A root element that is none of the documents STS sends.
    UnexpectedRoot,
    /// Markup where text was expected, a repeated element, text outside
    /// the root, an unknown entity: not the shape of an STS document.
    Structure,
    /// A required element is missing (named: never a value).
    Missing(&'static str),
}

impl Unreadable {
    fn describe(self) -> String {
        match self {
            Unreadable::Malformed => "malformed XML".to_string(),
            Unreadable::UnexpectedRoot => "an unexpected root element".to_string(),
            Unreadable::Structure => "an unexpected document structure".to_string(),
            Unreadable::Missing(field) => format!("missing field `{field}`"),
        }
    }
}

impl From<quick_xml::Error> for Unreadable {
    fn from(_: quick_xml::Error) -> Self {
        Unreadable::Malformed
    }
}

impl From<quick_xml::encoding::EncodingError> for Unreadable {
    fn from(_: quick_xml::encoding::EncodingError) -> Self {
        Unreadable::Malformed
    }
}

/// Whitespace as XML defines it.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The text of a leaf element. Borrowed from the body when it is one piece
/// (the common case: no allocation); otherwise assembled in a buffer that
/// is wiped when dropped, since it may be a secret access key or a session
/// token.
enum Text<'a> {
    Borrowed(&'a str),
    Owned(Zeroizing<String>),
}

impl Text<'_> {
    /// The text as sent (not trimmed: credentials with spaces are refused).
    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s.as_str(),
        }
    }
}

/// Sets `slot` to what `read` returns, once: a repeated element is not the
/// shape of an STS document.
fn once<T>(slot: &mut Option<T>, read: impl FnOnce() -> Result<T, Unreadable>) -> Result<(), Unreadable> {
    if slot.is_some() {
        return Err(Unreadable::Structure);
    }
    *slot = Some(read()?);
    Ok(())
}

/// Whether the attributes of `start` are well-formed (they are not read). Only the
/// elements that hold others are checked (as serde's reader did): those of
/// a text, and those skipped, are not.
fn checked(start: &BytesStart<'_>) -> Result<(), Unreadable> {
    for attribute in start.attributes() {
        attribute.map_err(|_| Unreadable::Malformed)?;
    }
    Ok(())
}

/// A pull reader over one STS answer: only the elements credrefresh uses
/// are read, the others are skipped without being copied. Elements are
/// matched by their local name (a namespace prefix is ignored).
struct Reader<'a> {
    xml: quick_xml::Reader<&'a [u8]>,
    /// The body's length: no text in it is longer.
    len: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        let mut xml = quick_xml::Reader::from_str(text);
        // `<A/>` reads as `<A></A>`: an empty leaf is an empty text.
        xml.config_mut().expand_empty_elements = true;
        Self { xml, len: text.len() }
    }

    /// The root element, after the XML declaration, comments, processing
    /// instructions and whitespace.
    fn root(&mut self) -> Result<BytesStart<'a>, Unreadable> {
        loop {
            match self.xml.read_event()? {
                Event::Start(e) => {
                    checked(&e)?;
                    return Ok(e);
                }
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.iter().all(|&b| is_xml_space(char::from(b))) => {}
                Event::Eof => return Err(Unreadable::Malformed),
                _ => return Err(Unreadable::Structure),
            }
        }
    }

    /// The next child element of the element being read, or `None` at its
    /// end. Text between child elements is ignored.
    fn child(&mut self) -> Result<Option<BytesStart<'a>>, Unreadable> {
        loop {
            match self.xml.read_event()? {
                Event::Start(e) => return Ok(Some(e)),
                Event::End(_) => return Ok(None),
                Event::Eof => return Err(Unreadable::Malformed),
                Event::DocType(_) => return Err(Unreadable::Structure),
                _ => {}
            }
        }
    }

    /// Skips the element whose start was just read, and all it holds.
    fn skip(&mut self, start: &BytesStart<'a>) -> Result<(), Unreadable> {
        self.xml.read_to_end(start.name())?;
        Ok(())
    }

    /// The text of the leaf element whose start was just read, up to its
    /// end: text, CDATA sections and character or predefined entity
    /// references, in order (comments are left out).
    fn text(&mut self) -> Result<Text<'a>, Unreadable> {
        let mut text = Text::Borrowed("");
        loop {
            let piece: Cow<'a, str> = match self.xml.read_event()? {
                Event::Text(t) => t.xml_content()?,
                Event::CData(t) => t.xml_content()?,
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref()? {
                        Some(c) => c,
                        None => match &*r {
                            b"lt" => '<',
                            b"gt" => '>',
                            b"amp" => '&',
                            b"apos" => '\'',
                            b"quot" => '"',
                            _ => return Err(Unreadable::Structure),
                        },
                    };
                    Cow::Owned(c.to_string())
                }
                Event::End(_) => return Ok(text),
                Event::Comment(_) | Event::PI(_) => continue,
                Event::Eof => return Err(Unreadable::Malformed),
                _ => return Err(Unreadable::Structure),
            };
            text = match (text, piece) {
                (Text::Borrowed(""), Cow::Borrowed(piece)) => Text::Borrowed(piece),
                (Text::Borrowed(first), piece) => {
                    // Sized once (no text is longer than the body) so that
                    // it is never reallocated, which would leave an unwiped
                    // copy behind.
                    let mut owned = Zeroizing::new(String::with_capacity(self.len));
                    owned.push_str(first);
                    owned.push_str(&piece);
                    Text::Owned(owned)
                }
                (Text::Owned(mut owned), piece) => {
                    owned.push_str(&piece);
                    Text::Owned(owned)
                }
            };
        }
    }

    /// The whole document, as far as credrefresh reads it.
    fn document(&mut self) -> Result<Document<'a>, Unreadable> {
        let root = self.root()?;
        let call = match root.local_name().as_ref() {
            b"AssumeRoleResponse" => Call::AssumeRole,
            b"GetSessionTokenResponse" => Call::GetSessionToken,
            b"AssumeRoleWithWebIdentityResponse" => Call::AssumeRoleWithWebIdentity,
            // `Response` is the shape some Query services (EC2) use;
            // accepted for proxies that speak it.
            b"ErrorResponse" | b"Response" => return self.error_document().map(Document::Error),
            _ => return Err(Unreadable::UnexpectedRoot),
        };
        let result_name = call.result_element();
        let (mut result, mut metadata) = (None, None);
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                name if name == result_name.as_bytes() => once(&mut result, || self.result(&child))?,
                b"ResponseMetadata" => once(&mut metadata, || self.metadata(&child))?,
                _ => self.skip(&child)?,
            }
        }
        let (credentials, assumed_role_arn) = result.ok_or(Unreadable::Missing(result_name))?;
        Ok(Document::Success(Success {
            call,
            credentials,
            assumed_role_arn,
            request_id: metadata.flatten(),
        }))
    }

    /// `<…Result>`: the credentials and the assumed role's ARN.
    #[allow(clippy::type_complexity)]
    fn result(&mut self, start: &BytesStart<'a>) -> Result<(XmlCredentials<'a>, Option<Text<'a>>), Unreadable> {
        checked(start)?;
        let (mut credentials, mut user) = (None, None);
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"Credentials" => once(&mut credentials, || self.credentials(&child))?,
                b"AssumedRoleUser" => once(&mut user, || self.assumed_role_user(&child))?,
                _ => self.skip(&child)?,
            }
        }
        Ok((credentials.ok_or(Unreadable::Missing("Credentials"))?, user))
    }

    fn credentials(&mut self, start: &BytesStart<'a>) -> Result<XmlCredentials<'a>, Unreadable> {
        checked(start)?;
        let (mut key, mut secret, mut token, mut expiration) = (None, None, None, None);
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"AccessKeyId" => once(&mut key, || self.text())?,
                b"SecretAccessKey" => once(&mut secret, || self.text())?,
                b"SessionToken" => once(&mut token, || self.text())?,
                b"Expiration" => once(&mut expiration, || self.text())?,
                _ => self.skip(&child)?,
            }
        }
        Ok(XmlCredentials {
            access_key_id: key.ok_or(Unreadable::Missing("AccessKeyId"))?,
            secret_access_key: secret.ok_or(Unreadable::Missing("SecretAccessKey"))?,
            session_token: token.ok_or(Unreadable::Missing("SessionToken"))?,
            expiration: expiration.ok_or(Unreadable::Missing("Expiration"))?,
        })
    }

    /// `<AssumedRoleUser>`: its `Arn`, which it must have.
    fn assumed_role_user(&mut self, start: &BytesStart<'a>) -> Result<Text<'a>, Unreadable> {
        checked(start)?;
        let mut arn = None;
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"Arn" => once(&mut arn, || self.text())?,
                _ => self.skip(&child)?,
            }
        }
        arn.ok_or(Unreadable::Missing("Arn"))
    }

    /// `<ResponseMetadata>`: its `RequestId`, if any.
    fn metadata(&mut self, start: &BytesStart<'a>) -> Result<Option<Text<'a>>, Unreadable> {
        checked(start)?;
        let mut request_id = None;
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"RequestId" => once(&mut request_id, || self.text())?,
                _ => self.skip(&child)?,
            }
        }
        Ok(request_id)
    }

    /// `<ErrorResponse>` (or `<Response>`), with its error as `<Error>` or
    /// as the first of an `<Errors>` list.
    fn error_document(&mut self) -> Result<ErrorDocument<'a>, Unreadable> {
        let (mut error, mut errors, mut request_id, mut request_id_upper) = (None, None, None, None);
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"Error" => once(&mut error, || self.error_body(&child))?,
                b"Errors" => once(&mut errors, || self.error_list(&child))?,
                b"RequestId" => once(&mut request_id, || self.text())?,
                b"RequestID" => once(&mut request_id_upper, || self.text())?,
                _ => self.skip(&child)?,
            }
        }
        Ok(ErrorDocument {
            first: error.or(errors.flatten()),
            request_id: request_id.or(request_id_upper),
        })
    }

    /// `<Errors>`: the first of its `<Error>`s, if any (the others are
    /// read, and must be well-formed, but not kept).
    fn error_list(&mut self, start: &BytesStart<'a>) -> Result<Option<ErrorBody<'a>>, Unreadable> {
        checked(start)?;
        let mut first = None;
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"Error" => {
                    let error = self.error_body(&child)?;
                    first.get_or_insert(error);
                }
                _ => self.skip(&child)?,
            }
        }
        Ok(first)
    }

    fn error_body(&mut self, start: &BytesStart<'a>) -> Result<ErrorBody<'a>, Unreadable> {
        checked(start)?;
        let (mut code, mut message) = (None, None);
        while let Some(child) = self.child()? {
            match child.local_name().as_ref() {
                b"Code" => once(&mut code, || self.text())?,
                b"Message" => once(&mut message, || self.text())?,
                _ => self.skip(&child)?,
            }
        }
        Ok(ErrorBody { code, message })
    }
}

/// What a body was read as.
enum Document<'a> {
    Success(Success<'a>),
    Error(ErrorDocument<'a>),
}

/// A success answer, to the call it names.
struct Success<'a> {
    call: Call,
    credentials: XmlCredentials<'a>,
    assumed_role_arn: Option<Text<'a>>,
    request_id: Option<Text<'a>>,
}

struct XmlCredentials<'a> {
    access_key_id: Text<'a>,
    secret_access_key: Text<'a>,
    session_token: Text<'a>,
    expiration: Text<'a>,
}

struct ErrorDocument<'a> {
    /// `<Error>`, or the first `<Errors><Error>`.
    first: Option<ErrorBody<'a>>,
    /// `<RequestId>`, or `<RequestID>`.
    request_id: Option<Text<'a>>,
}

struct ErrorBody<'a> {
    code: Option<Text<'a>>,
    message: Option<Text<'a>>,
}

/// Whether `text` holds a document type declaration (`<!DOCTYPE`, in any
/// case). STS never sends one; a DTD could declare entities, and
/// quick-xml 0.38's serde reader panicked ("entered unreachable code") on
/// one inside an element's text (found by fuzzing:
/// `fuzz/corpus/sts_answer/regression-*`). Such a body is refused whole.
fn has_doctype(text: &str) -> bool {
    // Found from its `!`, rare in STS documents: a character pattern is
    // searched with `memchr`.
    let bytes = text.as_bytes();
    text.match_indices('!').any(|(at, _)| {
        at > 0
            && bytes[at - 1] == b'<'
            && bytes[at + 1..]
                .get(..7)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"DOCTYPE"))
    })
}

/// Parses `body`, expecting the success answer of `call` or an error document.
///
/// # Errors
/// [`InvalidResponse`](crate::ErrorClass::InvalidResponse) for a body that
/// is not UTF-8 XML of one of those shapes, or whose credentials are
/// unusable (empty fields, a bad expiry).
pub(crate) fn parse(call: Call, body: &[u8], issued_at: SystemTime) -> Result<Answer, SourceError> {
    parse_with_expiry(call, body, issued_at, |expiry| expiry)
}

/// The answer as text: UTF-8 and without a DTD (quick-xml is never given
/// one: a `<!DOCTYPE` inside an element's text once panicked it).
fn answer_text(call: Call, body: &[u8]) -> Result<&str, SourceError> {
    let what = call.action();
    let text = std::str::from_utf8(body)
        .map_err(|_| SourceError::invalid_response(format!("STS {what}: the answer is not UTF-8")))?;
    if has_doctype(text) {
        return Err(SourceError::invalid_response(format!(
            "STS {what}: the answer ({} bytes) is not an STS document: it has a DTD",
            body.len()
        )));
    }
    Ok(text)
}

/// [`parse`], the credentials' expiry (as sent) passed through
/// `adjust_expiry` before they are built: the answer's `Date` moves it onto the local
/// clock at no extra copy of the credentials.
///
/// # Errors
/// As [`parse`].
pub(crate) fn parse_with_expiry(
    call: Call,
    body: &[u8],
    issued_at: SystemTime,
    adjust_expiry: impl FnOnce(SystemTime) -> SystemTime,
) -> Result<Answer, SourceError> {
    let what = call.action();
    let text = answer_text(call, body)?;
    let document = Reader::new(text).document().map_err(|e| {
        SourceError::invalid_response(format!(
            "STS {what}: the answer ({} bytes) is not an STS document: {}",
            body.len(),
            e.describe()
        ))
    })?;
    let answer = match document {
        Document::Success(answer) if answer.call == call => answer,
        Document::Error(e) => return Ok(Answer::Error(e.into_error())),
        Document::Success(_) => {
            return Err(SourceError::invalid_response(format!(
                "STS {what}: the answer is the answer to another call"
            )));
        }
    };
    let request_id = answer.request_id.as_ref().and_then(|id| safe_request_id(id.as_str()));
    let c = &answer.credentials;
    let expiry = parse_rfc3339(c.expiration.as_str())
        .map_err(|e| SourceError::invalid_response(format!("STS {what}: bad Expiration: {e}")))?;
    let invalid = |e: crate::CredentialsError| SourceError::invalid_response(format!("STS {what}: {e}"));
    let assumed_role_arn = answer.assumed_role_arn.as_ref().map(|arn| arn.as_str().to_string());
    // One builder, so that the credentials are put together once.
    let mut builder = Credentials::builder(c.access_key_id.as_str(), c.secret_access_key.as_str(), issued_at)
        .session_token(c.session_token.as_str())
        .expiry(adjust_expiry(expiry));
    if let Some(account) = assumed_role_arn.as_deref().and_then(account_of_arn) {
        builder = builder.account_id(account);
    }
    let credentials = builder.build().map_err(invalid)?;
    Ok(Answer::Success(Box::new(Parsed {
        credentials,
        assumed_role_arn,
        request_id,
    })))
}

impl ErrorDocument<'_> {
    fn into_error(self) -> AwsError {
        let (code, message) = match &self.first {
            Some(e) => (e.code.as_ref().map(Text::as_str), e.message.as_ref().map(Text::as_str)),
            None => (None, None),
        };
        // Kept whole here (the body is already capped): it is redacted and
        // cut where the secrets sent are known (classify::error_answer).
        let message = message.unwrap_or_default().trim().to_string();
        AwsError {
            code: code
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or("Unknown")
                .to_string(),
            message,
            request_id: self.request_id.as_ref().and_then(|id| safe_request_id(id.as_str())),
        }
    }
}

/// The account id (fifth field) of an ARN, if it is 12 digits.
pub(crate) fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The serde-based reader this module used before its pull reader, kept as
/// the oracle of a differential test: both must read every document alike.
#[cfg(test)]
mod serde_oracle {
    use super::*;
    use serde::Deserialize;

    /// Any document STS may send, told apart by its root element.
    #[derive(Deserialize)]
    enum Document {
        AssumeRoleResponse(AssumeRoleResponse),
        GetSessionTokenResponse(GetSessionTokenResponse),
        AssumeRoleWithWebIdentityResponse(WebIdentityResponse),
        ErrorResponse(ErrorDocument),
        /// The shape some Query services (EC2) use; accepted for proxies that speak it.
        Response(ErrorDocument),
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AssumeRoleResponse {
        assume_role_result: ResultBody,
        response_metadata: Option<ResponseMetadata>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct GetSessionTokenResponse {
        get_session_token_result: ResultBody,
        response_metadata: Option<ResponseMetadata>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WebIdentityResponse {
        assume_role_with_web_identity_result: ResultBody,
        response_metadata: Option<ResponseMetadata>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ResultBody {
        credentials: XmlCredentials,
        assumed_role_user: Option<AssumedRoleUser>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct XmlCredentials {
        access_key_id: String,
        secret_access_key: Zeroizing<String>,
        session_token: Zeroizing<String>,
        expiration: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AssumedRoleUser {
        arn: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ResponseMetadata {
        request_id: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ErrorDocument {
        /// `<ErrorResponse><Error>…</Error>`, as STS sends it.
        error: Option<ErrorBody>,
        /// `<ErrorResponse><Errors><Error>…</Error></Errors>`.
        errors: Option<ErrorList>,
        request_id: Option<String>,
        #[serde(rename = "RequestID")]
        request_id_upper: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ErrorList {
        #[serde(default)]
        error: Vec<ErrorBody>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ErrorBody {
        code: Option<String>,
        message: Option<String>,
    }

    /// A parse failure described without quoting the body.
    fn describe(error: &quick_xml::DeError) -> String {
        match error {
            // serde's "missing field `X`" names a field, never a value.
            quick_xml::DeError::Custom(msg) if msg.starts_with("missing field") => msg.clone(),
            quick_xml::DeError::Custom(msg) if msg.starts_with("unknown variant") => {
                "an unexpected root element".to_string()
            }
            quick_xml::DeError::InvalidXml(_) | quick_xml::DeError::UnexpectedEof => "malformed XML".to_string(),
            _ => "an unexpected document structure".to_string(),
        }
    }

    /// Parses `body`, expecting the success answer of `call` or an error document.
    ///
    /// # Errors
    /// [`InvalidResponse`](crate::ErrorClass::InvalidResponse) for a body that
    /// is not UTF-8 XML of one of those shapes, or whose credentials are
    /// unusable (empty fields, a bad expiry).
    pub(crate) fn parse(call: Call, body: &[u8], issued_at: SystemTime) -> Result<Answer, SourceError> {
        let what = call.action();
        let text = answer_text(call, body)?;
        let document: Document = quick_xml::de::from_str(text).map_err(|e| {
            SourceError::invalid_response(format!(
                "STS {what}: the answer ({} bytes) is not an STS document: {}",
                body.len(),
                describe(&e)
            ))
        })?;
        let (result, metadata) = match (call, document) {
            (Call::AssumeRole, Document::AssumeRoleResponse(r)) => (r.assume_role_result, r.response_metadata),
            (Call::GetSessionToken, Document::GetSessionTokenResponse(r)) => {
                (r.get_session_token_result, r.response_metadata)
            }
            (Call::AssumeRoleWithWebIdentity, Document::AssumeRoleWithWebIdentityResponse(r)) => {
                (r.assume_role_with_web_identity_result, r.response_metadata)
            }
            (_, Document::ErrorResponse(e) | Document::Response(e)) => return Ok(Answer::Error(e.into_error())),
            _ => {
                return Err(SourceError::invalid_response(format!(
                    "STS {what}: the answer is the answer to another call"
                )));
            }
        };
        let request_id = metadata.and_then(|m| m.request_id).as_deref().and_then(safe_request_id);
        let c = result.credentials;
        let expiry = parse_rfc3339(&c.expiration)
            .map_err(|e| SourceError::invalid_response(format!("STS {what}: bad Expiration: {e}")))?;
        let invalid = |e: crate::CredentialsError| SourceError::invalid_response(format!("STS {what}: {e}"));
        let mut credentials = Credentials::new(c.access_key_id, c.secret_access_key.as_str(), issued_at)
            .map_err(invalid)?
            .with_session_token(c.session_token.as_str())
            .map_err(invalid)?
            .with_expiry(expiry);
        let assumed_role_arn = result.assumed_role_user.map(|u| u.arn);
        if let Some(account) = assumed_role_arn.as_deref().and_then(account_of_arn) {
            credentials = credentials.with_account_id(account);
        }
        Ok(Answer::Success(Box::new(Parsed {
            credentials,
            assumed_role_arn,
            request_id,
        })))
    }

    impl ErrorDocument {
        fn into_error(self) -> AwsError {
            let first = self
                .error
                .or_else(|| self.errors.and_then(|l| l.error.into_iter().next()));
            let (code, message) = match first {
                Some(e) => (e.code, e.message),
                None => (None, None),
            };
            // Kept whole here (the body is already capped): it is redacted and
            // cut where the secrets sent are known (classify::error_answer).
            let message = message.unwrap_or_default().trim().to_string();
            AwsError {
                code: code
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "Unknown".into()),
                message,
                request_id: self
                    .request_id
                    .or(self.request_id_upper)
                    .as_deref()
                    .and_then(safe_request_id),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    pub(crate) const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN+/=";

    pub(crate) fn assume_role(expiration: &str) -> String {
        format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <SessionToken>{TOKEN}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>8</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#
        )
    }

    pub(crate) fn session_token() -> String {
        format!(
            r#"<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult>
    <Credentials>
      <SessionToken>{TOKEN}</SessionToken>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <Expiration>2026-11-23T06:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </GetSessionTokenResult>
  <ResponseMetadata>
    <RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId>
  </ResponseMetadata>
</GetSessionTokenResponse>"#
        )
    }

    pub(crate) fn web_identity() -> String {
        format!(
            r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws-cn:sts::210987654321:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{TOKEN}</SessionToken>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <Expiration>2026-11-22T19:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
        )
    }

    /// The shape STS sends.
    pub(crate) fn error(code: &str, message: &str) -> String {
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>3a8b9c0d-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>"#
        )
    }

    /// The shape with an `<Errors>` list.
    pub(crate) fn error_list(code: &str, message: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse>
  <Errors>
    <Error>
      <Code>{code}</Code>
      <Message><![CDATA[{message}]]></Message>
    </Error>
  </Errors>
  <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
</ErrorResponse>"#
        )
    }

    pub(crate) const HTML_500: &str =
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Oops</h1></body></html>";
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use std::time::Duration;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn success(call: Call, body: &str) -> Parsed {
        match parse(call, body.as_bytes(), t(1_795_370_400)) {
            Ok(Answer::Success(p)) => *p,
            Ok(Answer::Error(e)) => panic!("unexpected error document {e:?}"),
            Err(e) => panic!("unexpected failure {e}"),
        }
    }

    fn error_of(call: Call, body: &str) -> AwsError {
        match parse(call, body.as_bytes(), t(0)) {
            Ok(Answer::Error(e)) => e,
            Ok(Answer::Success(_)) => panic!("parsed an error document as success"),
            Err(e) => panic!("unexpected failure {e}"),
        }
    }

    #[test]
    fn assume_role_whole_seconds() {
        let p = success(Call::AssumeRole, &assume_role("2026-11-22T19:00:00Z"));
        let c = &p.credentials;
        assert_eq!(c.access_key_id(), "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.issued_at(), t(1_795_370_400));
        assert_eq!(c.account_id(), Some("123456789012"));
        assert_eq!(
            p.assumed_role_arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/demo/John")
        );
        assert_eq!(p.request_id.as_deref(), Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
    }

    /// The expiry passed through the adjustment, and nothing else changed:
    /// the same credentials as moving them afterwards (`on_local_clock`).
    #[test]
    fn the_expiry_is_adjusted_before_the_credentials_are_built() {
        let body = assume_role("2026-11-22T19:00:00Z");
        let sent = t(1_795_374_000);
        let moved = |expiry: SystemTime| expiry - Duration::from_secs(7200);
        let Ok(Answer::Success(adjusted)) =
            parse_with_expiry(Call::AssumeRole, body.as_bytes(), t(1_795_370_400), moved)
        else {
            panic!("not a success");
        };
        let plain = success(Call::AssumeRole, &body);
        assert_eq!(adjusted.credentials.expiry(), Some(t(1_795_366_800)));
        assert_eq!(
            adjusted.credentials,
            plain.credentials.clone().with_expiry(t(1_795_366_800))
        );
        assert_eq!(adjusted.request_id, plain.request_id);
        assert_eq!(adjusted.assumed_role_arn, plain.assumed_role_arn);
        // As the client adjusts: an answer dated an hour before the expiry
        // lives an hour on the local clock, whatever the local time.
        let dated = |expiry| crate::sources::http::expiry_on_local_clock(expiry, Some(t(1_795_370_400)), sent);
        let Ok(Answer::Success(local)) = parse_with_expiry(Call::AssumeRole, body.as_bytes(), sent, dated) else {
            panic!("not a success");
        };
        let expected = crate::sources::http::on_local_clock(plain.credentials.clone(), Some(t(1_795_370_400)), sent);
        assert_eq!(local.credentials.expiry(), Some(sent + Duration::from_secs(3600)));
        assert_eq!(local.credentials.expiry(), expected.expiry());
    }

    #[test]
    fn assume_role_fractional_seconds_as_moto_sends() {
        let p = success(Call::AssumeRole, &assume_role("2026-11-22T19:00:00.123456Z"));
        assert_eq!(
            p.credentials.expiry(),
            Some(t(1_795_374_000) + Duration::from_micros(123_456))
        );
    }

    #[test]
    fn session_token_has_no_role_user() {
        let p = success(Call::GetSessionToken, &session_token());
        assert_eq!(p.credentials.expiry(), Some(t(1_795_413_600)));
        assert_eq!(p.credentials.account_id(), None);
        assert_eq!(p.assumed_role_arn, None);
        assert_eq!(p.request_id.as_deref(), Some("58c5dbae-abef-11e0-8cfe-09039844ac7d"));
    }

    #[test]
    fn web_identity_in_the_china_partition() {
        let p = success(Call::AssumeRoleWithWebIdentity, &web_identity());
        assert_eq!(p.credentials.account_id(), Some("210987654321"));
        assert_eq!(p.credentials.session_token(), Some(TOKEN));
    }

    #[test]
    fn both_error_shapes() {
        let e = error_of(Call::AssumeRole, &error("AccessDenied", "User is not authorized"));
        assert_eq!(e.code, "AccessDenied");
        assert_eq!(e.message, "User is not authorized");
        assert_eq!(e.request_id.as_deref(), Some("3a8b9c0d-0000-4000-8000-000000000001"));
        let e = error_of(
            Call::GetSessionToken,
            &error_list("InvalidClientTokenId", "The security token is invalid."),
        );
        assert_eq!(e.code, "InvalidClientTokenId");
        assert_eq!(e.message, "The security token is invalid.");
        assert_eq!(e.request_id.as_deref(), Some("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"));
    }

    #[test]
    fn error_without_code_or_with_a_long_message() {
        let e = error_of(
            Call::AssumeRole,
            "<ErrorResponse><RequestId>r1</RequestId></ErrorResponse>",
        );
        assert_eq!(e.code, "Unknown");
        assert_eq!(e.message, "");
    }

    #[test]
    fn wrong_or_broken_documents_are_invalid_responses() {
        let cases: Vec<(Call, String)> = vec![
            (Call::AssumeRole, HTML_500.to_string()),
            (Call::AssumeRole, "not xml at all".to_string()),
            (Call::AssumeRole, String::new()),
            // Truncated in the middle of the secret.
            (Call::AssumeRole, assume_role("2026-11-22T19:00:00Z")[..400].to_string()),
            // The answer to another call.
            (Call::GetSessionToken, assume_role("2026-11-22T19:00:00Z")),
            // A bad expiry.
            (Call::AssumeRole, assume_role("next tuesday")),
            // No credentials at all.
            (
                Call::AssumeRole,
                "<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>".to_string(),
            ),
            // An empty secret.
            (
                Call::AssumeRole,
                assume_role("2026-11-22T19:00:00Z").replace(SECRET, ""),
            ),
        ];
        for (call, body) in cases {
            let err = match parse(call, body.as_bytes(), t(0)) {
                Err(e) => e,
                Ok(_) => panic!("accepted {body:?}"),
            };
            assert_eq!(err.class(), crate::ErrorClass::InvalidResponse, "{err}");
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
        }
        let err = parse(Call::AssumeRole, &[0xff, 0xfe, 0x00], t(0)).err().unwrap();
        assert_eq!(err.class(), crate::ErrorClass::InvalidResponse);
    }

    #[test]
    fn missing_field_is_named() {
        let body = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
                    </Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let err = parse(Call::AssumeRole, body.as_bytes(), t(0)).err().unwrap();
        assert!(err.message().contains("missing field"), "{err}");
    }

    #[test]
    fn doctype_is_found_in_any_case_anywhere() {
        for text in [
            "<!DOCTYPE x>",
            "<a>t<!doctype x></a>",
            "!<!DocType",
            "<![CDATA[<!DOCTYPE]]>",
        ] {
            assert!(has_doctype(text), "{text}");
        }
        for text in [
            "",
            "!",
            "<!",
            "<!DOCTYP",
            "<! DOCTYPE",
            "!DOCTYPE",
            "<!--DOCTYPE-->",
            "<!ELEMENT",
        ] {
            assert!(!has_doctype(text), "{text}");
        }
    }

    #[test]
    fn account_ids() {
        assert_eq!(
            account_of_arn("arn:aws:sts::123456789012:assumed-role/a/b"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:sts::12345:assumed-role/a/b"), None);
        assert_eq!(account_of_arn("garbage"), None);
    }
}

#[cfg(test)]
mod differential {
    use super::fixtures::*;
    use super::*;

    /// What a reader made of a body, in full.
    fn outcome(result: Result<Answer, SourceError>) -> String {
        match result {
            Ok(Answer::Success(p)) => {
                let c = &p.credentials;
                format!(
                    "ok {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    c.access_key_id(),
                    c.secret_access_key(),
                    c.session_token(),
                    c.expiry(),
                    c.issued_at(),
                    c.account_id(),
                    p.assumed_role_arn,
                    p.request_id
                )
            }
            Ok(Answer::Error(e)) => format!("aws error {e:?}"),
            Err(e) => format!("refused {:?}: {}", e.class(), e.message()),
        }
    }

    const CALLS: [Call; 3] = [Call::AssumeRole, Call::GetSessionToken, Call::AssumeRoleWithWebIdentity];

    fn documents() -> Vec<String> {
        let mut docs = vec![
            assume_role("2026-11-22T19:00:00Z"),
            session_token(),
            web_identity(),
            error("AccessDenied", "User is not authorized"),
            error_list("InvalidClientTokenId", "The security token is invalid."),
            HTML_500.to_string(),
            // Shapes at the edges: whitespace, CDATA, references, comments,
            // prefixes, empty and repeated elements, markup in text.
            "<sts:AssumeRoleResponse xmlns:sts=\"x\"><sts:AssumeRoleResult><sts:Credentials>\
             <sts:AccessKeyId> A&amp;B </sts:AccessKeyId><SecretAccessKey><![CDATA[ s<e>c ]]></SecretAccessKey>\
             <SessionToken>t&#x41;&#66;<!-- c -->u</SessionToken><Expiration>\r\n2026-11-22T19:00:00Z\r\n</Expiration>\
             </sts:Credentials></sts:AssumeRoleResult></sts:AssumeRoleResponse>"
                .to_string(),
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId/><SecretAccessKey>s</SecretAccessKey>\
             <SessionToken>t</SessionToken><Expiration>2026-11-22T19:00:00Z</Expiration></Credentials>\
             </AssumeRoleResult></AssumeRoleResponse>"
                .to_string(),
            "<ErrorResponse><Error><Code> Throttling </Code><Message>a &lt;b&gt; &quot;c&apos; &#233;</Message></Error>\
             <RequestID>upper-id</RequestID></ErrorResponse>"
                .to_string(),
            "<Response><Errors><Foo/><Error><Code>A</Code></Error><Error><Code>B</Code></Error></Errors></Response>".to_string(),
            "<ErrorResponse><Errors></Errors><RequestId>r</RequestId><RequestId>r</RequestId></ErrorResponse>".to_string(),
            "<ErrorResponse><Error><Code>A<b/></Code></Error></ErrorResponse>".to_string(),
            "<ErrorResponse><Error><Code>&nbsp;</Code></Error></ErrorResponse>".to_string(),
            "text<ErrorResponse/>".to_string(),
            "<?xml version=\"1.0\"?><!-- c --><?pi x?>\n<ErrorResponse/> trailing <junk".to_string(),
            "<ErrorResponse>text<Error>more<Code>C</Code>tail</Error></ErrorResponse>".to_string(),
            "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser/></AssumeRoleResult></AssumeRoleResponse>".to_string(),
        ];
        // The fuzz corpus (seeds and regressions; the first byte picks the
        // call), read from the files: this module must not use
        // `crate::fuzzing`, which uses it.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/sts_answer");
        let mut files: Vec<_> = std::fs::read_dir(&corpus)
            .expect("the sts_answer fuzz corpus")
            .map(|entry| entry.expect("a corpus entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{} files in {}", files.len(), corpus.display());
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            if let Some((_, body)) = data.split_first() {
                docs.push(String::from_utf8_lossy(body).into_owned());
            }
        }
        docs
    }

    /// Every document, and mutations of each (truncations, lines deleted or
    /// repeated, bytes replaced by markup), is read alike by the pull
    /// reader and by the serde reader it replaced, as the answer to each
    /// call: the same credentials, the same error, or both refuse it.
    #[test]
    fn the_pull_reader_reads_as_the_serde_reader() {
        let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
        for (n, doc) in documents().iter().enumerate() {
            let bytes = doc.as_bytes();
            bodies.push((format!("document {n}"), bytes.to_vec()));
            for cut in 0..bytes.len() {
                bodies.push((format!("document {n} cut at {cut}"), bytes[..cut].to_vec()));
            }
            let lines: Vec<&str> = doc.split_inclusive('\n').collect();
            for i in 0..lines.len() {
                let mut deleted = lines.clone();
                deleted.remove(i);
                bodies.push((format!("document {n} without line {i}"), deleted.concat().into_bytes()));
                let mut repeated = lines.clone();
                repeated.insert(i, lines[i]);
                bodies.push((
                    format!("document {n} with line {i} twice"),
                    repeated.concat().into_bytes(),
                ));
            }
            for at in 0..bytes.len() {
                for b in [b'<', b'>', b'&', b'/', b' ', b'!', b'x'] {
                    let mut changed = bytes.to_vec();
                    changed[at] = b;
                    bodies.push((format!("document {n} with {:?} at {at}", char::from(b)), changed));
                }
            }
        }
        let mut differences = Vec::new();
        for (label, body) in &bodies {
            for call in CALLS {
                let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_370_400);
                let new = outcome(parse(call, body, t));
                let old = outcome(serde_oracle::parse(call, body, t));
                // Both refusing is agreement: their reasons may be worded
                // differently (text before the root is "an unexpected
                // root element" to one, "… structure" to the other).
                let both_refused = new.starts_with("refused") && old.starts_with("refused");
                if new != old && !both_refused {
                    differences.push(format!(
                        "{call:?}, {label}: {:?}\n  pull:  {new}\n  serde: {old}",
                        String::from_utf8_lossy(body)
                    ));
                }
            }
        }
        assert!(
            differences.is_empty(),
            "{} of {} differ; the first:\n{}",
            differences.len(),
            bodies.len() * 3,
            differences[..differences.len().min(12)].join("\n")
        );
    }
}
