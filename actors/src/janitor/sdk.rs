//! The `aws-sdk-ecs` implementation of [`EcsApi`]: `ListContainerInstances` and `DescribeContainerInstances`.
//!
//! Credentials, region and endpoint come from the caller's `aws_config` (the default chain, plus
//! `ecs.api_endpoint_url` for emulators). Both calls are read-only and scoped to one cluster.

use async_trait::async_trait;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::ContainerInstanceStatus;
use aws_sdk_ecs::Client;

use super::ecs::{instance_id, Described, EcsApi, EcsError, InstancePage, LIST_PAGE};
use super::plan::Instance;
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
    async fn list(
        &self,
        cluster: &str,
        status: &str,
        next: Option<&str>,
    ) -> Result<InstancePage, EcsError> {
        let out = self
            .client
            .list_container_instances()
            .cluster(cluster)
            .status(ContainerInstanceStatus::from(status))
            .max_results(LIST_PAGE)
            .set_next_token(next.map(str::to_string))
            .send()
            .await
            .map_err(classify)?;
        Ok(InstancePage {
            ids: out
                .container_instance_arns()
                .iter()
                .map(|a| instance_id(a).to_string())
                .collect(),
            next: out.next_token().map(str::to_string),
        })
    }

    async fn describe(&self, cluster: &str, ids: &[String]) -> Result<Described, EcsError> {
        let out = self
            .client
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(ids.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        let instances = out
            .container_instances()
            .iter()
            .filter_map(|ci| {
                Some(Instance {
                    id: instance_id(ci.container_instance_arn()?).to_string(),
                    status: ci.status().unwrap_or_default().to_string(),
                    agent_connected: ci.agent_connected(),
                })
            })
            .collect();
        let missing = out
            .failures()
            .iter()
            .filter(|f| f.reason() == Some("MISSING"))
            .filter_map(|f| Some(instance_id(f.arn()?).to_string()))
            .collect();
        Ok(Described { instances, missing })
    }
}
