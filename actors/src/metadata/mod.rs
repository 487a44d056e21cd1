//! `MetadataActor`: finds the IPv4 address a container's record should hold.
//!
//! ```text
//! ECS task label?  ──yes──▶ introspection /v1/tasks?dockerid=<id>
//!      │                      ├─ STOPPED / desired STOPPED ─▶ skip
//!      │                      ├─ awsvpc IPv4 ─────────────────▶ address (the task ENI)
//!      │                      └─ no Networks (bridge/host), or agent unavailable ─┐
//!      no ─────────────────────────────────────────────────────────────────────────┤
//!                                                                                  ▼
//!                                 docker inspect: bridge/user network ─▶ address
//!                                                 host ─▶ agent.host_ip (or skip)
//!                                                 container:<id> ─▶ inspect <id> (Service Connect bridge)
//!                                                 none / no address ─▶ skip
//! ```
//!
//! Containers without the ECS task label are not ECS tasks, so introspection (which would answer 404 after its
//! whole retry budget) is not asked.

pub mod client;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use actix::prelude::*;
use bollard::Docker;

use self::client::{task_of, IntrospectionConfig, IntrospectionError};
use crate::core::desired::TASK_ARN_LABEL;
use crate::core::introspection::TaskNetwork;
use crate::core::network::{placement, Placement};
use crate::messages::Reporter;

const ACTOR: &str = "metadata";

/// Settings of the metadata lookups.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// The introspection API; `None` when there is no ECS agent (local runs).
    pub introspection: Option<IntrospectionConfig>,
    /// The host's address, for host-network containers.
    pub host_ip: Option<Ipv4Addr>,
    /// A container with a Docker HEALTHCHECK gets an address only while it is healthy.
    pub require_healthy: bool,
}

/// Where a container's record should point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Register this address.
    Address {
        /// The address.
        ip: Ipv4Addr,
        /// Where it came from (`ecs-introspection`, `docker-inspect`, `host-ip`), for logs.
        source: &'static str,
    },
    /// Do not register the container, for this reason.
    Skip(String),
}

/// Failures worth trying again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Docker could not be asked.
    #[error("docker inspect failed: {0}")]
    Docker(String),
    /// An awsvpc task whose address only the (unavailable) ECS agent knows.
    #[error("{0}")]
    Introspection(#[from] IntrospectionError),
}

/// Resolve the address of a running container.
#[derive(Debug, Message)]
#[rtype(result = "Result<Resolution, MetadataError>")]
pub struct Resolve {
    /// Full container id.
    pub container_id: String,
    /// The container's labels.
    pub labels: HashMap<String, String>,
}

/// The lookup actor. Holds the per-thread `awc` client.
pub struct MetadataActor {
    docker: Docker,
    client: awc::Client,
    config: Arc<MetadataConfig>,
    reporter: Reporter,
}

impl MetadataActor {
    /// Builds the actor; call on the arbiter it will run on (`awc::Client` is not `Send`).
    pub fn new(docker: Docker, config: MetadataConfig, reporter: Reporter) -> Self {
        Self {
            docker,
            client: awc::Client::default(),
            config: Arc::new(config),
            reporter,
        }
    }
}

impl Actor for MetadataActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl Handler<Resolve> for MetadataActor {
    type Result = ResponseActFuture<Self, Result<Resolution, MetadataError>>;

    fn handle(&mut self, msg: Resolve, _ctx: &mut Context<Self>) -> Self::Result {
        let (docker, client, config) = (
            self.docker.clone(),
            self.client.clone(),
            self.config.clone(),
        );
        Box::pin(async move { resolve(&docker, &client, &config, &msg).await }.into_actor(self))
    }
}

async fn resolve(
    docker: &Docker,
    client: &awc::Client,
    config: &MetadataConfig,
    msg: &Resolve,
) -> Result<Resolution, MetadataError> {
    if config.require_healthy {
        if let Some(status) = unhealthy(docker, &msg.container_id).await? {
            return Ok(Resolution::Skip(format!(
                "waiting for the Docker healthcheck (now {status})"
            )));
        }
    }
    let mut introspection_error = None;
    if let (Some(ic), true) = (
        &config.introspection,
        msg.labels.contains_key(TASK_ARN_LABEL),
    ) {
        match task_of(client, ic, &msg.container_id).await {
            Ok(task) if task.is_stopping() => {
                return Ok(Resolution::Skip("the ECS task is stopping".into()))
            }
            Ok(task) => match task.network {
                TaskNetwork::Awsvpc { ipv4, .. } => {
                    return Ok(match ipv4.first() {
                        Some(&ip) => Resolution::Address {
                            ip,
                            source: "ecs-introspection",
                        },
                        None => Resolution::Skip(
                            "the awsvpc task has no IPv4 address (IPv6-only)".into(),
                        ),
                    })
                }
                TaskNetwork::NotReported => {}
            },
            Err(e) => introspection_error = Some(e),
        }
    }
    from_docker(docker, config, &msg.container_id, introspection_error).await
}

/// The container's health status when it has a healthcheck and is not healthy.
async fn unhealthy(docker: &Docker, id: &str) -> Result<Option<String>, MetadataError> {
    let info = match docker.inspect_container(id, None).await {
        Ok(i) => i,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(None),
        Err(e) => return Err(MetadataError::Docker(e.to_string())),
    };
    let status = info
        .state
        .and_then(|s| s.health)
        .and_then(|h| h.status)
        .map(|s| s.to_string());
    Ok(status.filter(|s| s != "healthy" && s != "none" && !s.is_empty()))
}

async fn inspect(docker: &Docker, id: &str) -> Result<Option<Placement>, MetadataError> {
    match docker.inspect_container(id, None).await {
        Ok(i) => Ok(Some(placement(&i))),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(MetadataError::Docker(e.to_string())),
    }
}

async fn from_docker(
    docker: &Docker,
    config: &MetadataConfig,
    id: &str,
    introspection_error: Option<IntrospectionError>,
) -> Result<Resolution, MetadataError> {
    let skip = |why: &str| Ok(Resolution::Skip(why.to_string()));
    let shared = match inspect(docker, id).await? {
        None => return skip("the container no longer exists"),
        Some(Placement::Address(ip)) => {
            return Ok(Resolution::Address {
                ip,
                source: "docker-inspect",
            })
        }
        Some(Placement::Host) => {
            return match config.host_ip {
                Some(ip) => Ok(Resolution::Address {
                    ip,
                    source: "host-ip",
                }),
                None => skip("host network mode and agent.host_ip is not set"),
            }
        }
        Some(Placement::NoAddress) => {
            return skip("no IPv4 address (network mode none, or not running)")
        }
        Some(Placement::SharesWith(other)) => other,
    };
    // container:<id>: Service Connect bridge puts the address on the referenced (pause) container.
    match inspect(docker, &shared).await? {
        Some(Placement::Address(ip)) => Ok(Resolution::Address {
            ip,
            source: "docker-inspect",
        }),
        Some(Placement::Host) if config.host_ip.is_some() => Ok(Resolution::Address {
            ip: config.host_ip.expect("checked"),
            source: "host-ip",
        }),
        _ => match introspection_error {
            Some(e @ IntrospectionError::Unavailable(_)) => Err(e.into()),
            Some(e) => skip(&format!("awsvpc-style container and {e}")),
            None => skip("shares a network namespace that has no IPv4 address"),
        },
    }
}
