//! The container credentials endpoint: the document, the library's own
//! container source reading it, tokens from env and files, refusals, and
//! the serving rules (never expired, extended with their expiry, 503).

use std::time::{Duration, SystemTime};

use credrefresh::agent::{Agent, AgentError, Config};
use credrefresh::sources::{EcsSource, ImdsSource};
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{CredentialsState, FetchContext, Source};

use crate::support::*;

#[tokio::test]
async fn serves_the_container_document_that_the_container_source_reads() {
    let agent = agent(GENEROUS).await;
    let addr = agent.container_addrs()[0];
    let answer = get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.head.contains("content-type: application/json"));
    let doc = answer.json();
    assert_eq!(doc["AccessKeyId"], KEY_ID);
    assert_eq!(doc["SecretAccessKey"], SECRET);
    assert_eq!(doc["Token"], SESSION_TOKEN);
    assert_eq!(doc["Expiration"], "2999-01-01T00:00:00Z");
    assert_eq!(doc["AccountId"], "123456789012");

    // The library's own container source (as every SDK's) reads it unchanged,
    // with the token verbatim and from a file without a trailing newline.
    let url = agent.container_url("app").unwrap();
    let by_value = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(url.clone())
        .auth_token(APP_TOKEN)
        .build()
        .unwrap();
    let creds = by_value.fetch(FetchContext::system("app")).await.unwrap();
    assert_eq!(creds.access_key_id(), KEY_ID);
    assert_eq!(creds.session_token(), Some(SESSION_TOKEN));
    let file = TempFile::new("client-token", APP_TOKEN, 0o600);
    let by_file = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(url)
        .auth_token_file(file.0.clone())
        .build()
        .unwrap();
    assert_eq!(
        by_file
            .fetch(FetchContext::system("app"))
            .await
            .unwrap()
            .secret_access_key(),
        SECRET
    );

    // Long-term keys are served with an expiry clients come back before.
    let other = get(addr, "/v1/credentials/other", &[("authorization", OTHER_TOKEN)]).await;
    assert_eq!(other.status, 200);
    assert!(other.json()["Expiration"].as_str().is_some_and(|e| e > "2000"));
    assert!(other.json().get("Token").is_none());
    agent.shutdown().await;
}

#[tokio::test]
async fn refusals_have_the_right_status_and_leak_nothing() {
    let agent = agent(GENEROUS).await;
    let addr = agent.container_addrs()[0];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let cases: [Case<'_>; 6] = [
        ("/v1/credentials/app", &[], 401),
        (
            "/v1/credentials/app",
            &[("authorization", "wrong-token-0123456789abcdef")],
            401,
        ),
        (
            "/v1/credentials/app",
            &[("authorization", "app-token-0123456789abcde")],
            401,
        ),
        ("/v1/credentials/app", &[("authorization", OTHER_TOKEN)], 403),
        ("/v1/credentials/nope", &[("authorization", APP_TOKEN)], 404),
        ("/v1/credentials/nope", &[], 401),
    ];
    for (path, headers, status) in cases {
        let answer = get(addr, path, headers).await;
        assert_eq!(answer.status, status, "{path} {headers:?}: {answer:?}");
        assert!(answer.json()["Code"].is_string());
        assert_clean("a refusal", &format!("{}{}", answer.head, answer.body));
    }
    // A POST is not a credentials request.
    let post = raw(
        addr,
        &request("POST", "/v1/credentials/app", &[("authorization", APP_TOKEN)]),
    )
    .await;
    assert_eq!(post.status, 405);
    assert_clean("a refusal", &post.body);
    // Still serving the right client afterwards.
    assert_eq!(
        get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)])
            .await
            .status,
        200
    );
    agent.shutdown().await;
    assert_clean("the logs", &logs().text());
}

#[tokio::test]
async fn token_files_must_be_private_and_may_end_in_a_newline() {
    logs();
    let open = TempFile::new("open-token", "file-token-0123456789abcdef", 0o644);
    let text = config_text("").replace(
        "name = \"app\"\nenv = \"APP_TOKEN\"",
        &format!("name = \"app\"\nfile = \"{}\"", open.0.display()),
    );
    let error = Agent::start_with_env(Config::from_toml_str(&text).unwrap(), env)
        .await
        .unwrap_err();
    match &error {
        AgentError::Config(e) => assert_eq!(e.key(), Some("tokens[0].file"), "{e}"),
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains("0600"), "{error}");
    assert!(!error.to_string().contains("file-token"), "{error}");

    let private = TempFile::new("private-token", "file-token-0123456789abcdef\n", 0o600);
    let text = config_text(GENEROUS).replace(
        "name = \"app\"\nenv = \"APP_TOKEN\"",
        &format!("name = \"app\"\nfile = \"{}\"", private.0.display()),
    );
    let agent = start(Config::from_toml_str(&text).unwrap()).await;
    let addr = agent.container_addrs()[0];
    let answer = get(
        addr,
        "/v1/credentials/app",
        &[("authorization", "file-token-0123456789abcdef")],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    agent.shutdown().await;
}

/// A role fed by the emulator's IMDS with short-lived credentials, whose
/// source then fails: its credentials expire while the agent runs.
async fn expiring(strict: bool) -> (Emulator, Agent) {
    logs();
    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(3))
        .start()
        .unwrap();
    let text = format!(
        "{}\n[roles.inst]\nsource = \"imds\"\nendpoint = \"{}\"\n[policy]\nstrict = {strict}\n",
        // The IMDS listener and the `app` token serve `inst` too.
        config_text(GENEROUS).replace("roles = [\"app\"]", "roles = [\"app\", \"inst\"]"),
        emulator.imds_endpoint(),
    );
    let agent = start(Config::from_toml_str(&text).unwrap()).await;
    emulator.set_outage(
        Call::ImdsCredentials,
        Some(Fault::AwsError {
            status: 500,
            code: "InternalError".into(),
            message: "down".into(),
        }),
    );
    (emulator, agent)
}

#[tokio::test]
async fn extended_credentials_are_served_with_their_extended_expiry() {
    let (emulator, agent) = expiring(false).await;
    let handle = agent.refresher().handle("inst").unwrap();
    let first = handle.load().credentials().unwrap().expiry().unwrap();
    wait_until("the credentials to be extended", Duration::from_secs(30), || {
        handle.load().state() == CredentialsState::Extended
    })
    .await;
    let extended = handle.load().credentials().unwrap().expiry().unwrap();
    assert!(extended > first + Duration::from_secs(60));
    let addr = agent.container_addrs()[0];
    let answer = get(addr, "/v1/credentials/inst", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let expiration = answer.json()["Expiration"].as_str().unwrap().to_owned();
    let served = time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339).unwrap();
    let extended_secs = extended.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(served.unix_timestamp(), i64::try_from(extended_secs).unwrap());
    drop(emulator);
    agent.shutdown().await;
}

#[tokio::test]
async fn expired_credentials_are_never_served() {
    let (emulator, agent) = expiring(true).await;
    let handle = agent.refresher().handle("inst").unwrap();
    let old_secret = handle.load().credentials().unwrap().secret_access_key().to_owned();
    wait_until("the credentials to expire", Duration::from_secs(30), || {
        handle.load().state() == CredentialsState::Expired
    })
    .await;
    let addr = agent.container_addrs()[0];
    let answer = get(addr, "/v1/credentials/inst", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.json()["Code"], "CredentialsUnavailable");
    assert!(!answer.body.contains(&old_secret));
    // The IMDS endpoint says the same.
    let imds = agent.imds_addrs()[0];
    let token = raw(
        imds,
        &request(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
        ),
    )
    .await;
    let doc = get(
        imds,
        "/latest/meta-data/iam/security-credentials/inst",
        &[("x-aws-ec2-metadata-token", &token.body)],
    )
    .await;
    assert_eq!(doc.status, 503, "{doc:?}");
    assert!(!doc.body.contains(&old_secret));
    // And the library's IMDS source pointed at the agent gets no credentials.
    let source = ImdsSource::builder()
        .env_lookup(|_| None)
        .endpoint(format!("http://{imds}"))
        .role_name("inst")
        .build()
        .unwrap();
    assert!(source.fetch(FetchContext::system("inst")).await.is_err());
    drop(emulator);
    agent.shutdown().await;
    assert!(!logs().text().contains(&old_secret));
}
