//! The `credrefresh` binary: config errors before binding, and
//! `credential-process` against a running agent, refused, and with no agent.

use std::process::{Command, Output};

use credrefresh::agent::client::ClientError;
use credrefresh::agent::client::credential_process;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_credrefresh");

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("CREDREFRESH_AGENT_TOKEN")
            .env_remove("CREDREFRESH_AGENT_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn an_invalid_config_exits_non_zero_naming_the_key_before_binding() {
    // A free port, named in a config that is invalid elsewhere.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        (
            format!("[container]\nlisten = [\"127.0.0.1:{port}\"]\n[roles.app]\nsource = \"env\"\n"),
            "tokens",
        ),
        (
            format!("[container]\nlisten = [\"0.0.0.0:{port}\"]\n[roles.app]\nsource = \"env\"\n"),
            "tokens",
        ),
        (
            format!(
                "[container]\nlisten = [\"127.0.0.1:{port}\"]\n[[tokens]]\nname = \"t\"\nenv = \"T\"\nroles = [\"nope\"]\n[roles.app]\nsource = \"env\"\n"
            ),
            "tokens[0].roles[0]",
        ),
        ("[roles.app]\nsource = \"env\"\nrole_arn = 3\n".to_owned(), "role_arn"),
        ("not toml at all".to_owned(), "line 1"),
    ];
    for (config, key) in cases {
        let file = TempFile::new("agent.toml", &config, 0o600);
        for command in ["check", "serve"] {
            let out = run(vec![command.into(), "--config".into(), file.0.display().to_string()]).await;
            assert!(!out.status.success(), "{command} accepted {config}");
            let stderr = text(&out.stderr);
            assert!(stderr.contains(key), "{command}: {stderr}");
        }
        // Nothing was bound.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
    let missing = run(vec![
        "serve".into(),
        "--config".into(),
        "/nonexistent/agent.toml".into(),
    ])
    .await;
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("cannot read the config file"));
}

#[tokio::test]
async fn credential_process_prints_version_1_json_and_fails_clearly() {
    let agent = agent(GENEROUS).await;
    let url = format!("http://{}", agent.container_addrs()[0]);
    let token = TempFile::new("token", APP_TOKEN, 0o600);
    let args = |role: &str, token: &TempFile, url: &str| {
        vec![
            "credential-process".to_owned(),
            "--role".into(),
            role.into(),
            "--agent-url".into(),
            url.into(),
            "--token-file".into(),
            token.0.display().to_string(),
        ]
    };
    let out = run(args("app", &token, &url)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["Version"], 1);
    assert_eq!(json["AccessKeyId"], KEY_ID);
    assert_eq!(json["SecretAccessKey"], SECRET);
    assert_eq!(json["SessionToken"], SESSION_TOKEN);
    assert_eq!(json["Expiration"], "2999-01-01T00:00:00Z");

    // Refused: a role the token does not grant, an unknown token.
    let out = run(args("other", &token, &url)).await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused role other: HTTP 403"), "{stderr}");
    assert!(out.stdout.is_empty());
    let wrong = TempFile::new("wrong", "wrong-token-0123456789abcdef\n", 0o600);
    let out = run(args("app", &wrong, &url)).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("HTTP 401"), "{}", text(&out.stderr));
    assert_clean("credential-process errors", &text(&out.stderr));

    // The same through the library call.
    let creds = credential_process(&url, "app", APP_TOKEN, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert!(creds.contains(KEY_ID));
    let refused = credential_process(&url, "nope", APP_TOKEN, std::time::Duration::from_secs(5)).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 404, .. })),
        "{refused:?}"
    );
    agent.shutdown().await;

    // No agent: a clear error.
    let out = run(args("app", &token, &url)).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot reach the credrefresh agent"),
        "{}",
        text(&out.stderr)
    );
    // Plain http to a remote agent would send the token in clear.
    let out = run(args("app", &token, "http://192.0.2.1:9910")).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("plain http"), "{}", text(&out.stderr));
}
