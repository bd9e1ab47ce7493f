//! Where sources read configuration variables from.

/// Reads a configuration variable by name: the process environment, or a
/// map given in tests and configuration code. Empty means absent to callers.
pub(crate) type Lookup = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment as a [`Lookup`].
pub(crate) fn process_env() -> Lookup {
    std::sync::Arc::new(|k| std::env::var(k).ok())
}
