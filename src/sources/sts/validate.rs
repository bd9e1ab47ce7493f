//! Build-time checks of STS parameters, with the limits AWS documents.

use std::time::Duration;

use crate::error::BuildError;

fn invalid(what: &'static str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidConfiguration {
        what,
        reason: reason.into(),
    }
}

/// `[\w+=,.@-]`: the characters of session names and source identities.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// A role ARN: `arn:{aws|aws-cn|aws-us-gov}:iam::<12 digits>:role/<path/>name`.
pub(crate) fn role_arn(arn: &str) -> Result<(), BuildError> {
    let bad = |reason: &str| invalid("role ARN", format!("`{arn}` {reason}"));
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("is not an ARN (arn:aws:iam::123456789012:role/name)"));
    };
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(bad("is not in the aws, aws-cn or aws-us-gov partition"));
    }
    if service != "iam" || !region.is_empty() {
        return Err(bad("is not an IAM ARN (arn:<partition>:iam::<account>:role/...)"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("does not have a 12-digit account id"));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(bad("is not a role ARN (the resource must start with `role/`)"));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name.len() > 64 {
        return Err(bad("has a role name that is empty or over 64 characters"));
    }
    if arn.len() > 2048 {
        return Err(bad("is over 2048 characters"));
    }
    if !path_and_name.chars().all(|c| is_name_char(c) || c == '/') {
        return Err(bad(
            "has characters outside [A-Za-z0-9_+=,.@/-] in the role path or name",
        ));
    }
    Ok(())
}

/// A role session name: 2–64 characters of `[\w+=,.@-]`.
pub(crate) fn session_name(name: &str) -> Result<(), BuildError> {
    name_like("role session name", name, 2, 64)
}

/// A source identity: 2–64 characters of `[\w+=,.@-]`.
pub(crate) fn source_identity(id: &str) -> Result<(), BuildError> {
    name_like("source identity", id, 2, 64)
}

fn name_like(what: &'static str, value: &str, min: usize, max: usize) -> Result<(), BuildError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(invalid(
            what,
            format!("`{value}` has {len} characters; {min} to {max} are allowed"),
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(invalid(
            what,
            format!("`{value}` has characters outside [A-Za-z0-9_+=,.@-]"),
        ));
    }
    Ok(())
}

/// A session name prefix: the unix time (10 digits) is appended, so at most
/// 54 characters of `[\w+=,.@-]`.
pub(crate) fn session_name_prefix(prefix: &str) -> Result<(), BuildError> {
    if prefix.chars().count() > 54 {
        return Err(invalid(
            "role session name prefix",
            format!("`{prefix}` is over 54 characters (the unix time is appended, 64 at most)"),
        ));
    }
    if !prefix.chars().all(is_name_char) {
        return Err(invalid(
            "role session name prefix",
            format!("`{prefix}` has characters outside [A-Za-z0-9_+=,.@-]"),
        ));
    }
    Ok(())
}

/// A session duration in whole seconds within `min..=max`.
pub(crate) fn duration(what: &'static str, d: Duration, min: u64, max: u64) -> Result<u64, BuildError> {
    if d.subsec_nanos() != 0 {
        return Err(invalid(what, format!("{d:?} is not a whole number of seconds")));
    }
    let secs = d.as_secs();
    if !(min..=max).contains(&secs) {
        return Err(invalid(what, format!("{secs} s is outside {min}–{max} s")));
    }
    Ok(secs)
}

/// An external id: 2–1224 characters of `[\w+=,.@:/-]`. Not echoed: some
/// treat it as confidential.
pub(crate) fn external_id(id: &str) -> Result<(), BuildError> {
    let len = id.chars().count();
    if !(2..=1224).contains(&len) {
        return Err(invalid(
            "external id",
            format!("has {len} characters; 2 to 1224 are allowed"),
        ));
    }
    if !id.chars().all(|c| is_name_char(c) || c == ':' || c == '/') {
        return Err(invalid("external id", "has characters outside [A-Za-z0-9_+=,.@:/-]"));
    }
    Ok(())
}

/// The longest inline session policy accepted (AWS's plain-text limit).
pub(crate) const MAX_POLICY_CHARS: usize = 2048;

/// An inline session policy: JSON, at most 2048 characters.
pub(crate) fn policy(policy: &str) -> Result<(), BuildError> {
    let len = policy.chars().count();
    if len == 0 || len > MAX_POLICY_CHARS {
        return Err(invalid(
            "session policy",
            format!("has {len} characters; 1 to {MAX_POLICY_CHARS} are allowed"),
        ));
    }
    serde_json::from_str::<serde_json::Value>(policy)
        .map_err(|e| invalid("session policy", format!("is not JSON: {e}")))?;
    Ok(())
}

/// Managed policy ARNs: at most 10, each an `arn:` of 20–2048 characters.
pub(crate) fn policy_arns(arns: &[String]) -> Result<(), BuildError> {
    if arns.len() > 10 {
        return Err(invalid(
            "managed policy ARNs",
            format!("{} given; at most 10", arns.len()),
        ));
    }
    for arn in arns {
        if !arn.starts_with("arn:") || !(20..=2048).contains(&arn.len()) || arn.chars().any(|c| c.is_control()) {
            return Err(invalid("managed policy ARNs", format!("`{arn}` is not a policy ARN")));
        }
    }
    Ok(())
}

/// Session tags: at most 50, keys 1–128 and values 0–256 characters, keys
/// unique ignoring case; transitive keys among the tags.
pub(crate) fn tags(tags: &[(String, String)], transitive: &[String]) -> Result<(), BuildError> {
    if tags.len() > 50 {
        return Err(invalid("session tags", format!("{} given; at most 50", tags.len())));
    }
    let tag_char = |c: char| c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c);
    let mut seen = std::collections::HashSet::new();
    for (key, value) in tags {
        if !(1..=128).contains(&key.chars().count()) || !key.chars().all(tag_char) {
            return Err(invalid(
                "session tags",
                format!("key `{key}` must be 1 to 128 letters, digits, spaces or _.:/=+-@"),
            ));
        }
        if value.chars().count() > 256 || !value.chars().all(tag_char) {
            return Err(invalid(
                "session tags",
                format!("the value of `{key}` must be up to 256 letters, digits, spaces or _.:/=+-@"),
            ));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(invalid(
                "session tags",
                format!("key `{key}` is given twice (keys ignore case)"),
            ));
        }
    }
    if transitive.len() > 50 {
        return Err(invalid(
            "transitive tag keys",
            format!("{} given; at most 50", transitive.len()),
        ));
    }
    for key in transitive {
        if !seen.contains(&key.to_lowercase()) {
            return Err(invalid(
                "transitive tag keys",
                format!("`{key}` is not the key of a session tag"),
            ));
        }
    }
    Ok(())
}

/// An MFA device serial number or ARN: 9–256 characters of `[\w+=/:,.@-]`.
pub(crate) fn mfa_serial(serial: &str) -> Result<(), BuildError> {
    let len = serial.chars().count();
    if !(9..=256).contains(&len) || !serial.chars().all(|c| is_name_char(c) || c == '/' || c == ':') {
        return Err(invalid(
            "MFA serial number",
            format!("`{serial}` must be 9 to 256 characters of [A-Za-z0-9_+=/:,.@-]"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/demo",
            "arn:aws-cn:iam::123456789012:role/path/to/demo",
            "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f-g_h",
        ] {
            role_arn(ok).unwrap();
        }
        for bad in [
            "",
            "demo",
            "arn:aws:iam::123456789012:user/demo",
            "arn:aws:iam::12345678901:role/demo",
            "arn:aws:iam::1234567890123:role/demo",
            "arn:aws:sts::123456789012:role/demo",
            "arn:aws:iam:eu-west-1:123456789012:role/demo",
            "arn:aws-iso:iam::123456789012:role/demo",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/path/",
            "arn:aws:iam::123456789012:role/de mo",
            "arn:aws:iam::123456789012:role/demo\n",
        ] {
            let e = role_arn(bad).unwrap_err();
            assert!(
                matches!(e, BuildError::InvalidConfiguration { what: "role ARN", .. }),
                "{bad}: {e}"
            );
        }
        let long = format!("arn:aws:iam::123456789012:role/{}", "x".repeat(65));
        assert!(role_arn(&long).is_err());
    }

    #[test]
    fn session_names_and_prefixes() {
        session_name("ab").unwrap();
        session_name(&"a".repeat(64)).unwrap();
        session_name("user@example.com,team=a+b").unwrap();
        assert!(session_name("a").is_err());
        assert!(session_name(&"a".repeat(65)).is_err());
        assert!(session_name("has space").is_err());
        assert!(session_name("slash/no").is_err());
        session_name_prefix("").unwrap();
        session_name_prefix(&"p".repeat(54)).unwrap();
        assert!(session_name_prefix(&"p".repeat(55)).is_err());
        assert!(session_name_prefix("bad prefix").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("d", Duration::from_secs(900), 900, 43200).unwrap(), 900);
        assert_eq!(duration("d", Duration::from_secs(43200), 900, 43200).unwrap(), 43200);
        assert!(duration("d", Duration::from_secs(899), 900, 43200).is_err());
        assert!(duration("d", Duration::from_secs(43201), 900, 43200).is_err());
        assert!(duration("d", Duration::from_millis(1_000_500), 900, 43200).is_err());
    }

    #[test]
    fn external_ids_are_not_echoed() {
        external_id("Unique:ID/for-partner").unwrap();
        let e = external_id("x").unwrap_err();
        assert!(!e.to_string().contains("`x`"));
        let e = external_id("secret-ish id").unwrap_err();
        assert!(!e.to_string().contains("secret-ish"));
    }

    #[test]
    fn policies() {
        policy(r#"{"Version":"2012-10-17","Statement":[]}"#).unwrap();
        assert!(policy("").is_err());
        assert!(policy("{not json").is_err());
        assert!(policy(&format!(r#"{{"a":"{}"}}"#, "x".repeat(2100))).is_err());
        policy_arns(&["arn:aws:iam::aws:policy/ReadOnlyAccess".into()]).unwrap();
        assert!(policy_arns(&vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(); 11]).is_err());
        assert!(policy_arns(&["ReadOnlyAccess".into()]).is_err());
    }

    #[test]
    fn session_tags() {
        let t = |k: &str, v: &str| (k.to_string(), v.to_string());
        tags(
            &[t("Project", "Unicorn"), t("Cost Center", "12 34")],
            &["project".into()],
        )
        .unwrap();
        assert!(tags(&[t("", "v")], &[]).is_err());
        assert!(tags(&[t("k", &"v".repeat(257))], &[]).is_err());
        assert!(tags(&[t("K", "1"), t("k", "2")], &[]).is_err());
        assert!(tags(&[t("k", "a\nb")], &[]).is_err());
        assert!(tags(&[t("k", "v")], &["other".into()]).is_err());
        let many: Vec<_> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
        assert!(tags(&many, &[]).is_err());
    }

    #[test]
    fn mfa_serials() {
        mfa_serial("arn:aws:iam::123456789012:mfa/user").unwrap();
        mfa_serial("GAHT12345678").unwrap();
        assert!(mfa_serial("short").is_err());
        assert!(mfa_serial("arn:aws:iam::123456789012:mfa/us er").is_err());
    }
}
