//! What the emulator remembers: every request as received (with secrets
//! redacted from `Debug`), and every secret it issued.

use credrefresh::REDACTED;
use credrefresh::testing::{Call, Emulator, Fault};

use crate::client::{client, text};

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDRECORDS/20260101/eu-west-1/sts/aws4_request, \
                             SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=5ec2e7516a7e";

#[tokio::test]
async fn requests_are_recorded_as_received_and_debug_redacts_secrets() {
    let emulator = Emulator::start().unwrap();
    let client = client();
    let web_identity_token = "eyJhbGciOiJub25lIn0.secret-web-identity-payload.sig";
    let session_token = "FwoGZXIvYXdzEXAMPLEsessiontokenvalue";
    let mfa_code = "246810";

    let response = client
        .post(emulator.sts_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("Action", "AssumeRoleWithWebIdentity")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", "arn:aws:iam::123456789012:role/web")
                .append_pair("RoleSessionName", "recorded-session")
                .append_pair("WebIdentityToken", web_identity_token)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    emulator.script(Call::GetSessionToken, [Fault::Throttle]);
    let response = client
        .post(format!(
            "{}/?Action=GetSessionToken&Version=2011-06-15",
            emulator.sts_endpoint()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", AUTHORIZATION)
        .header("x-amz-date", "20260101T000000Z")
        .header("X-Amz-Security-Token", session_token)
        .body(format!(
            "SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Fme&TokenCode={mfa_code}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "throttled, and still recorded");

    let imds_token = "AQAEAnot-a-real-token-but-secret==";
    let response = client
        .get(format!(
            "{}/latest/meta-data/iam/security-credentials/",
            emulator.imds_endpoint()
        ))
        .header("X-aws-ec2-metadata-token", imds_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let response = client
        .get(emulator.ecs_full_uri())
        .header("Authorization", emulator.ecs_auth_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The fields hold the real values.
    let web = &emulator.requests(Call::AssumeRoleWithWebIdentity)[0];
    assert_eq!((web.method.as_str(), web.path.as_str()), ("POST", "/"));
    assert_eq!(web.param("WebIdentityToken"), Some(web_identity_token));
    assert_eq!(web.param("RoleSessionName"), Some("recorded-session"));
    assert!(web.body.contains("Action=AssumeRoleWithWebIdentity"));
    assert_eq!(web.header("Content-Type"), Some("application/x-www-form-urlencoded"));

    let session = &emulator.requests(Call::GetSessionToken)[0];
    assert_eq!(session.param("Action"), Some("GetSessionToken"), "query parameters");
    assert_eq!(session.param("TokenCode"), Some(mfa_code), "form parameters");
    assert_eq!(session.header("authorization"), Some(AUTHORIZATION));
    assert_eq!(session.header("x-amz-security-token"), Some(session_token));
    assert_eq!(emulator.count(Call::GetSessionToken), 1);

    let imds = &emulator.requests(Call::ImdsRoleList)[0];
    assert_eq!(imds.path, "/latest/meta-data/iam/security-credentials/");
    assert_eq!(imds.header("x-aws-ec2-metadata-token"), Some(imds_token));

    let ecs = &emulator.requests(Call::Ecs)[0];
    assert_eq!(ecs.header("authorization"), Some(emulator.ecs_auth_token().as_str()));

    // Debug shows the shape, never the secrets.
    let debug = format!("{web:?} {session:?} {imds:?} {ecs:?}");
    for secret in [
        web_identity_token,
        "secret-web-identity-payload",
        session_token,
        mfa_code,
        imds_token,
        "5ec2e7516a7e",
        &emulator.ecs_auth_token(),
    ] {
        assert!(!debug.contains(secret), "Debug shows {secret}");
    }
    assert!(debug.contains(REDACTED));
    assert!(debug.contains("recorded-session") && debug.contains("/latest/meta-data/iam/security-credentials/"));
    assert!(debug.contains("x-amz-date") && debug.contains("20260101T000000Z"));
}

#[tokio::test]
async fn issued_secrets_lists_every_secret_handed_out() {
    let emulator = Emulator::start().unwrap();
    let client = client();
    let mut handed_out = Vec::new();

    let body = text(
        client
            .post(emulator.sts_endpoint())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", AUTHORIZATION)
            .header("x-amz-date", "20260101T000000Z")
            .body("Action=GetSessionToken&Version=2011-06-15"),
    )
    .await;
    for element in ["SecretAccessKey", "SessionToken"] {
        let start = body.find(&format!("<{element}>")).unwrap() + element.len() + 2;
        let end = body.find(&format!("</{element}>")).unwrap();
        handed_out.push(body[start..end].to_string());
    }

    let token = text(
        client
            .put(format!("{}/latest/api/token", emulator.imds_endpoint()))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "60"),
    )
    .await;
    handed_out.push(token.clone());
    let imds: serde_json::Value = serde_json::from_str(
        &text(
            client
                .get(format!(
                    "{}/latest/meta-data/iam/security-credentials/{}",
                    emulator.imds_endpoint(),
                    emulator.imds_role_name()
                ))
                .header("x-aws-ec2-metadata-token", &token),
        )
        .await,
    )
    .unwrap();
    let ecs: serde_json::Value = serde_json::from_str(
        &text(
            client
                .get(emulator.ecs_full_uri())
                .header("authorization", emulator.ecs_auth_token()),
        )
        .await,
    )
    .unwrap();
    for doc in [&imds, &ecs] {
        handed_out.push(doc["SecretAccessKey"].as_str().unwrap().to_string());
        handed_out.push(doc["Token"].as_str().unwrap().to_string());
    }

    let mut secrets = emulator.issued_secrets();
    secrets.sort();
    handed_out.sort();
    assert_eq!(secrets, handed_out, "exactly the secrets handed out");
    let keys: Vec<String> = emulator.issued().into_iter().map(|i| i.access_key_id).collect();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| !secrets.contains(k)),
        "access key IDs are not secrets"
    );
}
