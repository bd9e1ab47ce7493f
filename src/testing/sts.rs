//! STS, Query protocol: form-encoded requests to `/`, XML answers.

use std::time::Duration;

use http::{Method, StatusCode};

use super::faults::Call;
use super::state::{Principal, Shared};
use super::wire::{
    Incoming, Reply, amz_date, base64url_decode, parse_amz_date, parse_http_date, request_id, status, xml,
};
use crate::clock::format_rfc3339;

/// How far the time a request was signed (`X-Amz-Date`) may be from STS's
/// clock when a [clock skew](super::EmulatorBuilder::clock_skew) is set: 15
/// minutes, as AWS allows.
pub const SIGNATURE_TIME_TOLERANCE: Duration = Duration::from_secs(15 * 60);

/// The XML namespace of every STS document.
pub(crate) const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The only STS API version.
pub(crate) const VERSION: &str = "2011-06-15";
/// The content type STS answers with.
const CONTENT_TYPE: &str = "text/xml";
/// The user `GetSessionToken` credentials belong to.
pub(crate) const SESSION_TOKEN_USER: &str = "emulator-user";

/// Bounds of `DurationSeconds`, in seconds.
const ASSUME_ROLE_DURATION: (u64, u64) = (900, 43_200);
const SESSION_TOKEN_DURATION: (u64, u64) = (900, 129_600);
/// The most characters of session policies and tags STS packs (100 %).
const PACKED_POLICY_CAPACITY: usize = 2048;

/// Which STS call a request to `/` is, or the error STS answers when the
/// action is missing or unknown. `None` when the request is not for STS.
pub(crate) fn route(req: &Incoming) -> Option<Result<Call, Reply>> {
    if req.path != "/" {
        return None;
    }
    if req.method != Method::POST && req.method != Method::GET {
        return Some(Err(error(405, "InvalidAction", "STS accepts only GET and POST.")));
    }
    let Some(action) = req.param("Action") else {
        return Some(Err(error(
            400,
            "MissingAction",
            "The request is missing an action or a required parameter.",
        )));
    };
    if let Some(version) = req.param("Version")
        && version != VERSION
    {
        return Some(Err(error(
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version {version}"),
        )));
    }
    Some(Call::from_sts_action(action).ok_or_else(|| {
        error(
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version {VERSION}"),
        )
    }))
}

/// The normal answer to `call`. `expired` issues already-expired credentials.
pub(crate) fn handle(shared: &Shared, call: Call, req: &Incoming, expired: bool) -> Reply {
    let result = match call {
        Call::AssumeRole => assume_role(shared, req, expired),
        Call::GetSessionToken => get_session_token(shared, req, expired),
        Call::AssumeRoleWithWebIdentity => assume_role_with_web_identity(shared, req, expired),
        Call::GetCallerIdentity => get_caller_identity(shared, req),
        other => Err(error(400, "InvalidAction", &format!("{other:?} is not an STS call"))),
    };
    result.unwrap_or_else(|reply| reply)
}

/// An STS error document.
pub(crate) fn error(code: u16, aws_code: &str, message: &str) -> Reply {
    let status = status(code);
    let kind = if status.is_server_error() { "Receiver" } else { "Sender" };
    let id = request_id();
    let body = format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    \
         <Message>{}</Message>\n  </Error>\n  <RequestId>{id}</RequestId>\n</ErrorResponse>\n",
        xml(aws_code),
        xml(message),
    );
    Reply::new(status, CONTENT_TYPE, body).with_header("x-amzn-requestid", &id)
}

/// What STS sends when it throttles.
pub(crate) fn throttle() -> Reply {
    error(400, "Throttling", "Rate exceeded")
}

/// A 200 whose XML is broken: unclosed and mismatched elements.
pub(crate) fn malformed(call: Call) -> Reply {
    let action = call.sts_action().unwrap_or("Unknown");
    let body = format!(
        "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n    <Credentials>\n      \
         <AccessKeyId>ASIA</SecretAccessKey>\n      <Expiration>"
    );
    Reply::new(StatusCode::OK, CONTENT_TYPE, body).with_header("x-amzn-requestid", &request_id())
}

/// A success document for `action` around `result` (already XML).
fn success(action: &str, result: &str) -> Reply {
    let id = request_id();
    let body = format!(
        "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  \
         <ResponseMetadata>\n    <RequestId>{id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    Reply::new(StatusCode::OK, CONTENT_TYPE, body).with_header("x-amzn-requestid", &id)
}

fn validation(message: String) -> Reply {
    error(
        400,
        "ValidationError",
        &format!("1 validation error detected: {message}"),
    )
}

/// `RoleArn` → `roleArn`, as STS names members in its messages.
fn member(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn required<'a>(req: &'a Incoming, name: &str) -> Result<&'a str, Reply> {
    req.param(name).ok_or_else(|| {
        validation(format!(
            "Value null at '{}' failed to satisfy constraint: Member must not be null",
            member(name)
        ))
    })
}

/// Whether `c` is in STS's `[\w+=,.@-]`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Checks a name against STS's `[\w+=,.@-]*` pattern and length bounds.
fn check_name(name: &str, value: &str, min: usize, max: usize) -> Result<(), Reply> {
    let len = value.chars().count();
    if len < min {
        return Err(validation(format!(
            "Value '{value}' at '{}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
            member(name)
        )));
    }
    if len > max {
        return Err(validation(format!(
            "Value '{value}' at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            member(name)
        )));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation(format!(
            "Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
            member(name)
        )));
    }
    Ok(())
}

/// `DurationSeconds`, if given, within `bounds`.
fn duration(req: &Incoming, bounds: (u64, u64)) -> Result<Option<Duration>, Reply> {
    let Some(raw) = req.param("DurationSeconds") else {
        return Ok(None);
    };
    let seconds: u64 = raw.trim().parse().map_err(|_| {
        validation(format!(
            "Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"
        ))
    })?;
    if seconds < bounds.0 {
        return Err(validation(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {}",
            bounds.0
        )));
    }
    if seconds > bounds.1 {
        return Err(validation(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {}",
            bounds.1
        )));
    }
    Ok(Some(Duration::from_secs(seconds)))
}

/// A role ARN, split: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`.
struct RoleArn<'a> {
    partition: &'a str,
    account: &'a str,
    name: &'a str,
}

fn role_arn(value: &str) -> Result<RoleArn<'_>, Reply> {
    let invalid = || {
        validation(format!(
            "Value '{value}' at 'roleArn' failed to satisfy constraint: Member must be a role ARN \
             (arn:aws:iam::123456789012:role/name)"
        ))
    };
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let partition_ok = matches!(partition, "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b");
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(invalid());
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let path_ok = path_and_name
        .split('/')
        .all(|segment| !segment.is_empty() && segment.chars().all(is_name_char));
    if !(partition_ok && account_ok && path_ok && name.len() <= 64) {
        return Err(invalid());
    }
    Ok(RoleArn {
        partition,
        account,
        name,
    })
}

/// Checks the SigV4 `Authorization` header (or presigned query) the way
/// STS does before anything else, without verifying the signature, and
/// returns the access key ID that signed. Once a clock skew is set, the
/// time of signing must also be within [`SIGNATURE_TIME_TOLERANCE`] of the
/// emulator's clock.
fn signer(shared: &Shared, req: &Incoming) -> Result<String, Reply> {
    let has_date = req.header("x-amz-date").is_some() || req.header("date").is_some();
    let credential = if let Some(auth) = req.header("authorization") {
        let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return Err(error(
                400,
                "IncompleteSignature",
                "Authorization header must use the AWS4-HMAC-SHA256 algorithm.",
            ));
        };
        let field = |name: &str| {
            fields
                .split(',')
                .filter_map(|f| f.trim().split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        for name in ["Credential", "SignedHeaders", "Signature"] {
            if field(name).is_none() {
                return Err(error(
                    400,
                    "IncompleteSignature",
                    &format!("Authorization header requires '{name}' parameter."),
                ));
            }
        }
        if !has_date {
            return Err(error(
                400,
                "IncompleteSignature",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ));
        }
        field("Credential").unwrap_or_default().to_string()
    } else if let Some(credential) = req.param("X-Amz-Credential") {
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Date",
        ] {
            if req.param(name).is_none_or(str::is_empty) {
                return Err(error(
                    400,
                    "IncompleteSignature",
                    &format!("AWS query-string parameters must include '{name}'."),
                ));
            }
        }
        credential.to_string()
    } else {
        return Err(error(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(error(
            400,
            "IncompleteSignature",
            "Credential must have the form ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request.",
        ));
    };
    if akid.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) || region.is_empty() {
        return Err(error(
            400,
            "IncompleteSignature",
            "Credential must have the form ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request.",
        ));
    }
    if *service != "sts" {
        return Err(error(
            403,
            "SignatureDoesNotMatch",
            "Credential should be scoped to correct service: 'sts'. ",
        ));
    }
    if shared.checks_request_time() {
        check_request_time(req, shared.now())?;
    }
    Ok((*akid).to_string())
}

/// Refuses a request signed more than [`SIGNATURE_TIME_TOLERANCE`] away
/// from `now`, with real STS's error and messages.
fn check_request_time(req: &Incoming, now: std::time::SystemTime) -> Result<(), Reply> {
    let (raw, signed) = if req.header("authorization").is_some() {
        match req.header("x-amz-date") {
            Some(raw) => (raw, parse_amz_date(raw.trim())),
            None => {
                let raw = req.header("date").unwrap_or_default();
                (raw, parse_http_date(raw))
            }
        }
    } else {
        let raw = req.param("X-Amz-Date").unwrap_or_default();
        (raw, parse_amz_date(raw.trim()))
    };
    let Some(signed) = signed else {
        return Err(error(
            400,
            "IncompleteSignature",
            &format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                raw.chars().take(64).collect::<String>()
            ),
        ));
    };
    let basic = |t: std::time::SystemTime| amz_date(t).unwrap_or_default();
    let minutes = SIGNATURE_TIME_TOLERANCE.as_secs() / 60;
    if let Some(earliest) = now.checked_sub(SIGNATURE_TIME_TOLERANCE)
        && signed < earliest
    {
        return Err(error(
            403,
            "SignatureDoesNotMatch",
            &format!(
                "Signature expired: {} is now earlier than {} ({} - {minutes} min.)",
                basic(signed),
                basic(earliest),
                basic(now)
            ),
        ));
    }
    if let Some(latest) = now.checked_add(SIGNATURE_TIME_TOLERANCE)
        && signed > latest
    {
        return Err(error(
            403,
            "SignatureDoesNotMatch",
            &format!(
                "Signature not yet current: {} is still later than {} ({} + {minutes} min.)",
                basic(signed),
                basic(latest),
                basic(now)
            ),
        ));
    }
    Ok(())
}

fn credentials_xml(fresh: &super::state::Fresh) -> String {
    format!(
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      \
         <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        xml(&fresh.access_key_id),
        xml(&fresh.secret_access_key),
        xml(&fresh.session_token),
        format_rfc3339(fresh.expiration),
    )
}

fn assumed_role_user_xml(principal: &Principal) -> String {
    format!(
        "    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n",
        xml(&principal.user_id),
        xml(&principal.arn)
    )
}

/// The principal of a session of role `role` named `session`.
fn assumed_role(shared: &Shared, role: &RoleArn<'_>, role_arn: &str, session: &str) -> Principal {
    Principal {
        arn: format!(
            "arn:{}:sts::{}:assumed-role/{}/{session}",
            role.partition, role.account, role.name
        ),
        user_id: format!("{}:{session}", shared.role_id(role_arn)),
    }
}

/// How full the packed session policies and tags are, in percent, if any
/// were given; 400 `PackedPolicyTooLarge` past 100 %.
fn packed_policy_size(req: &Incoming) -> Result<Option<usize>, Reply> {
    let packed: usize = req
        .params
        .iter()
        .filter(|(k, _)| *k == "Policy" || k.starts_with("PolicyArns.member.") || k.starts_with("Tags.member."))
        .map(|(_, v)| v.len())
        .sum();
    let given = req
        .params
        .keys()
        .any(|k| k == "Policy" || k.starts_with("PolicyArns.member.") || k.starts_with("Tags.member."));
    if !given {
        return Ok(None);
    }
    let percent = (packed * 100).div_ceil(PACKED_POLICY_CAPACITY).max(1);
    if percent > 100 {
        return Err(error(
            400,
            "PackedPolicyTooLarge",
            &format!("Packed policy consumes {percent}% of allotted space, please use smaller policy."),
        ));
    }
    Ok(Some(percent))
}

fn assume_role(shared: &Shared, req: &Incoming, expired: bool) -> Result<Reply, Reply> {
    signer(shared, req)?;
    let arn = required(req, "RoleArn")?;
    let session = required(req, "RoleSessionName")?;
    let role = role_arn(arn)?;
    check_name("RoleSessionName", session, 2, 64)?;
    let requested = duration(req, ASSUME_ROLE_DURATION)?;
    let source_identity = req.param("SourceIdentity");
    if let Some(source_identity) = source_identity {
        check_name("SourceIdentity", source_identity, 2, 64)?;
    }
    let packed = packed_policy_size(req)?;

    let principal = assumed_role(shared, &role, arn, session);
    let user = assumed_role_user_xml(&principal);
    let fresh = shared.issue(Call::AssumeRole, principal, requested, expired);
    let mut result = String::new();
    if let Some(source_identity) = source_identity {
        result += &format!("    <SourceIdentity>{}</SourceIdentity>\n", xml(source_identity));
    }
    result += &user;
    result += &credentials_xml(&fresh);
    if let Some(packed) = packed {
        result += &format!("    <PackedPolicySize>{packed}</PackedPolicySize>\n");
    }
    Ok(success("AssumeRole", &result))
}

fn get_session_token(shared: &Shared, req: &Incoming, expired: bool) -> Result<Reply, Reply> {
    let signer = signer(shared, req)?;
    if shared.principal(&signer).is_some() {
        return Err(error(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    let requested = duration(req, SESSION_TOKEN_DURATION)?;
    if let Some(code) = req.param("TokenCode") {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(validation(
                "Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*"
                    .to_string(),
            ));
        }
        if req.param("SerialNumber").is_none() {
            return Err(error(
                403,
                "AccessDenied",
                "MultiFactorAuthentication failed: a TokenCode needs a SerialNumber.",
            ));
        }
    }
    let account = &shared.config.account_id;
    let principal = Principal {
        arn: format!("arn:aws:iam::{account}:user/{SESSION_TOKEN_USER}"),
        user_id: shared.config.user_id.clone(),
    };
    let fresh = shared.issue(Call::GetSessionToken, principal, requested, expired);
    Ok(success("GetSessionToken", &credentials_xml(&fresh)))
}

/// The claims of a JWT that STS reports back, if the token is a JWT.
#[derive(Default)]
struct Claims {
    subject: Option<String>,
    audience: Option<String>,
    issuer: Option<String>,
}

fn jwt_claims(token: &str) -> Claims {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Claims::default();
    };
    let Some(json) = base64url_decode(payload).and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return Claims::default();
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    Claims {
        subject: json.get("sub").and_then(text),
        audience: json.get("aud").and_then(|aud| match aud {
            serde_json::Value::Array(list) => list.first().and_then(text),
            other => text(other),
        }),
        issuer: json.get("iss").and_then(text),
    }
}

fn assume_role_with_web_identity(shared: &Shared, req: &Incoming, expired: bool) -> Result<Reply, Reply> {
    let arn = required(req, "RoleArn")?;
    let session = required(req, "RoleSessionName")?;
    let token = required(req, "WebIdentityToken")?;
    let role = role_arn(arn)?;
    check_name("RoleSessionName", session, 2, 64)?;
    let requested = duration(req, ASSUME_ROLE_DURATION)?;
    let token_len = token.chars().count();
    if !(4..=20_000).contains(&token_len) {
        // The token itself is never echoed: it is a secret.
        return Err(validation(format!(
            "Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000 \
             (it has {token_len})"
        )));
    }
    let source_identity = req.param("SourceIdentity");
    if let Some(source_identity) = source_identity {
        check_name("SourceIdentity", source_identity, 2, 64)?;
    }
    let packed = packed_policy_size(req)?;

    let claims = jwt_claims(token);
    let subject = claims.subject.unwrap_or_else(|| "emulator-subject".to_string());
    let audience = claims.audience.unwrap_or_else(|| "sts.amazonaws.com".to_string());
    let provider = req
        .param("ProviderId")
        .map(str::to_string)
        .or(claims.issuer)
        .unwrap_or_else(|| "emulator.invalid".to_string());

    let principal = assumed_role(shared, &role, arn, session);
    let user = assumed_role_user_xml(&principal);
    let fresh = shared.issue(Call::AssumeRoleWithWebIdentity, principal, requested, expired);
    let mut result = format!(
        "    <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <Audience>{}</Audience>\n",
        xml(&subject),
        xml(&audience)
    );
    result += &user;
    result += &credentials_xml(&fresh);
    if let Some(source_identity) = source_identity {
        result += &format!("    <SourceIdentity>{}</SourceIdentity>\n", xml(source_identity));
    }
    if let Some(packed) = packed {
        result += &format!("    <PackedPolicySize>{packed}</PackedPolicySize>\n");
    }
    result += &format!("    <Provider>{}</Provider>\n", xml(&provider));
    Ok(success("AssumeRoleWithWebIdentity", &result))
}

fn get_caller_identity(shared: &Shared, req: &Incoming) -> Result<Reply, Reply> {
    let signer = signer(shared, req)?;
    let Some(principal) = shared.principal(&signer) else {
        return Err(error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ));
    };
    let account = principal.arn.split(':').nth(4).unwrap_or_default().to_string();
    let result = format!(
        "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
        xml(&principal.arn),
        xml(&principal.user_id),
        xml(&account)
    );
    Ok(success("GetCallerIdentity", &result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        let role = role_arn("arn:aws:iam::123456789012:role/path/to/app-role")
            .ok()
            .unwrap();
        assert_eq!(
            (role.partition, role.account, role.name),
            ("aws", "123456789012", "app-role")
        );
        for bad in [
            "",
            "app-role",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:s3::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:nope:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/sp ace",
        ] {
            assert!(role_arn(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn jwt_claims_are_read_when_present() {
        // {"alg":"none"} . {"sub":"system:serviceaccount:ns:sa","aud":["sts.amazonaws.com"],"iss":"https://oidc.example"}
        let payload = "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6c2EiLCJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwiaXNzIjoiaHR0cHM6Ly9vaWRjLmV4YW1wbGUifQ";
        let claims = jwt_claims(&format!("eyJhbGciOiJub25lIn0.{payload}.sig"));
        assert_eq!(claims.subject.as_deref(), Some("system:serviceaccount:ns:sa"));
        assert_eq!(claims.audience.as_deref(), Some("sts.amazonaws.com"));
        assert_eq!(claims.issuer.as_deref(), Some("https://oidc.example"));
        assert!(jwt_claims("opaque-token").subject.is_none());
    }

    #[test]
    fn error_type_follows_status() {
        let sender = String::from_utf8(error(403, "AccessDenied", "no").body.to_vec()).unwrap();
        assert!(sender.contains("<Type>Sender</Type>"));
        let receiver = String::from_utf8(error(503, "ServiceUnavailable", "down").body.to_vec()).unwrap();
        assert!(receiver.contains("<Type>Receiver</Type>"));
        assert_eq!(error(2000, "X", "y").status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
