//! [`ImdsError`]: what went wrong reading instance metadata, and the mapping from aws-config's IMDS errors
//! (status codes of the token `PUT` and the `GET`, connection failures) onto it.

use std::error::Error as _;

use aws_config::imds::client::error::{ImdsError as SdkImdsError, TokenError};
use aws_sdk_route53::config::http::HttpResponse;
use aws_sdk_route53::error::{ConnectorError, SdkError};

use super::TOKEN;
use crate::error_chain::display_chain;

/// Why instance metadata gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImdsError {
    /// The endpoint is not a URL the SDK accepts.
    #[error("the instance metadata endpoint {endpoint:?} is not a valid URL: {reason}")]
    BadEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// The SDK's complaint.
        reason: String,
    },
    /// 401/403: IMDS is turned off for this instance, or the session token was refused.
    #[error("instance metadata refused {path} with HTTP {status}: IMDS is turned off for this instance or the token was refused (set agent.host_ip / agent.host_ipv6, or enable IMDS)")]
    Denied {
        /// The path asked.
        path: &'static str,
        /// 401 or 403.
        status: u16,
    },
    /// No answer: not on EC2, the endpoint blocked, or a hop limit of 1 seen from a bridge-network container.
    #[error("instance metadata is unreachable ({path}): {detail} (not on EC2, the endpoint blocked, or the agent not on the host network with an IMDS hop limit of 1)")]
    Unreachable {
        /// The path asked.
        path: &'static str,
        /// What the connection did.
        detail: String,
    },
    /// 5xx: a passing IMDS failure.
    #[error("instance metadata answered {path} with HTTP {status} (temporary IMDS failure)")]
    Server {
        /// The path asked.
        path: &'static str,
        /// The 5xx status.
        status: u16,
    },
    /// Another 4xx, e.g. an endpoint that does not speak IMDSv2.
    #[error("instance metadata rejected {path} with HTTP {status}: {detail}")]
    Rejected {
        /// The path asked.
        path: &'static str,
        /// The status.
        status: u16,
        /// The SDK's reading of it.
        detail: String,
    },
    /// A 200 whose body is not what the path holds.
    #[error("instance metadata returned {value:?} for {path}, which is not {expected}")]
    Garbage {
        /// The path asked.
        path: &'static str,
        /// The value, truncated.
        value: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// Neither `local-ipv4` nor `ipv6` is set.
    #[error("instance metadata gives this instance no address (local-ipv4 and ipv6 both absent)")]
    NoAddress,
    /// Anything the SDK reports that fits none of the above.
    #[error("unexpected instance metadata failure ({path}): {detail}")]
    Unexpected {
        /// The path asked.
        path: &'static str,
        /// The SDK's error chain.
        detail: String,
    },
}

impl ImdsError {
    /// Worth retrying soon (unreachable, 5xx, unknown); the rest need an operator or a changed instance.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ImdsError::Unreachable { .. } | ImdsError::Server { .. } | ImdsError::Unexpected { .. }
        )
    }
}

/// `Ok(())` for a 404 (not set); otherwise the error.
pub(super) fn classify(path: &'static str, err: &SdkImdsError) -> Result<(), ImdsError> {
    match err {
        SdkImdsError::ErrorResponse(r) => by_status(path, r.response().status().as_u16(), ""),
        SdkImdsError::FailedToLoadToken(_) => Err(token_failure(err)),
        SdkImdsError::IoError(_) => Err(ImdsError::Unreachable {
            path,
            detail: display_chain(err),
        }),
        _ if connector_failure(err) => Err(ImdsError::Unreachable {
            path,
            detail: display_chain(err),
        }),
        _ => Err(ImdsError::Unexpected {
            path,
            detail: display_chain(err),
        }),
    }
}

pub(super) fn by_status(path: &'static str, status: u16, detail: &str) -> Result<(), ImdsError> {
    match status {
        404 if path != TOKEN => Ok(()),
        401 | 403 => Err(ImdsError::Denied { path, status }),
        500..=599 => Err(ImdsError::Server { path, status }),
        _ => Err(ImdsError::Rejected {
            path,
            status,
            detail: if detail.is_empty() {
                "unexpected status".into()
            } else {
                detail.into()
            },
        }),
    }
}

/// The token `PUT` failed: read its status, or how the connection failed.
fn token_failure(err: &SdkImdsError) -> ImdsError {
    let unreachable = || ImdsError::Unreachable {
        path: TOKEN,
        detail: display_chain(err),
    };
    let source = err
        .source()
        .and_then(|s| s.downcast_ref::<SdkError<TokenError, HttpResponse>>());
    match source {
        Some(SdkError::ServiceError(ctx)) => {
            let status = ctx.raw().status().as_u16();
            by_status(TOKEN, status, &ctx.err().to_string())
                .err()
                .unwrap_or(ImdsError::Rejected {
                    path: TOKEN,
                    status,
                    detail: ctx.err().to_string(),
                })
        }
        Some(
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_),
        ) => unreachable(),
        _ if connector_failure(err) => unreachable(),
        _ => ImdsError::Unexpected {
            path: TOKEN,
            detail: display_chain(err),
        },
    }
}

/// True when a connect, timeout or I/O failure is somewhere in the chain.
fn connector_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(c) = e.downcast_ref::<ConnectorError>() {
            return c.is_timeout() || c.is_io();
        }
        next = e.source();
    }
    false
}
