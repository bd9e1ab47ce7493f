//! A handle cloned into many tasks of a Tokio multi-threaded runtime, and
//! into every worker of an actix-web `HttpServer`, reads the same refreshed
//! credentials. Real time, credential lifetimes of about a second.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use credrefresh::{CredentialsHandle, RefreshEventKind, RefreshPolicy, Refresher};

use crate::common::fake::{FakeSource, secret_for};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn tasks_of_a_multi_threaded_runtime_read_the_same_refreshed_credentials() {
    // 1.5 s credentials: no floor on the spacing of refreshes.
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().min_refresh_interval(Duration::ZERO))
        .role("app", FakeSource::healthy(Some(Duration::from_millis(1500))))
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        handle.wait_ready(WAIT).await.unwrap();
        let mut events = handle.subscribe();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let mut latest_seen = Vec::new();
        for _ in 0..32 {
            let h = handle.clone();
            let stop = stop.clone();
            let latest = Arc::new(AtomicU64::new(0));
            latest_seen.push(latest.clone());
            tasks.push(tokio::spawn(async move {
                let mut seen: Vec<(u64, String)> = Vec::new();
                while !stop.load(Ordering::Acquire) {
                    let snap = h.load();
                    let c = snap.credentials().expect("ready before the tasks started");
                    // A snapshot never mixes two credentials.
                    assert_eq!(c.secret_access_key(), secret_for(c.access_key_id()));
                    let generation = snap.credentials_generation();
                    match seen.last() {
                        Some((last, _)) if *last == generation => {}
                        Some((last, _)) => {
                            assert!(generation > *last, "went back from {last} to {generation}");
                            seen.push((generation, c.access_key_id().to_string()));
                        }
                        None => seen.push((generation, c.access_key_id().to_string())),
                    }
                    latest.store(generation, Ordering::Release);
                    drop(snap);
                    tokio::task::yield_now().await;
                }
                seen
            }));
        }
        let mut published = BTreeSet::from([(
            handle.load().credentials_generation(),
            handle.load().credentials().unwrap().access_key_id().to_string(),
        )]);
        for _ in 0..3 {
            crate::common::next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
            let snap = handle.load_full();
            published.insert((
                snap.credentials_generation(),
                snap.credentials().unwrap().access_key_id().to_string(),
            ));
            // Every task comes to read these credentials (or newer ones).
            let target = snap.credentials_generation();
            tokio::time::timeout(WAIT, async {
                while latest_seen.iter().any(|l| l.load(Ordering::Acquire) < target) {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("every task reads the refreshed credentials");
        }
        stop.store(true, Ordering::Release);
        let last = published.last().unwrap().0;
        for t in tasks {
            for (generation, key) in t.await.unwrap() {
                // Only published credentials were read (or ones published after our last wait).
                assert!(
                    published.contains(&(generation, key.clone())) || generation > last,
                    "{generation} {key} was never published"
                );
            }
        }
    });
    refresher.shutdown();
}

fn worker_route(handle: actix_web::web::Data<CredentialsHandle>) -> impl std::future::Future<Output = String> {
    let snap = handle.load();
    let key = snap
        .credentials()
        .map(|c| c.access_key_id().to_string())
        .unwrap_or_default();
    let thread = format!("{:?}", std::thread::current().id());
    std::future::ready(format!("{thread} {key}"))
}

#[test]
fn every_actix_web_worker_reads_the_same_refreshed_credentials() {
    const WORKERS: usize = 4;
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
        .role("app", FakeSource::healthy(None))
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let app_handle = handle.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(actix_web::web::Data::new(app_handle.clone()))
                    .route("/key", actix_web::web::get().to(worker_route))
            })
            .workers(WORKERS)
            .listen(listener)
            .unwrap()
            .run();
            tx.send(server.handle()).unwrap();
            server.await.unwrap();
        });
    });
    let server = rx.recv_timeout(WAIT).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = handle.wait_ready(WAIT).await.unwrap();
        let first_key = first.credentials().unwrap().access_key_id().to_string();
        let by_worker = poll_workers(port, WORKERS).await;
        assert_eq!(
            by_worker.values().collect::<BTreeSet<_>>(),
            BTreeSet::from([&first_key])
        );

        // A service rejected the key: one worker invalidates, all see the new one.
        let mut events = handle.subscribe();
        handle.invalidate();
        crate::common::next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        let second_key = handle.load().credentials().unwrap().access_key_id().to_string();
        assert_ne!(second_key, first_key);
        let by_worker = poll_workers(port, WORKERS).await;
        assert_eq!(
            by_worker.values().collect::<BTreeSet<_>>(),
            BTreeSet::from([&second_key])
        );
    });
    rt.block_on(server.stop(true));
    server_thread.join().unwrap();
}

/// Asks `/key` on fresh connections until every worker thread answered.
async fn poll_workers(port: u16, workers: usize) -> HashMap<String, String> {
    let mut by_worker = HashMap::new();
    for _ in 0..2000 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /key HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        let (thread, key) = body.split_once(' ').expect("thread and key");
        by_worker.insert(thread.to_string(), key.to_string());
        if by_worker.len() == workers {
            return by_worker;
        }
    }
    panic!("only {} of {workers} workers answered: {by_worker:?}", by_worker.len());
}
