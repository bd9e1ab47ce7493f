//! Who may read what: the container endpoint's tokens, checked in constant
//! time, and the IMDS endpoint's session tokens.
//!
//! A presented `Authorization` value is never compared to a token directly:
//! both go through HMAC-SHA-256 under a key drawn when the agent starts, and
//! the fixed-length tags are compared with `ring`'s constant-time verify, for
//! every configured token whatever the outcome. So neither the position of
//! the first differing byte nor the tokens' lengths show in the timing.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::agent::config::{ConfigError, MAX_TOKEN_CHARS, MIN_TOKEN_CHARS, TokenConfig, TokenSource};
use crate::agent::roles::EnvLookup;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No token, or one that matches none configured: 401.
    Unauthorized,
    /// A valid token that does not grant the role: 403.
    Forbidden,
}

struct Token {
    name: String,
    tag: hmac::Tag,
    roles: BTreeSet<String>,
}

/// The configured tokens, as tags under a per-process key.
pub(crate) struct Tokens {
    key: hmac::Key,
    tokens: Vec<Token>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("names", &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A fresh random HMAC key.
pub(crate) fn random_key(key: &str) -> Result<hmac::Key, ConfigError> {
    let rng = SystemRandom::new();
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill(bytes.as_mut()).map_err(|_| ConfigError::Invalid {
        key: key.into(),
        reason: "the system random source failed".into(),
    })?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref()))
}

impl Tokens {
    /// Reads every token's value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `tokens[i]` when a file cannot be
    /// read or is readable by group or others, a variable is unset, or a
    /// value is too short, too long or not printable ASCII.
    pub(crate) fn load(configs: &[TokenConfig], env: &EnvLookup) -> Result<Self, ConfigError> {
        let key = random_key("tokens")?;
        let mut tokens = Vec::with_capacity(configs.len());
        for (i, config) in configs.iter().enumerate() {
            let (field, value) = match &config.source {
                TokenSource::File(path) => (format!("tokens[{i}].file"), read_token_file(path)),
                TokenSource::Env(var) => (
                    format!("tokens[{i}].env"),
                    env(var)
                        .map(Zeroizing::new)
                        .ok_or_else(|| "the variable is not set".to_owned()),
                ),
            };
            let value = value
                .and_then(check_token)
                .map_err(|reason| ConfigError::Invalid { key: field, reason })?;
            tokens.push(Token {
                name: config.name.clone(),
                tag: hmac::sign(&key, value.as_bytes()),
                roles: config.roles.clone(),
            });
        }
        Ok(Self { key, tokens })
    }

    /// Whether `presented` (the `Authorization` value, if any) may read `role`.
    /// Returns the token's name.
    pub(crate) fn check(&self, presented: Option<&[u8]>, role: &str) -> Result<&str, Denied> {
        let presented = presented.unwrap_or_default();
        let mut found: Option<&Token> = None;
        // Every token is checked, match or not.
        for token in &self.tokens {
            if hmac::verify(&self.key, presented, token.tag.as_ref()).is_ok() && found.is_none() {
                found = Some(token);
            }
        }
        match found {
            None => Err(Denied::Unauthorized),
            Some(t) if t.roles.contains(role) => Ok(&t.name),
            Some(_) => Err(Denied::Forbidden),
        }
    }
}

fn read_token_file(path: &Path) -> Result<Zeroizing<String>, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the token file: {}", e.kind()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "the token file has mode {mode:03o}; it must be readable by its owner only (0600)"
            ));
        }
    }
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file: {}", e.kind()))?);
    // One trailing newline is tolerated (editors add one); clients must not
    // send it (botocore refuses a token file that has one).
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(Zeroizing::new(trimmed.to_owned()))
}

fn check_token(value: Zeroizing<String>) -> Result<Zeroizing<String>, String> {
    let n = value.chars().count();
    if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&n) {
        return Err(format!(
            "a token is {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} characters (this one has {n})"
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a token is printable ASCII without spaces".into());
    }
    Ok(value)
}

/// Issues and checks IMDSv2 session tokens. Stateless: a token is its
/// expiry, a random nonce and an HMAC of both, so a flood of token requests
/// costs no memory.
pub(crate) struct SessionTokens {
    key: hmac::Key,
    rng: SystemRandom,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionTokens")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl SessionTokens {
    pub(crate) fn new() -> Result<Self, ConfigError> {
        Ok(Self {
            key: random_key("imds")?,
            rng: SystemRandom::new(),
        })
    }

    /// A token valid from `now` for `ttl`.
    pub(crate) fn issue(&self, now: SystemTime, ttl: Duration) -> Option<String> {
        let mut nonce = [0u8; 16];
        self.rng.fill(&mut nonce).ok()?;
        let body = format!("{}.{}", unix(now).saturating_add(ttl.as_secs()), hex(&nonce));
        let tag = hmac::sign(&self.key, body.as_bytes());
        Some(format!("{body}.{}", hex(tag.as_ref())))
    }

    /// Whether `token` was issued here and has not expired at `now`.
    pub(crate) fn valid(&self, token: &[u8], now: SystemTime) -> bool {
        let Ok(token) = std::str::from_utf8(token) else {
            return false;
        };
        let Some((body, tag)) = token.rsplit_once('.') else {
            return false;
        };
        let Some(tag) = unhex(tag) else {
            return false;
        };
        if hmac::verify(&self.key, body.as_bytes(), &tag).is_err() {
            return false;
        }
        let expiry = body.split('.').next().and_then(|e| e.parse::<u64>().ok());
        expiry.is_some_and(|e| e > unix(now))
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tokens() -> Tokens {
        let env: EnvLookup = Arc::new(|k: &str| match k {
            "A" => Some("token-a-0123456789".into()),
            "B" => Some("token-b-0123456789".into()),
            _ => None,
        });
        let configs = [("a", "A", &["app"][..]), ("b", "B", &["app", "other"][..])].map(|(n, v, roles)| TokenConfig {
            name: n.into(),
            source: TokenSource::Env(v.into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        });
        Tokens::load(&configs, &env).unwrap()
    }

    #[test]
    fn tokens_grant_their_roles_only() {
        let t = tokens();
        assert_eq!(t.check(Some(b"token-a-0123456789"), "app"), Ok("a"));
        assert_eq!(t.check(Some(b"token-a-0123456789"), "other"), Err(Denied::Forbidden));
        assert_eq!(t.check(Some(b"token-b-0123456789"), "other"), Ok("b"));
        assert_eq!(t.check(Some(b"token-a-012345678"), "app"), Err(Denied::Unauthorized));
        assert_eq!(t.check(Some(b""), "app"), Err(Denied::Unauthorized));
        assert_eq!(t.check(None, "app"), Err(Denied::Unauthorized));
    }

    #[test]
    fn a_short_or_unset_token_is_refused_naming_the_key() {
        let env: EnvLookup = Arc::new(|k: &str| (k == "S").then(|| "short".to_owned()));
        for var in ["S", "UNSET"] {
            let config = TokenConfig {
                name: "t".into(),
                source: TokenSource::Env(var.into()),
                roles: BTreeSet::new(),
            };
            let e = Tokens::load(&[config], &env).unwrap_err();
            assert_eq!(e.key(), Some("tokens[0].env"));
            assert!(!e.to_string().contains("short"), "{e}");
        }
    }

    #[test]
    fn session_tokens_expire_and_cannot_be_forged() {
        let s = SessionTokens::new().unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let token = s.issue(now, Duration::from_secs(60)).unwrap();
        assert!(s.valid(token.as_bytes(), now));
        assert!(s.valid(token.as_bytes(), now + Duration::from_secs(59)));
        assert!(!s.valid(token.as_bytes(), now + Duration::from_secs(60)));
        let forged = token.replacen("1000060", "9000060", 1);
        assert!(!s.valid(forged.as_bytes(), now));
        assert!(!SessionTokens::new().unwrap().valid(token.as_bytes(), now));
        assert!(!s.valid(b"garbage", now));
    }
}
