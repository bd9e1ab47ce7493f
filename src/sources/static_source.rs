use crate::credentials::Credentials;
use crate::source::{FetchContext, FetchFuture, Source};

/// Fixed credentials given in code: long-term keys, or a base for role chaining.
#[derive(Debug, Clone)]
pub struct StaticSource {
    credentials: Credentials,
}

impl StaticSource {
    /// Always returns `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

impl Source for StaticSource {
    fn name(&self) -> &'static str {
        "static"
    }

    fn fetch(&self, _ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move { Ok(self.credentials.clone()) })
    }
}
