//! `SsoSource` against the emulator's IAM Identity Center: the token cache
//! read, refreshed through SSO-OIDC and written back the way the AWS CLI
//! does, the legacy form, the errors and their classes, and no secret in
//! any `Debug`, error or log line.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use credrefresh::Source;
use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::sso::{SsoConfig, SsoSource};
use credrefresh::testing::{Call, Emulator, Fault, SsoLogin};
use credrefresh::{Credentials, ErrorClass, FetchContext, SourceError};

const START_URL: &str = "https://d-abc123.awsapps.com/start";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "ReadOnly";
const SESSION: &str = "my-sso";

/// A fresh, empty cache directory; removed on drop.
struct CacheDir(PathBuf);

impl CacheDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "credrefresh-sso-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn session_config() -> SsoConfig {
    SsoConfig::session(SESSION, START_URL, REGION, ACCOUNT, ROLE)
}

fn source(emulator: &Emulator, dir: &CacheDir, config: SsoConfig) -> SsoSource {
    SsoSource::builder(config)
        .cache_dir(&dir.0)
        .oidc_endpoint(emulator.sso_oidc_endpoint())
        .portal_endpoint(emulator.sso_portal_endpoint())
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// Whole-second RFC 3339 UTC, as the AWS CLI writes.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn parse_time(text: &str) -> SystemTime {
    SystemTime::from(time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap())
}

/// Writes `login`'s cache file for `source`, its access token expiring at
/// `expires_at`.
fn write_cache(source: &SsoSource, login: &SsoLogin, expires_at: SystemTime) -> serde_json::Value {
    let mut json: serde_json::Value = serde_json::from_str(&login.cache_json(START_URL, REGION)).unwrap();
    json["expiresAt"] = rfc3339(expires_at).into();
    std::fs::write(source.cache_file(), json.to_string()).unwrap();
    json
}

fn read_cache(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn fetch(source: &SsoSource) -> Result<Credentials, SourceError> {
    source.fetch(FetchContext::system("sso-test")).await
}

fn in_minutes(minutes: u64) -> SystemTime {
    SystemClock.now() + Duration::from_secs(minutes * 60)
}

fn minutes_ago(minutes: u64) -> SystemTime {
    SystemClock.now() - Duration::from_secs(minutes * 60)
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_written_back_and_read_again() {
    let emulator = Emulator::builder()
        .sso_token_lifetime(Duration::from_secs(3600))
        .credential_lifetime(Duration::from_secs(1800))
        .start()
        .unwrap();
    let dir = CacheDir::new("refresh");
    let source = source(&emulator, &dir, session_config());
    assert_eq!(
        source.cache_file(),
        dir.0.join("0ad374308c5a4e22f723adf10145eafad7c4031c.json"),
        "the SHA-1 of the session name"
    );
    let login = emulator.sso_login();
    let before = write_cache(&source, &login, in_minutes(5));

    let started = SystemClock.now();
    let creds = fetch(&source).await.unwrap();

    // One CreateToken with the refresh_token grant, from the file's registration.
    let requests = emulator.requests(Call::SsoCreateToken);
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/token")
    );
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(sent["grantType"], "refresh_token");
    assert_eq!(sent["clientId"], login.client_id.as_str());
    assert_eq!(sent["clientSecret"], login.client_secret.as_str());
    assert_eq!(sent["refreshToken"], login.refresh_token.as_str());

    // The file now holds the new token, in botocore's fields, mode 0600.
    let after = read_cache(source.cache_file());
    let mut fields: Vec<&str> = after.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "accessToken",
            "clientId",
            "clientSecret",
            "expiresAt",
            "refreshToken",
            "region",
            "registrationExpiresAt",
            "startUrl"
        ]
    );
    let new_access = after["accessToken"].as_str().unwrap().to_string();
    let new_refresh = after["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(new_access, login.access_token);
    assert_ne!(new_refresh, login.refresh_token, "the rotated refresh token is kept");
    let secrets = emulator.issued_secrets();
    assert!(secrets.contains(&new_access) && secrets.contains(&new_refresh));
    let expires = parse_time(after["expiresAt"].as_str().unwrap());
    assert!(after["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(expires + Duration::from_secs(1) >= started + Duration::from_secs(3600));
    assert!(expires <= SystemClock.now() + Duration::from_secs(3600));
    for same in ["clientId", "clientSecret", "registrationExpiresAt"] {
        assert_eq!(after[same], before[same], "{same}");
    }
    assert_eq!(
        (after["startUrl"].as_str(), after["region"].as_str()),
        (Some(START_URL), Some(REGION))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(source.cache_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        dir.files(),
        ["0ad374308c5a4e22f723adf10145eafad7c4031c.json"],
        "no temporary file left"
    );

    // The portal got the new token; the credentials carry the account.
    let portal = emulator.requests(Call::SsoGetRoleCredentials);
    assert_eq!(portal[0].header("x-amz-sso_bearer_token"), Some(new_access.as_str()));
    assert_eq!(portal[0].param("role_name"), Some(ROLE));
    assert_eq!(portal[0].param("account_id"), Some(ACCOUNT));
    let issued = emulator.issued();
    assert_eq!(creds.access_key_id(), issued[0].access_key_id);
    assert_eq!(creds.account_id(), Some(ACCOUNT));
    let expiry = creds.expiry().unwrap();
    let real = issued[0].expiration;
    assert!(expiry <= real && expiry + Duration::from_millis(1) > real);

    // The next fetch reads the written token: no refresh, the new bearer.
    let again = fetch(&source).await.unwrap();
    assert_ne!(again.access_key_id(), creds.access_key_id());
    assert_eq!(emulator.count(Call::SsoCreateToken), 1);
    let portal = emulator.requests(Call::SsoGetRoleCredentials);
    assert_eq!(portal[1].header("x-amz-sso_bearer_token"), Some(new_access.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_sharing_a_session_refresh_it_once() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("shared");
    let read_only = source(&emulator, &dir, session_config());
    let admin = source(
        &emulator,
        &dir,
        SsoConfig::session(SESSION, START_URL, REGION, "444455556666", "Admin"),
    );
    assert_eq!(read_only.cache_file(), admin.cache_file());
    let login = emulator.sso_login();
    write_cache(&read_only, &login, minutes_ago(1));
    let (a, b) = tokio::join!(fetch(&read_only), fetch(&admin));
    assert_eq!(a.unwrap().account_id(), Some(ACCOUNT));
    assert_eq!(b.unwrap().account_id(), Some("444455556666"));
    assert_eq!(
        emulator.count(Call::SsoCreateToken),
        1,
        "one refresh, then the written token"
    );
    let bearers: Vec<Option<String>> = emulator
        .requests(Call::SsoGetRoleCredentials)
        .iter()
        .map(|r| r.header("x-amz-sso_bearer_token").map(str::to_string))
        .collect();
    assert_eq!(bearers.len(), 2);
    assert_eq!(bearers[0], bearers[1]);
}

#[tokio::test]
async fn a_token_far_from_expiry_is_used_as_it_is() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("fresh");
    let source = source(&emulator, &dir, session_config());
    let login = emulator.sso_login();
    write_cache(&source, &login, in_minutes(45));
    let before = std::fs::read_to_string(source.cache_file()).unwrap();
    fetch(&source).await.unwrap();
    assert_eq!(emulator.count(Call::SsoCreateToken), 0);
    assert_eq!(
        emulator.requests(Call::SsoGetRoleCredentials)[0].header("x-amz-sso_bearer_token"),
        Some(login.access_token.as_str())
    );
    assert_eq!(std::fs::read_to_string(source.cache_file()).unwrap(), before);
}

#[tokio::test]
async fn the_refresh_window_is_configurable() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("window");
    let narrow = SsoSource::builder(session_config())
        .cache_dir(&dir.0)
        .oidc_endpoint(emulator.sso_oidc_endpoint())
        .portal_endpoint(emulator.sso_portal_endpoint())
        .token_refresh_window(Duration::from_secs(60))
        .build()
        .unwrap();
    let login = emulator.sso_login();
    write_cache(&narrow, &login, in_minutes(5));
    fetch(&narrow).await.unwrap();
    assert_eq!(
        emulator.count(Call::SsoCreateToken),
        0,
        "5 min left is outside a 1 min window"
    );
}

#[tokio::test]
async fn the_legacy_form_reads_the_start_url_file_and_never_refreshes() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("legacy");
    let source = source(&emulator, &dir, SsoConfig::legacy(START_URL, REGION, ACCOUNT, ROLE));
    assert_eq!(
        source.cache_file(),
        dir.0.join("40a89917e3175433e361b710a9d43528d7f1890a.json"),
        "the SHA-1 of the start URL"
    );
    let login = emulator.sso_login();
    // What an older AWS CLI wrote: no registration, the `UTC` suffix.
    let expires = rfc3339(in_minutes(5)).replace('Z', "UTC");
    let legacy = serde_json::json!({
        "startUrl": START_URL,
        "region": REGION,
        "accessToken": login.access_token,
        "expiresAt": expires,
    });
    std::fs::write(source.cache_file(), legacy.to_string()).unwrap();
    let creds = fetch(&source).await.unwrap();
    assert_eq!(creds.account_id(), Some(ACCOUNT));
    assert_eq!(emulator.count(Call::SsoCreateToken), 0);

    // Even with a registration in the file, the legacy form does not refresh.
    write_cache(&source, &login, in_minutes(5));
    fetch(&source).await.unwrap();
    assert_eq!(emulator.count(Call::SsoCreateToken), 0);

    // Expired: rejected, with the login hint, and nothing sent.
    write_cache(&source, &login, minutes_ago(1));
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected, "{e}");
    assert!(
        e.message().contains("aws sso login") && e.message().contains(START_URL),
        "{e}"
    );
    assert_eq!(emulator.count(Call::SsoGetRoleCredentials), 2);
}

#[tokio::test]
async fn an_expired_token_that_cannot_be_refreshed_is_rejected_with_the_login_hint() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("expired");
    let source = source(&emulator, &dir, session_config());
    let login = emulator.sso_login();

    // No refresh token in the file.
    let bare = serde_json::json!({
        "startUrl": START_URL,
        "region": REGION,
        "accessToken": login.access_token,
        "expiresAt": rfc3339(minutes_ago(2)),
    });
    std::fs::write(source.cache_file(), bare.to_string()).unwrap();
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected);
    assert!(
        e.message().contains("expired") && e.message().contains("aws sso login --sso-session my-sso"),
        "{e}"
    );
    assert!(e.message().contains("refreshToken"), "{e}");

    // An expired client registration.
    let mut json = write_cache(&source, &login, minutes_ago(2));
    json["registrationExpiresAt"] = rfc3339(minutes_ago(1)).into();
    std::fs::write(source.cache_file(), json.to_string()).unwrap();
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected);
    assert!(e.message().contains("registration expired"), "{e}");
    assert_eq!(
        emulator.count(Call::SsoCreateToken) + emulator.count(Call::SsoGetRoleCredentials),
        0
    );
}

#[tokio::test]
async fn a_missing_or_malformed_cache_file_is_a_typed_error() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("missing");
    let source = source(&emulator, &dir, session_config());
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotLoaded);
    assert!(e.message().contains("aws sso login --sso-session my-sso"), "{e}");
    assert!(e.message().contains(&source.cache_file().display().to_string()), "{e}");

    for (contents, needle) in [
        ("{\"accessToken\": \"aoa-SECRET-VALUE", "JSON"),
        ("{\"accessToken\": \"aoa-SECRET-VALUE\"}", "expiresAt"),
        (
            "{\"accessToken\": \"aoa-SECRET-VALUE\", \"expiresAt\": \"later\"}",
            "expiresAt",
        ),
    ] {
        std::fs::write(source.cache_file(), contents).unwrap();
        let e = fetch(&source).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::InvalidConfiguration, "{e}");
        let text = format!("{e} {e:?}");
        assert!(text.contains(needle) && !text.contains("SECRET-VALUE"), "{text}");
    }
    std::fs::write(source.cache_file(), vec![b' '; 70 * 1024]).unwrap();
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    assert!(e.message().contains("bytes"), "{e}");
    assert_eq!(emulator.count(Call::SsoGetRoleCredentials), 0);
}

#[tokio::test]
async fn a_failed_refresh_keeps_a_still_valid_token_and_fails_an_expired_one() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("refresh-faults");
    let source = source(&emulator, &dir, session_config());
    let login = emulator.sso_login();

    // Still valid for 5 min: a 5xx refresh falls back to the cached token.
    write_cache(&source, &login, in_minutes(5));
    let before = std::fs::read_to_string(source.cache_file()).unwrap();
    emulator.script(
        Call::SsoCreateToken,
        [Fault::AwsError {
            status: 500,
            code: "InternalServerException".into(),
            message: "try later".into(),
        }],
    );
    fetch(&source).await.unwrap();
    assert_eq!(
        emulator.requests(Call::SsoGetRoleCredentials)[0].header("x-amz-sso_bearer_token"),
        Some(login.access_token.as_str())
    );
    assert_eq!(
        std::fs::read_to_string(source.cache_file()).unwrap(),
        before,
        "not rewritten"
    );

    // Expired: the refresh's failure is the fetch's, with its class.
    write_cache(&source, &login, minutes_ago(1));
    for (fault, class) in [
        (Fault::Html500, ErrorClass::Retryable),
        (Fault::Throttle, ErrorClass::Throttled),
        (Fault::DropConnection, ErrorClass::Retryable),
        (Fault::MalformedBody, ErrorClass::InvalidResponse),
        (
            Fault::AwsError {
                status: 400,
                code: "InvalidRequestException".into(),
                message: "bad".into(),
            },
            ErrorClass::InvalidConfiguration,
        ),
        // Served, so the refresh token is spent: an access token already
        // expired (`expiresIn` 0) is not accepted.
        (Fault::ExpiredCredentials, ErrorClass::InvalidResponse),
    ] {
        emulator.script(Call::SsoCreateToken, [fault.clone()]);
        let e = fetch(&source).await.unwrap_err();
        assert_eq!(e.class(), class, "{fault:?}: {e}");
    }
    assert_eq!(emulator.count(Call::SsoGetRoleCredentials), 1);
    assert!(
        std::fs::read_to_string(source.cache_file())
            .unwrap()
            .contains(&login.refresh_token)
    );

    // The refresh token is spent now: invalid_grant, rejected, log in again.
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected, "{e}");
    assert!(
        e.message().contains("InvalidGrantException") && e.message().contains("aws sso login"),
        "{e}"
    );

    // A refresh that does not answer in time.
    let login = emulator.sso_login();
    write_cache(&source, &login, minutes_ago(1));
    emulator.script(Call::SsoCreateToken, [Fault::Delay(Duration::from_secs(3))]);
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Timeout, "{e}");
}

#[tokio::test]
async fn portal_failures_have_their_classes() {
    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("portal-faults");
    let source = source(&emulator, &dir, session_config());
    let login = emulator.sso_login();
    write_cache(&source, &login, in_minutes(50));
    for (fault, class) in [
        (Fault::Html500, ErrorClass::Retryable),
        (Fault::Throttle, ErrorClass::Throttled),
        (Fault::DropConnection, ErrorClass::Retryable),
        (Fault::TruncatedBody, ErrorClass::Retryable),
        (Fault::MalformedBody, ErrorClass::InvalidResponse),
        (Fault::Delay(Duration::from_secs(3)), ErrorClass::Timeout),
        (
            Fault::AwsError {
                status: 403,
                code: "ForbiddenException".into(),
                message: "No access".into(),
            },
            ErrorClass::CredentialsRejected,
        ),
        (
            Fault::AwsError {
                status: 404,
                code: "ResourceNotFoundException".into(),
                message: "No such role".into(),
            },
            ErrorClass::InvalidConfiguration,
        ),
    ] {
        emulator.script(Call::SsoGetRoleCredentials, [fault.clone()]);
        let e = fetch(&source).await.unwrap_err();
        assert_eq!(e.class(), class, "{fault:?}: {e}");
    }
    assert!(fetch(&source).await.is_ok(), "service resumes");

    // A token the portal does not know: 401, rejected, log in again.
    let mut json = read_cache(source.cache_file());
    json["accessToken"] = "aoa-revoked-token".into();
    std::fs::write(source.cache_file(), json.to_string()).unwrap();
    let e = fetch(&source).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected);
    assert!(
        e.message().contains("401") && e.message().contains("aws sso login"),
        "{e}"
    );
    assert!(e.message().contains("UnauthorizedException"), "{e}");
}

#[tokio::test]
async fn no_secret_in_debug_errors_or_logs() {
    let captured = crate::logs::Logs::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber().finish());

    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("secrets");
    let builder = SsoSource::builder(session_config())
        .cache_dir(&dir.0)
        .oidc_endpoint(emulator.sso_oidc_endpoint())
        .portal_endpoint(emulator.sso_portal_endpoint());
    let mut outputs = vec![format!("{builder:?}")];
    let source = builder.build().unwrap();
    outputs.push(format!("{source:?}"));
    let login = emulator.sso_login();
    outputs.push(format!("{login:?}"));

    // A refresh, a fallback after a failed refresh, and failures of every kind.
    write_cache(&source, &login, in_minutes(5));
    let creds = fetch(&source).await.unwrap();
    outputs.push(format!("{creds:?} {creds}"));
    let mut record = |r: Result<Credentials, SourceError>| match r {
        Ok(c) => outputs.push(format!("{c:?}")),
        Err(e) => outputs.push(format!("{e} {e:?}")),
    };
    let json = read_cache(source.cache_file());
    let mut near = json.clone();
    near["expiresAt"] = rfc3339(in_minutes(5)).into();
    std::fs::write(source.cache_file(), near.to_string()).unwrap();
    emulator.script(
        Call::SsoCreateToken,
        [Fault::AwsError {
            status: 400,
            code: "InvalidGrantException".into(),
            message: format!(
                "echo {} {}",
                login.client_secret,
                json["refreshToken"].as_str().unwrap()
            ),
        }],
    );
    record(fetch(&source).await);
    let mut expired = json.clone();
    expired["expiresAt"] = rfc3339(minutes_ago(1)).into();
    std::fs::write(source.cache_file(), expired.to_string()).unwrap();
    emulator.script(
        Call::SsoCreateToken,
        [Fault::AwsError {
            status: 400,
            code: "InvalidGrantException".into(),
            message: format!("echo {}", json["refreshToken"].as_str().unwrap()),
        }],
    );
    record(fetch(&source).await);
    std::fs::write(source.cache_file(), json.to_string()).unwrap();
    emulator.script(
        Call::SsoGetRoleCredentials,
        [Fault::AwsError {
            status: 401,
            code: "UnauthorizedException".into(),
            message: format!("echo {}", json["accessToken"].as_str().unwrap()),
        }],
    );
    record(fetch(&source).await);
    let mut broken = json.clone();
    broken["expiresAt"] = format!("soon {}", json["accessToken"].as_str().unwrap()).into();
    std::fs::write(source.cache_file(), broken.to_string()).unwrap();
    record(fetch(&source).await);

    let logs = captured.text();
    assert!(logs.contains("SSO token refreshed"), "the refresh was logged: {logs}");
    assert!(
        logs.contains("SSO token refresh failed"),
        "the fallback was logged: {logs}"
    );
    let mut secrets = emulator.issued_secrets();
    secrets.extend([
        login.access_token.clone(),
        login.refresh_token.clone(),
        login.client_secret.clone(),
    ]);
    assert!(secrets.len() >= 7);
    let all = format!("{}\n{logs}", outputs.join("\n"));
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "a secret leaked into: {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_refresher_it_rides_out_a_portal_outage_and_an_expired_login() {
    use crate::common::refreshing::{assert_kept, refresh_fails_with, running};

    let emulator = Emulator::start().unwrap();
    let dir = CacheDir::new("refresher");
    let sso = source(&emulator, &dir, session_config());
    let cache = sso.cache_file().to_path_buf();
    let login = emulator.sso_login();
    write_cache(&sso, &login, in_minutes(5));
    let wait = Duration::from_secs(15);
    let (_refresher, handle, key) = running(sso, wait).await;
    assert_eq!(
        emulator.count(Call::SsoCreateToken),
        1,
        "refreshed off the actor thread"
    );
    let snapshot = handle.load();
    assert_eq!(snapshot.source(), "sso");
    assert_eq!(snapshot.credentials().unwrap().account_id(), Some(ACCOUNT));

    // The portal fails: the last good credentials stay, the class shows.
    emulator.set_outage(Call::SsoGetRoleCredentials, Some(Fault::Html500));
    let failed = refresh_fails_with(&handle, ErrorClass::Retryable, wait).await;
    assert_kept(&failed, &key, "sso");
    emulator.set_outage(Call::SsoGetRoleCredentials, None);

    // The login expires and cannot be refreshed: rejected, still kept.
    let mut json = read_cache(&cache);
    json["expiresAt"] = rfc3339(minutes_ago(1)).into();
    json.as_object_mut().unwrap().remove("refreshToken");
    std::fs::write(&cache, json.to_string()).unwrap();
    let rejected = refresh_fails_with(&handle, ErrorClass::CredentialsRejected, wait).await;
    assert_kept(&rejected, &key, "sso");

    // `aws sso login` again: the next refresh works.
    let again = emulator.sso_login();
    write_cache(
        &SsoSource::builder(session_config()).cache_dir(&dir.0).build().unwrap(),
        &again,
        in_minutes(50),
    );
    handle.invalidate();
    handle
        .wait_for(wait, |s| {
            s.consecutive_failures() == 0 && s.credentials().is_some_and(|c| c.access_key_id() != key)
        })
        .await
        .expect("recovered after a new login");
}
