//! An in-process source driven by a script, for actor tests under paused
//! time (no sockets) and for threaded tests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credrefresh::{Credentials, ErrorClass, FetchContext, FetchFuture, Source, SourceError};

/// What one fetch does.
#[derive(Debug, Clone)]
pub enum Step {
    /// Succeed with credentials living `Some(lifetime)` (or no expiry).
    Ok(Option<Duration>),
    /// Succeed with credentials that expired `ago` before now.
    Expired(Duration),
    /// Fail with this class.
    Fail(ErrorClass),
    /// Panic inside the fetch.
    Panic,
    /// Never answer.
    Hang,
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    fetches: AtomicUsize,
}

/// Follows its script, then repeats `then` forever.
#[derive(Clone)]
pub struct FakeSource {
    state: Arc<Mutex<State>>,
    then: Arc<Mutex<Step>>,
    fetches: Arc<AtomicUsize>,
    changed: Arc<tokio::sync::Notify>,
}

/// The secret paired with key `n`: tests check pairs stay consistent.
pub fn secret_for(key: &str) -> String {
    format!("fake-secret-for-{key}")
}

impl FakeSource {
    pub fn new(script: impl IntoIterator<Item = Step>, then: Step) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                script: script.into_iter().collect(),
                fetches: AtomicUsize::new(0),
            })),
            then: Arc::new(Mutex::new(then)),
            fetches: Arc::new(AtomicUsize::new(0)),
            changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Always succeeds with `lifetime`.
    pub fn healthy(lifetime: Option<Duration>) -> Self {
        Self::new([], Step::Ok(lifetime))
    }

    /// Fetches started so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Replaces what happens once the script is used up.
    pub fn set_then(&self, step: Step) {
        *self.then.lock().unwrap() = step;
    }

    /// Appends steps to the script.
    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        self.state.lock().unwrap().script.extend(steps);
    }
}

impl Source for FakeSource {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let step = {
            let mut state = self.state.lock().unwrap();
            state.fetches.fetch_add(1, Ordering::SeqCst);
            state
                .script
                .pop_front()
                .unwrap_or_else(|| self.then.lock().unwrap().clone())
        };
        self.changed.notify_waiters();
        Box::pin(async move {
            let now = ctx.now();
            let key = format!("ASIAFAKE{n:08}");
            let make = |expiry: Option<std::time::SystemTime>| {
                let c =
                    Credentials::builder(key.clone(), secret_for(&key), now).session_token(format!("fake-token-{n}"));
                match expiry {
                    Some(e) => c.expiry(e),
                    None => c,
                }
                .build()
                .unwrap()
            };
            match step {
                Step::Ok(lifetime) => Ok(make(lifetime.map(|l| now + l))),
                Step::Expired(ago) => Ok(make(Some(now - ago))),
                Step::Fail(class) => Err(SourceError::new(class, format!("scripted {class} failure"))),
                Step::Panic => panic!("scripted panic in fetch {n}"),
                Step::Hang => std::future::pending().await,
            }
        })
    }
}
