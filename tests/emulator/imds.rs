//! The emulator's IMDS: IMDSv2 session tokens whose TTL is honoured, the
//! role list, the credentials document, IMDSv1 only when allowed.

use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, ManualClock, SystemClock};
use credrefresh::testing::{Call, Emulator};

use crate::client::{client, rfc3339};

const TOKEN_PATH: &str = "/latest/api/token";
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TTL: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN: &str = "X-aws-ec2-metadata-token";

async fn put_token(emulator: &Emulator, ttl: Option<&str>) -> (u16, String) {
    let mut request = client().put(format!("{}{TOKEN_PATH}", emulator.imds_endpoint()));
    if let Some(ttl) = ttl {
        request = request.header(TTL, ttl);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn token(emulator: &Emulator, ttl: u64) -> String {
    let (status, token) = put_token(emulator, Some(&ttl.to_string())).await;
    assert_eq!(status, 200, "{token}");
    token
}

async fn get(emulator: &Emulator, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client().get(format!("{}{path}", emulator.imds_endpoint()));
    if let Some(token) = token {
        request = request.header(TOKEN, token);
    }
    request.send().await.unwrap()
}

async fn status(emulator: &Emulator, path: &str, token: Option<&str>) -> u16 {
    get(emulator, path, token).await.status().as_u16()
}

#[tokio::test]
async fn the_v2_flow_serves_the_role_and_its_credentials() {
    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(6))
        .imds_role_name("instance-role")
        .start()
        .unwrap();
    let response = client()
        .put(format!("{}{TOKEN_PATH}", emulator.imds_endpoint()))
        .header(TTL, "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[TTL], "21600");
    let token = response.text().await.unwrap();
    assert!(!token.is_empty());

    let list = get(&emulator, CREDENTIALS_PATH, Some(&token)).await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.headers()["content-type"], "text/plain");
    assert_eq!(list.text().await.unwrap(), "instance-role");
    assert_eq!(emulator.imds_role_name(), "instance-role");

    let before = SystemClock.now();
    let credentials = get(&emulator, &format!("{CREDENTIALS_PATH}instance-role"), Some(&token)).await;
    let after = SystemClock.now();
    assert_eq!(credentials.status(), 200);
    let doc: serde_json::Value = serde_json::from_str(&credentials.text().await.unwrap()).unwrap();
    assert_eq!(doc["Code"], "Success");
    assert_eq!(doc["Type"], "AWS-HMAC");
    let akid = doc["AccessKeyId"].as_str().unwrap();
    assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");
    assert_eq!(doc["SecretAccessKey"].as_str().unwrap().len(), 40);
    assert!(doc["Token"].as_str().unwrap().len() >= 300);
    let last_updated = rfc3339(doc["LastUpdated"].as_str().unwrap());
    assert!(last_updated + Duration::from_secs(1) >= before && last_updated <= after);
    let expires = rfc3339(doc["Expiration"].as_str().unwrap());
    let lifetime = Duration::from_secs(6);
    assert!(expires + Duration::from_secs(1) >= before + lifetime && expires <= after + lifetime);

    let issued = emulator.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].call, Call::ImdsCredentials);
    assert_eq!(issued[0].access_key_id, akid);
    assert!(
        issued[0]
            .arn
            .starts_with("arn:aws:sts::123456789012:assumed-role/instance-role/i-0")
    );
    let secrets = emulator.issued_secrets();
    assert!(secrets.contains(&token), "IMDS tokens are listed for leak scans");
    assert!(secrets.iter().any(|s| s == doc["SecretAccessKey"].as_str().unwrap()));
    assert!(secrets.iter().any(|s| s == doc["Token"].as_str().unwrap()));

    assert_eq!(emulator.count(Call::ImdsToken), 1);
    assert_eq!(emulator.count(Call::ImdsRoleList), 1);
    assert_eq!(emulator.count(Call::ImdsCredentials), 1);
}

#[tokio::test]
async fn a_token_works_for_its_ttl_and_not_a_second_longer() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let emulator = Emulator::builder().clock(clock.clone()).start().unwrap();
    let token = token(&emulator, 60).await;
    assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(&token)).await, 200);
    clock.advance(Duration::from_secs(59));
    assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(&token)).await, 200);
    clock.advance(Duration::from_secs(1));
    assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(&token)).await, 401);
    let fresh = self::token(&emulator, 60).await;
    assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(&fresh)).await, 200);
}

#[tokio::test]
async fn with_the_system_clock_a_one_second_token_expires() {
    let emulator = Emulator::start().unwrap();
    let issued_at = SystemClock.now();
    let token = token(&emulator, 1).await;
    // Poll until the token is refused (the condition), within a deadline.
    let deadline = SystemClock.now() + Duration::from_secs(10);
    loop {
        let status = status(&emulator, CREDENTIALS_PATH, Some(&token)).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(SystemClock.now() < deadline, "a 1 s token still works after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused_after = SystemClock.now().duration_since(issued_at).unwrap();
    assert!(
        refused_after >= Duration::from_secs(1),
        "refused after {refused_after:?}"
    );
}

#[tokio::test]
async fn expire_imds_tokens_invalidates_every_token_handed_out() {
    let emulator = Emulator::start().unwrap();
    let first = token(&emulator, 21600).await;
    let second = token(&emulator, 21600).await;
    assert_ne!(first, second);
    emulator.expire_imds_tokens();
    for token in [&first, &second] {
        assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(token)).await, 401);
        let path = format!("{CREDENTIALS_PATH}{}", emulator.imds_role_name());
        assert_eq!(status(&emulator, &path, Some(token)).await, 401);
    }
    let third = token(&emulator, 21600).await;
    assert_eq!(status(&emulator, CREDENTIALS_PATH, Some(&third)).await, 200);
    // A refused request issues nothing.
    assert!(emulator.issued().is_empty());
}

#[tokio::test]
async fn imdsv1_is_refused_unless_allowed() {
    let strict = Emulator::start().unwrap();
    let role_path = format!("{CREDENTIALS_PATH}{}", strict.imds_role_name());
    assert_eq!(status(&strict, CREDENTIALS_PATH, None).await, 401);
    assert_eq!(status(&strict, &role_path, None).await, 401);
    assert_eq!(status(&strict, CREDENTIALS_PATH, Some("AQAEAnot-issued==")).await, 401);

    let lenient = Emulator::builder().imds_v1_allowed(true).start().unwrap();
    let list = get(&lenient, CREDENTIALS_PATH, None).await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.text().await.unwrap(), lenient.imds_role_name());
    let credentials = get(&lenient, &role_path, None).await;
    assert_eq!(credentials.status(), 200);
    let doc: serde_json::Value = serde_json::from_str(&credentials.text().await.unwrap()).unwrap();
    assert_eq!(doc["AccessKeyId"], lenient.issued()[0].access_key_id.as_str());
    // A token that is sent is still checked.
    assert_eq!(status(&lenient, CREDENTIALS_PATH, Some("AQAEAnot-issued==")).await, 401);
}

#[tokio::test]
async fn token_requests_are_checked_like_imds_does() {
    let emulator = Emulator::start().unwrap();
    for ttl in [None, Some("0"), Some("21601"), Some("-5"), Some("an hour")] {
        assert_eq!(put_token(&emulator, ttl).await.0, 400, "ttl {ttl:?}");
    }
    assert_eq!(put_token(&emulator, Some("1")).await.0, 200);
    assert_eq!(put_token(&emulator, Some("21600")).await.0, 200);

    let get_token = client()
        .get(format!("{}{TOKEN_PATH}", emulator.imds_endpoint()))
        .header(TTL, "60")
        .send()
        .await
        .unwrap();
    assert_eq!(get_token.status(), 405);
    let proxied = client()
        .put(format!("{}{TOKEN_PATH}", emulator.imds_endpoint()))
        .header(TTL, "60")
        .header("X-Forwarded-For", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    assert_eq!(emulator.count(Call::ImdsToken), 9);
}

#[tokio::test]
async fn another_role_or_path_is_not_found() {
    let emulator = Emulator::start().unwrap();
    let token = token(&emulator, 300).await;
    let other = get(&emulator, &format!("{CREDENTIALS_PATH}some-other-role"), Some(&token)).await;
    assert_eq!(other.status(), 404);
    assert!(other.text().await.unwrap().contains("404 - Not Found"));
    assert_eq!(emulator.count(Call::ImdsCredentials), 1);
    assert_eq!(status(&emulator, "/latest/meta-data/ami-id", Some(&token)).await, 404);
    assert_eq!(status(&emulator, "/nothing-here", None).await, 404);
    assert!(emulator.issued().is_empty());
}
