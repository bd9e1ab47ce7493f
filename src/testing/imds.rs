//! The EC2 instance metadata service, IMDSv2 (and v1 when allowed): session
//! tokens, the role list and the role's credentials.

use std::time::Duration;

use http::{Method, StatusCode};

use super::faults::Call;
use super::state::{Principal, Shared};
use super::wire::{Incoming, Reply, status};
use crate::clock::format_rfc3339;

/// Path of the session-token call.
pub(crate) const TOKEN_PATH: &str = "/latest/api/token";
/// Path of the role list; a role's credentials are under it.
pub(crate) const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
/// Header carrying the requested token lifetime, in seconds.
pub(crate) const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// Header carrying the session token.
pub(crate) const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Largest token lifetime IMDS grants: 6 hours.
pub(crate) const MAX_TTL_SECONDS: u64 = 21_600;

/// IMDS answers everything as `text/plain`, JSON included.
const CONTENT_TYPE: &str = "text/plain";
/// The `Server` header IMDS sends.
const SERVER: &str = "EC2ws";

/// Which IMDS call a request is: `None` when it is not under `/latest/`,
/// `Some(None)` for an IMDS path the emulator does not serve (404).
pub(crate) fn route(req: &Incoming) -> Option<Option<Call>> {
    if !req.path.starts_with("/latest/") {
        return None;
    }
    let path = req.path.as_str();
    Some(if path == TOKEN_PATH {
        Some(Call::ImdsToken)
    } else if path == CREDENTIALS_PATH || path == CREDENTIALS_PATH.trim_end_matches('/') {
        Some(Call::ImdsRoleList)
    } else if path
        .strip_prefix(CREDENTIALS_PATH)
        .is_some_and(|role| !role.is_empty() && !role.contains('/'))
    {
        Some(Call::ImdsCredentials)
    } else {
        None
    })
}

fn plain(status: StatusCode, body: impl Into<String>) -> Reply {
    Reply::new(status, CONTENT_TYPE, body.into()).with_header("server", SERVER)
}

/// The HTML page IMDS sends with its 4xx answers.
fn page(status: StatusCode) -> Reply {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
         <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
         \t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
         <head>\n  <title>{code} - {reason}</title>\n </head>\n <body>\n  <h1>{code} - {reason}</h1>\n </body>\n</html>\n"
    );
    Reply::new(status, "text/html", body).with_header("server", SERVER)
}

/// The answer to an IMDS path the emulator does not serve.
pub(crate) fn not_found() -> Reply {
    page(StatusCode::NOT_FOUND)
}

/// The normal answer to `call`. `expired` issues an already-expired token
/// or already-expired credentials.
pub(crate) fn handle(shared: &Shared, call: Call, req: &Incoming, expired: bool) -> Reply {
    if call == Call::ImdsToken {
        return token(shared, req, expired);
    }
    if req.method != Method::GET && req.method != Method::HEAD {
        return page(StatusCode::METHOD_NOT_ALLOWED);
    }
    match req.header(TOKEN_HEADER) {
        Some(token) if shared.imds_token_valid(token) => {}
        None if shared.config.imds_v1_allowed => {}
        _ => return page(StatusCode::UNAUTHORIZED),
    }
    let role = &shared.config.role_name;
    match call {
        Call::ImdsRoleList => plain(StatusCode::OK, role.clone()),
        Call::ImdsCredentials if req.path.strip_prefix(CREDENTIALS_PATH) == Some(role.as_str()) => {
            credentials(shared, expired)
        }
        _ => not_found(),
    }
}

fn token(shared: &Shared, req: &Incoming, expired: bool) -> Reply {
    if req.method != Method::PUT {
        return page(StatusCode::METHOD_NOT_ALLOWED);
    }
    // IMDS refuses tokens to anything that looks like it came through a proxy.
    if req.header("x-forwarded-for").is_some() {
        return page(StatusCode::FORBIDDEN);
    }
    let ttl = req
        .header(TTL_HEADER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ttl| (1..=MAX_TTL_SECONDS).contains(ttl));
    let Some(ttl) = ttl else {
        return page(StatusCode::BAD_REQUEST);
    };
    let token = shared.issue_imds_token(Duration::from_secs(ttl), expired);
    plain(StatusCode::OK, token).with_header(TTL_HEADER, &ttl.to_string())
}

fn credentials(shared: &Shared, expired: bool) -> Reply {
    let config = &shared.config;
    let principal = Principal {
        arn: format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            config.account_id, config.role_name, config.instance_id
        ),
        user_id: format!(
            "{}:{}",
            shared.role_id(&format!("arn:aws:iam::{}:role/{}", config.account_id, config.role_name)),
            config.instance_id
        ),
    };
    let now = shared.now();
    let fresh = shared.issue(Call::ImdsCredentials, principal, None, expired);
    let body = serde_json::json!({
        "Code": "Success",
        "LastUpdated": format_rfc3339(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": fresh.access_key_id,
        "SecretAccessKey": fresh.secret_access_key,
        "Token": fresh.session_token,
        "Expiration": format_rfc3339(fresh.expiration),
    });
    plain(StatusCode::OK, pretty(&body))
}

/// IMDS indents its JSON with two spaces.
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// An AWS error in IMDS's forms: JSON with `Code` for credentials, the
/// message as text for the rest.
pub(crate) fn error(shared: &Shared, call: Call, code: u16, aws_code: &str, message: &str) -> Reply {
    if call == Call::ImdsCredentials {
        let body = serde_json::json!({
            "Code": aws_code,
            "Message": message,
            "LastUpdated": format_rfc3339(shared.now()),
        });
        plain(status(code), pretty(&body))
    } else {
        plain(status(code), message)
    }
}

/// What IMDS sends when it throttles.
pub(crate) fn throttle() -> Reply {
    plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
}

/// A 200 with a broken body: unterminated JSON for credentials, nothing
/// for the plain-text calls.
pub(crate) fn malformed(call: Call) -> Reply {
    if call == Call::ImdsCredentials {
        plain(
            StatusCode::OK,
            "{\n  \"Code\" : \"Success\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIA",
        )
    } else {
        plain(StatusCode::OK, "")
    }
}
