//! End-to-end tests through the real parts: the agent binary, a real Docker Engine, the real `aws-sdk-route53`
//! talking to `moto_server`, and a fake ECS agent that follows the introspection contract exactly.
//!
//! Run them with `scripts/test`, which sets up Docker, the offline test image and moto. Every test has its own
//! hosted zone, service label key, fake ECS agent and agent process, so tests run in parallel without seeing
//! each other's containers. The one test that restarts the Docker daemon takes Docker for itself
//! ([`World::alone`]); every other world holds a shared lock on it.
//! The IMDS tests (`imds.rs`) need neither Docker nor moto: the real IMDS client against a loopback fake IMDSv2.

mod addressing;
mod deploy;
mod endpoints;
mod faults;
mod image;
mod imds;
mod janitor;
mod journal;
mod lifecycle;
mod observability;
mod ops;
mod owner_id;
mod pipeline;
mod restart;
mod support;
mod writer;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use support::agent::{free_port, Agent};
use support::docker::{Container, Spec};
use support::ecs::{FakeEcsAgent, Task, CLUSTER, SCOPE};
use support::imds::FakeImds;
use support::imds::INSTANCE_ID;
use support::moto::{Moto, Rec};

/// The container instance's private IPv4, as every world's fake instance metadata serves it: bridge and host
/// tasks are published on it, never on Docker's 172.17.x bridge address.
pub const HOST_IP: &str = "10.0.1.23";
/// The instance's IPv6, likewise.
pub const HOST_IPV6: &str = "2600:1f18:abcd::23";

/// Longest wait for DNS to converge in a test.
pub const CONVERGE: Duration = Duration::from_secs(30);
pub use support::moto::AGENT_TTL;

/// Docker is shared by the tests of this binary; the daemon-restart test needs it alone.
static DOCKER: RwLock<()> = RwLock::new(());

/// A test's hold on Docker (a failed test poisons nothing: the guard is taken back).
#[allow(dead_code)] // held for its drop only
enum DockerHold {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
    /// A host beside a world that holds Docker for the test.
    Borrowed,
}

/// One test's world: a zone in moto, a fake ECS agent, a label key, a health port.
pub struct World {
    /// Test name, used in names.
    pub name: String,
    /// moto client.
    pub moto: Moto,
    /// Hosted zone id.
    pub zone_id: String,
    /// Zone name with trailing dot.
    pub zone: String,
    /// Fake ECS agent.
    pub ecs: FakeEcsAgent,
    /// Fake instance metadata (IMDSv2) of this world's container instance.
    pub imds: FakeImds,
    /// The service label key of this test.
    pub label: String,
    /// Health endpoint port.
    pub port: u16,
    /// The agent's `agent.state_dir` (its journal).
    pub state: tempfile::TempDir,
    _docker: DockerHold,
}

impl World {
    /// A fresh world for `test`, sharing Docker with the other tests.
    pub fn new(test: &str) -> Self {
        let hold = DockerHold::Shared(DOCKER.read().unwrap_or_else(|e| e.into_inner()));
        Self::with(test, hold)
    }

    /// A fresh world for `test` that has Docker to itself (it may restart the daemon).
    pub fn alone(test: &str) -> Self {
        let hold = DockerHold::Alone(DOCKER.write().unwrap_or_else(|e| e.into_inner()));
        Self::with(test, hold)
    }

    /// Another host in this world's zone (the test keeps this world's hold on Docker): its own fake ECS agent,
    /// instance metadata, label, health port and state directory.
    pub fn beside(&self, host: &str) -> Self {
        Self {
            name: support::unique(host),
            moto: Moto::connect(),
            zone_id: self.zone_id.clone(),
            zone: self.zone.clone(),
            ecs: FakeEcsAgent::start(),
            imds: FakeImds::start(),
            label: format!("r53d.e2e.{}", support::unique(host)),
            port: free_port(),
            state: tempfile::tempdir().expect("a state directory"),
            _docker: DockerHold::Borrowed,
        }
    }

    fn with(test: &str, hold: DockerHold) -> Self {
        let moto = Moto::connect();
        let zone = format!("{}.e2e.test.", support::unique(test));
        let zone_id = moto.create_zone(&zone);
        Self {
            name: support::unique(test),
            moto,
            zone_id,
            zone,
            ecs: FakeEcsAgent::start(),
            imds: FakeImds::start(),
            label: format!("r53d.e2e.{}", support::unique(test)),
            port: free_port(),
            state: tempfile::tempdir().expect("a state directory"),
            _docker: hold,
        }
    }

    /// The agent's config for this world, plus `extra` TOML appended (later keys of a section must not repeat).
    pub fn config(&self) -> String {
        format!(
            r#"
[docker]
label = "{label}"
[ecs]
introspection_url = "{ecs}"
attempts = 4
[route53]
hosted_zone_id = "{zone_id}"
endpoint_url = "{moto}"
region = "us-east-1"
startup_jitter_secs = 0
max_requests_per_sec = 20.0
burst = 20
[agent]
imds_endpoint = "{imds}"
state_dir = "{state}"
workers = 3
shutdown_grace_secs = 10
lookup_retry_delay_secs = 1
[health]
listen = "127.0.0.1:{port}"
"#,
            label = self.label,
            ecs = self.ecs.url,
            zone_id = self.zone_id,
            moto = self.moto.url,
            imds = self.imds.url,
            state = self.state.path().display(),
            port = self.port
        )
    }

    /// Starts the agent with this world's config.
    pub fn agent(&self) -> Agent {
        Agent::start(&self.config(), self.port)
    }

    /// The record name of `service`.
    pub fn name_of(&self, service: &str) -> String {
        format!("{service}.{}", self.zone)
    }

    /// The SetIdentifier this agent gives task `task_id`.
    pub fn set_id(&self, task_id: &str) -> String {
        format!("r53d:{CLUSTER}@{SCOPE}:{INSTANCE_ID}:t-{task_id}")
    }

    /// The record this agent should hold for a task.
    pub fn expected(&self, service: &str, task_id: &str, ip: &str) -> Rec {
        Rec {
            name: self.name_of(service),
            set_identifier: self.set_id(task_id),
            weight: 1,
            ttl: AGENT_TTL,
            values: vec![ip.into()],
        }
    }

    /// A bridge-mode ECS task of `service`: created, announced to the fake ECS agent (no `Networks`), started.
    pub fn bridge_task(&self, service: &str, n: usize) -> (Container, String) {
        self.bridge_task_with(service, n, false)
    }

    /// A bridge-mode ECS task whose introspection lookups hang (the ECS agent stuck on it); started.
    pub fn bridge_task_hanging(&self, service: &str, n: usize) -> Container {
        let (c, _) = self.bridge_task_inner(service, n, false, true);
        c
    }

    /// [`World::bridge_task`], optionally with the restart policy `always`.
    pub fn bridge_task_with(
        &self,
        service: &str,
        n: usize,
        restart_always: bool,
    ) -> (Container, String) {
        self.bridge_task_inner(service, n, restart_always, false)
    }

    fn bridge_task_inner(
        &self,
        service: &str,
        n: usize,
        restart_always: bool,
        hang: bool,
    ) -> (Container, String) {
        let task_id = support::task_id(&format!("{}-{service}-{n}", self.name));
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{task_id}");
        let labels = vec![
            (self.label.clone(), service.to_string()),
            ("com.amazonaws.ecs.task-arn".to_string(), arn.clone()),
        ];
        let name = format!("r53d-{}-{service}-{n}", self.name);
        let c = Container::create(Spec {
            name: &name,
            labels,
            network: None,
            restart_always,
            ..Default::default()
        });
        self.ecs.add_task(Task {
            arn,
            known_status: "RUNNING".into(),
            desired_status: Some("RUNNING".into()),
            containers: vec![(c.id.clone(), "app".into())],
            internal: vec![],
            ..Default::default()
        });
        if hang {
            self.ecs.hang_lookups_of(&c.id);
        }
        c.start();
        (c, task_id)
    }

    /// An awsvpc ECS task of `service` at `ip`: a pause container (`--network none`) that holds the namespace and
    /// an app container on `container:<pause>`, announced to the fake ECS agent before the app starts.
    /// Returns (app, pause, task id).
    pub fn awsvpc_task(&self, service: &str, ip: &str) -> (Container, Container, String) {
        self.awsvpc_task_with(service, Some(ip), &[], &[])
    }

    /// [`World::awsvpc_task`] with the ENI's IPv4 (or none: IPv6-only), its IPv6 addresses and the `Ports`
    /// (container port, host port; 0 = omitted) the fake ECS agent reports.
    pub fn awsvpc_task_with(
        &self,
        service: &str,
        ipv4: Option<&str>,
        ipv6: &[&str],
        ports: &[(u16, u16)],
    ) -> (Container, Container, String) {
        let task_id = support::task_id(&format!("{}-{service}", self.name));
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{task_id}");
        let ecs_labels = vec![("com.amazonaws.ecs.task-arn".to_string(), arn.clone())];
        let pause = Container::run(Spec {
            name: &format!("r53d-{}-{service}-pause", self.name),
            labels: ecs_labels.clone(),
            network: Some("none"),
            ..Default::default()
        });
        let mut labels = ecs_labels;
        labels.push((self.label.clone(), service.into()));
        let shared = format!("container:{}", pause.id);
        let app = Container::create(Spec {
            name: &format!("r53d-{}-{service}-app", self.name),
            labels,
            network: Some(&shared),
            ..Default::default()
        });
        self.ecs.add_task(Task {
            arn,
            known_status: "PENDING".into(),
            desired_status: Some("RUNNING".into()),
            containers: vec![(app.id.clone(), "app".into())],
            internal: vec![pause.id.clone()],
            awsvpc_ip: ipv4.map(str::to_string),
            awsvpc_ipv6: ipv6.iter().map(|s| s.to_string()).collect(),
            ports: ports.to_vec(),
        });
        app.start();
        (app, pause, task_id)
    }

    /// The zone's weighted A records.
    pub fn records(&self) -> Vec<Rec> {
        self.moto.records(&self.zone_id)
    }

    /// Waits until the zone's records equal `expected` (sorted).
    pub fn wait_records(&self, mut expected: Vec<Rec>) {
        expected.sort();
        let mut last = Vec::new();
        let ok = support::wait_for_result(CONVERGE, || {
            last = self.records();
            last == expected
        });
        assert!(
            ok,
            "records did not converge\nexpected: {expected:#?}\nactual:   {last:#?}"
        );
    }
}
