//! One lookup: docker inspect, introspection for ECS tasks, the shared (pause) container for `container:<id>`,
//! then the pure decision in [`crate::core::address::decide`].
//!
//! Introspection is asked only for containers with the ECS task label (others would answer 404 after the whole
//! retry budget). When it is unavailable, a `container:<id>` container may be an awsvpc task whose address only the
//! ECS agent knows, so the lookup fails (and is retried) rather than guess; a bridge or host container goes on
//! with what Docker says.

use std::sync::Arc;

use std::rc::Rc;

use bollard::models::ContainerInspectResponse;

use super::client::IntrospectionError;
use super::sources::Sources;
use super::{MetadataConfig, MetadataError, Resolution, Resolve};
use crate::core::address::{decide, Decision, Inputs};
use crate::core::desired::TASK_ARN_LABEL;
use crate::core::instance::InstanceAddresses;
use crate::core::introspection::TaskInfo;
use crate::core::network::{network_mode, NetworkMode};

/// What one lookup needs, cloned out of the actor.
pub(super) struct Lookup {
    pub(super) sources: Rc<dyn Sources>,
    pub(super) config: Arc<MetadataConfig>,
    pub(super) instance: Arc<InstanceAddresses>,
}

/// A lookup's result, and whether it was skipped for want of this instance's address.
pub(super) struct Outcome {
    pub(super) result: Result<Resolution, MetadataError>,
    pub(super) no_instance_address: bool,
}

impl Lookup {
    pub(super) async fn resolve(&self, msg: &Resolve) -> Outcome {
        let mut no_instance_address = false;
        let result = self.run(msg, &mut no_instance_address).await;
        Outcome {
            result,
            no_instance_address,
        }
    }

    async fn run(&self, msg: &Resolve, no_address: &mut bool) -> Result<Resolution, MetadataError> {
        let Some(inspect) = self.inspect(&msg.container_id).await? else {
            return Ok(skip("the container no longer exists".into(), false));
        };
        if self.config.require_healthy {
            if let Some(status) = unhealthy(&inspect) {
                let why = format!("waiting for the Docker healthcheck (now {status})");
                return Ok(skip(why, false));
            }
        }
        let mode = network_mode(&inspect);
        let (task, introspection_error) = self.task(msg).await;
        if let (None, Some(e @ IntrospectionError::Unavailable(_)), NetworkMode::Container(_)) =
            (&task, &introspection_error, &mode)
        {
            return Err(e.clone().into());
        }
        let shared = match &mode {
            NetworkMode::Container(other) => self.inspect(other).await?,
            _ => None,
        };
        let inputs = Inputs {
            inspect: &inspect,
            shared: shared.as_ref(),
            task: task.as_ref(),
            instance: &self.instance,
            labels: &msg.labels,
            settings: &self.config.address,
        };
        match decide(&inputs) {
            Decision::Publish(endpoint) => Ok(Resolution::Publish {
                endpoint,
                instance: (*self.instance).clone(),
            }),
            Decision::Skip(why) => Ok(skip(why, false)),
            Decision::NoInstanceAddress(why) => {
                *no_address = true;
                Ok(skip(why, true))
            }
            Decision::Retry(why) => Err(MetadataError::NotYet(why)),
        }
    }

    /// Introspection's view of an ECS task, or why there is none.
    async fn task(&self, msg: &Resolve) -> (Option<TaskInfo>, Option<IntrospectionError>) {
        if !msg.labels.contains_key(TASK_ARN_LABEL) {
            return (None, None);
        }
        let Some(ask) = self.sources.task(&msg.container_id) else {
            return (None, None);
        };
        match ask.await {
            Ok(task) => (Some(task), None),
            Err(e) => {
                tracing::debug!(container_id = %msg.container_id, error = %e, "No introspection answer; using Docker's view.");
                (None, Some(e))
            }
        }
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerInspectResponse>, MetadataError> {
        self.sources.inspect(id).await
    }
}

fn skip(reason: String, keep_inherited: bool) -> Resolution {
    Resolution::Skip {
        reason,
        keep_inherited,
    }
}

/// The container's health status when it has a healthcheck and is not healthy.
fn unhealthy(inspect: &ContainerInspectResponse) -> Option<String> {
    let status = inspect
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .map(|s| s.to_string());
    status.filter(|s| s != "healthy" && s != "none" && !s.is_empty())
}
