//! What every connection of the agent shares: the roles' handles, the
//! tokens, the limits and the request counters.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus::{IntCounterVec, Opts, Registry};

use crate::agent::auth::{SessionTokens, Tokens};
use crate::agent::config::Limits;
use crate::agent::limit::RateLimiter;
use crate::clock::Clock;
use crate::handle::CredentialsHandle;

/// The request counter's name.
pub const REQUESTS_TOTAL: &str = crate::metrics::AGENT_REQUESTS_TOTAL;
/// The counter of connections closed without a request being served.
pub const CONNECTIONS_REFUSED_TOTAL: &str = crate::metrics::AGENT_CONNECTIONS_REFUSED_TOTAL;

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    Container,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    Imds,
    /// The operational pages only.
    Ops,
}

impl Endpoint {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Container => "container",
            Endpoint::Imds => "imds",
            Endpoint::Ops => "ops",
        }
    }
}

/// Shared by every connection.
pub(crate) struct AgentState {
    pub(crate) handles: BTreeMap<String, CredentialsHandle>,
    pub(crate) imds_roles: Vec<String>,
    pub(crate) tokens: Tokens,
    pub(crate) sessions: SessionTokens,
    pub(crate) limiter: RateLimiter,
    pub(crate) limits: Limits,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) refused: IntCounterVec,
}

impl AgentState {
    /// The counters, registered in `registry`.
    pub(crate) fn counters(registry: &Registry) -> Result<(IntCounterVec, IntCounterVec), prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                REQUESTS_TOTAL,
                "Requests the agent answered, by endpoint (container, imds, ops), role (configured roles only, else \"-\") and outcome.",
            ),
            &["endpoint", "role", "outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        let refused = IntCounterVec::new(
            Opts::new(
                CONNECTIONS_REFUSED_TOTAL,
                "Connections the agent closed without serving a request, by reason (timeout, too_many_connections).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        Ok((requests, refused))
    }

    /// The label for `role`: itself when configured, else `-` (a path from
    /// the network never becomes a label).
    pub(crate) fn role_label<'a>(&self, role: &'a str) -> &'a str {
        if self.handles.contains_key(role) { role } else { "-" }
    }
}
