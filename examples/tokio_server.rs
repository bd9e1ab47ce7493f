//! The handle in a plain Tokio multi-threaded server (hyper, no actix-web).
//!
//! ```text
//! cargo run --example tokio_server
//! curl http://127.0.0.1:8081/
//! ```
//!
//! The refresher runs its actors on a thread of its own; every connection
//! task on every Tokio worker thread reads the same handle lock-free. It
//! uses the local emulator (credentials living 8 s) so refreshes show in
//! the log. `--port N` (default 8081), `--exit-after SECS`.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::testing::Emulator;
use credrefresh::{Credentials, CredentialsHandle, RefreshPolicy, Refresher};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

async fn serve(handle: CredentialsHandle, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.uri().path() {
        "/" => {
            let snap = handle.load();
            format!(
                "role={} state={} access_key_id={} thread={:?}\n",
                snap.role(),
                snap.state(),
                snap.credentials().map_or("-", |c| c.access_key_id()),
                std::thread::current().id(),
            )
        }
        _ => {
            return Ok(Response::builder()
                .status(404)
                .body(Full::new(Bytes::from_static(b"not found\n")))
                .unwrap_or_default());
        }
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .init();
    let port: u16 = arg("--port").map_or(Ok(8081), |p| p.parse())?;
    let exit_after = arg("--exit-after")
        .map(|s| s.parse::<f64>())
        .transpose()?
        .map(Duration::from_secs_f64);

    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(8))
        .start()?;
    let base = StaticSource::new(Credentials::new(
        "AKIAEMULATORDEMO0002",
        "emulator-demo-secret",
        SystemTime::UNIX_EPOCH,
    )?);
    // Eight-second credentials: lower the floor on the spacing of refreshes
    // (a minute by default, a guard against a wrong clock).
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().min_refresh_interval(Duration::from_secs(1)))
        .role(
            "app",
            AssumeRoleSource::builder(format!("arn:aws:iam::{}:role/tokio-demo", emulator.account_id()), base)
                .endpoint(emulator.sts_endpoint())
                .region("eu-west-1")
                .build()?,
        )
        .start()?;
    let handle = refresher.handle("app").ok_or("role app is configured")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        handle.wait_ready(Duration::from_secs(10)).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        tracing::info!("serving on http://127.0.0.1:{port}/");
        let accept = async {
            loop {
                let (stream, _) = listener.accept().await?;
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve(handle.clone(), req));
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            #[allow(unreachable_code)]
            Ok::<(), Box<dyn std::error::Error>>(())
        };
        match exit_after {
            Some(after) => tokio::select! {
                r = accept => r,
                _ = tokio::time::sleep(after) => Ok(()),
            },
            None => accept.await,
        }
    })?;
    refresher.shutdown();
    Ok(())
}
