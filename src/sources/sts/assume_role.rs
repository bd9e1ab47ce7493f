//! STS `AssumeRole`.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::REDACTED;
use crate::error::BuildError;
use crate::source::{FetchContext, FetchFuture, Source};

use super::base::{BaseCredentials, DEFAULT_BASE_WAIT};
use super::config::{CommonBuilder, common_setters};
use super::request::{Form, StsClient};
use super::validate;
use super::xml::Call;

/// Default session duration of `AssumeRole` and
/// `AssumeRoleWithWebIdentity`: 3600 s (1 h), as AWS's own default.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
/// Default prefix of generated session names: the unix time of the fetch is
/// appended (`credrefresh-1795370400`).
pub const DEFAULT_SESSION_NAME_PREFIX: &str = "credrefresh-";
/// The shortest role session AWS grants: 900 s.
pub const MIN_DURATION: Duration = Duration::from_secs(900);
/// The longest role session AWS may grant (the role's own maximum may be
/// lower): 43200 s.
pub const MAX_ROLE_DURATION: Duration = Duration::from_secs(43_200);

/// How a role session is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionName {
    /// The same name at every refresh.
    Fixed(String),
    /// The prefix followed by the unix time of the fetch, in seconds.
    Prefix(String),
}

impl SessionName {
    pub(crate) fn build(fixed: Option<String>, prefix: Option<String>) -> Result<Self, BuildError> {
        match (fixed, prefix) {
            (Some(_), Some(_)) => Err(BuildError::InvalidConfiguration {
                what: "role session name",
                reason: "set either a fixed session name or a prefix, not both".into(),
            }),
            (Some(name), None) => {
                validate::session_name(&name)?;
                Ok(SessionName::Fixed(name))
            }
            (None, prefix) => {
                let prefix = prefix.unwrap_or_else(|| DEFAULT_SESSION_NAME_PREFIX.to_string());
                validate::session_name_prefix(&prefix)?;
                Ok(SessionName::Prefix(prefix))
            }
        }
    }

    pub(crate) fn at(&self, now: SystemTime) -> Cow<'_, str> {
        match self {
            SessionName::Fixed(name) => Cow::Borrowed(name),
            SessionName::Prefix(prefix) => {
                let secs = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Cow::Owned(format!("{prefix}{secs}"))
            }
        }
    }
}

/// The role-session parameters `AssumeRole` and
/// `AssumeRoleWithWebIdentity` share, as their builders collect them.
#[derive(Debug, Default)]
pub(crate) struct RoleSessionBuilder {
    pub(crate) session_name: Option<String>,
    pub(crate) session_name_prefix: Option<String>,
    pub(crate) duration: Option<Duration>,
    pub(crate) policy: Option<String>,
    pub(crate) policy_arns: Vec<String>,
}

/// [`RoleSessionBuilder`]'s parameters, validated.
pub(crate) struct RoleSession {
    pub(crate) session_name: SessionName,
    pub(crate) duration_secs: u64,
    pub(crate) policy: Option<String>,
    pub(crate) policy_arns: Vec<String>,
}

impl RoleSessionBuilder {
    /// Validates, in this order: the session name or prefix, the duration
    /// (900–43200 s, [`DEFAULT_DURATION`] if unset; errors name
    /// `duration_what`), whatever `between` checks, the policy, and the
    /// policy ARNs.
    pub(crate) fn build(
        self,
        duration_what: &'static str,
        between: impl FnOnce() -> Result<(), BuildError>,
    ) -> Result<RoleSession, BuildError> {
        let session_name = SessionName::build(self.session_name, self.session_name_prefix)?;
        let duration_secs = validate::duration(
            duration_what,
            self.duration.unwrap_or(DEFAULT_DURATION),
            MIN_DURATION.as_secs(),
            MAX_ROLE_DURATION.as_secs(),
        )?;
        between()?;
        if let Some(policy) = &self.policy {
            validate::policy(policy)?;
        }
        validate::policy_arns(&self.policy_arns)?;
        Ok(RoleSession {
            session_name,
            duration_secs,
            policy: self.policy,
            policy_arns: self.policy_arns,
        })
    }
}

/// Credentials of an IAM role, from STS `AssumeRole`, signed with
/// [`BaseCredentials`] (another role's handle for role chaining, or any
/// source).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use credrefresh::{Credentials, sources::{StaticSource, sts::AssumeRoleSource}};
///
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let keys = Credentials::new("AKIDEXAMPLE", "example-secret", SystemTime::UNIX_EPOCH).unwrap();
/// let source = AssumeRoleSource::builder("arn:aws:iam::123456789012:role/reader", StaticSource::new(keys))
///     .region("eu-west-1")
///     .session_name_prefix("billing-")
///     .duration(Duration::from_secs(900))
///     .external_id("partner-42")
///     .tag("team", "billing")
///     .build()?;
/// # let _ = source;
/// # Ok(()) }
/// ```
///
/// Errors at fetch time are classified as described in
/// [`crate::sources::sts`].
pub struct AssumeRoleSource {
    role_arn: String,
    base: BaseCredentials,
    session_name: SessionName,
    duration_secs: u64,
    external_id: Option<String>,
    policy: Option<String>,
    policy_arns: Vec<String>,
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
    base_wait: Duration,
    client: StsClient,
    /// The request body before and after the session name, encoded once:
    /// only the session name can change between fetches.
    form_parts: (String, String),
}

impl fmt::Debug for AssumeRoleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleSource")
            .field("role_arn", &self.role_arn)
            .field("base", &self.base)
            .field("session_name", &self.session_name)
            .field("duration_secs", &self.duration_secs)
            .field("external_id", &self.external_id.as_ref().map(|_| REDACTED))
            .field("policy_chars", &self.policy.as_ref().map(|p| p.chars().count()))
            .field("policy_arns", &self.policy_arns)
            .field("tags", &self.tags)
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("source_identity", &self.source_identity)
            .field("base_wait", &self.base_wait)
            .field("client", &self.client)
            .finish()
    }
}

impl AssumeRoleSource {
    /// Configures an `AssumeRole` of `role_arn`, signed with `base`.
    pub fn builder(role_arn: impl Into<String>, base: impl Into<BaseCredentials>) -> AssumeRoleBuilder {
        AssumeRoleBuilder {
            role_arn: role_arn.into(),
            base: base.into(),
            session: RoleSessionBuilder::default(),
            external_id: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            base_wait: None,
            common: CommonBuilder::default(),
        }
    }

    /// The role assumed.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    fn form(&self, now: SystemTime) -> Form {
        let (head, tail) = &self.form_parts;
        Form::assembled(head, "RoleSessionName", &self.session_name.at(now), tail)
    }

    /// The encoded parameters that come before the session name (the call,
    /// the role) and after it (everything else), in the order STS's
    /// documentation lists them.
    fn encode_form_parts(&self) -> (String, String) {
        let mut head = Form::new(Call::AssumeRole);
        head.push("RoleArn", &self.role_arn);
        let mut tail = Form::empty();
        tail.push("DurationSeconds", &self.duration_secs.to_string());
        if let Some(id) = &self.external_id {
            tail.push("ExternalId", id);
        }
        if let Some(policy) = &self.policy {
            tail.push("Policy", policy);
        }
        tail.push_members("PolicyArns", ".arn", self.policy_arns.iter().map(String::as_str));
        for (i, (key, value)) in self.tags.iter().enumerate() {
            tail.push(&format!("Tags.member.{}.Key", i + 1), key);
            tail.push(&format!("Tags.member.{}.Value", i + 1), value);
        }
        tail.push_members(
            "TransitiveTagKeys",
            "",
            self.transitive_tag_keys.iter().map(String::as_str),
        );
        if let Some(id) = &self.source_identity {
            tail.push("SourceIdentity", id);
        }
        let tail = tail.into_encoded();
        let tail = if tail.is_empty() { tail } else { format!("&{tail}") };
        (head.into_encoded(), tail)
    }
}

impl Source for AssumeRoleSource {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move {
            let base = self.base.get(&ctx, self.base_wait).await?;
            let now = ctx.now();
            let result = self
                .client
                .call(Call::AssumeRole, self.form(now), Some(&base), &ctx)
                .await;
            let parsed = self.base.checked(&base, result)?;
            tracing::debug!(
                role = ctx.role(),
                role_arn = %self.role_arn,
                assumed_role = parsed.assumed_role_arn.as_deref().unwrap_or("-"),
                request_id = parsed.request_id.as_deref().unwrap_or("-"),
                "STS AssumeRole succeeded"
            );
            Ok(parsed.credentials)
        })
    }
}

/// Configures an [`AssumeRoleSource`]; see [`AssumeRoleSource::builder`].
/// Its `Debug` shows the external id as redacted.
#[must_use]
pub struct AssumeRoleBuilder {
    role_arn: String,
    base: BaseCredentials,
    session: RoleSessionBuilder,
    external_id: Option<String>,
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
    base_wait: Option<Duration>,
    common: CommonBuilder,
}

impl fmt::Debug for AssumeRoleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleBuilder")
            .field("role_arn", &self.role_arn)
            .field("base", &self.base)
            .field("session", &self.session)
            // Not a password, but the shared secret of a trust policy.
            .field("external_id", &self.external_id.as_ref().map(|_| REDACTED))
            .field("tags", &self.tags)
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("source_identity", &self.source_identity)
            .field("base_wait", &self.base_wait)
            .field("common", &self.common)
            .finish()
    }
}

impl AssumeRoleBuilder {
    /// A fixed role session name (2–64 characters of `[\w+=,.@-]`), instead
    /// of a generated one. Cannot be combined with
    /// [`session_name_prefix`](Self::session_name_prefix).
    ///
    /// Defaults to a generated name: see [`session_name_prefix`](Self::session_name_prefix).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session.session_name = Some(name.into());
        self
    }

    /// The prefix of generated session names: each fetch sends the prefix
    /// followed by the unix time in seconds. At most 54 characters of
    /// `[\w+=,.@-]`.
    ///
    /// Defaults to [`DEFAULT_SESSION_NAME_PREFIX`].
    pub fn session_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session.session_name_prefix = Some(prefix.into());
        self
    }

    /// The session duration, 900–43200 whole seconds (the role's maximum
    /// session duration must allow it; a role-chained session is capped at
    /// 1 h by AWS).
    ///
    /// Defaults to [`DEFAULT_DURATION`].
    pub fn duration(mut self, duration: Duration) -> Self {
        self.session.duration = Some(duration);
        self
    }

    /// The external id the role's trust policy requires.
    ///
    /// Defaults to none.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// An inline session policy (JSON, at most 2048 characters): the session
    /// gets the intersection of the role's policies and this one.
    ///
    /// Defaults to none.
    pub fn policy(mut self, json: impl Into<String>) -> Self {
        self.session.policy = Some(json.into());
        self
    }

    /// Adds a managed session policy by ARN (at most 10).
    ///
    /// Defaults to none.
    pub fn policy_arn(mut self, arn: impl Into<String>) -> Self {
        self.session.policy_arns.push(arn.into());
        self
    }

    /// Adds a session tag (at most 50; keys unique ignoring case).
    ///
    /// Defaults to none.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Marks a session tag's key as transitive (kept through role chaining).
    /// The key must be one of the [`tag`](Self::tag)s.
    ///
    /// Defaults to none.
    pub fn transitive_tag_key(mut self, key: impl Into<String>) -> Self {
        self.transitive_tag_keys.push(key.into());
        self
    }

    /// The source identity (2–64 characters of `[\w+=,.@-]`).
    ///
    /// Defaults to none.
    pub fn source_identity(mut self, id: impl Into<String>) -> Self {
        self.source_identity = Some(id.into());
        self
    }

    /// How long a fetch waits for a base handle without usable credentials.
    ///
    /// Defaults to [`DEFAULT_BASE_WAIT`].
    pub fn base_wait(mut self, wait: Duration) -> Self {
        self.base_wait = Some(wait);
        self
    }

    common_setters!();

    /// Validates the configuration and builds the source.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for: a role ARN that is not
    /// `arn:{aws|aws-cn|aws-us-gov}:iam::<12 digits>:role/<path/>name`; a
    /// session name not of 2–64 `[\w+=,.@-]`, a prefix over 54 characters,
    /// or both a name and a prefix; a duration outside 900–43200 s or not
    /// whole seconds; an external id not of 2–1224 `[\w+=,.@:/-]`; a policy
    /// that is not JSON or over 2048 characters; more than 10 policy ARNs or
    /// one not an ARN; more than 50 tags, a bad or duplicate key, a bad
    /// value, a transitive key that is not a tag's; a bad source identity;
    /// no region, a bad region, a bad endpoint, a zero timeout or limit.
    pub fn build(self) -> Result<AssumeRoleSource, BuildError> {
        validate::role_arn(&self.role_arn)?;
        let external_id = &self.external_id;
        let session = self.session.build("AssumeRole duration", || match external_id {
            Some(id) => validate::external_id(id),
            None => Ok(()),
        })?;
        validate::tags(&self.tags, &self.transitive_tag_keys)?;
        if let Some(id) = &self.source_identity {
            validate::source_identity(id)?;
        }
        let client = self.common.build()?;
        let mut source = AssumeRoleSource {
            role_arn: self.role_arn,
            base: self.base,
            session_name: session.session_name,
            duration_secs: session.duration_secs,
            external_id: self.external_id,
            policy: session.policy,
            policy_arns: session.policy_arns,
            tags: self.tags,
            transitive_tag_keys: self.transitive_tag_keys,
            source_identity: self.source_identity,
            base_wait: self.base_wait.unwrap_or(DEFAULT_BASE_WAIT),
            client,
            form_parts: (String::new(), String::new()),
        };
        source.form_parts = source.encode_form_parts();
        Ok(source)
    }
}

impl From<AssumeRoleSource> for BaseCredentials {
    fn from(source: AssumeRoleSource) -> Self {
        BaseCredentials::from_source(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;
    use crate::sources::StaticSource;

    const ARN: &str = "arn:aws:iam::123456789012:role/demo";

    fn base() -> StaticSource {
        StaticSource::new(Credentials::new("AKIDEXAMPLE", "SECRETKEYVALUE", SystemTime::UNIX_EPOCH).unwrap())
    }

    fn builder() -> AssumeRoleBuilder {
        AssumeRoleSource::builder(ARN, base()).region("eu-west-1")
    }

    #[test]
    fn defaults() {
        let s = builder().build().unwrap();
        assert_eq!(s.duration_secs, 3600);
        assert_eq!(s.session_name, SessionName::Prefix("credrefresh-".into()));
        assert_eq!(s.base_wait, DEFAULT_BASE_WAIT);
        assert_eq!(s.client.url().as_str(), "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(s.name(), "sts");
        let form = s.form(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400));
        assert_eq!(
            form.as_str(),
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo\
             &RoleSessionName=credrefresh-1795370400&DurationSeconds=3600"
        );
    }

    #[test]
    fn every_parameter_is_encoded() {
        let s = builder()
            .session_name("fixed@example")
            .duration(Duration::from_secs(900))
            .external_id("ext-1")
            .policy(r#"{"Version":"2012-10-17"}"#)
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .policy_arn("arn:aws:iam::aws:policy/SecurityAudit")
            .tag("Project", "Unicorn")
            .tag("Team", "Blue Team")
            .transitive_tag_key("Project")
            .source_identity("alice")
            .build()
            .unwrap();
        let form = s.form(SystemTime::UNIX_EPOCH);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_str().as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RoleSessionName"), Some("fixed@example"));
        assert_eq!(get("DurationSeconds"), Some("900"));
        assert_eq!(get("ExternalId"), Some("ext-1"));
        assert_eq!(get("Policy"), Some(r#"{"Version":"2012-10-17"}"#));
        assert_eq!(
            get("PolicyArns.member.1.arn"),
            Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
        assert_eq!(
            get("PolicyArns.member.2.arn"),
            Some("arn:aws:iam::aws:policy/SecurityAudit")
        );
        assert_eq!(get("Tags.member.1.Key"), Some("Project"));
        assert_eq!(get("Tags.member.1.Value"), Some("Unicorn"));
        assert_eq!(get("Tags.member.2.Key"), Some("Team"));
        assert_eq!(get("Tags.member.2.Value"), Some("Blue Team"));
        assert_eq!(get("TransitiveTagKeys.member.1"), Some("Project"));
        assert_eq!(get("SourceIdentity"), Some("alice"));
        // In the documented order, the session name after the role: the
        // body encoded at build time around the session name is the one
        // pushing every parameter at each fetch would make.
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Action",
                "Version",
                "RoleArn",
                "RoleSessionName",
                "DurationSeconds",
                "ExternalId",
                "Policy",
                "PolicyArns.member.1.arn",
                "PolicyArns.member.2.arn",
                "Tags.member.1.Key",
                "Tags.member.1.Value",
                "Tags.member.2.Key",
                "Tags.member.2.Value",
                "TransitiveTagKeys.member.1",
                "SourceIdentity",
            ]
        );
        let mut pushed = Form::new(Call::AssumeRole);
        for (k, v) in &pairs[2..] {
            pushed.push(k, v);
        }
        assert_eq!(form.as_str(), pushed.as_str());
        // A generated session name is encoded at each fetch.
        let s = builder().session_name_prefix("p+").build().unwrap();
        let form = s.form(SystemTime::UNIX_EPOCH + Duration::from_secs(7));
        assert!(
            form.as_str().contains("&RoleSessionName=p%2B7&DurationSeconds=3600"),
            "{}",
            form.as_str()
        );
    }

    #[test]
    fn build_errors() {
        let err = |b: AssumeRoleBuilder| match b.build() {
            Err(BuildError::InvalidConfiguration { what, .. }) => what,
            other => panic!("expected a configuration error, got {other:?}"),
        };
        assert_eq!(
            err(AssumeRoleSource::builder("arn:aws:iam::1:role/x", base()).region("eu-west-1")),
            "role ARN"
        );
        assert_eq!(err(builder().session_name("x")), "role session name");
        assert_eq!(
            err(builder().session_name("ok-name").session_name_prefix("p-")),
            "role session name"
        );
        assert_eq!(err(builder().duration(Duration::from_secs(600))), "AssumeRole duration");
        assert_eq!(
            err(builder().duration(Duration::from_secs(43_201))),
            "AssumeRole duration"
        );
        assert_eq!(err(builder().external_id("a b")), "external id");
        assert_eq!(err(builder().policy("{")), "session policy");
        assert_eq!(err(builder().transitive_tag_key("nope")), "transitive tag keys");
        assert_eq!(err(builder().source_identity("x")), "source identity");
        assert_eq!(err(builder().region("nowhere")), "STS region");
        assert_eq!(err(builder().endpoint("http://10.0.0.1:80")), "STS endpoint");
    }

    #[test]
    fn debug_redacts() {
        let s = builder().external_id("ext-secretish").build().unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRETKEYVALUE"), "{shown}");
        assert!(!shown.contains("ext-secretish"), "{shown}");
        assert!(shown.contains(ARN));
    }
}
