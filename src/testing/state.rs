//! The emulator's shared state: configuration, injected faults, what was
//! received and what was issued. One mutex, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::faults::{Call, Fault};
use super::record::{Issued, RecordedRequest};
use super::wire::{base64ish, hex, upper_alnum};
use crate::clock::Clock;

/// How far in the past [`Fault::ExpiredCredentials`] puts `Expiration`.
pub(crate) const EXPIRED_BY: Duration = Duration::from_secs(300);

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

#[derive(Default)]
struct State {
    lifetime: Duration,
    scripts: HashMap<Call, VecDeque<Fault>>,
    outages: HashMap<Call, Fault>,
    requests: HashMap<Call, Vec<RecordedRequest>>,
    issued: Vec<Issued>,
    principals: HashMap<String, Principal>,
    secrets: Vec<String>,
    /// IMDS session tokens and when each expires.
    imds_tokens: HashMap<String, SystemTime>,
    /// Stable unique IDs of the roles seen, by role ARN.
    role_ids: HashMap<String, String>,
}

/// Everything the server and the [`Emulator`](super::Emulator) share.
/// No `Debug`: it holds secrets.
pub(crate) struct Shared {
    pub(crate) config: Config,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: Config, clock: Arc<dyn Clock>, lifetime: Duration) -> Self {
        Self {
            config,
            clock,
            state: Mutex::new(State {
                lifetime,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's current time.
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Records a request of `call` and takes the fault to apply to it, if
    /// any: the next scripted one first, else the outage.
    pub(crate) fn record(&self, call: Call, request: RecordedRequest) -> Option<Fault> {
        let mut state = self.lock();
        state.requests.entry(call).or_default().push(request);
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
        self.lock().requests.get(&call).map_or(0, Vec::len)
    }

    pub(crate) fn requests(&self, call: Call) -> Vec<RecordedRequest> {
        self.lock().requests.get(&call).cloned().unwrap_or_default()
    }

    pub(crate) fn issued(&self) -> Vec<Issued> {
        self.lock().issued.clone()
    }

    pub(crate) fn issued_secrets(&self) -> Vec<String> {
        self.lock().secrets.clone()
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
            now + lifetime
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
        state.principals.insert(fresh.access_key_id.clone(), principal);
        fresh
    }

    /// Who the issued access key `access_key_id` acts as.
    pub(crate) fn principal(&self, access_key_id: &str) -> Option<Principal> {
        self.lock().principals.get(access_key_id).cloned()
    }

    /// The unique ID of the role `role_arn` (`AROA…`), the same every time.
    pub(crate) fn role_id(&self, role_arn: &str) -> String {
        self.lock()
            .role_ids
            .entry(role_arn.to_string())
            .or_insert_with(|| format!("AROA{}", upper_alnum(17)))
            .clone()
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
        state.imds_tokens.insert(token.clone(), expires);
        state.secrets.push(token.clone());
        token
    }

    /// Whether `token` is an IMDS token issued and not yet expired.
    pub(crate) fn imds_token_valid(&self, token: &str) -> bool {
        let now = self.now();
        self.lock().imds_tokens.get(token).is_some_and(|expires| now < *expires)
    }

    /// Every IMDS token issued so far becomes invalid.
    pub(crate) fn expire_imds_tokens(&self) {
        self.lock().imds_tokens.clear();
    }
}

/// A fresh instance ID (`i-` and 17 hex digits).
pub(crate) fn instance_id() -> String {
    format!("i-0{}", hex(16))
}
