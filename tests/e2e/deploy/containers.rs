//! The agent image run under the real Docker Engine exactly as the stack's task definitions (read back from moto)
//! say: command, environment, user, mounts (the host's `/var/run` read-only), read-only root file system,
//! memory, CPU shares, stop timeout and health check. Only test plumbing is added: endpoints of moto, the fake ECS
//! agent and the fake IMDS on loopback, static credentials, a free health port, a temporary state directory, and
//! Docker's log driver instead of awslogs. The janitor's task is awsvpc on Fargate; here it shares the host's
//! network like the agent, the only way to reach moto on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{parameters, TTL};
use crate::support::agent::free_port;
use crate::support::cloudformation::{command, docker_run_args, Stack};
use crate::support::image::{agent_image, image_inspect, test_env, AgentContainer};
use crate::World;

/// Longest wait for Docker's health verdict.
const HEALTHY: Duration = Duration::from_secs(60);

/// The stack of `w`'s zone, on a cluster of its own named after the world.
fn stack_of(w: &World) -> Stack {
    Stack::create(&w.name, &w.name, &parameters(&w.name, &w.zone_id, &w.zone))
}

/// Test plumbing common to both containers: static credentials, moto's Route53 and the health port.
fn plumbing(w: &World, port: u16) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = test_env().into_iter().collect();
    env.insert("R53D__ROUTE53__ENDPOINT_URL".into(), w.moto.url.clone());
    env.insert("R53D__HEALTH__LISTEN".into(), format!("127.0.0.1:{port}"));
    let metrics = format!("127.0.0.1:{}", free_port());
    env.insert("R53D__HEALTH__METRICS_LISTEN".into(), metrics);
    env
}

/// Runs container definition `container` of task definition `td` as `name`, on the host network.
fn run(
    name: &str,
    td: &Value,
    container: &Value,
    host_paths: &BTreeMap<&str, &Path>,
    env: &BTreeMap<String, String>,
    port: u16,
) -> AgentContainer {
    assert_eq!(container["image"], agent_image(), "the stack's ImageUri");
    // Docker runs the image's HEALTHCHECK: it must be the task definition's command.
    let image_check = image_inspect(&agent_image(), "{{json .Config.Healthcheck.Test}}");
    let image_check: Value = serde_json::from_str(&image_check).unwrap();
    assert_eq!(
        container["healthCheck"]["command"], image_check,
        "the task definition's health check is the image's"
    );
    let args = docker_run_args(td, container, "host", host_paths, env);
    AgentContainer::run(name, &args, &command(container), port)
}

/// What Docker made of the container: user, read-only root, and each mount's (destination, read-write).
fn check_as_created(c: &AgentContainer, user: &str, mounts: &[(&str, bool)]) {
    assert_eq!(c.inspect("{{.Config.User}}"), user);
    assert_eq!(c.inspect("{{.HostConfig.ReadonlyRootfs}}"), "true");
    let mut actual: Vec<String> = c
        .inspect("{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    actual.sort();
    let mut expected: Vec<String> = mounts.iter().map(|(d, rw)| format!("{d}={rw}")).collect();
    expected.sort();
    assert_eq!(actual, expected, "mounts (destination=read-write)");
}

/// The agent's test plumbing: its own label, the world's fake ECS agent and fake IMDS, no start-up jitter.
fn agent_env(w: &World, port: u16) -> BTreeMap<String, String> {
    let mut env = plumbing(w, port);
    env.insert("R53D__DOCKER__LABEL".into(), w.label.clone());
    env.insert("R53D__ECS__INTROSPECTION_URL".into(), w.ecs.url.clone());
    env.insert("R53D__AGENT__IMDS_ENDPOINT".into(), w.imds.url.clone());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "false".into());
    env.insert(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT".into(),
        w.imds.url.clone(),
    );
    env.insert("R53D__ROUTE53__STARTUP_JITTER_SECS".into(), "0".into());
    env
}

#[test]
fn agent_runs_as_its_task_definition_says_registers_a_task_and_reports_healthy() {
    let w = World::new("deploy-agent");
    let stack = stack_of(&w);
    let td = stack.task_definition("AgentTaskDefinition");
    let port = free_port();
    let env = agent_env(&w, port);
    // The journal goes to a directory of this test instead of the host's /var/lib/route53-discovery.
    let state = w.state.path();
    let host_paths = BTreeMap::from([("/var/lib/route53-discovery", state)]);
    let container = stack.container("AgentTaskDefinition");
    let agent = run(
        &format!("r53d-{}-agent", w.name),
        td,
        container,
        &host_paths,
        &env,
        port,
    );
    check_as_created(
        &agent,
        "0:0",
        &[("/var/run", false), ("/var/lib/route53-discovery", true)],
    );

    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    let mut expected = w.expected("web", &tid, crate::HOST_IP);
    expected.ttl = TTL.parse().unwrap();
    w.wait_records(vec![expected.clone()]);
    agent.wait_health("healthy", HEALTHY);
    assert!(
        std::fs::read_dir(state).unwrap().next().is_some(),
        "the agent wrote no journal to its state directory"
    );

    let stop_timeout = container["stopTimeout"].as_u64().unwrap() as u32;
    assert_eq!(
        agent.stop(stop_timeout),
        0,
        "exit code after SIGTERM:\n{}",
        agent.logs()
    );
    assert_eq!(
        w.records(),
        vec![expected],
        "records after the agent stopped"
    );
}

#[test]
fn janitor_runs_as_its_task_definition_says_and_reports_healthy() {
    let w = World::new("deploy-janitor");
    let stack = stack_of(&w);
    let td = stack.task_definition("JanitorTaskDefinition");
    let port = free_port();
    let mut env = plumbing(&w, port);
    env.insert("R53D__ECS__API_ENDPOINT_URL".into(), w.moto.url.clone());
    env.insert("R53D__EC2__API_ENDPOINT_URL".into(), w.moto.url.clone());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    let container = stack.container("JanitorTaskDefinition");
    let name = format!("r53d-{}-janitor", w.name);
    let janitor = run(&name, td, container, &BTreeMap::new(), &env, port);
    check_as_created(&janitor, "65532:65532", &[]);

    janitor.wait_ready();
    janitor.wait_health("healthy", HEALTHY);
    let stop_timeout = container["stopTimeout"].as_u64().unwrap() as u32;
    assert_eq!(
        janitor.stop(stop_timeout),
        0,
        "exit code after SIGTERM:\n{}",
        janitor.logs()
    );
}
