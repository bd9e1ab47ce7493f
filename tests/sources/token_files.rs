//! Token files that never answer (a FIFO without a writer, as a hung
//! network mount would): the web identity token file and the container
//! authorization token file are read off the actor thread and under a time
//! limit, so the other roles keep refreshing and `shutdown()` returns. Real
//! time, no sleeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use credrefresh::sources::EcsSource;
use credrefresh::sources::sts::WebIdentitySource;
use credrefresh::testing::Emulator;
use credrefresh::{ErrorClass, FetchContext, RefreshPolicy, Refresher, Source};

use crate::common::refreshing::quick_policy;

const WAIT: Duration = Duration::from_secs(15);
/// The bound on `shutdown()`.
const SHUTDOWN: Duration = Duration::from_secs(5);

/// A FIFO at a fresh path, made with `mkfifo`.
fn fifo(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("credrefresh-fifo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
    path
}

/// Releases FIFOs when dropped, or after `limit` if the test is stuck
/// (before the fix, a read blocked the thread the test waits on): each is
/// opened for writing and closed, on a thread of its own (the open waits
/// for a reader), so a reader stuck in `open` reads an empty file and its
/// thread ends. Then the FIFOs are removed.
struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    fn new(fifos: &[&Path], limit: Duration) -> Self {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let fifos: Vec<PathBuf> = fifos.iter().map(|p| p.to_path_buf()).collect();
        std::thread::spawn(move || {
            let _ = wait.recv_timeout(limit);
            for path in fifos {
                std::thread::spawn(move || {
                    let _ = std::fs::OpenOptions::new().write(true).open(&path);
                    let _ = std::fs::remove_file(&path);
                });
            }
        });
        Self { done: Some(done) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

#[tokio::test]
async fn a_fifo_token_file_freezes_neither_the_other_roles_nor_shutdown() {
    let emulator = Emulator::start().unwrap();
    let web_fifo = fifo("web");
    let ecs_fifo = fifo("ecs");
    let _watchdog = Watchdog::new(&[&web_fifo, &ecs_fifo], 2 * WAIT);
    let web = WebIdentitySource::builder("arn:aws:iam::123456789012:role/stuck", &web_fifo)
        .region("us-east-1")
        .endpoint(emulator.sts_endpoint())
        .build()
        .unwrap();
    let ecs_stuck = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token_file(&ecs_fifo)
        .build()
        .unwrap();
    let healthy = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token(emulator.ecs_auth_token())
        .build()
        .unwrap();
    let policy: RefreshPolicy = quick_policy().fetch_timeout(Duration::from_secs(1));
    let refresher = Refresher::builder()
        .policy(policy)
        .role("web", web)
        .role("ecs", ecs_stuck)
        .role("healthy", healthy)
        .start()
        .unwrap();

    // The healthy role gets credentials and refreshes again and again.
    let healthy = refresher.handle("healthy").unwrap();
    healthy.wait_ready(WAIT).await.expect("the healthy role is served");
    for _ in 0..3 {
        let generation = healthy.load().credentials_generation();
        healthy.invalidate();
        healthy
            .wait_for(WAIT, |s| s.credentials_generation() > generation)
            .await
            .expect("the healthy role refreshes while the others wait on their token files");
    }

    // The stuck roles fail with a timeout, retried.
    for role in ["web", "ecs"] {
        let handle = refresher.handle(role).unwrap();
        let snapshot = handle
            .wait_for(WAIT, |s| s.consecutive_failures() >= 2)
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
        assert_eq!(
            snapshot.last_error_class(),
            Some(ErrorClass::Timeout),
            "{role}: {snapshot:?}"
        );
    }

    // Shutdown returns at once, though two reads are still stuck.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        refresher.shutdown();
        let _ = done.send(());
    });
    finished
        .recv_timeout(SHUTDOWN)
        .expect("shutdown() returns within its bound");
}

#[tokio::test]
async fn a_fifo_token_file_times_out_and_is_not_read_twice_at_once() {
    let emulator = Emulator::start().unwrap();
    let path = fifo("direct");
    let _watchdog = Watchdog::new(&[&path], 2 * WAIT);
    let source = WebIdentitySource::builder("arn:aws:iam::123456789012:role/stuck", &path)
        .region("us-east-1")
        .endpoint(emulator.sts_endpoint())
        .build()
        .unwrap();
    // Without a refresher around it, the read has a limit of its own
    // (well within WAIT).
    let error = tokio::time::timeout(WAIT, source.fetch(FetchContext::system("direct")))
        .await
        .expect("the fetch ends")
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Timeout, "{error}");
    assert!(error.message().contains(&path.display().to_string()), "{error}");
    // The first read still waits: a second fetch does not start another.
    let error = source.fetch(FetchContext::system("direct")).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Timeout, "{error}");
    assert!(error.message().contains("still"), "{error}");
}
