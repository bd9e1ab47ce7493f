//! botocore's IAM Identity Center provider and our `SsoSource` share one
//! token cache, each reading what the other refreshed and wrote back.
//!
//! One config (`[profile dev]` with `sso_session`, `sso_account_id`,
//! `sso_role_name`; `[sso-session my-sso]` with `sso_start_url` and
//! `sso_region`), one `HOME`, the emulator as IAM Identity Center
//! (`AWS_ENDPOINT_URL_SSO_OIDC` and `AWS_ENDPOINT_URL_SSO` for botocore):
//! 1. the cached token is near expiry: our source refreshes it through
//!    `CreateToken` and writes it back; botocore then uses that token as it
//!    is (no refresh of its own) and gets the credentials the emulator
//!    issued to its `GetRoleCredentials`;
//! 2. the token is near expiry again: botocore refreshes it with the
//!    refresh token, client and registration we wrote; our source then
//!    reads what botocore wrote and uses it without a refresh.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::sso::{SsoConfig, SsoSource};
use credrefresh::testing::{Call, Emulator};
use credrefresh::{FetchContext, Source};

use crate::common::botocore::assert_secrets_issued;

const START_URL: &str = "https://d-abc123.awsapps.com/start";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "ReadOnly";
const SESSION: &str = "my-sso";

const CONFIG: &str = "\
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = ReadOnly
region = eu-west-1

[sso-session my-sso]
sso_start_url = https://d-abc123.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
";

fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Moves the cached token's expiry to 5 minutes from now (inside both
/// refresh windows), keeping every other field.
fn expire_soon(path: &Path) {
    let mut json = read_json(path);
    json["expiresAt"] = rfc3339(SystemClock.now() + Duration::from_secs(300)).into();
    std::fs::write(path, json.to_string()).unwrap();
}

/// botocore's credentials for profile `dev` of `home`, with IAM Identity
/// Center at the emulator.
fn botocore(home: &Path, emulator: &Emulator) -> serde_json::Value {
    crate::common::botocore::credentials(
        &[("AWS_EC2_METADATA_DISABLED", "true"), ("AWS_PROFILE", "dev")],
        &[
            ("HOME", home.display().to_string()),
            (
                "AWS_CONFIG_FILE",
                home.join(".aws").join("config").display().to_string(),
            ),
            ("AWS_ENDPOINT_URL_SSO_OIDC", emulator.sso_oidc_endpoint()),
            ("AWS_ENDPOINT_URL_SSO", emulator.sso_portal_endpoint()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn botocore_and_our_sso_source_share_the_token_cache_each_refreshes() {
    let emulator = Emulator::builder()
        .sso_token_lifetime(Duration::from_secs(3600))
        .start()
        .unwrap();
    let home: PathBuf = std::env::temp_dir().join(format!(
        "credrefresh-sso-peer-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let cache_dir = home.join(".aws").join("sso").join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    std::fs::write(home.join(".aws").join("config"), CONFIG).unwrap();

    let home_var = home.display().to_string();
    let ours = SsoSource::builder(SsoConfig::session(SESSION, START_URL, REGION, ACCOUNT, ROLE))
        .env_lookup(move |k| (k == "HOME").then(|| home_var.clone()))
        .oidc_endpoint(emulator.sso_oidc_endpoint())
        .portal_endpoint(emulator.sso_portal_endpoint())
        .build()
        .unwrap();
    let cache = ours.cache_file().to_path_buf();
    assert_eq!(cache.parent(), Some(cache_dir.as_path()));
    let login = emulator.sso_login();
    std::fs::write(&cache, login.cache_json(START_URL, REGION)).unwrap();
    expire_soon(&cache);

    // 1. We refresh and write back; botocore uses what we wrote.
    let our_creds = ours.fetch(FetchContext::system("peer")).await.unwrap();
    assert_eq!(emulator.count(Call::SsoCreateToken), 1);
    let ours_written = read_json(&cache);
    let our_token = ours_written["accessToken"].as_str().unwrap().to_string();
    assert_ne!(our_token, login.access_token);

    let theirs = botocore(&home, &emulator);
    assert_eq!(theirs["method"], "sso");
    assert_eq!(
        emulator.count(Call::SsoCreateToken),
        1,
        "botocore did not need to refresh"
    );
    let portal = emulator.requests(Call::SsoGetRoleCredentials);
    assert_eq!(portal.len(), 2);
    assert_eq!(portal[1].header("x-amz-sso_bearer_token"), Some(our_token.as_str()));
    assert_eq!(portal[1].param("account_id"), Some(ACCOUNT));
    assert_eq!(portal[1].param("role_name"), Some(ROLE));
    let issued = emulator.issued();
    assert_eq!(our_creds.access_key_id(), issued[0].access_key_id);
    assert_eq!(our_creds.account_id(), Some(ACCOUNT));
    assert_eq!(theirs["key"], issued[1].access_key_id.as_str());
    assert_secrets_issued(&emulator, &theirs);

    // 2. botocore refreshes with the registration and refresh token we
    //    wrote; we read what it wrote.
    expire_soon(&cache);
    let theirs = botocore(&home, &emulator);
    assert_eq!(theirs["method"], "sso");
    let refreshes = emulator.requests(Call::SsoCreateToken);
    assert_eq!(refreshes.len(), 2, "botocore refreshed");
    let sent: serde_json::Value = serde_json::from_str(&refreshes[1].body).unwrap();
    assert_eq!(sent["grantType"], "refresh_token");
    assert_eq!(sent["refreshToken"], ours_written["refreshToken"]);
    assert_eq!(sent["clientId"], login.client_id.as_str());
    let botocore_written = read_json(&cache);
    let their_token = botocore_written["accessToken"].as_str().unwrap().to_string();
    assert_ne!(their_token, our_token);
    assert_eq!(
        botocore_written["registrationExpiresAt"],
        ours_written["registrationExpiresAt"]
    );

    let again = ours.fetch(FetchContext::system("peer")).await.unwrap();
    assert_eq!(
        emulator.count(Call::SsoCreateToken),
        2,
        "we used botocore's token as it is"
    );
    let portal = emulator.requests(Call::SsoGetRoleCredentials);
    assert_eq!(
        portal.last().unwrap().header("x-amz-sso_bearer_token"),
        Some(their_token.as_str())
    );
    assert_eq!(again.access_key_id(), emulator.issued().last().unwrap().access_key_id);

    let _ = std::fs::remove_dir_all(&home);
}
