//! What a test can ask of the emulator: which call, and which fault.

use std::time::Duration;

/// One kind of request the emulator answers. Faults, counts and recorded
/// requests are kept per call.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// STS `AssumeRole` (`POST /`, `Action=AssumeRole`).
    AssumeRole,
    /// STS `GetSessionToken`.
    GetSessionToken,
    /// STS `AssumeRoleWithWebIdentity` (the one unsigned STS call).
    AssumeRoleWithWebIdentity,
    /// STS `GetCallerIdentity`.
    GetCallerIdentity,
    /// IMDSv2 session token: `PUT /latest/api/token`.
    ImdsToken,
    /// IMDS role list: `GET /latest/meta-data/iam/security-credentials/`.
    ImdsRoleList,
    /// IMDS credentials: `GET /latest/meta-data/iam/security-credentials/{role}`.
    ImdsCredentials,
    /// The container credentials endpoint, in its ECS form
    /// ([`Emulator::ecs_full_uri`](super::Emulator::ecs_full_uri)) and its
    /// EKS Pod Identity form ([`Emulator::eks_full_uri`](super::Emulator::eks_full_uri)).
    Ecs,
    /// IAM Identity Center OIDC `CreateToken` with the `refresh_token`
    /// grant (`POST /token`, JSON).
    SsoCreateToken,
    /// The IAM Identity Center portal's `GetRoleCredentials`
    /// (`GET /federation/credentials?role_name=…&account_id=…`).
    SsoGetRoleCredentials,
}

impl Call {
    /// Every call, in a stable order.
    pub const ALL: [Call; 10] = [
        Call::AssumeRole,
        Call::GetSessionToken,
        Call::AssumeRoleWithWebIdentity,
        Call::GetCallerIdentity,
        Call::ImdsToken,
        Call::ImdsRoleList,
        Call::ImdsCredentials,
        Call::Ecs,
        Call::SsoCreateToken,
        Call::SsoGetRoleCredentials,
    ];

    /// The STS `Action` of an STS call.
    pub const fn sts_action(self) -> Option<&'static str> {
        match self {
            Call::AssumeRole => Some("AssumeRole"),
            Call::GetSessionToken => Some("GetSessionToken"),
            Call::AssumeRoleWithWebIdentity => Some("AssumeRoleWithWebIdentity"),
            Call::GetCallerIdentity => Some("GetCallerIdentity"),
            Call::ImdsToken
            | Call::ImdsRoleList
            | Call::ImdsCredentials
            | Call::Ecs
            | Call::SsoCreateToken
            | Call::SsoGetRoleCredentials => None,
        }
    }

    /// The STS call for an `Action` parameter.
    pub(crate) fn from_sts_action(action: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|c| c.sts_action() == Some(action))
    }

    /// Which wire protocol the call speaks.
    pub(crate) const fn protocol(self) -> Protocol {
        match self {
            Call::AssumeRole | Call::GetSessionToken | Call::AssumeRoleWithWebIdentity | Call::GetCallerIdentity => {
                Protocol::Sts
            }
            Call::ImdsToken | Call::ImdsRoleList | Call::ImdsCredentials => Protocol::Imds,
            Call::Ecs => Protocol::Ecs,
            Call::SsoCreateToken => Protocol::SsoOidc,
            Call::SsoGetRoleCredentials => Protocol::SsoPortal,
        }
    }
}

/// The wire protocols the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// STS Query protocol: form-encoded requests, XML answers.
    Sts,
    /// The EC2 instance metadata service: plain text and JSON.
    Imds,
    /// The ECS / EKS container credentials endpoint: JSON.
    Ecs,
    /// IAM Identity Center OIDC (restJson): JSON errors with `error` and
    /// `error_description`.
    SsoOidc,
    /// The IAM Identity Center portal (restJson): JSON errors with `message`.
    SsoPortal,
}

/// A fault injected into the answer to one request, with
/// [`Emulator::script`](super::Emulator::script) (the next requests) or
/// [`Emulator::set_outage`](super::Emulator::set_outage) (every request until
/// cleared).
///
/// Each fault is answered in the call's own protocol: STS faults are STS XML,
/// IMDS faults are what IMDS sends, container faults are JSON.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An AWS error answer with this HTTP status, error code and message.
    ///
    /// - STS: the real Query-protocol document,
    ///   `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`
    ///   (`Type` is `Receiver` for 5xx), with an `x-amzn-RequestId` header.
    /// - IMDS credentials: IMDS's JSON error form
    ///   `{"Code":"…","Message":"…","LastUpdated":"…"}`; IMDS token and role
    ///   list: the message as plain text.
    /// - Container endpoint: the agent's JSON form `{"code":"…","message":"…"}`.
    /// - IAM Identity Center (restJson): the code in the `x-amzn-ErrorType`
    ///   header; the body is `{"error":"…","error_description":"…"}` for
    ///   OIDC and `{"message":"…"}` for the portal.
    ///
    /// A status that is not a valid HTTP status (outside 100–999) is sent as 500.
    AwsError {
        /// HTTP status, e.g. 403.
        status: u16,
        /// AWS error code, e.g. `AccessDenied`.
        code: String,
        /// Human-readable message.
        message: String,
    },
    /// Slow down. STS: 400 `Throttling` / `Rate exceeded` (what STS sends);
    /// IMDS, the container endpoint and the IAM Identity Center portal: 429
    /// (`TooManyRequestsException` for the portal); IAM Identity Center
    /// OIDC: 400 `SlowDownException` (`slow_down`), its throttling error.
    Throttle,
    /// Wait this long, then answer normally. Longer than the client's
    /// timeout, the client times out first.
    Delay(Duration),
    /// Close the connection without sending any answer.
    DropConnection,
    /// The normal answer's status and headers, with a `Content-Length` of the
    /// whole body, but only the first half of the body is sent before the
    /// connection is closed.
    TruncatedBody,
    /// 200 with a syntactically broken body: unclosed, mismatched XML for STS,
    /// unterminated JSON for IMDS credentials, the container endpoint and
    /// IAM Identity Center, and
    /// an empty body for the plain-text IMDS token and role list.
    MalformedBody,
    /// 500 with an HTML page, like a load balancer or proxy in front of the
    /// service.
    Html500,
    /// A normal success whose credentials' `Expiration` is already in the past
    /// (5 minutes ago). On [`Call::ImdsToken`], a token that is already
    /// expired (using it gets 401). On [`Call::SsoCreateToken`], an access
    /// token that is already expired (`expiresIn` 0; the portal refuses
    /// it). On calls that issue no credentials
    /// ([`Call::GetCallerIdentity`], [`Call::ImdsRoleList`]) a normal answer.
    ExpiredCredentials,
    /// Never answer; the connection stays open until the client gives up or
    /// the emulator is dropped.
    Hang,
}
