//! `credrefresh credential-process`: asks a running agent for a role over
//! its container endpoint and returns the `credential_process` document.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::agent::routes::CONTAINER_PREFIX;
use crate::clock::{Clock, SystemClock};
use crate::document::{DocumentKind, parse};

/// Where `credential-process` asks unless told otherwise.
pub const DEFAULT_AGENT_URL: &str = "http://127.0.0.1:9910";
/// How long the whole call may take.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the agent gave no credentials. No variant carries a secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The arguments do not make a request (bad URL, bad role name, bad token).
    #[error("{0}")]
    Invalid(String),
    /// The agent could not be reached (down, wrong port, timed out).
    #[error("cannot reach the credrefresh agent at {url}: {reason}")]
    Unreachable {
        /// Where it was asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The agent answered with a refusal.
    #[error("the credrefresh agent refused role {role}: HTTP {status}: {message}")]
    Refused {
        /// The role asked for.
        role: String,
        /// The HTTP status.
        status: u16,
        /// The agent's reason.
        message: String,
    },
    /// The agent's answer was not a credentials document.
    #[error("the credrefresh agent sent an invalid document: {0}")]
    InvalidDocument(String),
}

/// Asks the agent at `agent_url` for `role` with `token`, and returns the
/// `credential_process` JSON (`Version: 1`).
///
/// # Errors
/// [`ClientError`]: the agent is down or refuses, or the arguments or the
/// answer are invalid.
pub async fn credential_process(
    agent_url: &str,
    role: &str,
    token: &str,
    timeout: Duration,
) -> Result<Zeroizing<String>, ClientError> {
    if role.is_empty()
        || !role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(ClientError::Invalid(
            "a role name is 1 to 128 of A-Z a-z 0-9 _ . -".into(),
        ));
    }
    let token = token.strip_suffix('\n').unwrap_or(token);
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ClientError::Invalid("the token is empty or not printable ASCII".into()));
    }
    // The token crosses the wire: plain http only to a loopback agent.
    let base = crate::sources::http::parse_endpoint("agent URL", agent_url, false)
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let url = format!("{}{CONTAINER_PREFIX}{role}", base.as_str().trim_end_matches('/'));
    let client = crate::sources::http::client(timeout, timeout).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: base.to_string(),
        reason: if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "connection refused or failed".into()
        } else {
            "the connection failed".into()
        },
    };
    let response = client
        .get(&url)
        .header(http::header::AUTHORIZATION, token)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("Message")
                    .and_then(|m| m.as_str())
                    .map(|m| crate::sources::http::printable(m, None))
            })
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        return Err(ClientError::Refused {
            role: role.to_owned(),
            status: status.as_u16(),
            message,
        });
    }
    let now = SystemClock.now();
    let creds = parse(&body, now, DocumentKind::Container).map_err(|e| ClientError::InvalidDocument(e.to_string()))?;
    Ok(creds.to_credential_process_json())
}
