//! Regions and the regional STS endpoints.

use crate::error::BuildError;

/// `AWS_REGION`, read at build time when no region is configured.
pub const ENV_REGION: &str = "AWS_REGION";
/// `AWS_DEFAULT_REGION`, read when `AWS_REGION` is not set.
pub const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

/// Whether `region` looks like an AWS region: lower-case letters in at least
/// two dash-separated groups, then a number (`eu-west-1`, `us-gov-west-1`,
/// `cn-north-1`, `ap-southeast-3`).
pub(crate) fn is_valid_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let Some(first) = parts.next() else { return false };
    if first.len() != 2 || !first.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    !middle.is_empty()
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 3
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The configured region, else `AWS_REGION`, else `AWS_DEFAULT_REGION`,
/// validated.
pub(crate) fn resolve_region(
    configured: Option<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, BuildError> {
    let invalid = |reason: String| BuildError::InvalidConfiguration {
        what: "STS region",
        reason,
    };
    let (region, from) = match configured {
        Some(r) => (r, "the builder"),
        None => match non_empty(lookup(ENV_REGION)) {
            Some(r) => (r, ENV_REGION),
            None => match non_empty(lookup(ENV_DEFAULT_REGION)) {
                Some(r) => (r, ENV_DEFAULT_REGION),
                None => {
                    return Err(invalid(format!(
                        "no region: set one on the builder, or {ENV_REGION} or {ENV_DEFAULT_REGION}"
                    )));
                }
            },
        },
    };
    let region = region.trim().to_string();
    if is_valid_region(&region) {
        Ok(region)
    } else {
        Err(invalid(format!(
            "`{region}` (from {from}) is not an AWS region name like `eu-west-1`"
        )))
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// The regional STS endpoint of `region`: `https://sts.{region}.amazonaws.com`,
/// `.amazonaws.com.cn` in the China partition (`cn-*`).
pub(crate) fn regional_endpoint(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("https://sts.{region}.amazonaws.com.cn")
    } else {
        // The us-gov partition's endpoints follow the same pattern
        // (`sts.us-gov-west-1.amazonaws.com`), as do ISO regions' names here.
        format!("https://sts.{region}.amazonaws.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "eu-west-1",
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-3",
            "il-central-1",
        ] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "eu",
            "eu-west",
            "EU-WEST-1",
            "eu-west-x",
            "e-west-1",
            "eu--1",
            "eu-west-1-",
            "eu-west-1234",
            "eu west 1",
            "-west-1",
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn endpoints_by_partition() {
        assert_eq!(regional_endpoint("eu-west-1"), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(
            regional_endpoint("cn-northwest-1"),
            "https://sts.cn-northwest-1.amazonaws.com.cn"
        );
        assert_eq!(
            regional_endpoint("us-gov-west-1"),
            "https://sts.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("us-gov-east-1"),
            "https://sts.us-gov-east-1.amazonaws.com"
        );
    }

    #[test]
    fn region_resolution_order() {
        let env = |region: Option<&'static str>, default: Option<&'static str>| {
            move |k: &str| match k {
                ENV_REGION => region.map(String::from),
                ENV_DEFAULT_REGION => default.map(String::from),
                _ => None,
            }
        };
        assert_eq!(
            resolve_region(Some("eu-west-1".into()), &env(Some("us-east-1"), None)).unwrap(),
            "eu-west-1"
        );
        assert_eq!(
            resolve_region(None, &env(Some("us-east-1"), Some("eu-west-2"))).unwrap(),
            "us-east-1"
        );
        assert_eq!(
            resolve_region(None, &env(Some(" "), Some("eu-west-2"))).unwrap(),
            "eu-west-2"
        );
        let none = resolve_region(None, &env(None, None)).unwrap_err();
        assert!(none.to_string().contains("AWS_REGION"), "{none}");
        let bad = resolve_region(None, &env(Some("mars-1"), None)).unwrap_err();
        assert!(
            bad.to_string().contains("AWS_REGION") && bad.to_string().contains("mars-1"),
            "{bad}"
        );
    }
}
