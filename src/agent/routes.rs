//! What each request gets: the container document, the IMDS calls, and the
//! operational pages (`/healthz`, `/status`, `/metrics`).
//!
//! Order of checks: the client's rate limit (429), the body's size and
//! arrival time (413, 408), then the route. Refusals carry a short JSON (or,
//! for IMDS, plain-text) reason and never a credential; a role with no
//! usable credentials gets a 503, never expired ones.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes};
use serde::Serialize;

use crate::agent::auth::Denied;
use crate::agent::state::{AgentState, Endpoint};
use crate::clock::format_rfc3339;
use crate::credentials::Credentials;
use crate::handle::CredentialsState;

/// The container endpoint's path prefix: `/v1/credentials/<role>`.
pub const CONTAINER_PREFIX: &str = "/v1/credentials/";
/// The IMDS session-token path.
pub const IMDS_TOKEN_PATH: &str = "/latest/api/token";
/// The IMDS role listing; a role's document is under it.
pub const IMDS_CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const MAX_TTL_SECONDS: u64 = 21_600;
const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

/// A response body.
pub(crate) type Reply = Response<Full<Bytes>>;

/// Why a request got its answer: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    TooLarge,
    RateLimited,
    Unavailable,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadRequest => "bad_request",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Forbidden => "forbidden",
            Outcome::NotFound => "not_found",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::Timeout => "timeout",
            Outcome::TooLarge => "too_large",
            Outcome::RateLimited => "rate_limited",
            Outcome::Unavailable => "unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Outcome::Ok => StatusCode::OK,
            Outcome::BadRequest => StatusCode::BAD_REQUEST,
            Outcome::Unauthorized => StatusCode::UNAUTHORIZED,
            Outcome::Forbidden => StatusCode::FORBIDDEN,
            Outcome::NotFound => StatusCode::NOT_FOUND,
            Outcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Outcome::Timeout => StatusCode::REQUEST_TIMEOUT,
            Outcome::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Outcome::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Outcome::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    r
}

/// A refusal: `{"Code": ..., "Message": ...}` (the container endpoint and
/// the operational pages) or the message as text (IMDS).
fn refusal(endpoint: Option<Endpoint>, outcome: Outcome, message: &str) -> Reply {
    let code = match outcome {
        Outcome::Unavailable => "CredentialsUnavailable",
        Outcome::RateLimited => "Throttling",
        Outcome::Unauthorized => "Unauthorized",
        Outcome::Forbidden => "AccessDenied",
        Outcome::NotFound => "NotFound",
        Outcome::TooLarge => "RequestTooLarge",
        Outcome::Timeout => "RequestTimeout",
        Outcome::MethodNotAllowed => "MethodNotAllowed",
        Outcome::BadRequest | Outcome::Ok => "BadRequest",
    };
    if endpoint == Some(Endpoint::Imds) {
        return reply(outcome.status(), TEXT, format!("{message}\n"));
    }
    let body = serde_json::json!({ "Code": code, "Message": message }).to_string();
    let mut r = reply(outcome.status(), JSON, body);
    if outcome == Outcome::RateLimited {
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    }
    r
}

/// Answers one request from `peer` on a listener of `endpoint`.
pub(crate) async fn respond<B>(state: &AgentState, endpoint: Endpoint, peer: IpAddr, req: Request<B>) -> Reply
where
    B: Body + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let now = state.clock.now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let (label, role, outcome, reply) = if !state.limiter.allow(peer, now) {
        let outcome = Outcome::RateLimited;
        (
            "-",
            "-".to_owned(),
            outcome,
            refusal(Some(endpoint), outcome, "too many requests from this client"),
        )
    } else if let Err(outcome) = read_body(state, &parts.headers, body).await {
        let message = if outcome == Outcome::TooLarge {
            "the request body is too large"
        } else {
            "the request body did not arrive in time"
        };
        ("-", "-".to_owned(), outcome, refusal(Some(endpoint), outcome, message))
    } else {
        route(state, endpoint, &parts.method, &path, &parts.headers, now)
    };
    let role_label = state.role_label(&role);
    state
        .requests
        .with_label_values(&[label_or(label, endpoint), role_label, outcome.as_str()])
        .inc();
    match outcome {
        Outcome::Unauthorized | Outcome::Forbidden => {
            tracing::warn!(target: "credrefresh::agent", endpoint = endpoint.as_str(), role = role_label, %peer, outcome = outcome.as_str(), "agent: request refused");
        }
        _ => {
            tracing::debug!(target: "credrefresh::agent", endpoint = endpoint.as_str(), role = role_label, %peer, outcome = outcome.as_str(), "agent: request answered");
        }
    }
    reply
}

fn label_or(label: &'static str, endpoint: Endpoint) -> &'static str {
    if label == "-" { endpoint.as_str() } else { label }
}

/// Reads (and drops) the body within the size and time limits.
async fn read_body<B>(state: &AgentState, headers: &HeaderMap, body: B) -> Result<(), Outcome>
where
    B: Body + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let cap = state.limits.max_body_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(Outcome::TooLarge);
    }
    if body.is_end_stream() {
        return Ok(());
    }
    match tokio::time::timeout(state.limits.request_timeout, Limited::new(body, cap).collect()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(Outcome::TooLarge),
        Err(_) => Err(Outcome::Timeout),
    }
}

type Routed = (&'static str, String, Outcome, Reply);

fn route(
    state: &AgentState,
    endpoint: Endpoint,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Routed {
    match path {
        "/healthz" | "/status" | "/metrics" => {
            let (outcome, r) = if method != Method::GET {
                let o = Outcome::MethodNotAllowed;
                (o, refusal(None, o, "use GET"))
            } else {
                (Outcome::Ok, ops(state, path, now))
            };
            return ("ops", "-".into(), outcome, r);
        }
        _ => {}
    }
    let (role, outcome, r) = match endpoint {
        Endpoint::Container => container(state, method, path, headers, now),
        Endpoint::Imds => imds(state, method, path, headers, now),
        Endpoint::Ops => {
            let o = Outcome::NotFound;
            (
                "-".into(),
                o,
                refusal(None, o, "this listener serves /metrics, /healthz and /status only"),
            )
        }
    };
    ("-", role, outcome, r)
}

fn ops(state: &AgentState, path: &str, now: SystemTime) -> Reply {
    match path {
        "/healthz" => reply(StatusCode::OK, TEXT, "ok\n"),
        "/metrics" => match crate::metrics::render(&state.registry) {
            Ok(text) => reply(StatusCode::OK, crate::metrics::TEXT_CONTENT_TYPE, text),
            Err(e) => {
                tracing::error!(target: "credrefresh::agent", error = %e, "agent: metrics could not be rendered");
                refusal(None, Outcome::Unavailable, "metrics could not be rendered")
            }
        },
        _ => reply(StatusCode::OK, JSON, status_json(state, now)),
    }
}

#[derive(Serialize)]
struct RoleStatus<'a> {
    role: &'a str,
    source: String,
    state: &'static str,
    usable: bool,
    expiration: Option<String>,
    last_success: Option<String>,
    next_refresh: Option<String>,
    consecutive_failures: u32,
    last_error_class: Option<&'static str>,
}

fn status_json(state: &AgentState, now: SystemTime) -> String {
    let roles: Vec<RoleStatus<'_>> = state
        .handles
        .iter()
        .map(|(name, handle)| {
            let snap = handle.load();
            RoleStatus {
                role: name,
                source: snap.source().to_owned(),
                state: snap.state().as_str(),
                usable: usable(handle, now).is_ok(),
                expiration: snap.credentials().and_then(Credentials::expiry).map(format_rfc3339),
                last_success: snap.last_success().map(format_rfc3339),
                next_refresh: snap.next_refresh().map(format_rfc3339),
                consecutive_failures: snap.consecutive_failures(),
                last_error_class: snap.last_error_class().map(|c| c.as_str()),
            }
        })
        .collect();
    serde_json::json!({ "roles": roles }).to_string()
}

/// The role's credentials if they can be served now: usable (fresh or
/// extended) and not past their (possibly extended) expiry.
fn usable(handle: &crate::handle::CredentialsHandle, now: SystemTime) -> Result<Credentials, CredentialsState> {
    let snap = handle.load();
    match snap.usable_credentials() {
        Some(c) if !c.is_expired_at(now) => Ok(c.clone()),
        Some(_) => Err(CredentialsState::Expired),
        None => Err(snap.state()),
    }
}

fn unavailable(endpoint: Endpoint, role: &str, why: CredentialsState) -> Reply {
    refusal(
        Some(endpoint),
        Outcome::Unavailable,
        &format!("role {role} has no usable credentials (state: {why})"),
    )
}

fn expiration(state: &AgentState, creds: &Credentials, now: SystemTime) -> String {
    format_rfc3339(creds.expiry().unwrap_or_else(|| now + state.limits.no_expiry_lifetime))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerDocument<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

fn container(
    state: &AgentState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> (String, Outcome, Reply) {
    let e = Some(Endpoint::Container);
    let Some(role) = path
        .strip_prefix(CONTAINER_PREFIX)
        .filter(|r| !r.is_empty() && !r.contains('/'))
    else {
        let o = Outcome::NotFound;
        return (
            "-".into(),
            o,
            refusal(e, o, "no such path; roles are under /v1/credentials/"),
        );
    };
    let role = role.to_owned();
    if method != Method::GET {
        let o = Outcome::MethodNotAllowed;
        return (role, o, refusal(e, o, "use GET"));
    }
    // Who asks comes first: an unauthenticated client learns nothing, not
    // even which roles exist.
    let presented = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let handle = state.handles.get(&role);
    match state.tokens.check(presented, handle.map_or("", |_| role.as_str())) {
        Err(Denied::Unauthorized) => {
            let o = Outcome::Unauthorized;
            return (role, o, refusal(e, o, "missing or unknown Authorization token"));
        }
        Err(Denied::Forbidden) if handle.is_some() => {
            let o = Outcome::Forbidden;
            return (role, o, refusal(e, o, "this token does not grant the role"));
        }
        _ => {}
    }
    let Some(handle) = handle else {
        let o = Outcome::NotFound;
        return (role, o, refusal(e, o, "no such role"));
    };
    match usable(handle, now) {
        Ok(creds) => {
            let doc = ContainerDocument {
                access_key_id: creds.access_key_id(),
                secret_access_key: creds.secret_access_key(),
                token: creds.session_token(),
                expiration: expiration(state, &creds, now),
                account_id: creds.account_id(),
            };
            let body = serde_json::to_vec(&doc).unwrap_or_default();
            (role, Outcome::Ok, reply(StatusCode::OK, JSON, body))
        }
        Err(why) => (
            role.clone(),
            Outcome::Unavailable,
            unavailable(Endpoint::Container, &role, why),
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsDocument<'a> {
    code: &'static str,
    last_updated: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    expiration: String,
}

fn imds(
    state: &AgentState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> (String, Outcome, Reply) {
    let e = Some(Endpoint::Imds);
    if path == IMDS_TOKEN_PATH {
        if method != Method::PUT {
            let o = Outcome::MethodNotAllowed;
            return ("-".into(), o, refusal(e, o, "use PUT"));
        }
        // As IMDS does: a request that went through a proxy gets no token.
        if headers.contains_key("x-forwarded-for") {
            let o = Outcome::Forbidden;
            return ("-".into(), o, refusal(e, o, "forwarded requests get no token"));
        }
        let ttl = headers
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL_SECONDS).contains(t));
        let Some(ttl) = ttl else {
            let o = Outcome::BadRequest;
            return (
                "-".into(),
                o,
                refusal(e, o, "X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600"),
            );
        };
        return match state.sessions.issue(now, Duration::from_secs(ttl)) {
            Some(token) => {
                let mut r = reply(StatusCode::OK, TEXT, token);
                if let Ok(v) = http::HeaderValue::from_str(&ttl.to_string()) {
                    r.headers_mut().insert(TTL_HEADER, v);
                }
                ("-".into(), Outcome::Ok, r)
            }
            None => {
                let o = Outcome::Unavailable;
                ("-".into(), o, refusal(e, o, "no random source"))
            }
        };
    }
    let role = if path == IMDS_CREDENTIALS_PATH || path == IMDS_CREDENTIALS_PATH.trim_end_matches('/') {
        None
    } else if let Some(role) = path
        .strip_prefix(IMDS_CREDENTIALS_PATH)
        .filter(|r| !r.is_empty() && !r.contains('/'))
    {
        Some(role.to_owned())
    } else {
        let o = Outcome::NotFound;
        return ("-".into(), o, refusal(e, o, "Not Found"));
    };
    let role_label = role.clone().unwrap_or_else(|| "-".into());
    if method != Method::GET && method != Method::HEAD {
        let o = Outcome::MethodNotAllowed;
        return (role_label, o, refusal(e, o, "use GET"));
    }
    let token_ok = headers
        .get(TOKEN_HEADER)
        .is_some_and(|t| state.sessions.valid(t.as_bytes(), now));
    if !token_ok {
        let o = Outcome::Unauthorized;
        return (role_label, o, refusal(e, o, "Unauthorized"));
    }
    let Some(role) = role else {
        let list = state.imds_roles.join("\n");
        return (role_label, Outcome::Ok, reply(StatusCode::OK, TEXT, list));
    };
    let handle = state
        .imds_roles
        .contains(&role)
        .then(|| state.handles.get(&role))
        .flatten();
    let Some(handle) = handle else {
        let o = Outcome::NotFound;
        return (role_label, o, refusal(e, o, "Not Found"));
    };
    match usable(handle, now) {
        Ok(creds) => {
            let last_updated = handle.load().last_success().unwrap_or(now);
            let doc = ImdsDocument {
                code: "Success",
                last_updated: format_rfc3339(last_updated),
                kind: "AWS-HMAC",
                access_key_id: creds.access_key_id(),
                secret_access_key: creds.secret_access_key(),
                token: creds.session_token(),
                expiration: expiration(state, &creds, now),
            };
            let body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            (role, Outcome::Ok, reply(StatusCode::OK, TEXT, body))
        }
        Err(why) => (
            role.clone(),
            Outcome::Unavailable,
            unavailable(Endpoint::Imds, &role, why),
        ),
    }
}
