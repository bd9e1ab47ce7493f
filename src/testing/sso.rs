//! IAM Identity Center: OIDC `CreateToken` (the `refresh_token` grant) and
//! the portal's `GetRoleCredentials`, both restJson.
//!
//! Their shapes follow the service models botocore ships
//! (`sso-oidc/2019-06-10`, `sso/2019-06-10`): `POST /token` with a JSON
//! body `{grantType, clientId, clientSecret, refreshToken}` answering
//! `{accessToken, tokenType, expiresIn, refreshToken}`; `GET
//! /federation/credentials?role_name=…&account_id=…` with the access token
//! in `x-amz-sso_bearer_token`, answering `{"roleCredentials":
//! {accessKeyId, secretAccessKey, sessionToken, expiration}}` (expiration
//! in epoch milliseconds). Errors carry their code in `x-amzn-ErrorType`;
//! OIDC's body is `{error, error_description}`, the portal's `{message}`.

use std::time::UNIX_EPOCH;

use http::{Method, StatusCode};
use serde::Deserialize;

use super::faults::Call;
use super::state::{Principal, Shared, SsoRefusal};
use super::wire::{Incoming, Reply, request_id, status};

/// The path of OIDC `CreateToken`.
pub(crate) const OIDC_PATH: &str = "/token";
/// The path of the portal's `GetRoleCredentials`.
pub(crate) const PORTAL_PATH: &str = "/federation/credentials";
/// The header carrying the access token to the portal.
pub(crate) const BEARER_HEADER: &str = "x-amz-sso_bearer_token";
/// The user the emulator's IAM Identity Center sessions belong to.
pub(crate) const SSO_USER: &str = "credrefresh-emulator-user";

const CONTENT_TYPE: &str = "application/json";

/// Which call a request is, if it is an IAM Identity Center one.
pub(crate) fn route(req: &Incoming) -> Option<Call> {
    match req.path.as_str() {
        OIDC_PATH => Some(Call::SsoCreateToken),
        PORTAL_PATH => Some(Call::SsoGetRoleCredentials),
        _ => None,
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    Reply::new(status, CONTENT_TYPE, value.to_string()).with_header("x-amzn-requestid", &request_id())
}

/// An error of `call` in its restJson form.
pub(crate) fn error(call: Call, code: u16, aws_code: &str, message: &str) -> Reply {
    let body = if call == Call::SsoCreateToken {
        serde_json::json!({ "error": aws_code, "error_description": message })
    } else {
        serde_json::json!({ "message": message })
    };
    json(status(code), &body).with_header("x-amzn-errortype", aws_code)
}

/// What each service sends when it throttles.
pub(crate) fn throttle(call: Call) -> Reply {
    if call == Call::SsoCreateToken {
        error(call, 400, "SlowDownException", "slow_down")
    } else {
        error(call, 429, "TooManyRequestsException", "Rate exceeded")
    }
}

/// A 200 with unterminated JSON.
pub(crate) fn malformed(call: Call) -> Reply {
    let body = if call == Call::SsoCreateToken {
        "{\"accessToken\":\"aoa"
    } else {
        "{\"roleCredentials\":{\"accessKeyId\":\"ASIA"
    };
    Reply::new(StatusCode::OK, CONTENT_TYPE, body)
}

/// The normal answer to `call`. `expired` issues an already-expired
/// access token (`CreateToken`) or already-expired credentials
/// (`GetRoleCredentials`).
pub(crate) fn handle(shared: &Shared, call: Call, req: &Incoming, expired: bool) -> Reply {
    if call == Call::SsoCreateToken {
        create_token(shared, req, expired)
    } else {
        get_role_credentials(shared, req, expired)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

fn oidc_error(code: u16, aws_code: &str, error: &str, description: &str) -> Reply {
    json(
        status(code),
        &serde_json::json!({ "error": error, "error_description": description }),
    )
    .with_header("x-amzn-errortype", aws_code)
}

fn create_token(shared: &Shared, req: &Incoming, expired: bool) -> Reply {
    if req.method != Method::POST {
        return oidc_error(405, "InvalidRequestException", "invalid_request", "Use POST.");
    }
    let Ok(body) = serde_json::from_str::<CreateTokenRequest>(&req.body) else {
        return oidc_error(
            400,
            "InvalidRequestException",
            "invalid_request",
            "The request body is not a JSON object of strings.",
        );
    };
    let (Some(client_id), Some(client_secret), Some(grant_type)) =
        (body.client_id, body.client_secret, body.grant_type)
    else {
        return oidc_error(
            400,
            "InvalidRequestException",
            "invalid_request",
            "clientId, clientSecret and grantType are required.",
        );
    };
    if grant_type != "refresh_token" {
        return oidc_error(
            400,
            "UnsupportedGrantTypeException",
            "unsupported_grant_type",
            "The emulator supports only the refresh_token grant.",
        );
    }
    let Some(refresh_token) = body.refresh_token else {
        return oidc_error(
            400,
            "InvalidRequestException",
            "invalid_request",
            "refreshToken is required for the refresh_token grant.",
        );
    };
    match shared.sso_refresh(&client_id, &client_secret, &refresh_token, expired) {
        Ok(token) => json(
            StatusCode::OK,
            &serde_json::json!({
                "accessToken": token.access_token,
                "tokenType": "Bearer",
                "expiresIn": token.expires_in,
                "refreshToken": token.refresh_token,
            }),
        ),
        Err(SsoRefusal::InvalidClient) => oidc_error(
            401,
            "InvalidClientException",
            "invalid_client",
            "The client is not registered, or its secret does not match.",
        ),
        Err(SsoRefusal::InvalidGrant) => oidc_error(
            400,
            "InvalidGrantException",
            "invalid_grant",
            "The refresh token is invalid, expired or already used.",
        ),
    }
}

fn portal_error(code: u16, aws_code: &str, message: &str) -> Reply {
    error(Call::SsoGetRoleCredentials, code, aws_code, message)
}

fn get_role_credentials(shared: &Shared, req: &Incoming, expired: bool) -> Reply {
    if req.method != Method::GET {
        return portal_error(405, "InvalidRequestException", "Use GET.");
    }
    // The token is compared, never echoed or logged.
    let token_ok = req
        .header(BEARER_HEADER)
        .is_some_and(|token| shared.sso_access_token_valid(token));
    if !token_ok {
        return portal_error(401, "UnauthorizedException", "Session token not found or invalid");
    }
    let (Some(role_name), Some(account_id)) = (req.param("role_name"), req.param("account_id")) else {
        return portal_error(400, "InvalidRequestException", "role_name and account_id are required.");
    };
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return portal_error(400, "InvalidRequestException", "account_id is not 12 digits.");
    }
    let role_ok = (1..=64).contains(&role_name.len())
        && role_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !role_ok {
        return portal_error(400, "InvalidRequestException", "role_name is not a role name.");
    }
    let config = &shared.config;
    let reserved = format!("AWSReservedSSO_{role_name}_{}", &config.task_id[..16]);
    let role_arn = format!("arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{reserved}");
    let principal = Principal {
        arn: format!("arn:aws:sts::{account_id}:assumed-role/{reserved}/{SSO_USER}"),
        user_id: format!("{}:{SSO_USER}", shared.role_id(&role_arn)),
    };
    let fresh = shared.issue(Call::SsoGetRoleCredentials, principal, None, expired);
    let millis = fresh
        .expiration
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    json(
        StatusCode::OK,
        &serde_json::json!({
            "roleCredentials": {
                "accessKeyId": fresh.access_key_id,
                "secretAccessKey": fresh.secret_access_key,
                "sessionToken": fresh.session_token,
                "expiration": millis,
            }
        }),
    )
}
