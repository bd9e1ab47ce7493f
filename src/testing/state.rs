//! The emulator's shared state: configuration, injected faults, what was
//! received and what was issued. One mutex, never held across an `.await`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::faults::{Call, Fault};
use super::record::{Issued, RecordedRequest, SsoLogin};
use super::wire::{base64ish, hex, upper_alnum};
use crate::clock::Clock;

/// How many role IDs are remembered: a role first seen after this many
/// others pushes out the oldest (which gets a new ID if seen again).
pub(crate) const MAX_ROLE_IDS: usize = 4096;

/// How far in the past [`Fault::ExpiredCredentials`] puts `Expiration`.
pub(crate) const EXPIRED_BY: Duration = Duration::from_secs(300);

/// How long an IAM Identity Center client registration (and the refresh
/// tokens issued to it) lives: 90 days, as the AWS CLI's registrations.
pub(crate) const SSO_REGISTRATION_LIFETIME: Duration = Duration::from_secs(90 * 86_400);

/// Configuration fixed at start. No `Debug`: it holds the container token.
pub(crate) struct Config {
    pub(crate) account_id: String,
    pub(crate) role_name: String,
    pub(crate) imds_v1_allowed: bool,
    pub(crate) ecs_auth_token: String,
    /// The instance ID in the session name of IMDS credentials.
    pub(crate) instance_id: String,
    /// The task ID in the session name of container credentials.
    pub(crate) task_id: String,
    /// The unique ID of the IAM user behind `GetSessionToken` keys.
    pub(crate) user_id: String,
    /// How many requests of each call are kept.
    pub(crate) request_history: usize,
    /// How many issued credentials are kept.
    pub(crate) issued_history: usize,
    /// How many issued secrets are kept.
    pub(crate) secret_history: usize,
    /// How long a client has to send a request's headers, then its body.
    pub(crate) read_timeout: Duration,
    /// How long an IAM Identity Center access token lives.
    pub(crate) sso_token_lifetime: Duration,
}

/// Who a set of issued credentials acts as.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) arn: String,
    pub(crate) user_id: String,
}

/// Credentials just issued. No `Debug`: they are secret.
pub(crate) struct Fresh {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: String,
    pub(crate) expiration: SystemTime,
}

/// An access token issued by IAM Identity Center OIDC `CreateToken`. No
/// `Debug`: it is secret.
pub(crate) struct SsoToken {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    /// Seconds the access token lives (0 when issued already expired).
    pub(crate) expires_in: u64,
}

/// Why `CreateToken` refused a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SsoRefusal {
    /// No registered client with this id and secret (`invalid_client`).
    InvalidClient,
    /// The refresh token is unknown, used, expired or another client's
    /// (`invalid_grant`).
    InvalidGrant,
}

/// Keeps the last `capacity` items pushed, dropping the oldest first, and
/// counts every item ever pushed.
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
    total: usize,
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        self.total = self.total.saturating_add(1);
        if self.capacity == 0 {
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// The items kept, oldest first.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }

    /// How many items were ever pushed.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// Values keyed by a string, each until its expiry time: an expired entry
/// is dropped at the next insertion or lookup, so the map holds only what
/// is still valid (and what expired since the last visit).
pub(crate) struct Expiring<V> {
    entries: HashMap<String, (V, SystemTime)>,
    /// Expiry times, soonest first, to drop expired entries without a scan.
    queue: BinaryHeap<Reverse<(SystemTime, String)>>,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            queue: BinaryHeap::new(),
        }
    }
}

impl<V> Expiring<V> {
    /// Drops every entry whose expiry is at or before `now`.
    pub(crate) fn prune(&mut self, now: SystemTime) {
        while let Some(Reverse((expires, _))) = self.queue.peek() {
            if *expires > now {
                break;
            }
            if let Some(Reverse((expires, key))) = self.queue.pop()
                && self.entries.get(&key).is_some_and(|(_, e)| *e == expires)
            {
                self.entries.remove(&key);
            }
        }
    }

    /// Adds `value` under `key` until `expires` (nothing if already expired).
    pub(crate) fn insert(&mut self, now: SystemTime, key: String, value: V, expires: SystemTime) {
        self.prune(now);
        if expires <= now {
            return;
        }
        self.queue.push(Reverse((expires, key.clone())));
        self.entries.insert(key, (value, expires));
    }

    /// The value under `key`, if it has not expired.
    pub(crate) fn get(&mut self, now: SystemTime, key: &str) -> Option<&V> {
        self.prune(now);
        self.entries.get(key).map(|(v, _)| v)
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.queue.clear();
    }

    /// Drops the entry under `key` (its queue slot goes at its expiry).
    pub(crate) fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

struct State {
    lifetime: Duration,
    scripts: HashMap<Call, VecDeque<Fault>>,
    outages: HashMap<Call, Fault>,
    requests: HashMap<Call, Ring<RecordedRequest>>,
    issued: Ring<Issued>,
    /// Who each unexpired issued key acts as.
    principals: Expiring<Principal>,
    secrets: Ring<String>,
    /// Unexpired IMDS session tokens.
    imds_tokens: Expiring<()>,
    /// Stable unique IDs of the roles seen, by role ARN.
    role_ids: HashMap<String, String>,
    /// The role ARNs of `role_ids`, oldest first, to drop the oldest past
    /// [`MAX_ROLE_IDS`].
    role_order: VecDeque<String>,
    /// Registered IAM Identity Center clients: client id → client secret,
    /// until the registration expires.
    sso_clients: Expiring<String>,
    /// Unused refresh tokens: token → client id, until the registration
    /// expires. A refresh token is used once (each refresh rotates it).
    sso_refresh_tokens: Expiring<String>,
    /// Unexpired access tokens.
    sso_access_tokens: Expiring<()>,
}

/// Everything the server and the [`Emulator`](super::Emulator) share.
/// No `Debug`: it holds secrets.
pub(crate) struct Shared {
    pub(crate) config: Config,
    clock: Arc<dyn Clock>,
    /// Seconds the emulator's clock runs ahead of `clock` (negative: behind).
    skew: AtomicI64,
    /// Whether STS checks the time a request was signed: on once a skew is set.
    check_request_time: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: Config, clock: Arc<dyn Clock>, lifetime: Duration, skew: Option<i64>) -> Self {
        let issued = Ring::new(config.issued_history);
        let secrets = Ring::new(config.secret_history);
        Self {
            config,
            clock,
            skew: AtomicI64::new(skew.unwrap_or(0)),
            check_request_time: AtomicBool::new(skew.is_some()),
            state: Mutex::new(State {
                lifetime,
                scripts: HashMap::new(),
                outages: HashMap::new(),
                requests: HashMap::new(),
                issued,
                principals: Expiring::default(),
                secrets,
                imds_tokens: Expiring::default(),
                role_ids: HashMap::new(),
                role_order: VecDeque::new(),
                sso_clients: Expiring::default(),
                sso_refresh_tokens: Expiring::default(),
                sso_access_tokens: Expiring::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's current time: the clock's, moved by the skew
    /// (saturating at the ends of `SystemTime`'s range).
    pub(crate) fn now(&self) -> SystemTime {
        skewed(self.clock.now(), self.skew.load(Ordering::Relaxed))
    }

    pub(crate) fn set_skew(&self, seconds: i64) {
        self.skew.store(seconds, Ordering::Relaxed);
        self.check_request_time.store(true, Ordering::Relaxed);
    }

    pub(crate) fn skew(&self) -> i64 {
        self.skew.load(Ordering::Relaxed)
    }

    /// Whether STS refuses requests signed too far from its clock.
    pub(crate) fn checks_request_time(&self) -> bool {
        self.check_request_time.load(Ordering::Relaxed)
    }

    /// Records a request of `call` and takes the fault to apply to it, if
    /// any: the next scripted one first, else the outage.
    pub(crate) fn record(&self, call: Call, request: RecordedRequest) -> Option<Fault> {
        let capacity = self.config.request_history;
        let mut state = self.lock();
        state
            .requests
            .entry(call)
            .or_insert_with(|| Ring::new(capacity))
            .push(request);
        if let Some(fault) = state.scripts.get_mut(&call).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        state.outages.get(&call).cloned()
    }

    pub(crate) fn script(&self, call: Call, faults: impl IntoIterator<Item = Fault>) {
        self.lock().scripts.entry(call).or_default().extend(faults);
    }

    pub(crate) fn set_outage(&self, call: Call, fault: Option<Fault>) {
        let mut state = self.lock();
        match fault {
            Some(fault) => state.outages.insert(call, fault),
            None => state.outages.remove(&call),
        };
    }

    pub(crate) fn set_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    pub(crate) fn count(&self, call: Call) -> usize {
        self.lock().requests.get(&call).map_or(0, Ring::total)
    }

    pub(crate) fn requests(&self, call: Call) -> Vec<RecordedRequest> {
        self.lock().requests.get(&call).map(Ring::to_vec).unwrap_or_default()
    }

    pub(crate) fn issued(&self) -> Vec<Issued> {
        self.lock().issued.to_vec()
    }

    pub(crate) fn issued_count(&self) -> usize {
        self.lock().issued.total()
    }

    pub(crate) fn issued_secrets(&self) -> Vec<String> {
        self.lock().secrets.to_vec()
    }

    /// How many records of each kind are held now: requests (all calls),
    /// issued credentials, secrets, principals, IMDS tokens.
    #[cfg(test)]
    pub(crate) fn held(&self) -> [usize; 5] {
        let state = self.lock();
        [
            state.requests.values().map(Ring::len).sum(),
            state.issued.len(),
            state.secrets.len(),
            state.principals.len(),
            state.imds_tokens.len(),
        ]
    }

    /// How many IAM Identity Center records are held now: clients, refresh
    /// tokens, access tokens.
    #[cfg(test)]
    pub(crate) fn held_sso(&self) -> [usize; 3] {
        let state = self.lock();
        [
            state.sso_clients.len(),
            state.sso_refresh_tokens.len(),
            state.sso_access_tokens.len(),
        ]
    }

    /// What `aws sso login` leaves behind: a client registered for
    /// [`SSO_REGISTRATION_LIFETIME`], an access token for the configured
    /// SSO token lifetime and a refresh token.
    pub(crate) fn sso_login(&self) -> SsoLogin {
        let now = self.now();
        let client_id = upper_alnum(22);
        let client_secret = format!("eyJraWQiOiJrZXktMTU2{}", base64ish(300));
        let registration_expires_at = now + SSO_REGISTRATION_LIFETIME;
        let token = self.issue_sso_token(now, &client_id, false);
        let mut state = self.lock();
        state
            .sso_clients
            .insert(now, client_id.clone(), client_secret.clone(), registration_expires_at);
        state.secrets.push(client_secret.clone());
        drop(state);
        SsoLogin {
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            client_id,
            client_secret,
            expires_at: now + Duration::from_secs(token.expires_in),
            registration_expires_at,
        }
    }

    /// Issues an access token and a refresh token to `client_id` (the
    /// access token already expired if `expired`).
    fn issue_sso_token(&self, now: SystemTime, client_id: &str, expired: bool) -> SsoToken {
        let lifetime = if expired {
            Duration::ZERO
        } else {
            self.config.sso_token_lifetime
        };
        let token = SsoToken {
            access_token: format!("aoaAAAAAGm{}", base64ish(180)),
            refresh_token: format!("aorvJYubGp{}", base64ish(180)),
            expires_in: lifetime.as_secs(),
        };
        let mut state = self.lock();
        state
            .sso_access_tokens
            .insert(now, token.access_token.clone(), (), now + lifetime);
        state.sso_refresh_tokens.insert(
            now,
            token.refresh_token.clone(),
            client_id.to_string(),
            now + SSO_REGISTRATION_LIFETIME,
        );
        state.secrets.push(token.access_token.clone());
        state.secrets.push(token.refresh_token.clone());
        token
    }

    /// `CreateToken` with the `refresh_token` grant: checks the client and
    /// the refresh token, uses the refresh token up, and issues new tokens.
    pub(crate) fn sso_refresh(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        expired: bool,
    ) -> Result<SsoToken, SsoRefusal> {
        let now = self.now();
        {
            let mut state = self.lock();
            if state.sso_clients.get(now, client_id).map(String::as_str) != Some(client_secret) {
                return Err(SsoRefusal::InvalidClient);
            }
            if state.sso_refresh_tokens.get(now, refresh_token).map(String::as_str) != Some(client_id) {
                return Err(SsoRefusal::InvalidGrant);
            }
            state.sso_refresh_tokens.remove(refresh_token);
        }
        Ok(self.issue_sso_token(now, client_id, expired))
    }

    /// Whether `token` is an access token issued and not yet expired.
    pub(crate) fn sso_access_token_valid(&self, token: &str) -> bool {
        let now = self.now();
        self.lock().sso_access_tokens.get(now, token).is_some()
    }

    /// Issues new credentials acting as `principal`. They live for the
    /// configured lifetime, or `requested` if shorter; `expired` puts their
    /// expiration [`EXPIRED_BY`] in the past instead.
    pub(crate) fn issue(&self, call: Call, principal: Principal, requested: Option<Duration>, expired: bool) -> Fresh {
        let now = self.now();
        let mut state = self.lock();
        let lifetime = requested.map_or(state.lifetime, |r| r.min(state.lifetime));
        let expiration = if expired {
            now.checked_sub(EXPIRED_BY).unwrap_or(SystemTime::UNIX_EPOCH)
        } else {
            // A lifetime past the end of `SystemTime` is cut to a century
            // (never a panic); formatting clamps what it cannot write.
            now.checked_add(lifetime)
                .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
                .unwrap_or(now)
        };
        let fresh = Fresh {
            access_key_id: format!("ASIA{}", upper_alnum(16)),
            secret_access_key: base64ish(40),
            session_token: format!("IQoJb3JpZ2luX2Vj{}", base64ish(384)),
            expiration,
        };
        state.issued.push(Issued {
            call,
            access_key_id: fresh.access_key_id.clone(),
            arn: principal.arn.clone(),
            expiration,
        });
        state.secrets.push(fresh.secret_access_key.clone());
        state.secrets.push(fresh.session_token.clone());
        state
            .principals
            .insert(now, fresh.access_key_id.clone(), principal, expiration);
        fresh
    }

    /// Who the issued access key `access_key_id` acts as, while its
    /// credentials have not expired.
    pub(crate) fn principal(&self, access_key_id: &str) -> Option<Principal> {
        let now = self.now();
        self.lock().principals.get(now, access_key_id).cloned()
    }

    /// The unique ID of the role `role_arn` (`AROA…`), the same every time
    /// while it is among the last [`MAX_ROLE_IDS`] roles seen.
    pub(crate) fn role_id(&self, role_arn: &str) -> String {
        let mut state = self.lock();
        if let Some(id) = state.role_ids.get(role_arn) {
            return id.clone();
        }
        if state.role_order.len() >= MAX_ROLE_IDS
            && let Some(oldest) = state.role_order.pop_front()
        {
            state.role_ids.remove(&oldest);
        }
        let id = format!("AROA{}", upper_alnum(17));
        state.role_ids.insert(role_arn.to_string(), id.clone());
        state.role_order.push_back(role_arn.to_string());
        id
    }

    /// Issues an IMDS session token valid for `ttl` (already expired if `expired`).
    pub(crate) fn issue_imds_token(&self, ttl: Duration, expired: bool) -> String {
        let now = self.now();
        let expires = if expired {
            now.checked_sub(EXPIRED_BY).unwrap_or(SystemTime::UNIX_EPOCH)
        } else {
            now + ttl
        };
        let token = format!("AQAEA{}==", base64ish(51));
        let mut state = self.lock();
        state.imds_tokens.insert(now, token.clone(), (), expires);
        state.secrets.push(token.clone());
        token
    }

    /// Whether `token` is an IMDS token issued and not yet expired.
    pub(crate) fn imds_token_valid(&self, token: &str) -> bool {
        let now = self.now();
        self.lock().imds_tokens.get(now, token).is_some()
    }

    /// Every IMDS token issued so far becomes invalid.
    pub(crate) fn expire_imds_tokens(&self) {
        self.lock().imds_tokens.clear();
    }
}

/// `t` moved by `seconds` (forward when positive), saturating at the ends
/// of `SystemTime`'s range.
pub(crate) fn skewed(t: SystemTime, seconds: i64) -> SystemTime {
    let by = Duration::from_secs(seconds.unsigned_abs());
    let moved = if seconds >= 0 {
        t.checked_add(by)
    } else {
        t.checked_sub(by)
    };
    moved.unwrap_or(if seconds >= 0 { t } else { SystemTime::UNIX_EPOCH })
}

/// A fresh instance ID (`i-` and 17 hex digits).
pub(crate) fn instance_id() -> String {
    format!("i-0{}", hex(16))
}
