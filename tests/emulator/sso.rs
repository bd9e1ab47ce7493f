//! The emulator's IAM Identity Center: OIDC `CreateToken` with the
//! `refresh_token` grant and the portal's `GetRoleCredentials`, in their
//! restJson forms, with their checks, faults and records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::testing::{Call, Emulator, Fault, SsoLogin};

use crate::client::{client, rfc3339};

async fn create_token(
    emulator: &Emulator,
    client_id: &str,
    client_secret: &str,
    refresh_token: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let response = client()
        .post(format!("{}/token", emulator.sso_oidc_endpoint()))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({
                "grantType": "refresh_token",
                "clientId": client_id,
                "clientSecret": client_secret,
                "refreshToken": refresh_token,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    decode(response).await
}

async fn role_credentials(
    emulator: &Emulator,
    token: &str,
    account: &str,
    role: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/federation/credentials", emulator.sso_portal_endpoint()),
        [("role_name", role), ("account_id", account)],
    )
    .unwrap();
    let response = client()
        .get(url)
        .header("x-amz-sso_bearer_token", token)
        .send()
        .await
        .unwrap();
    decode(response).await
}

/// Status, `x-amzn-ErrorType` and the JSON body.
async fn decode(response: reqwest::Response) -> (u16, Option<String>, serde_json::Value) {
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.text().await.unwrap();
    (status, error_type, serde_json::from_str(&body).unwrap())
}

async fn refresh(emulator: &Emulator, login: &SsoLogin) -> (u16, Option<String>, serde_json::Value) {
    create_token(emulator, &login.client_id, &login.client_secret, &login.refresh_token).await
}

#[tokio::test]
async fn a_login_refreshes_once_per_refresh_token_and_the_portal_takes_its_access_tokens() {
    let emulator = Emulator::builder()
        .sso_token_lifetime(Duration::from_secs(600))
        .credential_lifetime(Duration::from_secs(900))
        .start()
        .unwrap();
    let before = SystemClock.now();
    let login = emulator.sso_login();
    assert!(login.expires_at >= before + Duration::from_secs(599));
    assert!(login.registration_expires_at > before + Duration::from_secs(89 * 86_400));

    let (status, _, token) = refresh(&emulator, &login).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["tokenType"], "Bearer");
    assert_eq!(token["expiresIn"], 600);
    let access = token["accessToken"].as_str().unwrap().to_string();
    let rotated = token["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(access, login.access_token);
    assert_ne!(rotated, login.refresh_token);

    // The used refresh token is spent; the new one works.
    let (status, error, body) = refresh(&emulator, &login).await;
    assert_eq!((status, error.as_deref()), (400, Some("InvalidGrantException")));
    assert_eq!(body["error"], "invalid_grant");
    let (status, _, _) = create_token(&emulator, &login.client_id, &login.client_secret, &rotated).await;
    assert_eq!(status, 200);

    // Both access tokens are good at the portal.
    for token in [&login.access_token, &access] {
        let (status, _, doc) = role_credentials(&emulator, token, "111122223333", "ReadOnly").await;
        assert_eq!(status, 200, "{doc}");
        let creds = &doc["roleCredentials"];
        let key = creds["accessKeyId"].as_str().unwrap();
        assert!(key.starts_with("ASIA") && key.len() == 20);
        assert_eq!(creds["secretAccessKey"].as_str().unwrap().len(), 40);
        let millis = creds["expiration"].as_u64().expect("epoch milliseconds");
        let expiration = UNIX_EPOCH + Duration::from_millis(millis);
        assert!(
            expiration > before + Duration::from_secs(899) && expiration < SystemClock.now() + Duration::from_secs(901)
        );
    }
    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0].call, Call::SsoGetRoleCredentials);
    assert!(
        issued[0]
            .arn
            .starts_with("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_"),
        "{}",
        issued[0].arn
    );
    let secrets = emulator.issued_secrets();
    for secret in [
        &login.access_token,
        &login.refresh_token,
        &login.client_secret,
        &access,
        &rotated,
    ] {
        assert!(secrets.contains(secret));
    }
    assert_eq!(emulator.count(Call::SsoCreateToken), 3);
    assert_eq!(emulator.count(Call::SsoGetRoleCredentials), 2);
}

#[tokio::test]
async fn create_token_checks_the_client_and_the_grant() {
    let emulator = Emulator::start().unwrap();
    let login = emulator.sso_login();
    let other = emulator.sso_login();

    let (status, error, body) = create_token(&emulator, &login.client_id, "wrong-secret", &login.refresh_token).await;
    assert_eq!((status, error.as_deref()), (401, Some("InvalidClientException")));
    assert_eq!(body["error"], "invalid_client");
    // Another client's refresh token.
    let (status, error, _) =
        create_token(&emulator, &login.client_id, &login.client_secret, &other.refresh_token).await;
    assert_eq!((status, error.as_deref()), (400, Some("InvalidGrantException")));

    let send = |body: String| {
        client()
            .post(format!("{}/token", emulator.endpoint()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = send(
        serde_json::json!({"grantType": "authorization_code", "clientId": login.client_id, "clientSecret": login.client_secret})
            .to_string(),
    )
    .await
    .unwrap();
    let (status, error, body) = decode(response).await;
    assert_eq!((status, error.as_deref()), (400, Some("UnsupportedGrantTypeException")));
    assert_eq!(body["error"], "unsupported_grant_type");
    let (status, error, _) = decode(send("not json".into()).await.unwrap()).await;
    assert_eq!((status, error.as_deref()), (400, Some("InvalidRequestException")));
    // None of that spent the refresh token.
    assert_eq!(refresh(&emulator, &login).await.0, 200);
}

#[tokio::test]
async fn the_portal_refuses_unknown_tokens_and_bad_parameters() {
    let emulator = Emulator::start().unwrap();
    let login = emulator.sso_login();
    let (status, error, body) = role_credentials(&emulator, "aoa-not-issued", "111122223333", "ReadOnly").await;
    assert_eq!((status, error.as_deref()), (401, Some("UnauthorizedException")));
    assert_eq!(body["message"], "Session token not found or invalid");
    let (status, error, _) = role_credentials(&emulator, &login.access_token, "1111", "ReadOnly").await;
    assert_eq!((status, error.as_deref()), (400, Some("InvalidRequestException")));
    let (status, _, _) = role_credentials(&emulator, &login.access_token, "111122223333", "Read Only").await;
    assert_eq!(status, 400);
    let response = client()
        .get(format!(
            "{}/federation/credentials?role_name=R&account_id=111122223333",
            emulator.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(decode(response).await.0, 401, "no token at all");
    assert!(emulator.issued().is_empty());
}

#[tokio::test]
async fn an_access_token_stops_working_when_it_expires() {
    let emulator = Emulator::builder()
        .sso_token_lifetime(Duration::from_secs(1))
        .start()
        .unwrap();
    let login = emulator.sso_login();
    assert_eq!(
        role_credentials(&emulator, &login.access_token, "111122223333", "R")
            .await
            .0,
        200
    );
    let deadline = SystemClock.now() + Duration::from_secs(10);
    loop {
        let (status, _, _) = role_credentials(&emulator, &login.access_token, "111122223333", "R").await;
        if status == 401 {
            break;
        }
        assert!(SystemClock.now() < deadline, "the access token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn faults_come_in_the_restjson_forms() {
    let emulator = Emulator::start().unwrap();
    let login = emulator.sso_login();
    emulator.script(
        Call::SsoCreateToken,
        [
            Fault::Throttle,
            Fault::AwsError {
                status: 500,
                code: "InternalServerException".into(),
                message: "oops".into(),
            },
            Fault::ExpiredCredentials,
        ],
    );
    let (status, error, body) = refresh(&emulator, &login).await;
    assert_eq!((status, error.as_deref()), (400, Some("SlowDownException")));
    assert_eq!(body["error_description"], "slow_down");
    let (status, error, body) = refresh(&emulator, &login).await;
    assert_eq!((status, error.as_deref()), (500, Some("InternalServerException")));
    assert_eq!(
        (body["error"].as_str(), body["error_description"].as_str()),
        (Some("InternalServerException"), Some("oops"))
    );
    // An access token issued already expired: the portal refuses it.
    let (status, _, body) = refresh(&emulator, &login).await;
    assert_eq!((status, body["expiresIn"].as_u64()), (200, Some(0)));
    let expired = body["accessToken"].as_str().unwrap();
    assert_eq!(role_credentials(&emulator, expired, "111122223333", "R").await.0, 401);

    emulator.script(
        Call::SsoGetRoleCredentials,
        [
            Fault::Throttle,
            Fault::AwsError {
                status: 403,
                code: "ForbiddenException".into(),
                message: "No access".into(),
            },
            Fault::ExpiredCredentials,
            Fault::MalformedBody,
        ],
    );
    let (status, error, _) = role_credentials(&emulator, &login.access_token, "111122223333", "R").await;
    assert_eq!((status, error.as_deref()), (429, Some("TooManyRequestsException")));
    let (status, error, body) = role_credentials(&emulator, &login.access_token, "111122223333", "R").await;
    assert_eq!((status, error.as_deref()), (403, Some("ForbiddenException")));
    assert_eq!(body["message"], "No access");
    let (status, _, body) = role_credentials(&emulator, &login.access_token, "111122223333", "R").await;
    assert_eq!(status, 200);
    let millis = body["roleCredentials"]["expiration"].as_u64().unwrap();
    assert!(UNIX_EPOCH + Duration::from_millis(millis) < SystemClock.now());
    let response = client()
        .get(format!(
            "{}/federation/credentials?role_name=R&account_id=111122223333",
            emulator.endpoint()
        ))
        .header("x-amz-sso_bearer_token", &login.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).is_err());
}

#[tokio::test]
async fn records_keep_the_requests_and_debug_hides_their_secrets() {
    let emulator = Emulator::start().unwrap();
    let login = emulator.sso_login();
    refresh(&emulator, &login).await;
    role_credentials(&emulator, &login.access_token, "111122223333", "R").await;

    let token_request = &emulator.requests(Call::SsoCreateToken)[0];
    assert_eq!(
        (token_request.method.as_str(), token_request.path.as_str()),
        ("POST", "/token")
    );
    let body: serde_json::Value = serde_json::from_str(&token_request.body).unwrap();
    assert_eq!(body["refreshToken"], login.refresh_token.as_str());
    let portal_request = &emulator.requests(Call::SsoGetRoleCredentials)[0];
    assert_eq!(portal_request.param("role_name"), Some("R"));
    assert_eq!(portal_request.param("account_id"), Some("111122223333"));
    assert_eq!(
        portal_request.header("x-amz-sso_bearer_token"),
        Some(login.access_token.as_str())
    );

    let shown = format!("{token_request:?} {portal_request:?} {login:?} {emulator:?}");
    for secret in [&login.access_token, &login.refresh_token, &login.client_secret] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
    assert!(shown.contains(&login.client_id));
}

#[test]
fn the_cache_json_is_what_the_aws_cli_writes() {
    let emulator = Emulator::start().unwrap();
    let login = emulator.sso_login();
    let json: serde_json::Value =
        serde_json::from_str(&login.cache_json("https://d-123.awsapps.com/start", "eu-west-1")).unwrap();
    let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = [
        "accessToken",
        "clientId",
        "clientSecret",
        "expiresAt",
        "refreshToken",
        "region",
        "registrationExpiresAt",
        "startUrl",
    ];
    expected.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, expected);
    assert_eq!(json["startUrl"], "https://d-123.awsapps.com/start");
    assert_eq!(json["region"], "eu-west-1");
    let expires = rfc3339(json["expiresAt"].as_str().unwrap());
    assert!(expires <= login.expires_at && expires + Duration::from_secs(1) > login.expires_at);
    let registration: SystemTime = rfc3339(json["registrationExpiresAt"].as_str().unwrap());
    assert!(registration + Duration::from_secs(1) > login.registration_expires_at);
    assert!(
        Emulator::builder()
            .sso_token_lifetime(Duration::from_millis(500))
            .start()
            .is_err()
    );
}
