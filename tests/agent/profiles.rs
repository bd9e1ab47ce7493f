//! Roles from the shared config files and from a `credential_process`
//! command, served like any other.

use credrefresh::agent::{Agent, Config};

use crate::support::*;

const PROFILE_KEY: &str = "AKIAPROFILEKEY000001";
const PROFILE_SECRET: &str = "profileSecretKey0123456789";
const PROCESS_KEY: &str = "ASIAPROCESSKEY000001";
const PROCESS_SECRET: &str = "processSecretKey0123456789";

fn config(extra_roles: &str) -> String {
    format!(
        r#"
[container]
listen = ["127.0.0.1:0"]

[[tokens]]
name = "app"
env = "APP_TOKEN"
roles = ["prof", "proc"]

[roles.prof]
source = "profile"
profile = "dev"

[roles.proc]
source = "credential_process"
command = "printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{PROCESS_KEY}\", \"SecretAccessKey\": \"{PROCESS_SECRET}\", \"SessionToken\": \"process-token\", \"Expiration\": \"2999-01-01T00:00:00Z\"}}'"
timeout_seconds = 5
{extra_roles}
"#
    )
}

fn files() -> (TempFile, TempFile) {
    let credentials = TempFile::new(
        "credentials",
        &format!("[dev]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"),
        0o600,
    );
    let config = TempFile::new("config", "[profile dev]\nregion = eu-west-1\n", 0o600);
    (credentials, config)
}

fn env_with(credentials: &TempFile, config: &TempFile) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let (credentials, config) = (credentials.0.clone(), config.0.clone());
    move |key| match key {
        "AWS_SHARED_CREDENTIALS_FILE" => Some(credentials.display().to_string()),
        "AWS_CONFIG_FILE" => Some(config.display().to_string()),
        "HOME" => Some("/nonexistent".into()),
        other => env(other),
    }
}

#[tokio::test]
async fn profile_and_credential_process_roles_are_served() {
    let (credentials, config_file) = files();
    let config = Config::from_toml_str(&config("")).expect("valid config");
    let agent = Agent::start_with_env(config, env_with(&credentials, &config_file))
        .await
        .expect("agent starts");
    for handle in agent.refresher().handles() {
        handle
            .wait_ready(std::time::Duration::from_secs(10))
            .await
            .expect("role ready");
    }
    let addr = agent.container_addrs()[0];
    let prof = get(addr, "/v1/credentials/prof", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(prof.status, 200, "{prof:?}");
    assert_eq!(prof.json()["AccessKeyId"], PROFILE_KEY);
    assert_eq!(prof.json()["SecretAccessKey"], PROFILE_SECRET);
    let proc = get(addr, "/v1/credentials/proc", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(proc.status, 200, "{proc:?}");
    assert_eq!(proc.json()["AccessKeyId"], PROCESS_KEY);
    assert_eq!(proc.json()["Token"], "process-token");
    assert_eq!(proc.json()["Expiration"], "2999-01-01T00:00:00Z");
}

#[tokio::test]
async fn an_unknown_profile_is_a_configuration_error_naming_the_key() {
    let (credentials, config_file) = files();
    let text = config("").replace("profile = \"dev\"", "profile = \"missing\"");
    let config = Config::from_toml_str(&text).expect("the file itself is valid");
    let err = match Agent::start_with_env(config, env_with(&credentials, &config_file)).await {
        Ok(_) => panic!("an unknown profile must not start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("roles.prof.profile"), "{err}");
    assert!(err.contains("missing"), "{err}");
    assert!(!err.contains(PROFILE_SECRET), "{err}");
}
