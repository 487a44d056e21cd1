//! The `aws-sdk-ecs` implementation of [`EcsApi`] (`DescribeClusters`) and the `aws-sdk-ec2` one of [`Ec2Api`]
//! (`DescribeInstances` filtered on instance ids).
//!
//! Credentials, region and endpoint come from the caller's `aws_config` (the default chain, plus
//! `ecs.api_endpoint_url` / `ec2.api_endpoint_url` for emulators). Every call is read-only. Credentials rejected
//! as expired are resolved afresh for the next call ([`FreshIdentity`]).

use async_trait::async_trait;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::Client;

use super::ec2::{Ec2Api, Ec2Error, Ec2Page};
use super::ecs::{EcsApi, EcsError};
use crate::aws_credentials::{is_expired, FreshIdentity};
use crate::error_chain::display_chain;

/// ECS through `aws-sdk-ecs`.
#[derive(Debug, Clone)]
pub struct SdkEcs {
    client: Client,
    fresh_identity: FreshIdentity,
}

impl SdkEcs {
    /// Wraps a configured client.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            fresh_identity: FreshIdentity::default(),
        }
    }
}

/// Classifies an SDK error (ECS's and EC2's are the same smithy type) by its code, HTTP status and kind; renews
/// `fresh` when the credentials were rejected as expired.
fn classify<E>(err: SdkError<E, HttpResponse>, service: &str, fresh: &FreshIdentity) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let (e, status) = (se.err(), Some(se.raw().status().as_u16()));
            let code = e.code().unwrap_or("");
            if is_expired(code) {
                tracing::warn!(
                    service,
                    code,
                    "The credentials were rejected as expired; refreshing them."
                );
                fresh.renew();
            }
            EcsError::from_code(code, e.message().unwrap_or(""), status)
        }
        SdkError::ConstructionFailure(_) => EcsError::Permanent {
            code: "ConstructionFailure".into(),
            message: display_chain(&err),
        },
        _ => EcsError::Transient(display_chain(&err)),
    }
}

#[async_trait(?Send)]
impl EcsApi for SdkEcs {
    async fn cluster_arn(&self, cluster: &str) -> Result<Option<String>, EcsError> {
        let mut op = self
            .client
            .describe_clusters()
            .clusters(cluster)
            .customize();
        if let Some(cache) = self.fresh_identity.cache() {
            op = op.config_override(aws_sdk_ecs::Config::builder().identity_cache(cache));
        }
        let out = op
            .send()
            .await
            .map_err(|e| classify(e, "ecs", &self.fresh_identity))?;
        let arn = out
            .clusters()
            .iter()
            .find(|c| c.status() == Some("ACTIVE"))
            .and_then(|c| c.cluster_arn())
            .map(str::to_string);
        Ok(arn)
    }
}

/// EC2 through `aws-sdk-ec2`.
#[derive(Debug, Clone)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
    fresh_identity: FreshIdentity,
}

impl SdkEc2 {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Self {
            client,
            fresh_identity: FreshIdentity::default(),
        }
    }
}

/// Largest page `DescribeInstances` serves (with a filter; `MaxResults` cannot go with `InstanceIds`).
const EC2_PAGE: i32 = 1000;

#[async_trait(?Send)]
impl Ec2Api for SdkEc2 {
    async fn describe_page(&self, ids: &[String], next: Option<&str>) -> Result<Ec2Page, Ec2Error> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("instance-id")
            .set_values(Some(ids.to_vec()))
            .build();
        let request = self.client.describe_instances().filters(filter);
        let request = request
            .max_results(EC2_PAGE)
            .set_next_token(next.map(str::to_string));
        let mut op = request.customize();
        if let Some(cache) = self.fresh_identity.cache() {
            op = op.config_override(aws_sdk_ec2::Config::builder().identity_cache(cache));
        }
        let out = op
            .send()
            .await
            .map_err(|e| Ec2Error::from(classify(e, "ec2", &self.fresh_identity)))?;
        let states = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let state = i.state()?.name()?.as_str().to_string();
                Some((i.instance_id()?.to_string(), state))
            })
            .collect();
        Ok(Ec2Page {
            states,
            next: out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::config::{BehaviorVersion, IdentityCache, Region};
    use aws_smithy_runtime_api::client::http::{http_client_fn, SharedHttpConnector};

    use super::*;
    use crate::aws_credentials::scripted::{Counting, Scripted};

    const ECS_EXPIRED: &str = r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#;
    const CLUSTER: &str = r#"{"clusters":[{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","clusterName":"prod","status":"ACTIVE"}],"failures":[]}"#;
    const EC2_EXPIRED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestExpired</Code><Message>Request has expired.</Message></Error></Errors><RequestID>t</RequestID></Response>"#;
    const INSTANCES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>t</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-0a</instanceId><instanceState><code>16</code><name>running</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>"#;

    /// Clients as `aws_config` builds them: a lazy identity cache, no SDK retries.
    fn config(service: &Scripted) -> aws_sdk_ecs::config::Builder {
        let connector = service.clone();
        aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Counting::default())
            .identity_cache(IdentityCache::lazy().build())
            .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }))
    }

    fn signed_by(service: &Scripted) -> Vec<String> {
        service.signed_by.lock().unwrap().clone()
    }

    #[actix_rt::test]
    async fn ecs_rejecting_credentials_as_expired_is_transient_and_the_retry_signs_anew() {
        let ecs = Scripted::default();
        let replies = [(200, CLUSTER), (400, ECS_EXPIRED), (200, CLUSTER)];
        ecs.replies.lock().unwrap().extend(replies);
        let api = SdkEcs::new(Client::from_conf(config(&ecs).build()));
        assert!(api.cluster_arn("prod").await.unwrap().is_some());
        let err = api.cluster_arn("prod").await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        assert!(api.cluster_arn("prod").await.unwrap().is_some());
        assert_eq!(signed_by(&ecs), ["AKID1", "AKID1", "AKID2"]);
    }

    #[actix_rt::test]
    async fn ec2_rejecting_credentials_as_expired_is_transient_and_the_retry_signs_anew() {
        let ec2 = Scripted::default();
        let replies = [(200, INSTANCES), (400, EC2_EXPIRED), (200, INSTANCES)];
        ec2.replies.lock().unwrap().extend(replies);
        let connector = ec2.clone();
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .credentials_provider(Counting::default())
            .identity_cache(IdentityCache::lazy().build())
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }));
        let api = SdkEc2::new(aws_sdk_ec2::Client::from_conf(conf.build()));
        let ids = ["i-0a".to_string()];
        assert_eq!(api.describe_page(&ids, None).await.unwrap().states.len(), 1);
        let err = api.describe_page(&ids, None).await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(api.describe_page(&ids, None).await.unwrap().states.len(), 1);
        assert_eq!(signed_by(&ec2), ["AKID1", "AKID1", "AKID2"]);
    }
}
