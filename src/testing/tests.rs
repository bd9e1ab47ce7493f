//! The emulator's limits: bounded records with exact counts, expired
//! principals and IMDS tokens dropped, and the read timeout.

use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::state::Principal;
use super::{Call, Emulator};
use crate::clock::ManualClock;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// 2026-11-30T02:00:00Z.
fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_004_000)
}

#[tokio::test]
async fn records_keep_the_last_n_while_counts_stay_exact() {
    let emulator = Emulator::builder()
        .request_history(4)
        .issued_history(3)
        .secret_history(5)
        .start()
        .unwrap();
    let client = client();
    let mut answers = Vec::new();
    for i in 0..10 {
        let body = client
            .get(emulator.ecs_full_uri())
            .header("Authorization", emulator.ecs_auth_token())
            .header("x-request-number", i.to_string())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        answers.push(answer);
    }

    assert_eq!(emulator.count(Call::Ecs), 10);
    let kept: Vec<String> = emulator
        .requests(Call::Ecs)
        .iter()
        .map(|r| r.header("x-request-number").unwrap().to_string())
        .collect();
    assert_eq!(kept, ["6", "7", "8", "9"], "the oldest are dropped first");

    assert_eq!(emulator.issued_count(), 10);
    let issued: Vec<String> = emulator.issued().into_iter().map(|i| i.access_key_id).collect();
    let last_keys: Vec<String> = answers[7..]
        .iter()
        .map(|a| a["AccessKeyId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(issued, last_keys);

    let text = |a: &serde_json::Value, k: &str| a[k].as_str().unwrap().to_string();
    assert_eq!(
        emulator.issued_secrets(),
        [
            text(&answers[7], "Token"),
            text(&answers[8], "SecretAccessKey"),
            text(&answers[8], "Token"),
            text(&answers[9], "SecretAccessKey"),
            text(&answers[9], "Token"),
        ]
    );
    // Principals of unexpired credentials are all kept (they are needed to
    // answer GetCallerIdentity); nothing else grows past its ring.
    assert_eq!(emulator.shared.held(), [4, 3, 5, 10, 0]);
}

#[test]
fn a_history_of_zero_or_a_zero_read_timeout_is_refused() {
    for builder in [
        Emulator::builder().request_history(0),
        Emulator::builder().issued_history(0),
        Emulator::builder().secret_history(0),
        Emulator::builder().read_timeout(Duration::ZERO),
    ] {
        let e = builder.start().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn expired_principals_and_imds_tokens_are_dropped() {
    let clock = ManualClock::new(start_time());
    let emulator = Emulator::builder()
        .clock(clock.clone())
        .credential_lifetime(Duration::from_secs(900))
        .start()
        .unwrap();
    let shared = &emulator.shared;
    let principal = || Principal {
        arn: "arn:aws:sts::123456789012:assumed-role/r/s".to_string(),
        user_id: "AROAEXAMPLE:s".to_string(),
    };
    let keys: Vec<String> = (0..100)
        .map(|_| shared.issue(Call::AssumeRole, principal(), None, false).access_key_id)
        .collect();
    let tokens: Vec<String> = (0..100)
        .map(|_| shared.issue_imds_token(Duration::from_secs(60), false))
        .collect();
    assert_eq!(shared.held()[3..], [100, 100]);
    assert!(shared.principal(&keys[0]).is_some());
    assert!(shared.imds_token_valid(&tokens[0]));

    // The tokens expire first: dropped at the next token issued.
    clock.advance(Duration::from_secs(60));
    let token = shared.issue_imds_token(Duration::from_secs(21_600), false);
    assert_eq!(shared.held()[3..], [100, 1]);
    assert!(!shared.imds_token_valid(&tokens[99]));
    assert!(shared.imds_token_valid(&token));
    assert!(shared.principal(&keys[99]).is_some());

    // Then the credentials: dropped at the next credentials issued.
    clock.advance(Duration::from_secs(840));
    let key = shared.issue(Call::AssumeRole, principal(), None, false).access_key_id;
    assert_eq!(shared.held()[3..], [1, 1]);
    assert!(shared.principal(&keys[0]).is_none());
    assert!(shared.principal(&key).is_some());

    // Already-expired credentials (the ExpiredCredentials fault) are never kept.
    shared.issue(Call::AssumeRole, principal(), None, true);
    assert_eq!(shared.held()[3], 1);
    // The issued list and the count are not affected by expiry.
    assert_eq!(emulator.issued_count(), 102);
}

#[test]
fn role_ids_are_stable_and_bounded() {
    let emulator = Emulator::start().unwrap();
    let shared = &emulator.shared;
    let first = shared.role_id("arn:aws:iam::123456789012:role/first");
    assert_eq!(shared.role_id("arn:aws:iam::123456789012:role/first"), first);
    for i in 0..super::state::MAX_ROLE_IDS {
        shared.role_id(&format!("arn:aws:iam::123456789012:role/r{i}"));
    }
    // The oldest was pushed out: seen again, it gets a new ID.
    assert_ne!(shared.role_id("arn:aws:iam::123456789012:role/first"), first);
}

#[test]
fn a_lifetime_past_the_end_of_time_does_not_panic() {
    let emulator = Emulator::builder().credential_lifetime(Duration::MAX).start().unwrap();
    let principal = Principal {
        arn: "arn:aws:sts::123456789012:assumed-role/r/s".to_string(),
        user_id: "AROAEXAMPLE:s".to_string(),
    };
    let fresh = emulator.shared.issue(Call::AssumeRole, principal, None, false);
    assert!(fresh.expiration > emulator.shared.now());
    emulator.set_clock_skew(i64::MAX);
    emulator.set_clock_skew(i64::MIN);
    let _ = emulator.shared.now();
}

/// Reads until the server closes the connection, which must happen within
/// 5 s: long after the 300 ms read timeout the tests set, long before the
/// 30 s default.
async fn wait_for_close(stream: &mut tokio::net::TcpStream) {
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");
}

#[tokio::test]
async fn a_client_that_stops_mid_headers_or_mid_body_is_cut_off() {
    let emulator = Emulator::builder()
        .read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let addr = emulator.endpoint().trim_start_matches("http://").to_string();

    let mut half_header = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half_header
        .write_all(b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-meta")
        .await
        .unwrap();
    wait_for_close(&mut half_header).await;

    let mut half_body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half_body
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=Assu")
        .await
        .unwrap();
    wait_for_close(&mut half_body).await;

    // A keep-alive connection left idle after an answer is closed too.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 404");
    wait_for_close(&mut idle).await;

    // A client that sends its request in time is served.
    let mut whole = tokio::net::TcpStream::connect(&addr).await.unwrap();
    whole
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    whole.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let emulator = Emulator::start().unwrap();
    let response = client()
        .post(emulator.sts_endpoint())
        .body(vec![b'a'; super::MAX_REQUEST_BODY + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[test]
fn sso_tokens_and_clients_are_dropped_when_they_expire() {
    let clock = ManualClock::new(start_time());
    let emulator = Emulator::builder()
        .clock(clock.clone())
        .sso_token_lifetime(Duration::from_secs(3600))
        .start()
        .unwrap();
    let shared = &emulator.shared;
    let logins: Vec<_> = (0..50).map(|_| shared.sso_login()).collect();
    assert_eq!(shared.held_sso(), [50, 50, 50]);
    // A refresh spends its refresh token at once and issues a new pair.
    let first = &logins[0];
    let token = shared
        .sso_refresh(&first.client_id, &first.client_secret, &first.refresh_token, false)
        .ok()
        .unwrap();
    assert_eq!(shared.held_sso(), [50, 50, 51]);
    assert!(shared.sso_access_token_valid(&token.access_token));

    // The access tokens expire: dropped at the next one issued.
    clock.advance(Duration::from_secs(3600));
    shared.sso_login();
    assert_eq!(shared.held_sso(), [51, 51, 1]);
    assert!(!shared.sso_access_token_valid(&token.access_token));

    // The registrations (and their refresh tokens) after 90 days.
    clock.advance(Duration::from_secs(90 * 86_400));
    let last = shared.sso_login();
    assert_eq!(shared.held_sso(), [1, 1, 1]);
    let refused = shared.sso_refresh(&first.client_id, &first.client_secret, &token.refresh_token, false);
    assert!(refused.is_err());
    assert!(
        shared
            .sso_refresh(&last.client_id, &last.client_secret, &last.refresh_token, false)
            .is_ok()
    );
}
