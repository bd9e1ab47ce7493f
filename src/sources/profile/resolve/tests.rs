use super::*;
use crate::sources::profile::{Platform, ProfileEnv};

const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET";
const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";

fn set(config: &str, credentials: &str) -> ProfileSet {
    ProfileSet::parse(config, credentials).unwrap()
}

fn err(config: &str, name: &str) -> ProfileError {
    resolve(&set(config, ""), name).unwrap_err()
}

#[test]
fn static_keys_with_token_and_account() {
    let s = set(
        "",
        &format!(
            "[default]\naws_access_key_id = AKID\naws_secret_access_key = {SECRET}\n\
             aws_session_token = {TOKEN}\naws_account_id = 123456789012\n"
        ),
    );
    let chain = resolve(&s, "default").unwrap();
    let Base::Static(keys) = chain.base() else {
        panic!("{chain:?}")
    };
    assert_eq!(keys.secret_access_key(), SECRET);
    assert_eq!(keys.session_token(), Some(TOKEN));
    assert!(chain.roles().is_empty());
    let creds = keys.credentials(SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(creds.account_id(), Some("123456789012"));
    assert_eq!(
        format!("{chain:?}"),
        "ProfileChain { profile: \"default\", base: Static(StaticKeys { profile: \"default\", \
         access_key_id: \"AKID\", secret_access_key: ** redacted **, \
         session_token: Some(** redacted **), account_id: Some(\"123456789012\"), mfa_serial: None }), \
         roles: [], sts: StsSettings { region: None, endpoint_url: None, regional_endpoints: None } }"
    );
}

#[test]
fn source_profile_chain_of_three_with_role_options() {
    let config = "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n\
        external_id = ext-top\nrole_session_name = sess-top\nduration_seconds = 1800\n\
        mfa_serial = arn:aws:iam::1:mfa/ana\nregion = eu-west-1\nsts_regional_endpoints = regional\n\
        aws_access_key_id = IGNORED\naws_secret_access_key = IGNORED\n\
        [profile mid]\nrole_arn = arn:aws:iam::2:role/mid\nsource_profile = base\n\
        [profile base]\nregion = us-east-1\n";
    let credentials = format!("[base]\naws_access_key_id = AKID\naws_secret_access_key = {SECRET}\n");
    let chain = resolve(&set(config, &credentials), "top").unwrap();
    assert!(matches!(chain.base(), Base::Static(k) if k.profile == "base" && k.access_key_id == "AKID"));
    let roles: Vec<_> = chain
        .roles()
        .iter()
        .map(|r| (r.profile.as_str(), r.role_arn.as_str()))
        .collect();
    assert_eq!(
        roles,
        [("mid", "arn:aws:iam::2:role/mid"), ("top", "arn:aws:iam::1:role/top")]
    );
    let top = &chain.roles()[1];
    assert_eq!(top.external_id.as_deref(), Some("ext-top"));
    assert_eq!(top.role_session_name.as_deref(), Some("sess-top"));
    assert_eq!(top.duration, Some(Duration::from_secs(1800)));
    assert_eq!(top.mfa_serial.as_deref(), Some("arn:aws:iam::1:mfa/ana"));
    // Every hop uses the selected profile's STS settings.
    for hop in chain.roles() {
        assert_eq!(hop.sts.region.as_deref(), Some("eu-west-1"));
        assert_eq!(hop.sts.regional_endpoints, Some(RegionalEndpoints::Regional));
    }
    assert_eq!(chain.profiles(), ["base", "mid", "top"]);
    assert!(!format!("{chain:?}").contains(SECRET));
}

#[test]
fn a_source_profile_with_keys_stops_the_chain_and_self_reference_uses_own_keys() {
    let config = "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n\
        [profile mid]\nrole_arn = arn:aws:iam::2:role/mid\nsource_profile = nowhere\n\
        aws_access_key_id = MID\naws_secret_access_key = S\n\
        [profile me]\nrole_arn = arn:aws:iam::3:role/me\nsource_profile = me\n\
        aws_access_key_id = ME\naws_secret_access_key = S\n";
    let s = set(config, "");
    let chain = resolve(&s, "top").unwrap();
    assert!(matches!(chain.base(), Base::Static(k) if k.access_key_id == "MID"));
    assert_eq!(chain.roles().len(), 1);
    let chain = resolve(&s, "me").unwrap();
    assert!(matches!(chain.base(), Base::Static(k) if k.access_key_id == "ME"));
    assert_eq!(chain.roles()[0].role_arn, "arn:aws:iam::3:role/me");
}

#[test]
fn cycles_name_the_profiles() {
    let config = "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n\
        [profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = c\n\
        [profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = b\n\
        [profile self]\nrole_arn = arn:aws:iam::1:role/s\nsource_profile = self\n";
    let e = err(config, "a");
    assert_eq!(
        e,
        ProfileError::Cycle {
            profiles: vec!["a".into(), "b".into(), "c".into(), "b".into()]
        }
    );
    assert_eq!(e.to_string(), "source_profile cycle: a -> b -> c -> b");
    assert_eq!(
        err(config, "self"),
        ProfileError::Cycle {
            profiles: vec!["self".into(), "self".into()]
        }
    );
}

#[test]
fn credential_sources() {
    for (value, source) in [
        ("Environment", CredentialSource::Environment),
        ("Ec2InstanceMetadata", CredentialSource::Ec2InstanceMetadata),
        ("EcsContainer", CredentialSource::EcsContainer),
    ] {
        let config = format!(
            "[profile r]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = {value}\n\
             [profile mid]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = r\n"
        );
        let chain = resolve(&set(&config, ""), "mid").unwrap();
        assert_eq!(
            chain.base(),
            &Base::CredentialSource {
                profile: "r".into(),
                source
            }
        );
        assert_eq!(chain.roles().len(), 2);
    }
    let e = err(
        "[profile r]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = ec2\n",
        "r",
    );
    assert!(
        matches!(&e, ProfileError::UnknownCredentialSource { profile, location } if profile == "r" && location.line() == 3)
    );
    assert!(!e.to_string().contains("ec2"), "{e}");
}

#[test]
fn web_identity_process_and_sso_bases() {
    let config = "[profile wi]\nrole_arn = arn:aws:iam::1:role/wi\nweb_identity_token_file = /var/run/token\n\
        role_session_name = pod\nsource_profile = ignored\n\
        [profile proc]\ncredential_process = /usr/bin/getcreds --secret hunter2\n\
        [profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\
        sso_region = eu-west-1\n\
        [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\
        sso_registration_scopes = sso:account:access, other\n\
        [profile legacy]\nsso_start_url = https://x/start\nsso_region = us-east-1\n\
        sso_account_id = 1\nsso_role_name = R\n";
    let s = set(config, "");
    let wi = resolve(&s, "wi").unwrap();
    let Base::WebIdentity(hop) = wi.base() else {
        panic!("{wi:?}")
    };
    assert_eq!(hop.token_file, PathBuf::from("/var/run/token"));
    assert_eq!(hop.role_session_name.as_deref(), Some("pod"));
    assert!(wi.roles().is_empty());
    // A web identity source profile uses the selected profile's STS settings.
    let chained = set(
        &format!("{config}[profile top]\nrole_arn = arn:aws:iam::1:role/t\nsource_profile = wi\nregion = eu-north-1\n"),
        "",
    );
    let top = resolve(&chained, "top").unwrap();
    let Base::WebIdentity(hop) = top.base() else {
        panic!("{top:?}")
    };
    assert_eq!(
        (hop.profile.as_str(), hop.sts.region.as_deref()),
        ("wi", Some("eu-north-1"))
    );
    assert_eq!(top.roles()[0].sts.region.as_deref(), Some("eu-north-1"));

    let proc = resolve(&s, "proc").unwrap();
    let Base::Process { command, .. } = proc.base() else {
        panic!("{proc:?}")
    };
    assert_eq!(command.command_line(), "/usr/bin/getcreds --secret hunter2");
    assert_eq!(
        format!("{command:?}"),
        "ProcessCommand { program: \"/usr/bin/getcreds\", arguments: ** redacted ** }"
    );
    assert!(!format!("{proc:?}").contains("hunter2"));

    let sso = resolve(&s, "sso").unwrap();
    let Base::Sso(hop) = sso.base() else { panic!("{sso:?}") };
    assert_eq!(hop.session_name.as_deref(), Some("corp"));
    assert_eq!(hop.start_url, "https://corp.awsapps.com/start");
    assert_eq!(hop.registration_scopes, ["sso:account:access", "other"]);
    let legacy = resolve(&s, "legacy").unwrap();
    assert!(matches!(legacy.base(), Base::Sso(h) if h.session_name.is_none() && h.region == "us-east-1"));
}

#[test]
fn sso_errors() {
    assert_eq!(
        err("[profile s]\nsso_start_url = https://x\nsso_role_name = R\n", "s"),
        ProfileError::SsoIncomplete {
            profile: "s".into(),
            missing: vec!["sso_region", "sso_account_id"]
        }
    );
    assert_eq!(
        err(
            "[profile s]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n",
            "s"
        ),
        ProfileError::MissingSsoSession {
            profile: "s".into(),
            sso_session: "nope".into()
        }
    );
    assert_eq!(
        err(
            "[profile s]\nsso_session = c\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session c]\nsso_start_url = https://x\nsso_region = eu-west-1\n",
            "s"
        ),
        ProfileError::SsoSessionMismatch {
            profile: "s".into(),
            key: "sso_region"
        }
    );
}

#[test]
fn invalid_profiles_are_typed_errors() {
    let role = "role_arn = arn:aws:iam::1:role/r\n";
    assert_eq!(
        err("[profile a]\n", "b"),
        ProfileError::UnknownProfile { profile: "b".into() }
    );
    assert_eq!(
        err(&format!("[profile a]\n{role}source_profile = gone\n"), "a"),
        ProfileError::MissingSourceProfile {
            profile: "a".into(),
            source_profile: "gone".into()
        }
    );
    assert_eq!(
        err(
            &format!("[profile a]\n{role}source_profile = b\ncredential_source = Environment\n"),
            "a"
        ),
        ProfileError::SourceProfileAndCredentialSource { profile: "a".into() }
    );
    assert_eq!(
        err(&format!("[profile a]\n{role}"), "a"),
        ProfileError::RoleWithoutSource { profile: "a".into() }
    );
    assert_eq!(
        err("[profile a]\nregion = x\n", "a"),
        ProfileError::NoCredentials { profile: "a".into() }
    );
    assert_eq!(
        err("[profile a]\naws_access_key_id = A\n", "a"),
        ProfileError::IncompleteKeys {
            profile: "a".into(),
            missing: "aws_secret_access_key"
        }
    );
    for (line, key) in [
        ("duration_seconds = 899", "duration_seconds"),
        ("duration_seconds = 43201", "duration_seconds"),
        ("duration_seconds = 1h", "duration_seconds"),
        ("role_session_name = has space", "role_session_name"),
        ("sts_regional_endpoints = global", "sts_regional_endpoints"),
        (
            "ignore_configured_endpoint_urls = yes",
            "ignore_configured_endpoint_urls",
        ),
    ] {
        let config = format!("[profile a]\n{role}credential_source = Environment\n{line}\n");
        match err(&config, "a") {
            ProfileError::InvalidValue {
                profile,
                key: k,
                location: Some(loc),
                ..
            } => {
                assert_eq!(
                    (profile.as_str(), k, loc.line(), loc.file()),
                    ("a", key, 4, "config"),
                    "{line}"
                );
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    let e = err(
        "[profile a]\nrole_arn = not-an-arn\ncredential_source = Environment\n",
        "a",
    );
    assert!(
        matches!(&e, ProfileError::InvalidValue { key: "role_arn", .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "profile `a` (config line 2): invalid role_arn: expected an ARN (arn:...)"
    );
    assert_eq!(e.class(), crate::ErrorClass::InvalidConfiguration);
    assert_eq!(
        ProfileError::UnknownProfile { profile: "x".into() }.class(),
        crate::ErrorClass::NotLoaded
    );
}

#[test]
fn sts_endpoint_precedence() {
    let config = "[profile a]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Environment\n\
        endpoint_url = http://profile\nservices = local\n\
        [services local]\nsts =\n  endpoint_url = http://services\n";
    let base = set(config, "");
    let endpoint = |vars: &[(&str, &str)]| {
        let env = ProfileEnv::from_vars(vars.iter().copied(), Platform::Unix);
        let s = base.clone().with_env(&env);
        resolve(&s, "a").unwrap().roles()[0].sts.endpoint_url.clone()
    };
    assert_eq!(endpoint(&[]).as_deref(), Some("http://services"));
    assert_eq!(
        endpoint(&[("AWS_ENDPOINT_URL", "http://all")]).as_deref(),
        Some("http://all")
    );
    assert_eq!(
        endpoint(&[
            ("AWS_ENDPOINT_URL", "http://all"),
            ("AWS_ENDPOINT_URL_STS", "http://sts")
        ])
        .as_deref(),
        Some("http://sts")
    );
    assert_eq!(
        endpoint(&[
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_ENDPOINT_URL_STS", "http://sts")
        ]),
        None
    );
    let no_services = set(
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Environment\n\
         endpoint_url = http://profile\nservices = missing\n",
        "",
    );
    assert_eq!(
        resolve(&no_services, "a").unwrap().sts().endpoint_url.as_deref(),
        Some("http://profile")
    );
    let env = ProfileEnv::from_vars([("AWS_REGION", "ap-south-1"), ("AWS_PROFILE", "a")], Platform::Unix);
    let s = base.clone().with_env(&env);
    assert_eq!(s.selected_profile(), "a");
    assert_eq!(resolve(&s, "a").unwrap().sts().region.as_deref(), Some("ap-south-1"));
}

#[test]
fn chains_of_any_depth() {
    let depth = 2_000;
    let mut config = String::new();
    for i in 0..depth {
        config.push_str(&format!(
            "[profile p{i}]\nrole_arn = arn:aws:iam::1:role/r{i}\nsource_profile = p{}\n",
            i + 1
        ));
    }
    config.push_str(&format!("[profile p{depth}]\ncredential_process = /bin/creds\n"));
    let chain = resolve(&set(&config, ""), "p0").unwrap();
    assert_eq!(chain.roles().len(), depth);
    assert_eq!(chain.roles()[0].role_arn, format!("arn:aws:iam::1:role/r{}", depth - 1));
    assert_eq!(chain.roles()[depth - 1].profile, "p0");
    assert_eq!(chain.base().kind(), "credential_process");
}
