//! The default chain: the first source that applies here, in the SDKs' order.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::credentials::Credentials;
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};
use crate::sources::profile::{Platform, ProfileEnv, ProfileSource};
use crate::sources::sts::WebIdentitySource;
use crate::sources::{EcsSource, EnvSource, ImdsSource};

use super::lookup::{Lookup, process_env};

/// No source chosen yet.
const NONE: usize = usize::MAX;

/// Credentials from the first source that applies, in the order of the AWS
/// SDKs' default chain: environment variables ([`EnvSource`]), the profile
/// ([`ProfileSource`]: `AWS_PROFILE`, else `default`, of the shared
/// `config` and `credentials` files, read once when the chain is made),
/// web identity ([`WebIdentitySource`], when `AWS_ROLE_ARN` and
/// `AWS_WEB_IDENTITY_TOKEN_FILE` are set, as on EKS), container endpoint
/// ([`EcsSource`]), instance metadata ([`ImdsSource`]).
///
/// The profile step is passed over when the profile is in neither file
/// (or neither file exists) or holds no credentials; a profile that is
/// there but broken stops the chain with its
/// [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) error, as in
/// the SDKs.
///
/// Every variable is read through one lookup (the process environment, or
/// [`with_lookup`](Self::with_lookup)). For web identity, the STS endpoint
/// may be overridden with `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
/// as the SDKs' service-specific endpoint variables do.
///
/// # Choosing
/// The sources are tried in order. One that answers
/// [`NotLoaded`](ErrorClass::NotLoaded) ("does not apply here": no
/// variables set, IMDS disabled) is passed over; any other error stops the
/// chain and is the fetch's error, as in the SDKs: a container endpoint that
/// is configured but failing must not silently give way to the instance's
/// role. While choosing, a metadata service that gives no HTTP answer at all
/// (nothing listening, every call timed out) counts as "not on EC2" and is
/// passed over too. If no later source applies, a metadata service whose
/// calls timed out makes the chain's error a
/// [`Timeout`](ErrorClass::Timeout), retried with the normal backoff (it
/// may be slow at boot), where nothing listening stays
/// [`NotLoaded`](ErrorClass::NotLoaded), retried at the backoff cap.
///
/// # Sticking
/// Once a source answered, later fetches go to it alone, and its errors are
/// its own: an IMDS that stops answering is then a
/// [`Timeout`](ErrorClass::Timeout), retried by the refresher while it keeps
/// serving the last good credentials, not a reason to look elsewhere. Only
/// a [`NotLoaded`](ErrorClass::NotLoaded) from the chosen source (its
/// variables were removed, say) makes the chain choose again.
///
/// # Seeing the choice
/// [`name`](Source::name) is `chain` (and so is the `source` label of the
/// metrics, which must stay fixed); the chosen source's name is logged once
/// at `info` when chosen, returned by [`chosen`](Self::chosen) and by
/// [`Source::resolved_name`], and shown by the role's
/// [`Snapshot::resolved_source`](crate::Snapshot::resolved_source) after each success.
///
/// ```no_run
/// use credrefresh::{Refresher, sources::DefaultChain};
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let refresher = Refresher::builder().role("app", DefaultChain::new()?).start()?;
/// # Ok(()) }
/// ```
pub struct DefaultChain {
    links: Vec<Link>,
    chosen: AtomicUsize,
}

enum Link {
    Any(Arc<dyn Source>),
    Imds(Arc<ImdsSource>),
    /// A source whose variables are not set: always "not loaded".
    Absent {
        name: &'static str,
        reason: String,
    },
}

impl Link {
    fn name(&self) -> &'static str {
        match self {
            Link::Any(s) => s.resolved_name().unwrap_or_else(|| s.name()),
            Link::Imds(s) => s.name(),
            Link::Absent { name, .. } => name,
        }
    }

    async fn fetch(&self, ctx: FetchContext) -> Result<Credentials, SourceError> {
        match self {
            Link::Any(s) => s.fetch(ctx).await,
            Link::Imds(s) => s.fetch(ctx).await,
            Link::Absent { reason, .. } => Err(SourceError::not_loaded(reason.clone())),
        }
    }

    /// A fetch while choosing: `Err(Ok(passed))` passes over this source,
    /// `Err(Err(error))` stops the chain.
    async fn probe(&self, ctx: FetchContext) -> Result<Credentials, Result<Passed, SourceError>> {
        match self {
            Link::Any(s) => match s.fetch(ctx).await {
                Ok(c) => Ok(c),
                Err(e) if e.class() == ErrorClass::NotLoaded => Err(Ok(Passed::not_loaded(e.message()))),
                Err(e) => Err(Err(e)),
            },
            Link::Imds(s) => match s.fetch_detailed(&ctx).await {
                Ok(c) => Ok(c),
                Err(f) if f.error.class() == ErrorClass::NotLoaded => Err(Ok(Passed::not_loaded(f.error.message()))),
                Err(f) if f.unreachable => Err(Ok(Passed {
                    reason: format!("no answer from the metadata service ({})", f.error),
                    // Nothing listening is "not on EC2"; calls that timed
                    // out may be a metadata service slow at boot.
                    transient: (f.error.class() == ErrorClass::Timeout).then_some(ErrorClass::Timeout),
                })),
                Err(f) => Err(Err(f.error)),
            },
            Link::Absent { reason, .. } => Err(Ok(Passed::not_loaded(reason))),
        }
    }
}

/// Why a source was passed over while choosing.
struct Passed {
    reason: String,
    /// The class to report if no later source applies, when passing over
    /// may have been a transient failure: a metadata service whose every
    /// call timed out. `None` for "does not apply here".
    transient: Option<ErrorClass>,
}

impl Passed {
    fn not_loaded(reason: &str) -> Self {
        Self {
            reason: reason.to_string(),
            transient: None,
        }
    }
}

impl fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultChain")
            .field("sources", &self.source_names())
            .field("chosen", &self.chosen())
            .finish()
    }
}

impl DefaultChain {
    /// The default chain over the process environment.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] when a variable of a source is
    /// malformed (a role ARN that is not one, web identity without a
    /// region, a container full URI to a host that is not allowed, an IMDS
    /// endpoint mode other than IPv4/IPv6, …): see
    /// [`WebIdentityBuilder::build`](crate::sources::sts::WebIdentityBuilder::build),
    /// [`EcsSourceBuilder::build`](crate::sources::ecs::EcsSourceBuilder::build)
    /// and [`ImdsSourceBuilder::build`](crate::sources::imds::ImdsSourceBuilder::build).
    pub fn new() -> Result<Self, BuildError> {
        Self::with_shared_lookup(process_env())
    }

    /// The default chain reading every variable through `lookup` instead of
    /// the process environment (tests, configuration maps).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Result<Self, BuildError> {
        Self::with_shared_lookup(Arc::new(lookup))
    }

    fn with_shared_lookup(lookup: Lookup) -> Result<Self, BuildError> {
        let env = {
            let lookup = lookup.clone();
            EnvSource::with_lookup(move |k| lookup(k))
        };
        let profile = {
            let lookup = lookup.clone();
            ProfileSource::from_env(&ProfileEnv::from_fn(move |k| lookup(k), Platform::current()))
        };
        let web_identity = {
            let l = lookup.clone();
            match WebIdentitySource::from_env_with(move |k| l(k)) {
                Ok(builder) => {
                    let set = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
                    let builder = match set("AWS_ENDPOINT_URL_STS").or_else(|| set("AWS_ENDPOINT_URL")) {
                        Some(endpoint) => builder.endpoint(endpoint.trim()),
                        None => builder,
                    };
                    Link::Any(Arc::new(builder.build()?))
                }
                Err(e) => Link::Absent {
                    name: "sts",
                    reason: e.message().to_string(),
                },
            }
        };
        let ecs = EcsSource::builder().env_lookup_shared(lookup.clone()).build()?;
        let imds = ImdsSource::builder().env_lookup_shared(lookup).build()?;
        Ok(Self::from_links(vec![
            Link::Any(Arc::new(env)),
            Link::Any(Arc::new(profile)),
            web_identity,
            Link::Any(Arc::new(ecs)),
            Link::Imds(Arc::new(imds)),
        ]))
    }

    /// A chain over `sources`, tried in the order given, with the rules of
    /// the default chain (a source is passed over only when it answers
    /// [`NotLoaded`](ErrorClass::NotLoaded)).
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] when `sources` is empty.
    pub fn from_sources(sources: impl IntoIterator<Item = Arc<dyn Source>>) -> Result<Self, BuildError> {
        let links: Vec<Link> = sources.into_iter().map(Link::Any).collect();
        if links.is_empty() {
            return Err(BuildError::InvalidConfiguration {
                what: "credentials chain",
                reason: "a chain needs at least one source".into(),
            });
        }
        Ok(Self::from_links(links))
    }

    fn from_links(links: Vec<Link>) -> Self {
        Self {
            links,
            chosen: AtomicUsize::new(NONE),
        }
    }

    /// The names of the sources, in the order they are tried.
    pub fn source_names(&self) -> Vec<&'static str> {
        self.links.iter().map(Link::name).collect()
    }

    /// The name of the source the chain sticks to, once one answered.
    pub fn chosen(&self) -> Option<&'static str> {
        self.links.get(self.chosen.load(Ordering::Acquire)).map(Link::name)
    }

    async fn fetch_inner(&self, ctx: FetchContext) -> Result<Credentials, SourceError> {
        let current = self.chosen.load(Ordering::Acquire);
        if let Some(link) = self.links.get(current) {
            match link.fetch(ctx.clone()).await {
                Err(e) if e.class() == ErrorClass::NotLoaded => {
                    tracing::info!(
                        role = ctx.role(),
                        source = link.name(),
                        reason = e.message(),
                        "the credentials source chosen by the chain no longer applies; choosing again"
                    );
                    let _ = self
                        .chosen
                        .compare_exchange(current, NONE, Ordering::AcqRel, Ordering::Acquire);
                }
                other => return other,
            }
        }
        let mut passed = Vec::with_capacity(self.links.len());
        let mut transient = None;
        for (i, link) in self.links.iter().enumerate() {
            match link.probe(ctx.clone()).await {
                Ok(credentials) => {
                    if self.chosen.swap(i, Ordering::AcqRel) != i {
                        tracing::info!(
                            role = ctx.role(),
                            source = link.name(),
                            "credentials chain chose a source"
                        );
                    }
                    return Ok(credentials);
                }
                Err(Ok(Passed {
                    reason,
                    transient: class,
                })) => {
                    tracing::debug!(role = ctx.role(), source = link.name(), reason = %reason, "credentials source does not apply");
                    passed.push(format!("{}: {reason}", link.name()));
                    transient = class.or(transient);
                }
                Err(Err(error)) => {
                    return Err(SourceError::new(
                        error.class(),
                        format!("credentials chain stopped at `{}`: {}", link.name(), error.message()),
                    )
                    .with_cause(error));
                }
            }
        }
        // A step passed over for a timeout decides the class: retried with
        // the normal backoff, not at its cap as "not loaded" is, so that a
        // metadata service slow at boot delays the first credentials by
        // the backoff, not by minutes.
        Err(SourceError::new(
            transient.unwrap_or(ErrorClass::NotLoaded),
            format!(
                "no source of the credentials chain applies here ({})",
                passed.join("; ")
            ),
        ))
    }
}

impl Source for DefaultChain {
    fn name(&self) -> &'static str {
        "chain"
    }

    fn resolved_name(&self) -> Option<&'static str> {
        self.chosen()
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(self.fetch_inner(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::StaticSource;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU32;
    use std::time::SystemTime;

    /// A source answering from a script, counting its calls.
    struct Scripted {
        name: &'static str,
        answer: Mutex<Result<&'static str, ErrorClass>>,
        calls: AtomicU32,
    }

    impl Scripted {
        fn new(name: &'static str, answer: Result<&'static str, ErrorClass>) -> Arc<Self> {
            Arc::new(Self {
                name,
                answer: Mutex::new(answer),
                calls: AtomicU32::new(0),
            })
        }

        fn set(&self, answer: Result<&'static str, ErrorClass>) {
            *self.answer.lock().unwrap() = answer;
        }
    }

    impl Source for Scripted {
        fn name(&self) -> &'static str {
            self.name
        }

        fn fetch(&self, _ctx: FetchContext) -> FetchFuture<'_> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let answer = *self.answer.lock().unwrap();
            Box::pin(async move {
                match answer {
                    Ok(key) => Ok(Credentials::new(key, "secret", SystemTime::UNIX_EPOCH).unwrap()),
                    Err(class) => Err(SourceError::new(class, format!("{} scripted {class}", self.name))),
                }
            })
        }
    }

    fn ctx() -> FetchContext {
        FetchContext::system("app")
    }

    fn chain(sources: &[&Arc<Scripted>]) -> DefaultChain {
        DefaultChain::from_sources(sources.iter().map(|s| Arc::clone(s) as Arc<dyn Source>)).unwrap()
    }

    #[tokio::test]
    async fn passes_over_not_loaded_and_sticks_to_the_first_answer() {
        let a = Scripted::new("a", Err(ErrorClass::NotLoaded));
        let b = Scripted::new("b", Ok("AKIDB"));
        let c = Scripted::new("c", Ok("AKIDC"));
        let chain = chain(&[&a, &b, &c]);
        assert_eq!(chain.chosen(), None);
        assert_eq!(chain.fetch(ctx()).await.unwrap().access_key_id(), "AKIDB");
        assert_eq!(chain.chosen(), Some("b"));
        assert_eq!(chain.resolved_name(), Some("b"));
        // Sticks: `a` now applies, but is not asked again.
        a.set(Ok("AKIDA"));
        assert_eq!(chain.fetch(ctx()).await.unwrap().access_key_id(), "AKIDB");
        assert_eq!(a.calls.load(Ordering::Relaxed), 1);
        assert_eq!(c.calls.load(Ordering::Relaxed), 0);
        // The chosen source's other errors are its own: no re-resolution.
        b.set(Err(ErrorClass::Timeout));
        assert_eq!(chain.fetch(ctx()).await.unwrap_err().class(), ErrorClass::Timeout);
        assert_eq!(chain.chosen(), Some("b"));
        assert_eq!(a.calls.load(Ordering::Relaxed), 1);
        // NotLoaded from the chosen one: choose again from the top.
        b.set(Err(ErrorClass::NotLoaded));
        assert_eq!(chain.fetch(ctx()).await.unwrap().access_key_id(), "AKIDA");
        assert_eq!(chain.chosen(), Some("a"));
    }

    #[tokio::test]
    async fn other_errors_stop_the_chain() {
        let a = Scripted::new("a", Err(ErrorClass::NotLoaded));
        let b = Scripted::new("b", Err(ErrorClass::Denied));
        let c = Scripted::new("c", Ok("AKIDC"));
        let chain = chain(&[&a, &b, &c]);
        let e = chain.fetch(ctx()).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Denied);
        assert!(e.message().contains("stopped at `b`"), "{e}");
        assert_eq!(c.calls.load(Ordering::Relaxed), 0);
        assert_eq!(chain.chosen(), None);
    }

    #[tokio::test]
    async fn nothing_applies_is_not_loaded_with_every_reason() {
        let a = Scripted::new("a", Err(ErrorClass::NotLoaded));
        let b = Scripted::new("b", Err(ErrorClass::NotLoaded));
        let e = chain(&[&a, &b]).fetch(ctx()).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::NotLoaded);
        assert!(
            e.message().contains("a: a scripted") && e.message().contains("b: b scripted"),
            "{e}"
        );
        assert!(DefaultChain::from_sources(Vec::new()).is_err());
    }

    #[tokio::test]
    async fn default_order_and_environment_first() {
        let vars = HashMap::from([
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            // Also configured, but later in the order.
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds"),
        ]);
        let chain = DefaultChain::with_lookup(move |k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(chain.source_names(), ["env", "profile", "sts", "ecs", "imds"]);
        assert_eq!(chain.fetch(ctx()).await.unwrap().access_key_id(), "AKIDENV");
        assert_eq!(chain.chosen(), Some("env"));
        assert!(format!("{chain:?}").contains("chosen: Some(\"env\")"));
    }

    #[test]
    fn malformed_variables_fail_the_build() {
        let no_region = DefaultChain::with_lookup(|k| match k {
            "AWS_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/r".to_string()),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some("/var/run/token".to_string()),
            _ => None,
        });
        assert!(matches!(no_region, Err(BuildError::InvalidConfiguration { .. })));
        let bad_ecs = DefaultChain::with_lookup(|k| {
            (k == "AWS_CONTAINER_CREDENTIALS_FULL_URI").then(|| "http://example.com/creds".to_string())
        });
        assert!(matches!(bad_ecs, Err(BuildError::InvalidConfiguration { .. })));
        let bad_imds =
            DefaultChain::with_lookup(|k| (k == "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").then(|| "IPv7".to_string()));
        assert!(matches!(bad_imds, Err(BuildError::InvalidConfiguration { .. })));
    }

    #[tokio::test]
    async fn a_nested_static_source_reports_its_name() {
        let creds = Credentials::new("AKIDSTATIC", "s", SystemTime::UNIX_EPOCH).unwrap();
        let chain = DefaultChain::from_sources([Arc::new(StaticSource::new(creds)) as Arc<dyn Source>]).unwrap();
        chain.fetch(ctx()).await.unwrap();
        assert_eq!(chain.resolved_name(), Some("static"));
    }
}
