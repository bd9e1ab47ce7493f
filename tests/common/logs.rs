//! Log lines captured in memory, for the tests that scan every log line
//! for secrets (`tests/agent`, `tests/sources`).
//!
//! Not part of the `common` tree: it needs `tracing-subscriber`, a
//! dev-dependency of the root package only (not of `tests/sdk-interop`), so
//! those binaries include it by path:
//!
//! ```ignore
//! #[path = "../common/logs.rs"]
//! pub mod logs;
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::SubscriberBuilder;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full};

/// An in-memory log sink; clones share the lines.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// A subscriber writing every event, at every level down to TRACE, to
    /// this sink, without colours: the caller installs it (for its thread
    /// or the process).
    pub fn subscriber(&self) -> SubscriberBuilder<DefaultFields, Format<Full>, LevelFilter, Logs> {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
    }
}
