//! The agent's TOML configuration: what is read, what is checked, and the
//! typed error that names the offending key.
//!
//! ```toml
//! [container]                   # the container credentials endpoint
//! listen = ["127.0.0.1:9910"]   # the default; any other address must be named here
//!
//! [imds]                        # the IMDSv2-compatible endpoint (loopback only)
//! listen = ["127.0.0.1:9911"]
//! roles = ["app"]               # the roles its listing names
//!
//! [metrics]                     # optional: /metrics, /healthz, /status only,
//! listen = ["0.0.0.0:9912"]     # no credentials, so any address may be named
//!
//! [[tokens]]                    # who may read which role (container endpoint)
//! name = "workers"
//! file = "/etc/credrefresh/workers.token"   # mode 0600; or env = "VAR"
//! roles = ["app"]
//!
//! [limits]                      # all optional, defaults shown in Limits
//! rate_per_second = 20.0
//! burst = 40
//!
//! [policy]
//! strict = false                # true: never extend expired credentials
//!
//! [roles.base]
//! source = "env"
//!
//! [roles.app]
//! source = "assume_role"
//! role_arn = "arn:aws:iam::123456789012:role/app"
//! base_role = "base"
//! region = "eu-west-1"
//! ```
//!
//! Sources: `env`, `static` (for tests), `assume_role` (signed with another
//! role's credentials, `base_role`), `web_identity`, `imds`, `ecs`, `chain`.
//! Profiles are parsed by [`crate::sources::profile`] but are not yet a
//! refresher source, so a profile role is not offered here yet.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The container endpoint's listen address unless the config names others.
pub const DEFAULT_CONTAINER_LISTEN: &str = "127.0.0.1:9910";
/// The IMDS endpoint's listen address unless the config names others.
pub const DEFAULT_IMDS_LISTEN: &str = "127.0.0.1:9911";
/// Requests per second a client IP may make, on average.
pub const DEFAULT_RATE_PER_SECOND: f64 = 20.0;
/// Requests a client IP may make in one burst.
pub const DEFAULT_BURST: u32 = 40;
/// How many client IPs the rate limiter remembers.
pub const DEFAULT_MAX_CLIENTS: usize = 65_536;
/// Largest request head (request line and headers), in bytes; more is a 431.
/// hyper's floor is 8192.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16_384;
/// Largest request body, in bytes; more is a 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1_024;
/// How long a client may take to send a request's head (and its body): 5 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How many connections are served at once; more wait in the kernel's queue.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;
/// The lifetime advertised for credentials without an expiry (long-term
/// keys): clients come back for them within this time.
pub const DEFAULT_NO_EXPIRY_LIFETIME: Duration = Duration::from_secs(3_600);
/// Shortest token accepted, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Longest token accepted, in characters.
pub const MAX_TOKEN_CHARS: usize = 4_096;

/// A configuration the agent refuses. Each variant names the key
/// (`tokens[0].file`, `roles.app.role_arn`) or the file; no message carries
/// a secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type. The message
    /// is toml's, which names the key; the line and column point at it.
    #[error("invalid config at line {line}, column {column}: {message}")]
    Parse {
        /// toml's message (without the quoted source line).
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A value parsed but is not acceptable.
    #[error("invalid config key `{key}`: {reason}")]
    Invalid {
        /// The key, as a dotted path.
        key: String,
        /// Why it was rejected.
        reason: String,
    },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The key named by an [`Invalid`](Self::Invalid) error.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    fn from_toml(text: &str, e: &toml::de::Error) -> Self {
        let (line, column) = e.span().map_or((0, 0), |span| line_column(text, span.start));
        ConfigError::Parse {
            message: e.message().trim().to_owned(),
            line,
            column,
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The whole file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    container: Option<RawContainer>,
    imds: Option<RawImds>,
    metrics: Option<RawMetrics>,
    #[serde(default)]
    tokens: Vec<RawToken>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    roles: BTreeMap<String, RoleConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContainer {
    listen: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImds {
    listen: Option<Vec<String>>,
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    file: Option<PathBuf>,
    env: Option<String>,
    roles: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    rate_per_second: Option<f64>,
    burst: Option<u32>,
    max_clients: Option<usize>,
    max_header_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    request_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    no_expiry_lifetime_seconds: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    strict: Option<bool>,
    fetch_timeout_seconds: Option<u64>,
}

/// One role: where its credentials come from.
#[derive(Deserialize, Clone)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RoleConfig {
    /// `AWS_ACCESS_KEY_ID` and friends of the agent's environment.
    Env {},
    /// Fixed keys written in the file: for tests and demos.
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expiration: Option<String>,
        account_id: Option<String>,
    },
    /// STS AssumeRole signed with another configured role's credentials.
    AssumeRole {
        role_arn: String,
        base_role: String,
        region: Option<String>,
        endpoint: Option<String>,
        session_name: Option<String>,
        duration_seconds: Option<u64>,
        external_id: Option<String>,
    },
    /// STS AssumeRoleWithWebIdentity with a token file.
    WebIdentity {
        role_arn: String,
        token_file: PathBuf,
        region: Option<String>,
        endpoint: Option<String>,
        session_name: Option<String>,
        duration_seconds: Option<u64>,
    },
    /// The instance metadata service.
    Imds {
        endpoint: Option<String>,
        role_name: Option<String>,
    },
    /// The container credentials endpoint of the host the agent runs in.
    Ecs {
        full_uri: Option<String>,
        relative_uri: Option<String>,
        auth_token_file: Option<PathBuf>,
    },
    /// The default chain (environment, web identity, ECS, IMDS).
    Chain {},
}

impl fmt::Debug for RoleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source_name())
    }
}

impl RoleConfig {
    /// The `source` value naming this kind.
    pub(crate) fn source_name(&self) -> &'static str {
        match self {
            RoleConfig::Env {} => "env",
            RoleConfig::Static { .. } => "static",
            RoleConfig::AssumeRole { .. } => "assume_role",
            RoleConfig::WebIdentity { .. } => "web_identity",
            RoleConfig::Imds { .. } => "imds",
            RoleConfig::Ecs { .. } => "ecs",
            RoleConfig::Chain {} => "chain",
        }
    }

    /// The role whose credentials sign this one's STS calls.
    pub(crate) fn base_role(&self) -> Option<&str> {
        match self {
            RoleConfig::AssumeRole { base_role, .. } => Some(base_role),
            _ => None,
        }
    }
}

/// Where a token's value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file of mode 0600 (or stricter); one trailing newline is ignored.
    File(PathBuf),
    /// An environment variable of the agent.
    Env(String),
}

/// A token as configured (its value is read when the agent starts).
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Its name, for logs.
    pub name: String,
    /// Where its value comes from.
    pub source: TokenSource,
    /// The roles it grants.
    pub roles: BTreeSet<String>,
}

/// The serving limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Requests per second per client IP. Defaults to [`DEFAULT_RATE_PER_SECOND`].
    pub rate_per_second: f64,
    /// Burst per client IP. Defaults to [`DEFAULT_BURST`].
    pub burst: u32,
    /// Client IPs remembered. Defaults to [`DEFAULT_MAX_CLIENTS`].
    pub max_clients: usize,
    /// Request head cap. Defaults to [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// Request body cap. Defaults to [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// Time to send a request. Defaults to [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Connections served at once. Defaults to [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// Advertised lifetime of credentials without expiry. Defaults to
    /// [`DEFAULT_NO_EXPIRY_LIFETIME`].
    pub no_expiry_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            burst: DEFAULT_BURST,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            no_expiry_lifetime: DEFAULT_NO_EXPIRY_LIFETIME,
        }
    }
}

/// A checked configuration. Build it with [`Config::from_toml_str`] or
/// [`Config::load`]; the roles are kept in the order they can be started
/// (a base role before the roles it signs for).
#[derive(Debug, Clone)]
pub struct Config {
    /// Container endpoint listen addresses (empty: no container endpoint).
    pub container_listen: Vec<SocketAddr>,
    /// IMDS endpoint listen addresses (empty: no IMDS endpoint).
    pub imds_listen: Vec<SocketAddr>,
    /// Listen addresses serving only `/metrics`, `/healthz` and `/status`.
    pub metrics_listen: Vec<SocketAddr>,
    /// Roles the IMDS endpoint serves, in listing order.
    pub imds_roles: Vec<String>,
    /// Tokens of the container endpoint.
    pub tokens: Vec<TokenConfig>,
    /// Serving limits.
    pub limits: Limits,
    /// Never extend expired credentials.
    pub strict: bool,
    /// The refresh fetch timeout, if set.
    pub fetch_timeout: Option<Duration>,
    pub(crate) roles: Vec<(String, RoleConfig)>,
}

impl Config {
    /// Reads and checks the file at `path`.
    ///
    /// # Errors
    /// As [`from_toml_str`](Self::from_toml_str), and [`ConfigError::Read`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Parses and checks a configuration.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for TOML that does not parse or does not fit
    /// (unknown keys included); [`ConfigError::Invalid`] for an address that
    /// is not `ip:port`, a non-loopback address without tokens, an IMDS
    /// listener off loopback, a role name that is not `[A-Za-z0-9_.-]+`, a
    /// token or IMDS role naming an unknown role, a token with no source or
    /// two, a base role that is unknown or part of a cycle, a limit of zero,
    /// and a config that serves nothing.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::from_toml(text, &e))?;
        raw.check()
    }

    /// The configured role names, in start order.
    pub fn role_names(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(|(name, _)| name.as_str())
    }
}

fn valid_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn addresses(key: &str, given: Option<Vec<String>>, default: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    let given = given.unwrap_or_else(|| vec![default.to_owned()]);
    given
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.parse::<SocketAddr>()
                .map_err(|_| ConfigError::invalid(format!("{key}[{i}]"), "not an ip:port address"))
        })
        .collect()
}

fn positive<T: PartialOrd + Default + Copy>(key: &str, value: Option<T>, default: T) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if value <= T::default() {
        return Err(ConfigError::invalid(format!("limits.{key}"), "must be above zero"));
    }
    Ok(value)
}

impl RawConfig {
    fn check(self) -> Result<Config, ConfigError> {
        for name in self.roles.keys() {
            if !valid_role_name(name) {
                return Err(ConfigError::invalid(
                    format!("roles.{name}"),
                    "a role name is 1 to 128 of A-Z a-z 0-9 _ . -",
                ));
            }
        }
        if self.roles.is_empty() {
            return Err(ConfigError::invalid("roles", "at least one role is needed"));
        }
        let known = |name: &str| self.roles.contains_key(name);

        let container_listen = match self.container {
            Some(c) => addresses("container.listen", c.listen, DEFAULT_CONTAINER_LISTEN)?,
            None => Vec::new(),
        };
        let (imds_listen, imds_roles) = match self.imds {
            Some(i) => {
                let listen = addresses("imds.listen", i.listen, DEFAULT_IMDS_LISTEN)?;
                if i.roles.is_empty() {
                    return Err(ConfigError::invalid("imds.roles", "name at least one role"));
                }
                for (n, role) in i.roles.iter().enumerate() {
                    if !known(role) {
                        return Err(ConfigError::invalid(format!("imds.roles[{n}]"), "no such role"));
                    }
                }
                (listen, i.roles)
            }
            None => (Vec::new(), Vec::new()),
        };
        let metrics_listen = match self.metrics {
            Some(m) => addresses("metrics.listen", Some(m.listen), DEFAULT_CONTAINER_LISTEN)?,
            None => Vec::new(),
        };
        if container_listen.is_empty() && imds_listen.is_empty() {
            return Err(ConfigError::invalid(
                "container",
                "configure a [container] or an [imds] endpoint (or both)",
            ));
        }
        for (i, addr) in imds_listen.iter().enumerate() {
            // IMDS clients send no credential of their own: off loopback,
            // anyone who reaches the port would get the roles.
            if !addr.ip().is_loopback() {
                return Err(ConfigError::invalid(
                    format!("imds.listen[{i}]"),
                    "the IMDS endpoint has no client tokens, so it listens on loopback only",
                ));
            }
        }

        let mut tokens = Vec::with_capacity(self.tokens.len());
        let mut token_names = BTreeSet::new();
        for (i, t) in self.tokens.into_iter().enumerate() {
            let key = format!("tokens[{i}]");
            if t.name.is_empty() || !token_names.insert(t.name.clone()) {
                return Err(ConfigError::invalid(format!("{key}.name"), "empty or used twice"));
            }
            let source = match (t.file, t.env) {
                (Some(file), None) => TokenSource::File(file),
                (None, Some(env)) if !env.is_empty() => TokenSource::Env(env),
                (None, Some(_)) => return Err(ConfigError::invalid(format!("{key}.env"), "empty variable name")),
                _ => return Err(ConfigError::invalid(key, "give exactly one of `file` and `env`")),
            };
            if t.roles.is_empty() {
                return Err(ConfigError::invalid(format!("{key}.roles"), "grant at least one role"));
            }
            for (n, role) in t.roles.iter().enumerate() {
                if !known(role) {
                    return Err(ConfigError::invalid(format!("{key}.roles[{n}]"), "no such role"));
                }
            }
            tokens.push(TokenConfig {
                name: t.name,
                source,
                roles: t.roles.into_iter().collect(),
            });
        }
        if !container_listen.is_empty() && tokens.is_empty() {
            return Err(ConfigError::invalid(
                "tokens",
                "the container endpoint needs at least one token ([[tokens]])",
            ));
        }

        let l = self.limits;
        let d = Limits::default();
        if let Some(rate) = l.rate_per_second {
            if !rate.is_finite() {
                return Err(ConfigError::invalid(
                    "limits.rate_per_second",
                    "must be a finite number",
                ));
            }
        }
        let request_timeout_ms = positive(
            "request_timeout_ms",
            l.request_timeout_ms,
            d.request_timeout.as_millis() as u64,
        )?;
        let limits = Limits {
            rate_per_second: positive("rate_per_second", l.rate_per_second, d.rate_per_second)?,
            burst: positive("burst", l.burst, d.burst)?,
            max_clients: positive("max_clients", l.max_clients, d.max_clients)?,
            max_header_bytes: positive("max_header_bytes", l.max_header_bytes, d.max_header_bytes)?.max(8_192),
            max_body_bytes: positive("max_body_bytes", l.max_body_bytes, d.max_body_bytes)?,
            request_timeout: Duration::from_millis(request_timeout_ms),
            max_connections: positive("max_connections", l.max_connections, d.max_connections)?,
            no_expiry_lifetime: Duration::from_secs(positive(
                "no_expiry_lifetime_seconds",
                l.no_expiry_lifetime_seconds,
                d.no_expiry_lifetime.as_secs(),
            )?),
        };

        let fetch_timeout = match self.policy.fetch_timeout_seconds {
            Some(0) => {
                return Err(ConfigError::invalid(
                    "policy.fetch_timeout_seconds",
                    "must be above zero",
                ));
            }
            other => other.map(Duration::from_secs),
        };
        let roles = start_order(self.roles)?;
        Ok(Config {
            container_listen,
            imds_listen,
            metrics_listen,
            imds_roles,
            tokens,
            limits,
            strict: self.policy.strict.unwrap_or(false),
            fetch_timeout,
            roles,
        })
    }
}

/// The roles ordered so that each base role comes before the roles it
/// signs for.
fn start_order(mut roles: BTreeMap<String, RoleConfig>) -> Result<Vec<(String, RoleConfig)>, ConfigError> {
    for (name, role) in &roles {
        if let Some(base) = role.base_role() {
            if !roles.contains_key(base) {
                return Err(ConfigError::invalid(format!("roles.{name}.base_role"), "no such role"));
            }
        }
    }
    let mut ordered: Vec<(String, RoleConfig)> = Vec::with_capacity(roles.len());
    while !roles.is_empty() {
        let ready: Vec<String> = roles
            .iter()
            .filter(|(_, role)| role.base_role().is_none_or(|b| ordered.iter().any(|(n, _)| n == b)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            let name = roles.keys().next().cloned().unwrap_or_default();
            return Err(ConfigError::invalid(
                format!("roles.{name}.base_role"),
                "base roles form a cycle",
            ));
        }
        for name in ready {
            if let Some(role) = roles.remove(&name) {
                ordered.push((name, role));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[container]
[[tokens]]
name = "t"
env = "TOKEN"
roles = ["app"]
[roles.app]
source = "env"
"#;

    #[test]
    fn a_minimal_config_listens_on_loopback() {
        let c = Config::from_toml_str(MINIMAL).unwrap();
        assert_eq!(c.container_listen, vec!["127.0.0.1:9910".parse().unwrap()]);
        assert!(c.imds_listen.is_empty());
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = format!("{MINIMAL}[limits]\ncolour = \"blue\"\n");
        match Config::from_toml_str(&text).unwrap_err() {
            ConfigError::Parse { message, line, .. } => {
                assert!(message.contains("colour"), "{message}");
                assert_eq!(line, 10);
            }
            other => panic!("{other}"),
        }
        // Inside a role, the line is the role's table.
        let text = format!("{MINIMAL}colour = \"blue\"\n");
        match Config::from_toml_str(&text).unwrap_err() {
            ConfigError::Parse { message, line, .. } => {
                assert!(message.contains("colour"), "{message}");
                assert_eq!(line, 7);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let text = MINIMAL.replace("[container]", "[container]\nlisten = [\"localhost\"]");
        assert_eq!(
            Config::from_toml_str(&text).unwrap_err().key(),
            Some("container.listen[0]")
        );
        let text = MINIMAL.replace("roles = [\"app\"]", "roles = [\"nope\"]");
        assert_eq!(
            Config::from_toml_str(&text).unwrap_err().key(),
            Some("tokens[0].roles[0]")
        );
        let text = format!("{MINIMAL}[limits]\nburst = 0\n");
        assert_eq!(Config::from_toml_str(&text).unwrap_err().key(), Some("limits.burst"));
    }

    #[test]
    fn non_loopback_needs_explicit_tokens_and_imds_stays_on_loopback() {
        let open = "[container]\nlisten = [\"0.0.0.0:9910\"]\n[roles.app]\nsource = \"env\"\n";
        assert_eq!(Config::from_toml_str(open).unwrap_err().key(), Some("tokens"));
        let with_token = MINIMAL.replace("[container]", "[container]\nlisten = [\"0.0.0.0:9910\"]");
        assert!(Config::from_toml_str(&with_token).is_ok());
        let imds = format!("{MINIMAL}[imds]\nlisten = [\"10.0.0.1:80\"]\nroles = [\"app\"]\n");
        assert_eq!(Config::from_toml_str(&imds).unwrap_err().key(), Some("imds.listen[0]"));
    }

    #[test]
    fn base_roles_start_first_and_cycles_are_refused() {
        let text = format!(
            "{MINIMAL}[roles.a]\nsource = \"assume_role\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\nbase_role = \"app\"\n"
        );
        let c = Config::from_toml_str(&text).unwrap();
        assert_eq!(c.role_names().collect::<Vec<_>>(), ["app", "a"]);
        let cycle = "[container]\n[[tokens]]\nname = \"t\"\nenv = \"T\"\nroles = [\"a\"]\n\
            [roles.a]\nsource = \"assume_role\"\nrole_arn = \"x\"\nbase_role = \"b\"\n\
            [roles.b]\nsource = \"assume_role\"\nrole_arn = \"y\"\nbase_role = \"a\"\n";
        assert_eq!(
            Config::from_toml_str(cycle).unwrap_err().key(),
            Some("roles.a.base_role")
        );
    }

    #[test]
    fn an_unknown_source_is_a_parse_error() {
        let text = MINIMAL.replace("source = \"env\"", "source = \"profile\"");
        assert!(matches!(
            Config::from_toml_str(&text).unwrap_err(),
            ConfigError::Parse { .. }
        ));
    }

    #[test]
    fn a_parse_error_does_not_quote_the_source_line() {
        let text =
            "[roles.app]\nsource = \"static\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"s3cr3t-value\nnope\n";
        let e = Config::from_toml_str(text).unwrap_err().to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
