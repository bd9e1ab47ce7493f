//! STS `AssumeRoleWithWebIdentity` (EKS service accounts, OIDC).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};
use crate::sources::file::{FileError, FileReader};

use super::assume_role::{RoleSessionBuilder, SessionName};
use super::base::BaseCredentials;
use super::config::{CommonBuilder, Lookup, common_setters};
use super::request::{Form, StsClient};
use super::validate;
use super::xml::Call;

/// `AWS_ROLE_ARN`: the role to assume.
pub const ENV_ROLE_ARN: &str = "AWS_ROLE_ARN";
/// `AWS_WEB_IDENTITY_TOKEN_FILE`: the file holding the token.
pub const ENV_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
/// `AWS_ROLE_SESSION_NAME`: a fixed session name (optional).
pub const ENV_ROLE_SESSION_NAME: &str = "AWS_ROLE_SESSION_NAME";
/// The longest web identity token STS accepts, in bytes.
pub const MAX_TOKEN_BYTES: usize = 20_000;

/// Credentials of an IAM role from STS `AssumeRoleWithWebIdentity`, with
/// an OIDC token read from a file, as on EKS with IAM roles for service
/// accounts. The call is not signed.
///
/// The token file is read again at every refresh (kubelet rotates it), on
/// a thread of its own and within 5 s, so that a file that never answers (a
/// FIFO without a writer, a hung mount) blocks neither the other roles nor
/// `shutdown()`: that fetch is a [`Timeout`](crate::ErrorClass::Timeout),
/// and so are the next ones while the stuck read lasts (no second read is
/// started). Surrounding whitespace is trimmed. A file that cannot be read, is empty,
/// is not UTF-8 or is over [`MAX_TOKEN_BYTES`] is an
/// [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration) error
/// of that fetch, naming the path but never showing the token. Other errors
/// are classified as described in [`crate::sources::sts`]; an expired or
/// invalid token (`ExpiredTokenException`, `InvalidIdentityToken`) is
/// [`CredentialsRejected`](crate::ErrorClass::CredentialsRejected), retried
/// with the file's next token.
///
/// ```no_run
/// use credrefresh::{Refresher, sources::sts::WebIdentitySource};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_REGION as EKS sets them.
/// let source = WebIdentitySource::from_env()?.build()?;
/// let refresher = Refresher::builder().role("app", source).start()?;
/// # let _ = refresher;
/// # Ok(()) }
/// ```
pub struct WebIdentitySource {
    role_arn: String,
    token_file: PathBuf,
    session_name: SessionName,
    duration_secs: u64,
    policy: Option<String>,
    policy_arns: Vec<String>,
    client: StsClient,
    reader: FileReader,
}

impl fmt::Debug for WebIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebIdentitySource")
            .field("role_arn", &self.role_arn)
            .field("token_file", &self.token_file)
            .field("session_name", &self.session_name)
            .field("duration_secs", &self.duration_secs)
            .field("policy_chars", &self.policy.as_ref().map(|p| p.chars().count()))
            .field("policy_arns", &self.policy_arns)
            .field("client", &self.client)
            .finish()
    }
}

/// Reads the token off the actor thread ([`FileReader`]), without ever
/// putting its content into an error.
async fn read_token(reader: &FileReader, path: &Path) -> Result<Zeroizing<String>, SourceError> {
    let shown = path.display();
    let bytes = reader.read(path, MAX_TOKEN_BYTES).await.map_err(|e| {
        let message = match &e {
            FileError::TooLarge => format!("web identity token file {shown} is over {MAX_TOKEN_BYTES} bytes"),
            e => format!("web identity token file {shown} {e}"),
        };
        if e.is_timeout() {
            SourceError::new(ErrorClass::Timeout, message)
        } else {
            SourceError::invalid_configuration(message)
        }
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| SourceError::invalid_configuration(format!("web identity token file {shown} is not UTF-8")))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(SourceError::invalid_configuration(format!(
            "web identity token file {shown} is empty"
        )));
    }
    Ok(Zeroizing::new(token.to_string()))
}

impl WebIdentitySource {
    /// Configures an `AssumeRoleWithWebIdentity` of `role_arn` with the token
    /// in `token_file`.
    pub fn builder(role_arn: impl Into<String>, token_file: impl Into<PathBuf>) -> WebIdentityBuilder {
        WebIdentityBuilder {
            role_arn: role_arn.into(),
            token_file: token_file.into(),
            session: RoleSessionBuilder::default(),
            common: CommonBuilder::default(),
        }
    }

    /// A builder from `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE` and, when
    /// set, `AWS_ROLE_SESSION_NAME`, as EKS sets them. The region comes
    /// from `AWS_REGION` / `AWS_DEFAULT_REGION` at build, unless set on the
    /// builder.
    ///
    /// # Errors
    /// A [`NotLoaded`](crate::ErrorClass::NotLoaded) [`SourceError`] when
    /// `AWS_ROLE_ARN` or `AWS_WEB_IDENTITY_TOKEN_FILE` is unset or empty, so
    /// that a chain of sources can move on. Malformed values are reported by
    /// [`WebIdentityBuilder::build`].
    pub fn from_env() -> Result<WebIdentityBuilder, SourceError> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`
    /// (a configuration map, a test) instead of the process environment;
    /// the region is read through it too.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<WebIdentityBuilder, SourceError> {
        let lookup: Lookup = Arc::new(lookup);
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let role_arn =
            var(ENV_ROLE_ARN).ok_or_else(|| SourceError::not_loaded(format!("{ENV_ROLE_ARN} is not set")))?;
        let token_file = var(ENV_WEB_IDENTITY_TOKEN_FILE)
            .ok_or_else(|| SourceError::not_loaded(format!("{ENV_WEB_IDENTITY_TOKEN_FILE} is not set")))?;
        let mut builder = Self::builder(role_arn.trim(), token_file);
        builder.session.session_name = var(ENV_ROLE_SESSION_NAME).map(|s| s.trim().to_string());
        builder.common.lookup = Some(lookup);
        Ok(builder)
    }

    /// The role assumed.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    fn form(&self, now: SystemTime, token: &str) -> Form {
        let mut form = Form::new(Call::AssumeRoleWithWebIdentity);
        form.push("RoleArn", &self.role_arn);
        form.push("RoleSessionName", &self.session_name.at(now));
        form.push_secret("WebIdentityToken", token);
        form.push("DurationSeconds", &self.duration_secs.to_string());
        if let Some(policy) = &self.policy {
            form.push("Policy", policy);
        }
        form.push_members("PolicyArns", ".arn", self.policy_arns.iter().map(String::as_str));
        form
    }
}

impl Source for WebIdentitySource {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move {
            let token = read_token(&self.reader, &self.token_file).await?;
            let now = ctx.now();
            let form = self.form(now, &token);
            drop(token);
            let parsed = self
                .client
                .call(Call::AssumeRoleWithWebIdentity, form, None, &ctx)
                .await?;
            tracing::debug!(
                role = ctx.role(),
                role_arn = %self.role_arn,
                assumed_role = parsed.assumed_role_arn.as_deref().unwrap_or("-"),
                request_id = parsed.request_id.as_deref().unwrap_or("-"),
                "STS AssumeRoleWithWebIdentity succeeded"
            );
            Ok(parsed.credentials)
        })
    }
}

/// Configures a [`WebIdentitySource`]; see [`WebIdentitySource::builder`].
#[derive(Debug)]
#[must_use]
pub struct WebIdentityBuilder {
    role_arn: String,
    token_file: PathBuf,
    session: RoleSessionBuilder,
    common: CommonBuilder,
}

impl WebIdentityBuilder {
    /// A fixed role session name (2–64 characters of `[\w+=,.@-]`).
    /// [`WebIdentitySource::from_env`] sets it from `AWS_ROLE_SESSION_NAME`.
    ///
    /// Defaults to a generated name: see [`session_name_prefix`](Self::session_name_prefix).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session.session_name = Some(name.into());
        self
    }

    /// The prefix of generated session names (the unix time of the fetch is
    /// appended); at most 54 characters of `[\w+=,.@-]`.
    ///
    /// Defaults to [`DEFAULT_SESSION_NAME_PREFIX`](super::DEFAULT_SESSION_NAME_PREFIX).
    pub fn session_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session.session_name_prefix = Some(prefix.into());
        self
    }

    /// The session duration, 900–43200 whole seconds.
    ///
    /// Defaults to [`DEFAULT_DURATION`](super::DEFAULT_DURATION).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.session.duration = Some(duration);
        self
    }

    /// An inline session policy (JSON, at most 2048 characters).
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

    common_setters!();

    /// Validates the configuration and builds the source. The token file is
    /// not read here: it may appear later, and is read at every fetch.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for a bad role ARN, session
    /// name or prefix, a duration outside 900–43200 s, a bad policy or
    /// policy ARN, an empty token file path, no region, a bad region or
    /// endpoint, a zero timeout or limit.
    pub fn build(self) -> Result<WebIdentitySource, BuildError> {
        validate::role_arn(&self.role_arn)?;
        if self.token_file.as_os_str().is_empty() {
            return Err(BuildError::InvalidConfiguration {
                what: "web identity token file",
                reason: "the path is empty".into(),
            });
        }
        let session = self.session.build("AssumeRoleWithWebIdentity duration", || Ok(()))?;
        let client = self.common.build()?;
        Ok(WebIdentitySource {
            role_arn: self.role_arn,
            token_file: self.token_file,
            session_name: session.session_name,
            duration_secs: session.duration_secs,
            policy: session.policy,
            policy_arns: session.policy_arns,
            client,
            reader: FileReader::default(),
        })
    }
}

impl From<WebIdentitySource> for BaseCredentials {
    fn from(source: WebIdentitySource) -> Self {
        BaseCredentials::from_source(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;
    use std::collections::HashMap;

    const ARN: &str = "arn:aws:iam::123456789012:role/eks-app";

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn temp_file(name: &str, content: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("credrefresh-sts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn from_env_as_eks_sets_it() {
        let s = WebIdentitySource::from_env_with(env(&[
            (ENV_ROLE_ARN, ARN),
            (
                ENV_WEB_IDENTITY_TOKEN_FILE,
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
            ),
            (ENV_ROLE_SESSION_NAME, "pod-abc"),
            ("AWS_REGION", "eu-central-1"),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(s.role_arn(), ARN);
        assert_eq!(s.session_name, SessionName::Fixed("pod-abc".into()));
        assert_eq!(s.client.url().as_str(), "https://sts.eu-central-1.amazonaws.com/");
        assert_eq!(s.duration_secs, 3600);
    }

    #[test]
    fn from_env_missing_is_not_loaded() {
        let e = WebIdentitySource::from_env_with(env(&[(ENV_WEB_IDENTITY_TOKEN_FILE, "/t")])).unwrap_err();
        assert_eq!(e.class(), ErrorClass::NotLoaded);
        assert!(e.message().contains(ENV_ROLE_ARN));
        let e = WebIdentitySource::from_env_with(env(&[(ENV_ROLE_ARN, ARN), (ENV_WEB_IDENTITY_TOKEN_FILE, " ")]))
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::NotLoaded);
        assert!(e.message().contains(ENV_WEB_IDENTITY_TOKEN_FILE));
        // Present but malformed: a build error, not "not loaded".
        let b = WebIdentitySource::from_env_with(env(&[
            (ENV_ROLE_ARN, "not-an-arn"),
            (ENV_WEB_IDENTITY_TOKEN_FILE, "/t"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert!(matches!(
            b.build(),
            Err(BuildError::InvalidConfiguration { what: "role ARN", .. })
        ));
    }

    #[tokio::test]
    async fn token_file_problems_never_show_the_token() {
        let reader = FileReader::default();
        let token = "eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-BODY.sig";
        let ok = temp_file("ok", format!("{token}\n").as_bytes());
        assert_eq!(read_token(&reader, &ok).await.unwrap().as_str(), token);
        let empty = temp_file("empty", b" \n");
        let e = read_token(&reader, &empty).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
        assert!(e.message().contains("empty"));
        let missing = read_token(&reader, Path::new("/nonexistent/credrefresh/token"))
            .await
            .unwrap_err();
        assert_eq!(missing.class(), ErrorClass::InvalidConfiguration);
        assert!(missing.message().contains("/nonexistent/credrefresh/token"));
        let big = temp_file("big", format!("{token}{}", "x".repeat(MAX_TOKEN_BYTES)).as_bytes());
        let e = read_token(&reader, &big).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
        assert!(e.message().contains("over 20000 bytes"), "{e}");
        assert!(!format!("{e} {e:?}").contains("SECRET-TOKEN-BODY"));
        let binary = temp_file("binary", b"SECRET-TOKEN-BODY\xff\xfe");
        let e = read_token(&reader, &binary).await.unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET-TOKEN-BODY"));
    }

    #[test]
    fn form_carries_the_token() {
        let s = WebIdentitySource::builder(ARN, "/t")
            .region("us-east-1")
            .build()
            .unwrap();
        let form = s.form(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000), "tok.en");
        assert_eq!(
            form.as_str(),
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Feks-app\
             &RoleSessionName=credrefresh-1700000000&WebIdentityToken=tok.en&DurationSeconds=3600"
        );
        assert!(WebIdentitySource::builder(ARN, "").region("us-east-1").build().is_err());
    }
}
