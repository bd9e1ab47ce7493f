//! The container credentials endpoint: the ECS agent's form and the EKS Pod
//! Identity agent's form, both behind an `Authorization` token.

use http::{Method, StatusCode};

use super::faults::Call;
use super::state::{Principal, Shared};
use super::wire::{Incoming, Reply, status};
use crate::clock::format_rfc3339;

/// Path of the ECS form (answers with `RoleArn`).
pub(crate) const ECS_PATH: &str = "/ecs/credentials";
/// Path of the EKS Pod Identity form (answers with `AccountId`), the path
/// the Pod Identity agent serves.
pub(crate) const EKS_PATH: &str = "/v1/credentials";

const CONTENT_TYPE: &str = "application/json";

/// Whether the request is for the container endpoint.
pub(crate) fn route(req: &Incoming) -> Option<Call> {
    (req.path == ECS_PATH || req.path == EKS_PATH).then_some(Call::Ecs)
}

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    Reply::new(status, CONTENT_TYPE, value.to_string())
}

/// An error in the agents' JSON form.
pub(crate) fn error(code: u16, aws_code: &str, message: &str) -> Reply {
    json(
        status(code),
        &serde_json::json!({ "code": aws_code, "message": message }),
    )
}

/// What the agents send when they throttle.
pub(crate) fn throttle() -> Reply {
    error(429, "TooManyRequests", "Rate exceeded")
}

/// A 200 with unterminated JSON.
pub(crate) fn malformed() -> Reply {
    Reply::new(StatusCode::OK, CONTENT_TYPE, "{\"AccessKeyId\":\"ASIA")
}

/// The normal answer. `expired` issues already-expired credentials.
pub(crate) fn handle(shared: &Shared, req: &Incoming, expired: bool) -> Reply {
    if req.method != Method::GET {
        return error(405, "MethodNotAllowed", "Only GET is supported.");
    }
    // The token is compared whole; it is never echoed or logged.
    if req.header("authorization") != Some(shared.config.ecs_auth_token.as_str()) {
        return error(
            401,
            "AccessDenied",
            "Authorization header is missing or does not match the token.",
        );
    }
    let config = &shared.config;
    let role_arn = format!("arn:aws:iam::{}:role/{}", config.account_id, config.role_name);
    let principal = Principal {
        arn: format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            config.account_id, config.role_name, config.task_id
        ),
        user_id: format!("{}:{}", shared.role_id(&role_arn), config.task_id),
    };
    let fresh = shared.issue(Call::Ecs, principal, None, expired);
    let expiration = format_rfc3339(fresh.expiration);
    let body = if req.path == EKS_PATH {
        serde_json::json!({
            "AccessKeyId": fresh.access_key_id,
            "SecretAccessKey": fresh.secret_access_key,
            "Token": fresh.session_token,
            "AccountId": config.account_id,
            "Expiration": expiration,
        })
    } else {
        serde_json::json!({
            "RoleArn": role_arn,
            "AccessKeyId": fresh.access_key_id,
            "SecretAccessKey": fresh.secret_access_key,
            "Token": fresh.session_token,
            "Expiration": expiration,
        })
    };
    json(StatusCode::OK, &body)
}
