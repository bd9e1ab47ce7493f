//! Setters that the builders of the network sources (IMDS, ECS, IAM
//! Identity Center) share, generated on each builder by a macro so that the
//! code is written once while each setter's doc still links the default
//! constant of its own source.
//!
//! The builder must have the fields `http: crate::sources::http::HttpOptions`
//! (for [`http_setters!`]) and `lookup: Option<crate::sources::lookup::Lookup>`
//! (for [`env_lookup_setters!`]). The STS builders have their own
//! `common_setters!`: their timeouts are a connect and a whole-request one.

/// The connect timeout, read timeout and body cap setters, writing the
/// builder's `http` field. Each `$default` names the source's constant that
/// the setter's doc gives as its default.
macro_rules! http_setters {
    (
        connect_timeout: $connect:ident,
        read_timeout: $read:ident,
        max_body_bytes: $body:ident $(,)?
    ) => {
        /// How long opening a connection may take.
        ///
        #[doc = concat!("Defaults to [`", stringify!($connect), "`].")]
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.connect_timeout = Some(timeout);
            self
        }

        /// Time allowed for an answer once connected; a call is limited to the
        /// connect plus the read timeout.
        ///
        #[doc = concat!("Defaults to [`", stringify!($read), "`].")]
        pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.read_timeout = Some(timeout);
            self
        }

        /// The largest answer body read; a longer one is an
        /// [`InvalidResponse`](crate::ErrorClass::InvalidResponse).
        ///
        #[doc = concat!("Defaults to [`", stringify!($body), "`].")]
        pub fn max_body_bytes(mut self, limit: usize) -> Self {
            self.http.max_body_bytes = Some(limit);
            self
        }
    };
}

/// `env_lookup` (public) and, with `shared`, `env_lookup_shared` (for the
/// crate's chains, which hand one lookup to several sources), writing the
/// builder's `lookup` field. `$what` says what the lookup is used for, as in
/// "Reads {what} through `lookup` instead of the process environment".
macro_rules! env_lookup_setters {
    ($what:literal) => {
        #[doc = concat!("Reads ", $what, " through `lookup` instead of")]
        /// the process environment (tests, configuration maps). Defaults to
        /// the process environment.
        pub fn env_lookup(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
            self.lookup = Some(std::sync::Arc::new(lookup));
            self
        }
    };
    ($what:literal, shared) => {
        $crate::sources::builder_setters::env_lookup_setters!($what);

        pub(crate) fn env_lookup_shared(mut self, lookup: $crate::sources::lookup::Lookup) -> Self {
            self.lookup = Some(lookup);
            self
        }
    };
}

pub(crate) use {env_lookup_setters, http_setters};
