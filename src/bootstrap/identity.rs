//! Who this agent is: its owner id (the host's EC2 instance id from instance metadata, or `agent.owner_id`), its
//! cluster and the cluster's region and account (from the local ECS agent, or `agent.cluster`).

use std::time::{Duration, Instant};

use route53_discovery_actors::core::introspection::AgentMetadata;
use route53_discovery_actors::core::ownership::{host_tag, is_ec2_instance_id, Owner};
use route53_discovery_actors::metadata::client::agent_metadata;
use route53_discovery_actors::metadata::imds::{ImdsClient, ImdsSource};

use super::introspection;
use crate::settings::{Mode, Settings};

/// Who this agent is. The owner is `agent.owner_id`, else this host's EC2 instance id from instance
/// metadata (the janitor asks EC2 about it). The cluster is `agent.cluster`, else the ECS agent's `/v1/metadata`
/// (retried within `budget`), which also gives the scope (region and account) of the SetIdentifiers; without it
/// (both set) they are written unscoped.
pub(super) async fn identity(settings: &Settings, budget: Duration) -> Result<Owner, String> {
    let configured = settings.agent.owner_id.clone();
    let mut cluster = settings.agent.cluster.clone();
    // `<region>.<account>` of the container instance, from the ECS agent; none when it is not asked.
    let mut scope = None;
    let ask =
        cluster.is_none() || (configured.is_none() && settings.ecs.introspection_url.is_some());
    if ask {
        let meta = registration(settings, budget, configured.is_some()).await?;
        cluster = cluster.or(Some(meta.cluster));
        scope = meta.scope;
    }
    let cluster = cluster.expect("set above");
    let owner = match configured {
        Some(owner) => owner,
        None => ec2_instance_id(settings, budget).await?,
    };
    let tag = match settings.agent.owner_id.is_some() && !is_ec2_instance_id(&owner) {
        true => host_tag_of(settings).await,
        false => None,
    };
    let me = match (&scope, &tag) {
        (scope, Some(tag)) => Owner::on_host(&cluster, &owner, scope.as_deref(), tag),
        (Some(scope), None) => Owner::scoped(&cluster, &owner, scope),
        (None, None) => Owner::new(&cluster, &owner),
    };
    me.map_err(|e| e.to_string())
}

/// The ECS agent's `/v1/metadata`, once this container instance is registered (its ARN gives the scope), retried
/// within `budget`; with `any` the first answer will do.
async fn registration(
    settings: &Settings,
    budget: Duration,
    any: bool,
) -> Result<AgentMetadata, String> {
    let ic = introspection(settings).ok_or("agent.cluster is needed without an ECS agent")?;
    let start = Instant::now();
    loop {
        match agent_metadata(&ic).await {
            Ok(m) if m.container_instance_id.is_some() || any => return Ok(m),
            Ok(_) => tracing::warn!(
                "The ECS agent has not registered this container instance yet; waiting."
            ),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the ECS agent metadata yet; waiting.")
            }
        }
        if start.elapsed() > budget {
            return Err(format!(
                "no cluster: the ECS agent at {} did not answer /v1/metadata within {budget:?}",
                ic.url
            ));
        }
        actix_rt::time::sleep(Duration::from_secs(2)).await;
    }
}

/// This host's EC2 instance id from instance metadata, retrying transient failures within `budget`. Without
/// instance metadata (ECS Anywhere, metadata switched off) there is none: `agent.owner_id` must say who this is.
async fn ec2_instance_id(settings: &Settings, budget: Duration) -> Result<String, String> {
    let no_owner = "no owner id: this host's EC2 instance id is unknown; set agent.owner_id (on ECS Anywhere, the managed instance id)";
    let source = ImdsSource::from_env(settings.agent.imds_endpoint.as_deref());
    let client = ImdsClient::new(&source).map_err(|e| format!("{no_owner}: {e}"))?;
    if client.is_disabled() {
        return Err(format!("{no_owner}: instance metadata is disabled"));
    }
    let start = Instant::now();
    loop {
        let error = match client.read().await {
            Ok(a) => match a.instance_id {
                Some(id) => return Ok(id),
                None => return Err(format!("{no_owner}: instance metadata has no instance-id")),
            },
            Err(e) if !e.is_transient() => return Err(format!("{no_owner}: {e}")),
            Err(e) => e,
        };
        if start.elapsed() > budget {
            return Err(format!("{no_owner}: {error}"));
        }
        tracing::warn!(error = %error, "Cannot read this host's EC2 instance id yet; retrying.");
        actix_rt::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The host tag of an `agent.owner_id` override that is not an EC2 instance id ([`host_tag`] of the EC2
/// instance id, read once from instance metadata): an owner id copied to several hosts then still names a
/// distinct owner on each. Without instance metadata there is none, and a warning says what that risks.
async fn host_tag_of(settings: &Settings) -> Option<String> {
    let source = ImdsSource::from_env(settings.agent.imds_endpoint.as_deref());
    let read = match ImdsClient::new(&source) {
        Ok(client) if !client.is_disabled() => client.read().await.map_err(|e| e.to_string()),
        Ok(_) => Err("instance metadata is disabled".to_string()),
        Err(e) => Err(e.to_string()),
    };
    match read.map(|a| a.instance_id) {
        Ok(Some(id)) => Some(host_tag(&id)),
        Ok(None) => None,
        // A dry run writes nothing, so no other host can take its records: no warning for a workstation.
        Err(e) if settings.agent.mode == Mode::DryRun => {
            tracing::info!(error = %e, "No EC2 instance id: the dry run's records carry the owner id alone.");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "agent.owner_id is set and this host's EC2 instance id is unknown: records carry the owner id alone, so if the same owner id is set on another host the two take each other's records for their own (and delete them at start).");
            None
        }
    }
}
