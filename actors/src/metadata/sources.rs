//! What the metadata actor asks, as a trait: `docker inspect`, the ECS agent's view of a task, and this
//! instance's addresses. [`LiveSources`] asks Docker (bollard), the introspection API (`awc`) and IMDSv2; actor
//! and model tests answer from memory, and can fail or hang any of them.

use std::rc::Rc;

use bollard::models::ContainerInspectResponse;
use bollard::Docker;
use futures::future::LocalBoxFuture;

use super::client::{task_of, IntrospectionConfig, IntrospectionError};
use super::imds::{ImdsClient, ImdsError};
use super::MetadataError;
use crate::core::instance::InstanceAddresses;
use crate::core::introspection::TaskInfo;

/// The lookups behind one resolution.
pub trait Sources: 'static {
    /// `docker inspect <id>`; `Ok(None)` when the container does not exist.
    fn inspect(
        &self,
        id: &str,
    ) -> LocalBoxFuture<'static, Result<Option<ContainerInspectResponse>, MetadataError>>;

    /// The ECS agent's view of the container's task; `None` when there is no ECS agent to ask (local runs).
    fn task(
        &self,
        id: &str,
    ) -> Option<LocalBoxFuture<'static, Result<TaskInfo, IntrospectionError>>>;

    /// This instance's addresses from instance metadata (disabled: none, with the reason).
    fn instance(&self) -> LocalBoxFuture<'static, Result<InstanceAddresses, ImdsError>>;

    /// True when instance metadata is switched off (it is then never read again).
    fn instance_disabled(&self) -> bool;
}

/// Docker over its socket, the ECS agent over HTTP, IMDSv2. Built on the arbiter that uses it (`awc::Client`
/// is not `Send`).
pub struct LiveSources {
    docker: Docker,
    client: awc::Client,
    introspection: Option<Rc<IntrospectionConfig>>,
    imds: ImdsClient,
}

impl LiveSources {
    /// Sources over `docker`, the introspection API (if any) and `imds`.
    pub fn new(
        docker: Docker,
        introspection: Option<IntrospectionConfig>,
        imds: ImdsClient,
    ) -> Self {
        Self {
            docker,
            client: awc::Client::default(),
            introspection: introspection.map(Rc::new),
            imds,
        }
    }
}

impl Sources for LiveSources {
    fn inspect(
        &self,
        id: &str,
    ) -> LocalBoxFuture<'static, Result<Option<ContainerInspectResponse>, MetadataError>> {
        let (docker, id) = (self.docker.clone(), id.to_string());
        Box::pin(async move {
            match docker.inspect_container(&id, None).await {
                Ok(i) => Ok(Some(i)),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(None),
                Err(e) => Err(MetadataError::Docker(e.to_string())),
            }
        })
    }

    fn task(
        &self,
        id: &str,
    ) -> Option<LocalBoxFuture<'static, Result<TaskInfo, IntrospectionError>>> {
        let config = self.introspection.clone()?;
        let (client, id) = (self.client.clone(), id.to_string());
        Some(Box::pin(
            async move { task_of(&client, &config, &id).await },
        ))
    }

    fn instance(&self) -> LocalBoxFuture<'static, Result<InstanceAddresses, ImdsError>> {
        let imds = self.imds.clone();
        Box::pin(async move { imds.read().await })
    }

    fn instance_disabled(&self) -> bool {
        self.imds.is_disabled()
    }
}
