//! The `aws-sdk-ecs` implementation of [`EcsApi`] (`DescribeClusters`) and the `aws-sdk-ec2` one of [`Ec2Api`]
//! (`DescribeInstances` filtered on instance ids).
//!
//! Credentials, region and endpoint come from the caller's `aws_config` (the default chain, plus
//! `ecs.api_endpoint_url` / `ec2.api_endpoint_url` for emulators). Every call is read-only.

use async_trait::async_trait;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::Client;

use super::ec2::{Ec2Api, Ec2Error, Ec2Page};
use super::ecs::{EcsApi, EcsError};
use crate::error_chain::display_chain;

/// ECS through `aws-sdk-ecs`.
#[derive(Debug, Clone)]
pub struct SdkEcs {
    client: Client,
}

impl SdkEcs {
    /// Wraps a configured client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Classifies an SDK error (ECS's and EC2's are the same smithy type) by its code, HTTP status and kind.
fn classify<E>(err: SdkError<E, HttpResponse>) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = Some(se.raw().status().as_u16());
            EcsError::from_code(e.code().unwrap_or(""), e.message().unwrap_or(""), status)
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
        let out = self
            .client
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(classify)?;
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
}

impl SdkEc2 {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Self { client }
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
        let out = self
            .client
            .describe_instances()
            .filters(filter)
            .max_results(EC2_PAGE)
            .set_next_token(next.map(str::to_string))
            .send()
            .await
            .map_err(|e| Ec2Error::from(classify(e)))?;
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
