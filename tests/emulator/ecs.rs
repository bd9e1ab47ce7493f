//! The emulator's container endpoint: the ECS and EKS Pod Identity forms,
//! behind the `Authorization` token.

use std::time::Duration;

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::testing::{Call, Emulator};

use crate::client::{client, rfc3339};

async fn get(url: &str, token: Option<&str>) -> (u16, String, serde_json::Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body = response.text().await.unwrap();
    (status, content_type, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn the_ecs_form_answers_with_the_role_and_the_lifetime() {
    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(4))
        .ecs_auth_token("Bearer container-test-token")
        .start()
        .unwrap();
    assert_eq!(emulator.ecs_auth_token(), "Bearer container-test-token");
    assert!(emulator.ecs_full_uri().starts_with(&emulator.endpoint()));
    let before = SystemClock.now();
    let (status, content_type, doc) = get(&emulator.ecs_full_uri(), Some("Bearer container-test-token")).await;
    let after = SystemClock.now();
    assert_eq!(status, 200, "{doc}");
    assert_eq!(content_type, "application/json");
    assert_eq!(
        doc["RoleArn"],
        "arn:aws:iam::123456789012:role/credrefresh-emulator-role"
    );
    let akid = doc["AccessKeyId"].as_str().unwrap();
    assert!(akid.starts_with("ASIA") && akid.len() == 20);
    assert_eq!(doc["SecretAccessKey"].as_str().unwrap().len(), 40);
    assert!(doc["Token"].as_str().unwrap().len() >= 300);
    let expires = rfc3339(doc["Expiration"].as_str().unwrap());
    let lifetime = Duration::from_secs(4);
    assert!(expires + Duration::from_secs(1) >= before + lifetime && expires <= after + lifetime);

    let issued = emulator.issued();
    assert_eq!((issued[0].call, issued[0].access_key_id.as_str()), (Call::Ecs, akid));
    let secrets = emulator.issued_secrets();
    assert!(secrets.iter().any(|s| s == doc["SecretAccessKey"].as_str().unwrap()));
    assert!(secrets.iter().any(|s| s == doc["Token"].as_str().unwrap()));
}

#[tokio::test]
async fn the_eks_pod_identity_form_answers_with_the_account() {
    let emulator = Emulator::builder().account_id("444455556666").start().unwrap();
    let (status, _, doc) = get(&emulator.eks_full_uri(), Some(&emulator.ecs_auth_token())).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["AccountId"], "444455556666");
    assert!(doc.get("RoleArn").is_none());
    assert_eq!(doc["AccessKeyId"], emulator.issued()[0].access_key_id.as_str());
    assert!(doc["Expiration"].is_string() && doc["Token"].is_string() && doc["SecretAccessKey"].is_string());
    assert_eq!(emulator.requests(Call::Ecs)[0].path, "/v1/credentials");
}

#[tokio::test]
async fn a_missing_or_wrong_token_gets_401_and_no_credentials() {
    let emulator = Emulator::start().unwrap();
    let right = emulator.ecs_auth_token();
    for token in [None, Some("wrong-token"), Some(&right[..right.len() - 1])] {
        let (status, _, doc) = get(&emulator.ecs_full_uri(), token).await;
        assert_eq!(status, 401, "{token:?}");
        assert!(doc["code"].is_string() && doc["message"].is_string(), "{doc}");
        assert!(!doc.to_string().contains(&right), "the token is not echoed");
    }
    assert!(emulator.issued().is_empty());
    assert_eq!(emulator.count(Call::Ecs), 3);
    let (status, _, _) = get(&emulator.ecs_full_uri(), Some(&right)).await;
    assert_eq!(status, 200);
    assert_eq!(emulator.count(Call::Ecs), 4);
}
