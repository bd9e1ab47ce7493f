//! The host agent: one [`Refresher`] per host, serving every process in the
//! protocols the AWS SDKs already read (feature `agent`).
//!
//! A host runs many processes that need the same roles. Each refreshing on
//! its own multiplies STS and IMDS calls; with one agent, STS calls grow
//! with roles instead of processes, and every process gets the same static
//! stability and the same Prometheus series. The agent serves:
//!
//! - the **container credentials endpoint** (`AWS_CONTAINER_CREDENTIALS_FULL_URI`
//!   = `http://127.0.0.1:9910/v1/credentials/<role>`, with
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`):
//!   each token grants named roles only, and is checked in constant time;
//! - an **IMDSv2-compatible endpoint** (`AWS_EC2_METADATA_SERVICE_ENDPOINT`
//!   = `http://127.0.0.1:9911`), loopback only, for clients that read
//!   nothing else;
//! - `credential_process`, through `credrefresh credential-process --role R`
//!   ([`client::credential_process`]);
//! - `/healthz`, `/status` (per role: state, expiry, last error class) and
//!   `/metrics` (every credrefresh series plus
//!   [`credrefresh_agent_requests_total{endpoint,role,outcome}`](REQUESTS_TOTAL))
//!   on every listener, and alone on the optional `[metrics]` listeners
//!   (which serve no credentials, so may listen anywhere).
//!
//! Serving rules: expired credentials are never served (a role without
//! usable ones gets a 503 with a JSON reason); extended ones are served with
//! their extended expiry; listeners are on loopback unless another address
//! is named in the config, which then also needs tokens; each client IP has
//! a token bucket (429 past it); request heads and bodies are capped (431,
//! 413) and must arrive in time (408). Nothing secret is logged: requests
//! are logged by endpoint, configured role, peer and outcome only.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use credrefresh::agent::{Agent, Config};
//! let config = Config::load(std::path::Path::new("/etc/credrefresh/agent.toml"))?;
//! let agent = Agent::start(config).await?;
//! println!("serving on {:?}", agent.container_addrs());
//! tokio::signal::ctrl_c().await?;
//! agent.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
pub mod client;
mod config;
mod limit;
mod roles;
mod routes;
mod server;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use self::auth::{SessionTokens, Tokens};
pub use self::config::{
    Config, ConfigError, DEFAULT_BURST, DEFAULT_CONTAINER_LISTEN, DEFAULT_IMDS_LISTEN, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_NO_EXPIRY_LIFETIME,
    DEFAULT_RATE_PER_SECOND, DEFAULT_REQUEST_TIMEOUT, Limits, MAX_TOKEN_CHARS, MIN_TOKEN_CHARS, TokenConfig,
    TokenSource,
};
use self::limit::RateLimiter;
use self::roles::EnvLookup;
pub use self::routes::{CONTAINER_PREFIX, IMDS_CREDENTIALS_PATH, IMDS_TOKEN_PATH};
use self::state::{AgentState, Endpoint};
pub use self::state::{CONNECTIONS_REFUSED_TOTAL, REQUESTS_TOTAL};
use crate::refresher::Refresher;

/// Why the agent did not start. Nothing is bound when it fails.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration (or a token it names) is not acceptable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The metrics registry refused a series.
    #[error("cannot register the agent's metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A running agent. Dropping it stops the listeners (use
/// [`shutdown`](Self::shutdown) to also wait for them).
#[derive(Debug)]
pub struct Agent {
    refresher: Refresher,
    container: Vec<SocketAddr>,
    imds: Vec<SocketAddr>,
    metrics: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agent {
    /// Starts the roles and the listeners of `config`, reading token and
    /// source variables from the process environment. Must be called inside
    /// a Tokio runtime; the listeners run as tasks of it.
    ///
    /// # Errors
    /// [`AgentError`]: a token that cannot be read, a source that does not
    /// build, an address that cannot be bound. Nothing listens then.
    pub async fn start(config: Config) -> Result<Agent, AgentError> {
        Self::start_with_env(config, |k| std::env::var(k).ok()).await
    }

    /// As [`start`](Self::start), reading environment variables through
    /// `lookup` (tests, configuration maps).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_with_env(
        config: Config,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Agent, AgentError> {
        let env: EnvLookup = Arc::new(lookup);
        let tokens = Tokens::load(&config.tokens, &env)?;
        let sessions = SessionTokens::new()?;
        let refresher = roles::start(&config, &env)?;
        let registry = refresher.prometheus_registry()?;
        let (requests, refused) = AgentState::counters(&registry)?;
        let handles: BTreeMap<String, _> = config
            .role_names()
            .filter_map(|name| refresher.handle(name).map(|h| (name.to_owned(), h)))
            .collect();

        // Bind everything before serving anything.
        let mut bound = Vec::new();
        for (endpoint, addrs) in [
            (Endpoint::Container, &config.container_listen),
            (Endpoint::Imds, &config.imds_listen),
            (Endpoint::Ops, &config.metrics_listen),
        ] {
            for &addr in addrs {
                let listener = bind(addr).map_err(|source| AgentError::Bind { addr, source })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| AgentError::Bind { addr, source })?;
                bound.push((endpoint, local, listener));
            }
        }

        let limits = config.limits.clone();
        let state = Arc::new(AgentState {
            handles,
            imds_roles: config.imds_roles.clone(),
            tokens,
            sessions,
            limiter: RateLimiter::new(limits.rate_per_second, limits.burst, limits.max_clients),
            clock: refresher.clock().clone(),
            limits,
            registry,
            requests,
            refused,
        });
        let connections = Arc::new(Semaphore::new(state.limits.max_connections));
        let (stop, stop_rx) = watch::channel(false);
        let mut agent = Agent {
            refresher,
            container: Vec::new(),
            imds: Vec::new(),
            metrics: Vec::new(),
            stop,
            tasks: Vec::new(),
        };
        for (endpoint, local, listener) in bound {
            match endpoint {
                Endpoint::Container => agent.container.push(local),
                Endpoint::Imds => agent.imds.push(local),
                Endpoint::Ops => agent.metrics.push(local),
            }
            tracing::info!(target: "credrefresh::agent", endpoint = endpoint.as_str(), address = %local, "agent: listening");
            agent.tasks.push(tokio::spawn(server::serve(
                listener,
                endpoint,
                state.clone(),
                connections.clone(),
                stop_rx.clone(),
            )));
        }
        Ok(agent)
    }

    /// The container endpoint's bound addresses (port 0 in the config is
    /// resolved here).
    pub fn container_addrs(&self) -> &[SocketAddr] {
        &self.container
    }

    /// The IMDS endpoint's bound addresses.
    pub fn imds_addrs(&self) -> &[SocketAddr] {
        &self.imds
    }

    /// The bound addresses of the `[metrics]` listeners (operational pages only).
    pub fn metrics_addrs(&self) -> &[SocketAddr] {
        &self.metrics
    }

    /// The `AWS_CONTAINER_CREDENTIALS_FULL_URI` of `role` on the first
    /// container listener.
    pub fn container_url(&self, role: &str) -> Option<String> {
        self.container
            .first()
            .map(|a| format!("http://{a}{CONTAINER_PREFIX}{role}"))
    }

    /// The `AWS_EC2_METADATA_SERVICE_ENDPOINT` of the first IMDS listener.
    pub fn imds_url(&self) -> Option<String> {
        self.imds.first().map(|a| format!("http://{a}"))
    }

    /// The refresher behind the agent (its handles, its roles).
    pub fn refresher(&self) -> &Refresher {
        &self.refresher
    }

    /// Stops the listeners and open connections, waits for them, and stops
    /// the refresher.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.refresher.shutdown();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}
