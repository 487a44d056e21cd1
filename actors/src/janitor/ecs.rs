//! The janitor's one question to ECS, asked once at start: where is its cluster (`DescribeClusters` gives the
//! cluster's ARN, hence its region and account: the scope whose records it judges)? Also the error classes that
//! the EC2 seam shares.
//!
//! Two implementations: `aws-sdk-ecs` ([`super::sdk`]) and an in-memory fake for tests ([`super::fake`]).

use async_trait::async_trait;

use crate::aws_credentials::is_expired;
use crate::core::introspection::scope_of_arn;

/// A failed ECS or EC2 call, by what retrying can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    /// Unreachable endpoint, timeout, throttling, 5xx, expired credentials: a later try may well succeed.
    #[error("ECS API unavailable: {0}")]
    Transient(String),
    /// Access denied, no such cluster, invalid parameters: an operator has to fix something.
    #[error("ECS API error {code}: {message}")]
    Permanent {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
}

impl EcsError {
    /// True when retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// Classifies a service error by its code and HTTP status. Credentials rejected as expired are transient:
    /// the SDK seam resolves new ones for the next try.
    pub fn from_code(code: &str, message: &str, status: Option<u16>) -> Self {
        let throttled = matches!(
            code,
            "ThrottlingException" | "Throttling" | "RequestLimitExceeded" | "ServerException"
        ) || is_expired(code);
        let client_error = status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
        if !throttled && client_error && !code.is_empty() {
            Self::Permanent {
                code: code.into(),
                message: message.into(),
            }
        } else {
            Self::Transient(format!("{code} {message} (HTTP {})", status.unwrap_or(0)))
        }
    }
}

/// The ECS operation the janitor uses.
#[async_trait(?Send)]
pub trait EcsApi {
    /// `DescribeClusters` of one cluster: its ARN, or `None` when ECS does not know it (or knows it `INACTIVE`).
    async fn cluster_arn(&self, cluster: &str) -> Result<Option<String>, EcsError>;
}

/// The cluster's `<region>.<account>`. A cluster ECS does not know, or an ARN without a usable region and account,
/// is a permanent error: the janitor cannot tell which records are its cluster's.
pub async fn cluster_scope(api: &dyn EcsApi, cluster: &str) -> Result<String, EcsError> {
    let arn = api
        .cluster_arn(cluster)
        .await?
        .ok_or_else(|| EcsError::Permanent {
            code: "ClusterNotFoundException".into(),
            message: format!("no ACTIVE cluster named {cluster:?} in this region and account"),
        })?;
    scope_of_arn(&arn).ok_or_else(|| EcsError::Permanent {
        code: "UnexpectedArn".into(),
        message: format!("cluster ARN {arn:?} has no region and account"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        let e = |c, s| EcsError::from_code(c, "m", s);
        assert!(e("ThrottlingException", Some(400)).is_transient());
        assert!(e("ServerException", Some(500)).is_transient());
        assert!(e("", Some(503)).is_transient());
        assert!(!e("AccessDeniedException", Some(400)).is_transient());
        assert!(!e("ClusterNotFoundException", Some(400)).is_transient());
    }

    struct Answer(Result<Option<String>, EcsError>);

    #[async_trait(?Send)]
    impl EcsApi for Answer {
        async fn cluster_arn(&self, _: &str) -> Result<Option<String>, EcsError> {
            self.0.clone()
        }
    }

    #[actix_rt::test]
    async fn the_scope_comes_from_the_cluster_arn_and_an_unknown_cluster_is_permanent() {
        let arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/prod";
        let got = cluster_scope(&Answer(Ok(Some(arn.into()))), "prod").await;
        assert_eq!(got, Ok("eu-west-1.111122223333".to_string()));
        let unknown = cluster_scope(&Answer(Ok(None)), "prod").await.unwrap_err();
        assert!(!unknown.is_transient() && unknown.to_string().contains("prod"));
        let odd = cluster_scope(&Answer(Ok(Some("prod".into()))), "prod").await;
        assert!(odd.is_err_and(|e| !e.is_transient()));
        let down = Answer(Err(EcsError::Transient("503".into())));
        assert!(cluster_scope(&down, "prod")
            .await
            .unwrap_err()
            .is_transient());
    }
}
