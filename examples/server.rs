//! The demo: an actix-web server whose workers share credrefresh handles.
//!
//! ```text
//! cargo run --example server                 # local emulator, no AWS account
//! cargo run --example server -- --real       # real AWS (see below)
//! ```
//!
//! By default it starts the built-in emulator (STS, IMDS and the container
//! endpoint on 127.0.0.1) issuing credentials that live
//! `CREDREFRESH_DEMO_LIFETIME` seconds (default 8), so the log shows a
//! refresh every few seconds, and runs these roles:
//!
//! | role | source |
//! |---|---|
//! | `app` | STS AssumeRole, on long-term keys |
//! | `reports` | STS AssumeRole chained on `app`'s handle |
//! | `mfa-session` | STS GetSessionToken with an MFA code asked for at each refresh |
//! | `web` | STS AssumeRoleWithWebIdentity, token file re-read at each refresh |
//! | `instance` | EC2 instance metadata (IMDSv2) |
//! | `container` | the ECS/EKS container endpoint |
//!
//! With `--real` (or `CREDREFRESH_DEMO=aws`) it uses the default chain
//! (environment, web identity, container, instance metadata) as role
//! `default`, and, when `CREDREFRESH_ROLE_ARN` is set, assumes that role on
//! top of it as role `assumed` (region from `AWS_REGION`).
//!
//! Endpoints (`--port`, default 8080, on 127.0.0.1): `/whoami?role=app` (the
//! access key id this worker uses now), `/status` (JSON per role),
//! `/metrics` (Prometheus), `POST /invalidate?role=app`.
//!
//! In emulator mode, faults can be injected while it runs, to watch the
//! refreshers back off, keep serving, extend, and the metrics move:
//!
//! ```text
//! curl -X POST 'http://127.0.0.1:8080/emulator/outage?call=AssumeRole&fault=throttle'
//! curl -X POST 'http://127.0.0.1:8080/emulator/outage?call=AssumeRole&fault=drop'
//! curl -X POST 'http://127.0.0.1:8080/emulator/outage?call=AssumeRole'   # clear
//! ```
//!
//! `call` is one of `AssumeRole`, `GetSessionToken`,
//! `AssumeRoleWithWebIdentity`, `ImdsCredentials`, `Ecs`; `fault` one of
//! `throttle`, `drop`, `html500`, `malformed`, `expired`, `hang`,
//! `access-denied`.
//! `--exit-after SECS` stops the demo after that long (for smoke tests).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::{App, HttpResponse, HttpServer, web};
use credrefresh::backoff::BackoffConfig;
use credrefresh::sources::sts::{
    AssumeRoleSource, MfaCodeFuture, MfaCodeProvider, SessionTokenSource, WebIdentitySource,
};
use credrefresh::sources::{DefaultChain, EcsSource, ImdsSource, StaticSource};
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{Credentials, CredentialsHandle, RefreshPolicy, Refresher, SourceError};
use serde_json::json;

const WORKERS: usize = 4;

struct Options {
    real: bool,
    port: u16,
    exit_after: Option<Duration>,
    lifetime: Duration,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        real: std::env::var("CREDREFRESH_DEMO").is_ok_and(|v| v == "aws"),
        port: 8080,
        exit_after: None,
        lifetime: Duration::from_secs(
            std::env::var("CREDREFRESH_DEMO_LIFETIME")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(8),
        ),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--real" => o.real = true,
            "--port" => o.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--exit-after" => {
                let secs: f64 = value("--exit-after")?
                    .parse()
                    .map_err(|e| format!("--exit-after: {e}"))?;
                o.exit_after = Some(Duration::from_secs_f64(secs));
            }
            "-h" | "--help" => {
                println!("usage: server [--real] [--port N] [--exit-after SECS]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// A demo MFA device: a new six-digit code at each refresh (a real one
/// would prompt, or read a TOTP secret).
#[derive(Default)]
struct DemoMfa(std::sync::atomic::AtomicU32);

impl MfaCodeProvider for DemoMfa {
    fn code(&self) -> MfaCodeFuture<'_> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move { Ok::<_, SourceError>(format!("{:06}", 123_456 + n)) })
    }
}

fn emulator_roles(emulator: &Emulator, token_dir: &std::path::Path) -> Result<Refresher, Box<dyn std::error::Error>> {
    let endpoint = emulator.sts_endpoint();
    // Long-term keys for the emulator's account (it does not check secrets).
    let base = StaticSource::new(Credentials::new(
        "AKIAEMULATORDEMO0001",
        "emulator-demo-long-term-secret",
        SystemTime::UNIX_EPOCH,
    )?);
    let account = emulator.account_id();
    // The emulator issues credentials living seconds (CREDREFRESH_DEMO_LIFETIME):
    // lower the floor on the spacing of refreshes (a minute by default, a
    // guard against a wrong clock) to see them refreshed every few seconds,
    // and retry at that scale too (1 s doubling up to 2 minutes; the default
    // backoff, 1 s ×10 up to 10 minutes, is sized for a fleet's outage).
    let policy = RefreshPolicy::default()
        .min_refresh_interval(Duration::from_secs(1))
        .backoff(BackoffConfig::default().multiplier(2.0).max(Duration::from_secs(120)));
    let refresher = Refresher::builder().policy(policy).start()?;
    let app = refresher.add_role(
        "app",
        AssumeRoleSource::builder(format!("arn:aws:iam::{account}:role/demo-app"), base.clone())
            .endpoint(&endpoint)
            .region("eu-west-1")
            .session_name_prefix("demo-app-")
            .tag("team", "demo")
            .build()?,
    )?;
    refresher.add_role(
        "reports",
        AssumeRoleSource::builder(format!("arn:aws:iam::{account}:role/demo-reports"), app)
            .endpoint(&endpoint)
            .region("eu-west-1")
            .build()?,
    )?;
    refresher.add_role(
        "mfa-session",
        SessionTokenSource::builder(base)
            .endpoint(&endpoint)
            .region("eu-west-1")
            .mfa(format!("arn:aws:iam::{account}:mfa/demo-user"), DemoMfa::default())
            .build()?,
    )?;
    let token_file = token_dir.join("web-identity-token");
    std::fs::write(&token_file, "demo.web.identity.token")?;
    refresher.add_role(
        "web",
        WebIdentitySource::builder(format!("arn:aws:iam::{account}:role/demo-web"), &token_file)
            .endpoint(&endpoint)
            .region("eu-west-1")
            .build()?,
    )?;
    refresher.add_role(
        "instance",
        ImdsSource::builder().endpoint(emulator.imds_endpoint()).build()?,
    )?;
    refresher.add_role(
        "container",
        EcsSource::builder()
            .full_uri(emulator.ecs_full_uri())
            .auth_token(emulator.ecs_auth_token())
            .build()?,
    )?;
    Ok(refresher)
}

fn real_roles() -> Result<Refresher, Box<dyn std::error::Error>> {
    let refresher = Refresher::builder().start()?;
    let default = refresher.add_role("default", DefaultChain::new()?)?;
    if let Ok(arn) = std::env::var("CREDREFRESH_ROLE_ARN") {
        refresher.add_role("assumed", AssumeRoleSource::builder(arn, default).build()?)?;
    }
    Ok(refresher)
}

type Roles = BTreeMap<String, CredentialsHandle>;

#[derive(serde::Deserialize)]
struct RoleQuery {
    role: Option<String>,
}

fn pick<'a>(roles: &'a Roles, q: &RoleQuery) -> Result<(&'a String, &'a CredentialsHandle), HttpResponse> {
    let name = q
        .role
        .as_deref()
        .unwrap_or_else(|| roles.keys().next().map_or("", |s| s.as_str()));
    roles.get_key_value(name).ok_or_else(|| {
        HttpResponse::NotFound()
            .json(json!({ "error": format!("no role {name:?}"), "roles": roles.keys().collect::<Vec<_>>() }))
    })
}

async fn whoami(roles: web::Data<Roles>, q: web::Query<RoleQuery>) -> HttpResponse {
    let (name, handle) = match pick(&roles, &q) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let snap = handle.load();
    HttpResponse::Ok().json(json!({
        "role": name,
        "worker": format!("{:?}", std::thread::current().id()),
        "access_key_id": snap.credentials().map(|c| c.access_key_id()),
        "state": snap.state().as_str(),
    }))
}

fn time(t: Option<SystemTime>) -> serde_json::Value {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(serde_json::Value::Null, |d| json!(d.as_secs()))
}

async fn status(roles: web::Data<Roles>) -> HttpResponse {
    let body: BTreeMap<&String, serde_json::Value> = roles
        .iter()
        .map(|(name, handle)| {
            let s = handle.load();
            let v = json!({
                "source": s.source(),
                "state": s.state().as_str(),
                "access_key_id": s.credentials().map(|c| c.access_key_id()),
                "expiry_unix": time(s.credentials().and_then(|c| c.expiry())),
                "next_refresh_unix": time(s.next_refresh()),
                "last_success_unix": time(s.last_success()),
                "last_error_class": s.last_error_class().map(|c| c.as_str()),
                "last_error": s.last_error().map(|e| e.message.to_string()),
                "consecutive_failures": s.consecutive_failures(),
                "extensions": s.extensions(),
                "restarts": s.restarts(),
            });
            (name, v)
        })
        .collect();
    HttpResponse::Ok().json(body)
}

async fn invalidate(roles: web::Data<Roles>, q: web::Query<RoleQuery>) -> HttpResponse {
    match pick(&roles, &q) {
        Ok((name, handle)) => {
            handle.invalidate();
            HttpResponse::Accepted().json(json!({ "invalidated": name }))
        }
        Err(response) => response,
    }
}

#[derive(serde::Deserialize)]
struct OutageQuery {
    call: String,
    fault: Option<String>,
}

fn parse_call(name: &str) -> Option<Call> {
    Some(match name {
        "AssumeRole" => Call::AssumeRole,
        "GetSessionToken" => Call::GetSessionToken,
        "AssumeRoleWithWebIdentity" => Call::AssumeRoleWithWebIdentity,
        "ImdsCredentials" => Call::ImdsCredentials,
        "ImdsToken" => Call::ImdsToken,
        "Ecs" => Call::Ecs,
        _ => return None,
    })
}

fn parse_fault(name: &str) -> Option<Fault> {
    Some(match name {
        "throttle" => Fault::Throttle,
        "drop" => Fault::DropConnection,
        "html500" => Fault::Html500,
        "malformed" => Fault::MalformedBody,
        "expired" => Fault::ExpiredCredentials,
        "hang" => Fault::Hang,
        "access-denied" => Fault::AwsError {
            status: 403,
            code: "AccessDenied".into(),
            message: "demo: access denied".into(),
        },
        _ => return None,
    })
}

/// Starts (with `fault`) or ends (without) an emulator outage for `call`.
async fn outage(emulator: web::Data<Option<Arc<Emulator>>>, q: web::Query<OutageQuery>) -> HttpResponse {
    let Some(emulator) = emulator.as_ref() else {
        return HttpResponse::NotFound().json(json!({ "error": "not running on the emulator" }));
    };
    let Some(call) = parse_call(&q.call) else {
        return HttpResponse::BadRequest().json(json!({ "error": format!("unknown call {:?}", q.call) }));
    };
    let fault = match q.fault.as_deref() {
        None => None,
        Some(name) => match parse_fault(name) {
            Some(f) => Some(f),
            None => return HttpResponse::BadRequest().json(json!({ "error": format!("unknown fault {name:?}") })),
        },
    };
    tracing::warn!(call = %q.call, fault = ?q.fault, "emulator outage changed");
    emulator.set_outage(call, fault);
    HttpResponse::Ok().json(json!({ "call": q.call, "fault": q.fault }))
}

async fn metrics(refresher: web::Data<Arc<Refresher>>) -> HttpResponse {
    match refresher
        .prometheus_registry()
        .and_then(|r| credrefresh::metrics::render(&r))
    {
        Ok(text) => HttpResponse::Ok()
            .content_type(credrefresh::metrics::TEXT_CONTENT_TYPE)
            .body(text),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .init();
    let opts = options()?;
    let token_dir = std::env::temp_dir().join(format!("credrefresh-demo-{}", std::process::id()));
    std::fs::create_dir_all(&token_dir)?;

    let mut emulator = None;
    let refresher = if opts.real {
        tracing::info!("using real AWS sources");
        real_roles()?
    } else {
        let started = Arc::new(Emulator::builder().credential_lifetime(opts.lifetime).start()?);
        tracing::info!(
            endpoint = %started.endpoint(),
            lifetime_s = opts.lifetime.as_secs(),
            "started the local AWS emulator"
        );
        let refresher = emulator_roles(&started, &token_dir)?;
        emulator = Some(started);
        refresher
    };
    let refresher = Arc::new(refresher);
    let roles: Roles = refresher
        .handles()
        .into_iter()
        .map(|h| (h.role().to_string(), h))
        .collect();

    let data_roles = web::Data::new(roles);
    let data_refresher = web::Data::new(refresher.clone());
    let data_emulator = web::Data::new(emulator.clone());
    let system = actix_rt::System::new();
    let result = system.block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data_roles.clone())
                .app_data(data_refresher.clone())
                .app_data(data_emulator.clone())
                .route("/whoami", web::get().to(whoami))
                .route("/status", web::get().to(status))
                .route("/metrics", web::get().to(metrics))
                .route("/invalidate", web::post().to(invalidate))
                .route("/emulator/outage", web::post().to(outage))
        })
        .workers(WORKERS)
        .bind(("127.0.0.1", opts.port))?
        .run();
        tracing::info!(
            "demo on http://127.0.0.1:{}: /whoami?role=app /status /metrics (POST /invalidate?role=app)",
            opts.port
        );
        if let Some(after) = opts.exit_after {
            let handle = server.handle();
            actix_rt::spawn(async move {
                actix_rt::time::sleep(after).await;
                handle.stop(true).await;
            });
        }
        server.await
    });
    refresher.shutdown();
    drop(emulator);
    let _ = std::fs::remove_dir_all(&token_dir);
    Ok(result?)
}
