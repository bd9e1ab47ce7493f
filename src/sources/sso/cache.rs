//! The SDK token cache: `~/.aws/sso/cache/<sha1>.json`, read and written
//! back as the AWS CLI (botocore) does.
//!
//! Checked against botocore 1.44 (`utils.SSOTokenLoader`,
//! `utils.JSONFileCache`, `tokens.SSOTokenProvider`) and aws-config's
//! `sso/cache.rs`:
//! - the file name is the lower-case hex SHA-1 of the `sso-session` name,
//!   or of the start URL for a legacy profile, with `.json`;
//! - `accessToken` and `expiresAt` are required; `refreshToken`,
//!   `clientId`, `clientSecret`, `registrationExpiresAt`, `region` and
//!   `startUrl` are optional; a token can be refreshed only with the first
//!   four, and while the registration has not expired;
//! - botocore writes a refreshed token as one JSON object of `startUrl`,
//!   `region`, `accessToken`, `expiresAt` (`%Y-%m-%dT%H:%M:%SZ`),
//!   `clientId`, `clientSecret`, `registrationExpiresAt` (copied as read)
//!   and `refreshToken`, to a temporary file made by `mkstemp` (mode 0600)
//!   in the cache directory, flushed with `fsync`, then `os.replace`d over
//!   the old file.
//!
//! The functions here are blocking and are called on Tokio's blocking pool.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::{format_rfc3339, parse_rfc3339};

/// The largest token cache file read: real ones are a few KiB.
pub const MAX_CACHE_FILE_BYTES: u64 = 64 * 1024;

/// The cache file name for `key` (a session name or a start URL):
/// lower-case hex SHA-1 and `.json`.
pub(crate) fn file_name(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let mut name = String::with_capacity(45);
    for byte in digest.as_ref() {
        name.push_str(&format!("{byte:02x}"));
    }
    name.push_str(".json");
    name
}

/// The token cache file as read. No `Debug` derive: it holds secrets.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheFile {
    access_token: Option<Zeroizing<String>>,
    expires_at: Option<String>,
    refresh_token: Option<Zeroizing<String>>,
    client_id: Option<String>,
    client_secret: Option<Zeroizing<String>>,
    registration_expires_at: Option<String>,
}

/// A cached token, checked.
pub(crate) struct CachedToken {
    pub(crate) access_token: Zeroizing<String>,
    pub(crate) expires_at: SystemTime,
    /// What a refresh needs, when the file has all of it.
    pub(crate) refresh: Option<Registration>,
}

/// What a refresh needs: the refresh token and the client registration.
pub(crate) struct Registration {
    pub(crate) refresh_token: Zeroizing<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Zeroizing<String>,
    pub(crate) expires_at: SystemTime,
    /// `registrationExpiresAt` as read, written back unchanged.
    pub(crate) expires_at_text: String,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &crate::REDACTED)
            .field("expires_at", &format_rfc3339(self.expires_at))
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("refresh_token", &crate::REDACTED)
            .field("client_id", &self.client_id)
            .field("client_secret", &crate::REDACTED)
            .field("expires_at", &self.expires_at_text)
            .finish()
    }
}

/// Why the cache file could not be used. The messages name the file and
/// the field, never a value.
#[derive(Debug)]
pub(crate) enum CacheError {
    /// There is no file: nobody logged in.
    Missing,
    /// The file exists but is not a usable token.
    Invalid(String),
}

/// A timestamp of the cache: RFC 3339, or the `…UTC` form older AWS CLI v2
/// releases wrote (`2019-11-14T04:05:45UTC`).
pub(crate) fn parse_time(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    match text.strip_suffix("UTC") {
        Some(head) => parse_rfc3339(&format!("{}Z", head.trim_end())),
        None => parse_rfc3339(text),
    }
}

/// Reads and checks the cache file at `path`.
pub(crate) fn read(path: &Path) -> Result<CachedToken, CacheError> {
    let shown = path.display();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheError::Missing),
        Err(e) => return Err(CacheError::Invalid(format!("{shown} cannot be opened: {}", e.kind()))),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_CACHE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CacheError::Invalid(format!("{shown} cannot be read: {}", e.kind())))?;
    if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
        return Err(CacheError::Invalid(format!(
            "{shown} is over {MAX_CACHE_FILE_BYTES} bytes"
        )));
    }
    parse(&bytes).map_err(|reason| CacheError::Invalid(format!("{shown}: {reason}")))
}

/// Parses a cache file's contents. Errors name the field, never a value.
pub(crate) fn parse(bytes: &[u8]) -> Result<CachedToken, String> {
    let file: CacheFile = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not a JSON object of the expected fields ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    let access_token = file
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or("missing field `accessToken`")?;
    let expires_at = file.expires_at.ok_or("missing field `expiresAt`")?;
    let expires_at = parse_time(&expires_at).map_err(|e| format!("invalid `expiresAt`: {e}"))?;
    let refresh = match (
        file.refresh_token,
        file.client_id,
        file.client_secret,
        file.registration_expires_at,
    ) {
        (Some(refresh_token), Some(client_id), Some(client_secret), Some(text)) => {
            let expires_at = parse_time(&text).map_err(|e| format!("invalid `registrationExpiresAt`: {e}"))?;
            Some(Registration {
                refresh_token,
                client_id,
                client_secret,
                expires_at,
                expires_at_text: text,
            })
        }
        _ => None,
    };
    Ok(CachedToken {
        access_token,
        expires_at,
        refresh,
    })
}

/// The file botocore writes after a refresh, in its order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WrittenFile<'a> {
    start_url: &'a str,
    region: &'a str,
    access_token: &'a str,
    expires_at: String,
    client_id: &'a str,
    client_secret: &'a str,
    registration_expires_at: &'a str,
    refresh_token: &'a str,
}

/// A refreshed token to write back.
pub(crate) struct Refreshed<'a> {
    pub(crate) start_url: &'a str,
    pub(crate) region: &'a str,
    pub(crate) access_token: &'a str,
    pub(crate) expires_at: SystemTime,
    pub(crate) registration: &'a Registration,
    /// The new refresh token, or the old one when the answer had none.
    pub(crate) refresh_token: &'a str,
}

/// The JSON written for `token`.
pub(crate) fn render(token: &Refreshed<'_>) -> Zeroizing<String> {
    let file = WrittenFile {
        start_url: token.start_url,
        region: token.region,
        access_token: token.access_token,
        expires_at: format_rfc3339(token.expires_at),
        client_id: &token.registration.client_id,
        client_secret: &token.registration.client_secret,
        registration_expires_at: &token.registration.expires_at_text,
        refresh_token: token.refresh_token,
    };
    // Serializing strings into a String cannot fail.
    Zeroizing::new(serde_json::to_string(&file).unwrap_or_default())
}

/// Replaces the file at `path` with `contents`, atomically: a new file of
/// mode 0600 in the same directory, written, synced, then renamed over it.
/// The error names the file, never the contents.
pub(crate) fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    let shown = path.display();
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp: PathBuf = dir.join(format!(".{file_name}.{:016x}.tmp", fastrand::u64(..)));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("{shown} cannot be written: {}", e.kind())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn file_names_are_the_sha1_of_the_key() {
        // As Python's hashlib.sha1(key.encode()).hexdigest().
        assert_eq!(
            file_name("https://d-abc123.awsapps.com/start"),
            "40a89917e3175433e361b710a9d43528d7f1890a.json"
        );
        assert_eq!(file_name("my-sso"), "0ad374308c5a4e22f723adf10145eafad7c4031c.json");
    }

    #[test]
    fn times_in_both_forms() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_573_704_345);
        assert_eq!(parse_time("2019-11-14T04:05:45Z"), Ok(t));
        assert_eq!(parse_time("2019-11-14T04:05:45UTC"), Ok(t));
        assert_eq!(parse_time("2019-11-14T04:05:45+00:00"), Ok(t));
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn fields_and_errors() {
        let full = br#"{"startUrl":"https://d-1.awsapps.com/start","region":"eu-west-1","accessToken":"AT-SECRET",
            "expiresAt":"2026-11-30T03:00:00Z","clientId":"cid","clientSecret":"CS-SECRET",
            "registrationExpiresAt":"2027-02-28T03:00:00Z","refreshToken":"RT-SECRET","extra":1}"#;
        let token = parse(full).unwrap();
        assert_eq!(token.access_token.as_str(), "AT-SECRET");
        let registration = token.refresh.as_ref().unwrap();
        assert_eq!(registration.expires_at_text, "2027-02-28T03:00:00Z");
        let shown = format!("{token:?}");
        assert!(!shown.contains("SECRET") && shown.contains("cid"), "{shown}");

        let legacy = br#"{"accessToken":"AT","expiresAt":"2019-11-14T04:05:45UTC","region":"us-east-1"}"#;
        assert!(parse(legacy).unwrap().refresh.is_none());
        for (bad, needle) in [
            (&br#"{"expiresAt":"2026-11-30T03:00:00Z"}"#[..], "accessToken"),
            (br#"{"accessToken":"AT-SECRET"}"#, "expiresAt"),
            (br#"{"accessToken":"AT-SECRET","expiresAt":"soon"}"#, "expiresAt"),
            (br#"{"accessToken":"AT-SECRET","expiresAt":7}"#, "JSON"),
            (b"AT-SECRET", "JSON"),
            (
                br#"{"accessToken":"AT-SECRET","expiresAt":"2026-11-30T03:00:00Z","refreshToken":"RT-SECRET",
                   "clientId":"c","clientSecret":"CS-SECRET","registrationExpiresAt":"never"}"#,
                "registrationExpiresAt",
            ),
        ] {
            let e = parse(bad).err().unwrap();
            assert!(e.contains(needle) && !e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn writes_replace_the_file_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("credrefresh-sso-cache-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file_name("unit"));
        std::fs::write(&path, "old").unwrap();
        write(&path, b"{\"new\":true}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"new\":true}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        let e = write(&dir.join("no-such-dir").join("x.json"), b"{}").unwrap_err();
        assert!(e.contains("cannot be written"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
