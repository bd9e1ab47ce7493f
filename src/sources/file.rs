//! Reading small local files (token files) without blocking the actor.
//!
//! A token file is read at every fetch. Reading it in place would block the
//! refresher's single actor thread for as long as the read takes: forever
//! for a FIFO without a writer or a hung network mount, freezing every role
//! and `shutdown()`. So each read runs on a detached thread of its own and
//! the fetch awaits its result, up to [`READ_TIMEOUT`] (and the refresher's
//! fetch timeout). Not on Tokio's blocking pool: a runtime waits for its
//! blocking tasks when it shuts down, and a stuck read would hold
//! `shutdown()` forever.
//!
//! A read that never ends keeps its thread. To bound them, a
//! [`FileReader`] (one per source) starts no new read while its last one is
//! still running: that fetch fails at once as a
//! [`Timeout`](crate::ErrorClass::Timeout), as the first one did.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zeroize::Zeroizing;

/// How long a fetch waits for a token file to be read: 5 s. A local file of
/// a few KiB that takes longer is stuck (a FIFO, a hung mount).
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum FileError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// Over the size limit given.
    TooLarge,
    /// Not read within [`READ_TIMEOUT`].
    TimedOut,
    /// The read of an earlier fetch is still running.
    StillReading,
    /// No thread could be started to read it.
    NoThread(std::io::Error),
}

impl FileError {
    /// Whether the file was too slow to read (a retry may help), rather
    /// than unreadable.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, FileError::TimedOut | FileError::StillReading)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "cannot be read: {}", e.kind()),
            FileError::TooLarge => f.write_str("is too large"),
            FileError::TimedOut => write!(
                f,
                "was not read within {} s (a FIFO without a writer, a hung mount?)",
                READ_TIMEOUT.as_secs()
            ),
            FileError::StillReading => {
                f.write_str("is still being read by an earlier fetch (a FIFO without a writer, a hung mount?)")
            }
            FileError::NoThread(e) => write!(f, "cannot be read: no thread to read it: {}", e.kind()),
        }
    }
}

/// Reads small files off the async thread, one read at a time.
#[derive(Debug, Default)]
pub(crate) struct FileReader {
    /// Whether a read is running (its thread clears it when done).
    busy: Arc<AtomicBool>,
}

impl FileReader {
    /// Reads `path`, at most `max_bytes` of it (more is
    /// [`FileError::TooLarge`]), on a thread of its own. The bytes are
    /// wiped when dropped.
    pub(crate) async fn read(&self, path: &Path, max_bytes: usize) -> Result<Zeroizing<Vec<u8>>, FileError> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(FileError::StillReading);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let busy = Arc::clone(&self.busy);
        let owned: PathBuf = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("credrefresh-file".into())
            .spawn(move || {
                let result = read_capped(&owned, max_bytes);
                // Not busy any more before the result is seen, so the next
                // fetch may read again.
                busy.store(false, Ordering::Release);
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            self.busy.store(false, Ordering::Release);
            return Err(FileError::NoThread(e));
        }
        match tokio::time::timeout(READ_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            // The thread ended without an answer: it panicked.
            Ok(Err(_)) => Err(FileError::Io(std::io::Error::other("the reading thread failed"))),
            Err(_) => Err(FileError::TimedOut),
        }
    }
}

fn read_capped(path: &Path, max_bytes: usize) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let file = std::fs::File::open(path).map_err(FileError::Io)?;
    // Sized up front so that the buffer is never reallocated (an
    // reallocation would leave an unwiped copy behind).
    let mut bytes = Zeroizing::new(Vec::with_capacity(max_bytes.saturating_add(1)));
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() > max_bytes {
        return Err(FileError::TooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_within_the_limit_and_refuses_more() {
        let dir = std::env::temp_dir().join(format!("credrefresh-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, b"0123456789").unwrap();
        let reader = FileReader::default();
        let bytes = reader.read(&path, 10).await.unwrap();
        assert_eq!(bytes.as_slice(), b"0123456789");
        // Never reallocated (which would leave an unwiped copy): the
        // capacity it was given.
        assert_eq!(bytes.capacity(), 11);
        assert!(matches!(reader.read(&path, 9).await, Err(FileError::TooLarge)));
        // Not left busy by either read.
        assert_eq!(reader.read(&path, 64).await.unwrap().len(), 10);
        let missing = reader.read(&dir.join("missing"), 10).await.unwrap_err();
        assert!(matches!(missing, FileError::Io(ref e) if e.kind() == std::io::ErrorKind::NotFound));
        assert!(!missing.is_timeout());
        assert_eq!(missing.to_string(), "cannot be read: entity not found");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_running_read_blocks_the_next() {
        let reader = FileReader::default();
        reader.busy.store(true, Ordering::Release);
        let e = reader.read(Path::new("/nonexistent"), 10).await.unwrap_err();
        assert!(matches!(e, FileError::StillReading) && e.is_timeout());
    }
}
