//! Start-up: reach Docker, learn who we are (owner, cluster), learn the zone's name, then start the actors.
//!
//! Each step retries transient failures; a permanent one (no such zone, access denied, a zone name that does not
//! match the configuration) goes to the supervisor as `ActorFailed`, which exits non-zero.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use bollard::Docker;
use route53_discovery_actors::core::address::{AddressSettings, RecordTypes};
use route53_discovery_actors::core::desired::RecordPolicy;
use route53_discovery_actors::core::events::DrainWindow;
use route53_discovery_actors::core::introspection::AgentMetadata;
use route53_discovery_actors::core::naming::ZoneName;
use route53_discovery_actors::core::ownership::{host_tag, is_ec2_instance_id, Owner};
use route53_discovery_actors::event_watcher::{
    BollardSource, DockerConfig, EventWatcherActor, FIRST_RECONNECT_DELAY,
};
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::messages::ActorFailed;
use route53_discovery_actors::metadata::client::{agent_metadata, IntrospectionConfig};
use route53_discovery_actors::metadata::imds::{ImdsClient, ImdsSource};
use route53_discovery_actors::metadata::{LiveSources, MetadataActor, MetadataConfig};
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::registrar::pool::RegistrarPool;
use route53_discovery_actors::registrar::{RegistrarActor, RetryPolicy};
use route53_discovery_actors::route53::api::{DnsApi, ErrorClass};
use route53_discovery_actors::route53::dry_run::DryRunDns;
use route53_discovery_actors::route53::journal::WriterJournal;
use route53_discovery_actors::route53::limiter::{self, RateLimited};
use route53_discovery_actors::route53::measured::Measured;
use route53_discovery_actors::route53::sdk::SdkDns;
use route53_discovery_actors::route53::{Route53Actor, Route53Config, WriterLink, WRITER_BACKOFF};
use route53_discovery_actors::supervisor::{Attach, SupervisorActor};

use crate::settings::{Mode, Settings};

pub mod janitor;
mod launch;

/// Actors besides the registrars that report `ActorStopped`: watcher, metadata, route53.
const FIXED_ACTORS: usize = 3;

/// Runs the start-up steps and starts the pipeline; failures go to the supervisor.
pub async fn start_pipeline(
    settings: Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: Addr<SupervisorActor>,
) {
    if let Err(error) = try_start(settings, health, metrics, &supervisor).await {
        supervisor.do_send(ActorFailed {
            actor: "bootstrap",
            error,
        });
    }
}

fn introspection(settings: &Settings) -> Option<IntrospectionConfig> {
    settings
        .ecs
        .introspection_url
        .as_ref()
        .map(|url| IntrospectionConfig {
            url: url.clone(),
            timeout: settings.ecs.timeout,
            attempts: settings.ecs.attempts,
            first_delay: Duration::from_millis(200),
        })
}

async fn connect_docker(socket: &str, budget: Duration) -> Result<Docker, String> {
    let start = Instant::now();
    loop {
        match Docker::connect_with_unix(socket, 120, bollard::API_DEFAULT_VERSION) {
            Ok(d) => return Ok(d),
            Err(e) if start.elapsed() < budget => {
                tracing::warn!(socket, error = %e, "Docker socket not available yet; retrying.");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(format!("Docker socket {socket}: {e}")),
        }
    }
}

/// Who this agent is. The owner is `agent.owner_id`, else this host's EC2 instance id from instance
/// metadata (the janitor asks EC2 about it). The cluster is `agent.cluster`, else the ECS agent's `/v1/metadata`
/// (retried within `budget`), which also gives the scope (region and account) of the SetIdentifiers; without it
/// (both set) they are written unscoped.
async fn identity(settings: &Settings, budget: Duration) -> Result<Owner, String> {
    let configured = settings.agent.owner_id.clone();
    let mut cluster = settings.agent.cluster.clone();
    // `<region>.<account>` of the container instance, from the ECS agent; none when it is not asked.
    let mut scope = None;
    if configured.is_none() || cluster.is_none() {
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
    let ic = introspection(settings)
        .ok_or("agent.owner_id and agent.cluster are needed without an ECS agent")?;
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
            return Err(format!("no cluster: the ECS agent at {} did not answer /v1/metadata within {budget:?}; set agent.cluster", ic.url));
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

/// The host tag of an `agent.owner_id` override that is not a container instance id ([`host_tag`] of the EC2
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
        Err(e) => {
            tracing::warn!(error = %e, "agent.owner_id is set and this host's EC2 instance id is unknown: records carry the owner id alone, so if the same owner id is set on another host the two take each other's records for their own (and delete them at start).");
            None
        }
    }
}

/// AWS SDK settings shared by the Route53 and ECS clients: no SDK retries (the caller retries, behind its own
/// rate limit, so nothing bypasses it), a per-attempt timeout, the region and an endpoint override.
///
/// The endpoint is not set here: the SDK's standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables
/// would win over an endpoint set on the loader, so a configured endpoint is set on each service's own config
/// ([`route53_client`], `janitor::ecs_api`), where it wins over them.
pub(crate) fn sdk_loader(settings: &Settings, timeout: Duration) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts);
    if let Some(region) = &settings.route53.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader
}

/// A Route53 client: the configured `route53.endpoint_url` when set, else the SDK's endpoint resolution (which
/// honours `AWS_ENDPOINT_URL_ROUTE_53` and `AWS_ENDPOINT_URL`).
pub(crate) fn route53_client(
    sdk: &aws_config::SdkConfig,
    endpoint: Option<&str>,
) -> aws_sdk_route53::Client {
    let mut config = aws_sdk_route53::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_route53::Client::from_conf(config.build())
}

/// The Route53 API the agent uses, measured (`r53d_route53_*` metrics).
async fn route53_api(settings: &Settings, metrics: &Arc<Metrics>) -> Rc<dyn DnsApi> {
    Rc::new(Measured::new(
        raw_route53_api(settings).await,
        metrics.clone(),
    ))
}

async fn raw_route53_api(settings: &Settings) -> Rc<dyn DnsApi> {
    if settings.agent.mode == Mode::DryRun {
        let zone = settings
            .route53
            .zone_name
            .as_ref()
            .expect("validated: dry-run has a zone name");
        return Rc::new(DryRunDns::new(zone.as_str()));
    }
    // Retries and pacing are the writer's (full-jitter backoff behind one token bucket), not the SDK's, so every
    // request is counted against the client-side rate limit.
    let loader = sdk_loader(settings, settings.route53.request_timeout);
    let sdk = loader.load().await;
    let client = route53_client(&sdk, settings.route53.endpoint_url.as_deref());
    let bucket = limiter::bucket(
        settings.route53.max_requests_per_sec,
        settings.route53.burst,
    );
    Rc::new(RateLimited::new(Rc::new(SdkDns::new(client)), bucket))
}

/// The zone's name from Route53 (retrying transient failures), checked against the configured one.
async fn zone_name(
    api: &dyn DnsApi,
    settings: &Settings,
    budget: Duration,
) -> Result<ZoneName, String> {
    let zone_id = &settings.route53.hosted_zone_id;
    let start = Instant::now();
    let name = loop {
        match api.zone_name(zone_id).await {
            Ok(n) => break n,
            Err(e) if e.class() == ErrorClass::Transient && start.elapsed() < budget => {
                tracing::warn!(zone_id, error = %e, "Cannot read the hosted zone yet; retrying.");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(format!("hosted zone {zone_id}: {e}")),
        }
    };
    let actual = ZoneName::new(&name)
        .map_err(|e| format!("hosted zone {zone_id} has an unusable name: {e}"))?;
    match &settings.route53.zone_name {
        Some(configured) if *configured != actual => Err(format!(
            "route53.zone_name is {} but hosted zone {zone_id} is {}",
            configured.as_str(),
            actual.as_str()
        )),
        _ => Ok(actual),
    }
}

/// ECS's default container stop timeout: a task is killed this long after SIGTERM unless its task definition
/// says otherwise.
const ECS_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Warns when resolvers may keep answering with a stopped task's address for longer than the task is kept
/// alive: a record goes at the stop (plus `agent.deregister_delay_secs`), but resolvers cache it for its TTL.
fn warn_ttl_outlives_drain(settings: &Settings) {
    let ttl = Duration::from_secs(u64::try_from(settings.route53.ttl).unwrap_or(0));
    if ttl_outlives_drain(ttl, settings.agent.deregister_delay) {
        tracing::warn!(ttl = ?ttl, deregister_delay = ?settings.agent.deregister_delay, stop_timeout = ?ECS_STOP_TIMEOUT,
            "route53.ttl is longer than a stopping task is kept alive (agent.deregister_delay_secs plus ECS's default 30 s stop timeout): resolvers may answer with a stopped task's address for up to the TTL after it is gone. Lower route53.ttl, or keep tasks serving after SIGTERM for the TTL (raise agent.deregister_delay_secs and the task's stopTimeout).");
    }
}

/// True when a record's TTL is longer than a stopping task is kept alive.
fn ttl_outlives_drain(ttl: Duration, deregister_delay: Duration) -> bool {
    ttl > deregister_delay + ECS_STOP_TIMEOUT
}

/// The metadata actor's settings: introspection, health gating, addressing rules and the address overrides.
fn metadata_config(settings: &Settings) -> MetadataConfig {
    let t = settings.route53.record_types;
    MetadataConfig {
        require_healthy: settings.agent.register_when_healthy,
        address: AddressSettings {
            container_address: settings.agent.container_address,
            port_label: settings.docker.port_label.clone(),
            records_label: settings.docker.records_label.clone(),
            record_types: RecordTypes {
                a: t.a,
                aaaa: t.aaaa,
                srv: t.srv,
            },
        },
        host_ip: settings.agent.host_ip,
        host_ipv6: settings.agent.host_ipv6,
        instance_refresh: settings
            .agent
            .reconcile_interval
            .unwrap_or(DEFAULT_INSTANCE_REFRESH),
    }
}

/// How often the instance's addresses are read again when periodic reconciles are off.
const DEFAULT_INSTANCE_REFRESH: Duration = Duration::from_secs(300);

async fn try_start(
    settings: Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: &Addr<SupervisorActor>,
) -> Result<(), String> {
    let budget = settings.docker.reconnect_budget;
    let docker = connect_docker(&settings.docker.socket, budget).await?;
    let owner = identity(&settings, budget).await?;
    let api = route53_api(&settings, &metrics).await;
    let store = launch::journal_store(&settings);
    let journal = launch::trusted_journal(store.as_ref(), &settings, &owner);
    let jitter = settings.route53.startup_jitter;
    let zone = launch::zone_name(&*api, &settings, journal.as_ref(), jitter, budget).await?;
    let zone_id = settings.route53.hosted_zone_id.clone();
    tracing::info!(zone_id = %zone_id, zone = zone.as_str(), cluster = owner.cluster_tag(), scope = owner.scope().unwrap_or(""), owner = owner.owner(), mode = ?settings.agent.mode, "Starting.");
    warn_ttl_outlives_drain(&settings);
    let reporter = SupervisorActor::reporter(supervisor);
    let policy = Arc::new(RecordPolicy {
        label_key: settings.docker.label.clone(),
        zone,
        owner: owner.clone(),
        ttl: settings.route53.ttl,
        weight: settings.route53.weight,
    });
    let r53_config = Route53Config {
        zone_id,
        quarantine: settings.route53.quarantine,
        ttl: settings.route53.ttl,
        weight: settings.route53.weight,
        // Taken before GetHostedZone already (none with a trusted journal: nothing is read at the launch).
        startup_jitter: Duration::ZERO,
        recheck_after: settings.route53.recheck_after,
        verify_interval: settings.route53.verify_interval,
        verify_reads_per_hour: Some(settings.route53.verify_reads_per_hour),
        backoff: WRITER_BACKOFF,
    };
    let mut route53 = Route53Actor::new(
        api,
        r53_config,
        owner.clone(),
        reporter.clone(),
        health.clone(),
        metrics.clone(),
    );
    if let Some(store) = store {
        let zone_id = &settings.route53.hosted_zone_id;
        let kept = WriterJournal::new(store, zone_id, policy.zone.as_str(), &owner);
        route53 = route53.with_journal(kept, journal);
    }
    let route53 = route53.start();
    let imds = ImdsClient::new(&ImdsSource::from_env(
        settings.agent.imds_endpoint.as_deref(),
    ))
    .map_err(|e| format!("instance metadata: {e}"))?;
    let sources = LiveSources::new(docker, introspection(&settings), imds);
    let metadata = MetadataActor::new(
        Rc::new(sources),
        metadata_config(&settings),
        reporter.clone(),
        metrics.clone(),
    )
    .start()
    .recipient();
    let writer = WriterLink::to(&route53);
    let retry = RetryPolicy {
        retries: settings.agent.lookup_retries,
        delay: settings.agent.lookup_retry_delay,
        deregister_delay: settings.agent.deregister_delay,
    };
    let depth = metrics.queue_depth.with_label_values(&["registrar"]);
    let pool = RegistrarPool::start(settings.agent.workers, |i| {
        RegistrarActor::new(
            i,
            policy.clone(),
            metadata.clone(),
            writer.clone(),
            reporter.clone(),
            retry,
            metrics.clone(),
        )
    })
    .with_depth_gauge(depth);
    let docker_config = DockerConfig {
        reconnect_budget: budget,
        reconcile_interval: settings.agent.reconcile_interval,
        register_when_healthy: settings.agent.register_when_healthy,
        first_reconnect_delay: FIRST_RECONNECT_DELAY,
        drain: DrainWindow::default(),
    };
    let source = Rc::new(BollardSource::new(settings.docker.socket.clone()));
    let watcher = EventWatcherActor::new(
        docker_config,
        source,
        policy,
        pool,
        writer,
        reporter,
        health,
        metrics,
    )
    .start();
    supervisor.do_send(Attach {
        watcher: watcher.recipient(),
        expected: FIXED_ACTORS + settings.agent.workers,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_is_covered_by_the_deregistration_delay_plus_the_stop_timeout() {
        let s = Duration::from_secs;
        assert!(
            ttl_outlives_drain(s(60), s(0)),
            "the defaults: 60 s TTL, 30 s stop timeout"
        );
        assert!(!ttl_outlives_drain(s(30), s(0)));
        assert!(!ttl_outlives_drain(s(60), s(30)));
        assert!(ttl_outlives_drain(s(300), s(60)));
    }
}
