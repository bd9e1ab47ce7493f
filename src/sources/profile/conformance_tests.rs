//! The AWS SDKs' shared conformance cases (Apache-2.0, see
//! `tests/data/conformance/README.md`), every one run; a failure names the
//! case.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{Platform, ProfileEnv, ProfileSet, Section};

const PARSER: &str = include_str!("../../../tests/data/conformance/profile-parser-tests.json");
const LOCATION: &str = include_str!("../../../tests/data/conformance/file-location-tests.json");

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// The sections named by `names`, as `get` finds them, with their values.
fn sections_of<'a>(names: impl Iterator<Item = &'a str>, get: impl Fn(&str) -> Option<&'a Section>) -> Sections {
    names
        .map(|n| {
            let props = get(n)
                .unwrap()
                .properties()
                .map(|(k, v)| (k.to_owned(), v.value().to_owned()))
                .collect();
            (n.to_owned(), props)
        })
        .collect()
}

fn profiles_of(set: &ProfileSet) -> Sections {
    sections_of(set.profile_names(), |n| set.profile(n))
}

fn sso_sessions_of(set: &ProfileSet) -> Sections {
    sections_of(set.sso_session_names(), |n| set.sso_session(n))
}

fn expected(value: &Value) -> Sections {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, props)| {
            let props = props
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (name.clone(), props)
        })
        .collect()
}

#[test]
fn profile_parser_cases() {
    let data: Value = serde_json::from_str(PARSER).unwrap();
    let cases = data["tests"].as_array().unwrap();
    assert_eq!(cases.len(), 65);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!("#{i} {}", case["name"].as_str().unwrap());
        let input = &case["input"];
        let config = input["configFile"].as_str();
        let credentials = input["credentialsFile"].as_str();
        let result = ProfileSet::parse_labelled(
            config.map(|t| ("config".into(), t)),
            credentials.map(|t| ("credentials".into(), t)),
        );
        let output = &case["output"];
        match (result, output.get("errorContaining")) {
            (Ok(set), None) => {
                let want = &output["config"];
                let got = profiles_of(&set);
                if got != expected(&want["profiles"]) {
                    failures.push(format!("{name}: profiles {got:?}"));
                }
                if let Some(sessions) = want.get("sso_sessions") {
                    let got = sso_sessions_of(&set);
                    if got != expected(sessions) {
                        failures.push(format!("{name}: sso_sessions {got:?}"));
                    }
                }
            }
            (Err(e), Some(text)) => {
                let text = text.as_str().unwrap();
                if !e.to_string().contains(text) {
                    failures.push(format!("{name}: error `{e}` lacks `{text}`"));
                }
            }
            (Ok(set), Some(text)) => failures.push(format!("{name}: parsed {set:?}, expected error {text}")),
            (Err(e), None) => failures.push(format!("{name}: unexpected error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 65 failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn file_location_cases() {
    let data: Value = serde_json::from_str(LOCATION).unwrap();
    let cases = data["tests"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!("#{i} {}", case["name"].as_str().unwrap());
        let platform = match case["platform"].as_str().unwrap() {
            "windows" => Platform::Windows,
            "linux" => Platform::Unix,
            other => panic!("{name}: unknown platform {other}"),
        };
        let vars: Vec<(String, String)> = case["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let env = ProfileEnv::from_vars(vars, platform);
        let config = case["configLocation"].as_str().map(PathBuf::from);
        let credentials = case["credentialsLocation"].as_str().map(PathBuf::from);
        if env.config_file() != config {
            failures.push(format!("{name}: config {:?}", env.config_file()));
        }
        if env.credentials_file() != credentials {
            failures.push(format!("{name}: credentials {:?}", env.credentials_file()));
        }
        // One case gives no `profile`: the selection is not what it tests.
        if let Some(profile) = case["profile"].as_str() {
            if env.profile_name() != profile {
                failures.push(format!("{name}: profile {}", env.profile_name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 9 failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
