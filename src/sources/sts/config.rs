//! The configuration every STS source shares: region, endpoint, timeouts,
//! body cap. Each source's builder forwards its setters here.

use std::fmt;
use std::time::Duration;

use crate::error::BuildError;

use super::region::{regional_endpoint, resolve_region};
use super::request::StsClient;

/// Default time allowed to open a connection to STS: 3.1 s (a little over
/// the 3 s TCP retransmission timeout, so one lost SYN is survived).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Default time allowed for a whole STS call, connection included: 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for plain http to a non-loopback endpoint override: refused.
pub const DEFAULT_ALLOW_HTTP: bool = false;
/// Default limit on an STS answer's body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = crate::sources::http::DEFAULT_MAX_BODY_BYTES;

pub(crate) use crate::sources::lookup::Lookup;

/// The shared part of the STS builders.
#[derive(Clone, Default)]
pub(crate) struct CommonBuilder {
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) allow_http: Option<bool>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) max_body_bytes: Option<usize>,
    /// Where `AWS_REGION` and `AWS_DEFAULT_REGION` are read; the process
    /// environment when `None`.
    pub(crate) lookup: Option<Lookup>,
}

impl fmt::Debug for CommonBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonBuilder")
            .field("region", &self.region)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(crate::sources::http::shown_raw_url),
            )
            .field("allow_http", &self.allow_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl CommonBuilder {
    /// Validates everything and builds the HTTP client.
    pub(crate) fn build(self) -> Result<StsClient, BuildError> {
        let lookup: Lookup = self.lookup.unwrap_or_else(crate::sources::lookup::process_env);
        let region = resolve_region(self.region, &*lookup)?;
        let allow_http = self.allow_http.unwrap_or(DEFAULT_ALLOW_HTTP);
        let endpoint = match self.endpoint {
            Some(raw) => crate::sources::http::parse_endpoint("STS endpoint", &raw, allow_http)?,
            None => crate::sources::http::parse_endpoint("STS endpoint", &regional_endpoint(&region), false)?,
        };
        let connect_timeout = positive("STS connect timeout", self.connect_timeout, DEFAULT_CONNECT_TIMEOUT)?;
        let request_timeout = positive("STS request timeout", self.request_timeout, DEFAULT_REQUEST_TIMEOUT)?;
        let max_body_bytes = self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 {
            return Err(BuildError::InvalidConfiguration {
                what: "STS body limit",
                reason: "must be above zero".into(),
            });
        }
        let http = crate::sources::http::client(connect_timeout, request_timeout)?;
        StsClient::new(http, endpoint, region, max_body_bytes)
    }
}

fn positive(what: &'static str, value: Option<Duration>, default: Duration) -> Result<Duration, BuildError> {
    let value = value.unwrap_or(default);
    if value.is_zero() {
        return Err(BuildError::InvalidConfiguration {
            what,
            reason: "must be above zero".into(),
        });
    }
    Ok(value)
}

/// The setters of [`CommonBuilder`], generated on each source's builder.
macro_rules! common_setters {
    () => {
        /// The region: it picks the regional endpoint
        /// (`https://sts.{region}.amazonaws.com`, `.amazonaws.com.cn` for
        /// `cn-*`) and the SigV4 signing scope.
        ///
        /// Defaults to `AWS_REGION`, else `AWS_DEFAULT_REGION`, read at
        /// build time; a build without any region fails.
        pub fn region(mut self, region: impl Into<String>) -> Self {
            self.common.region = Some(region.into());
            self
        }

        /// An endpoint to call instead of the regional one (a VPC endpoint,
        /// a local emulator). Requests are still signed for the configured
        /// region. Plain `http` is accepted only for loopback hosts unless
        /// [`allow_http`](Self::allow_http) is set.
        ///
        /// Defaults to the regional endpoint.
        pub fn endpoint(mut self, url: impl Into<String>) -> Self {
            self.common.endpoint = Some(url.into());
            self
        }

        /// Accepts a plain `http` endpoint override on a non-loopback host.
        ///
        /// Defaults to [`DEFAULT_ALLOW_HTTP`](crate::sources::sts::DEFAULT_ALLOW_HTTP).
        pub fn allow_http(mut self, allow: bool) -> Self {
            self.common.allow_http = Some(allow);
            self
        }

        /// How long opening a connection may take.
        ///
        /// Defaults to [`DEFAULT_CONNECT_TIMEOUT`](crate::sources::sts::DEFAULT_CONNECT_TIMEOUT).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.connect_timeout = Some(timeout);
            self
        }

        /// How long a whole call may take, connection included.
        ///
        /// Defaults to [`DEFAULT_REQUEST_TIMEOUT`](crate::sources::sts::DEFAULT_REQUEST_TIMEOUT).
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.request_timeout = Some(timeout);
            self
        }

        /// The largest answer body read; a longer one is an
        /// [`InvalidResponse`](crate::ErrorClass::InvalidResponse).
        ///
        /// Defaults to [`DEFAULT_MAX_BODY_BYTES`](crate::sources::sts::DEFAULT_MAX_BODY_BYTES).
        pub fn max_body_bytes(mut self, limit: usize) -> Self {
            self.common.max_body_bytes = Some(limit);
            self
        }
    };
}

pub(crate) use common_setters;

#[cfg(test)]
mod tests {
    use super::*;

    fn with_region(region: &str) -> CommonBuilder {
        CommonBuilder {
            region: Some(region.into()),
            lookup: Some(std::sync::Arc::new(|_| None)),
            ..Default::default()
        }
    }

    #[test]
    fn regional_endpoint_and_overrides() {
        let c = with_region("eu-west-1").build().unwrap();
        assert_eq!(c.url().as_str(), "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(c.region(), "eu-west-1");
        let c = with_region("cn-north-1").build().unwrap();
        assert_eq!(c.url().as_str(), "https://sts.cn-north-1.amazonaws.com.cn/");
        let mut b = with_region("eu-west-1");
        b.endpoint = Some("http://127.0.0.1:4566".into());
        assert_eq!(b.build().unwrap().url().as_str(), "http://127.0.0.1:4566/");
        let mut b = with_region("eu-west-1");
        b.endpoint = Some("http://vpce.internal".into());
        assert!(matches!(
            b.clone().build(),
            Err(BuildError::InvalidConfiguration { .. })
        ));
        b.allow_http = Some(true);
        assert!(b.build().is_ok());
    }

    #[test]
    fn rejects_zero_timeouts_and_limits() {
        let mut b = with_region("eu-west-1");
        b.connect_timeout = Some(Duration::ZERO);
        assert!(b.build().is_err());
        let mut b = with_region("eu-west-1");
        b.request_timeout = Some(Duration::ZERO);
        assert!(b.build().is_err());
        let mut b = with_region("eu-west-1");
        b.max_body_bytes = Some(0);
        assert!(b.build().is_err());
        assert!(with_region("Europe").build().is_err());
    }
}
