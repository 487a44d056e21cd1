//! The seam between the janitor and the ECS control-plane API: a narrow trait (the reads of the cycle, and the
//! attribute by which an agent announces itself as a janitor candidate), its error classes, a rate-limited
//! decorator, and the paginated / chunked reads the janitor's cycle uses.
//!
//! Two implementations: `aws-sdk-ecs` ([`super::sdk`]) and an in-memory fake for tests ([`super::fake`]).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use async_trait::async_trait;
use governor::DefaultDirectRateLimiter;

use super::plan::Instance;

/// `ListContainerInstances` returns at most this many per page.
pub const LIST_PAGE: i32 = 100;
/// `DescribeContainerInstances` takes at most this many ids per call.
pub const DESCRIBE_CHUNK: usize = 100;

/// A failed ECS call. Either way the janitor skips its cycle; the class decides the log level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    /// Unreachable endpoint, timeout, throttling, 5xx: the next cycle may well succeed.
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

    /// Classifies a service error by its code and HTTP status.
    pub fn from_code(code: &str, message: &str, status: Option<u16>) -> Self {
        let throttled = matches!(
            code,
            "ThrottlingException" | "Throttling" | "RequestLimitExceeded" | "ServerException"
        );
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

/// One page of `ListContainerInstances`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstancePage {
    /// Container instance ids (last part of each ARN).
    pub ids: Vec<String>,
    /// Token of the next page.
    pub next: Option<String>,
}

/// The answer of one `DescribeContainerInstances` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// The instances ECS knows.
    pub instances: Vec<Instance>,
    /// Ids ECS reported with the failure reason `MISSING`.
    pub missing: Vec<String>,
}

/// The ECS operations the janitor uses, on one cluster.
#[async_trait(?Send)]
pub trait EcsApi {
    /// One page of `ListContainerInstances` filtered by `status`.
    async fn list(
        &self,
        cluster: &str,
        status: &str,
        next: Option<&str>,
    ) -> Result<InstancePage, EcsError>;
    /// `DescribeContainerInstances` of at most [`DESCRIBE_CHUNK`] ids.
    async fn describe(&self, cluster: &str, ids: &[String]) -> Result<Described, EcsError>;
    /// `PutAttributes`: sets the custom attribute `name` = `value` on container instance `id`.
    async fn put_attribute(
        &self,
        cluster: &str,
        id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), EcsError>;
    /// `DeleteAttributes`: removes the custom attribute `name` from container instance `id` (by name and target,
    /// without a value, as the API asks for custom attributes).
    async fn delete_attribute(&self, cluster: &str, id: &str, name: &str) -> Result<(), EcsError>;
}

/// The id at the end of a container-instance ARN (or the id itself).
pub fn instance_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Every id of the cluster's instances with `status`, following `nextToken`. A token seen before is an error
/// (transient: the cycle is skipped), never a quietly partial list: a live instance left out could look unknown.
pub async fn list_all(
    api: &dyn EcsApi,
    cluster: &str,
    status: &str,
) -> Result<Vec<String>, EcsError> {
    let mut ids = Vec::new();
    let mut seen = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let page = api.list(cluster, status, next.as_deref()).await?;
        ids.extend(page.ids);
        let Some(token) = page.next else {
            return Ok(ids);
        };
        if !seen.insert(token.clone()) {
            return Err(EcsError::Transient(format!(
                "ListContainerInstances ({status}) repeated a nextToken after {} ids",
                ids.len()
            )));
        }
        next = Some(token);
    }
}

/// What ECS knows about a set of ids, gathered across calls.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// Described instances by id.
    pub instances: BTreeMap<String, Instance>,
    /// Ids reported `MISSING`.
    pub missing: BTreeSet<String>,
}

impl Knowledge {
    /// Adds one describe answer.
    pub fn add(&mut self, d: Described) {
        self.missing.extend(d.missing);
        self.instances
            .extend(d.instances.into_iter().map(|i| (i.id.clone(), i)));
    }

    /// True when ECS has said something about `id`.
    pub fn knows(&self, id: &str) -> bool {
        self.instances.contains_key(id) || self.missing.contains(id)
    }
}

/// Describes `ids` (those not yet known) in chunks, adding to `known`.
pub async fn describe_into(
    api: &dyn EcsApi,
    cluster: &str,
    ids: &[String],
    known: &mut Knowledge,
) -> Result<(), EcsError> {
    let todo: Vec<String> = ids.iter().filter(|i| !known.knows(i)).cloned().collect();
    for chunk in todo.chunks(DESCRIBE_CHUNK) {
        known.add(api.describe(cluster, chunk).await?);
    }
    Ok(())
}

/// A rate-limited view of another [`EcsApi`]: every call takes a token first.
pub struct RateLimitedEcs {
    inner: Rc<dyn EcsApi>,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl RateLimitedEcs {
    /// Wraps `inner` behind `limiter`.
    pub fn new(inner: Rc<dyn EcsApi>, limiter: Arc<DefaultDirectRateLimiter>) -> Self {
        Self { inner, limiter }
    }
}

#[async_trait(?Send)]
impl EcsApi for RateLimitedEcs {
    async fn list(
        &self,
        cluster: &str,
        status: &str,
        next: Option<&str>,
    ) -> Result<InstancePage, EcsError> {
        self.limiter.until_ready().await;
        self.inner.list(cluster, status, next).await
    }

    async fn describe(&self, cluster: &str, ids: &[String]) -> Result<Described, EcsError> {
        self.limiter.until_ready().await;
        self.inner.describe(cluster, ids).await
    }

    async fn put_attribute(
        &self,
        cluster: &str,
        id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), EcsError> {
        self.limiter.until_ready().await;
        self.inner.put_attribute(cluster, id, name, value).await
    }

    async fn delete_attribute(&self, cluster: &str, id: &str, name: &str) -> Result<(), EcsError> {
        self.limiter.until_ready().await;
        self.inner.delete_attribute(cluster, id, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        let e = |c, s| EcsError::from_code(c, "m", s);
        assert!(e("ThrottlingException", Some(400)).is_transient());
        assert!(e("ServerException", Some(500)).is_transient());
        assert!(e("", None).is_transient());
        assert!(!e("AccessDeniedException", Some(400)).is_transient());
        assert!(!e("ClusterNotFoundException", Some(400)).is_transient());
        assert!(e("Whatever", Some(429)).is_transient());
    }

    /// Pages that hand out the token `t` forever.
    struct Looping;

    #[async_trait(?Send)]
    impl EcsApi for Looping {
        async fn list(&self, _: &str, _: &str, _: Option<&str>) -> Result<InstancePage, EcsError> {
            Ok(InstancePage {
                ids: vec!["a".into()],
                next: Some("t".into()),
            })
        }

        async fn describe(&self, _: &str, _: &[String]) -> Result<Described, EcsError> {
            Ok(Described::default())
        }

        async fn put_attribute(&self, _: &str, _: &str, _: &str, _: &str) -> Result<(), EcsError> {
            Ok(())
        }

        async fn delete_attribute(&self, _: &str, _: &str, _: &str) -> Result<(), EcsError> {
            Ok(())
        }
    }

    #[actix_rt::test]
    async fn a_repeated_page_token_is_a_transient_error_not_a_partial_list() {
        let e = list_all(&Looping, "prod", "ACTIVE").await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("after 2 ids"), "{e}");
    }

    #[test]
    fn ids_come_from_old_and_new_style_arns() {
        let old = "arn:aws:ecs:us-east-1:1:container-instance/0f6b9a4c";
        let new = "arn:aws:ecs:us-east-1:1:container-instance/prod/0f6b9a4c";
        assert_eq!(instance_id(old), "0f6b9a4c");
        assert_eq!(instance_id(new), "0f6b9a4c");
        assert_eq!(instance_id("0f6b9a4c"), "0f6b9a4c");
    }
}
