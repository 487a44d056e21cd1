//! The deployment template, `deploy/cloudformation/route53-discovery.yaml`, tested like code: cfn-lint passes, the
//! stack creates in moto_server's CloudFormation and its task definitions, services, roles and log group read back
//! as the template says, and (in `deploy/containers.rs`) the agent image runs under the real Docker Engine exactly
//! as the stack's task definitions say.
//!
//! moto's CloudFormation keeps a task definition's family, container definitions, volumes and task memory, and a
//! service's name, cluster, task definition and desired count. It drops a task definition's network mode,
//! compatibilities, task and execution roles, CPU and runtime platform, a service's launch type, scheduling
//! strategy, placement constraints, deployment and network configuration, and it does not apply parameter
//! defaults to list parameters: `deploy/template.rs` checks those on the template itself.

mod containers;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use serde_json::{json, Value};

use crate::support::cloudformation::{environment, Stack, TEMPLATE};
use crate::support::image::agent_image;
use crate::support::moto::Moto;
use crate::support::unique;
use route53_discovery::settings::{self, LogFormat, Settings};

/// The stack's account and region in moto.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// Parameters the tests give other values than the defaults, to see each one reach its setting.
const TTL: &str = "45";
const RECORD_TYPES: &str = "A,SRV";
const RETENTION_DAYS: i64 = 14;
/// Where both processes serve `/metrics` for a scraper.
const METRICS: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9254));

/// The template's parameters for a stack on `cluster` and the zone `zone_id` named `zone` (trailing dot or not).
pub fn parameters(cluster: &str, zone_id: &str, zone: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("ClusterName", cluster.to_string()),
        ("HostedZoneId", zone_id.to_string()),
        ("ZoneName", zone.trim_end_matches('.').to_string()),
        ("ImageUri", agent_image()),
        ("RecordTypes", RECORD_TYPES.to_string()),
        ("Ttl", TTL.to_string()),
        ("LogRetentionDays", RETENTION_DAYS.to_string()),
        ("JanitorSubnets", "subnet-0123456789abcdef0".to_string()),
        ("JanitorSecurityGroups", "sg-0123456789abcdef0".to_string()),
    ])
}

/// A stack named after `test` on a cluster of its own, for a fresh zone in moto: (stack, zone id, zone name).
fn fresh_stack(test: &str) -> (Stack, String, String) {
    let zone = format!("{}.e2e.test.", unique(test));
    let zone_id = Moto::connect().create_zone(&zone);
    let name = unique(test);
    let stack = Stack::create(&name, &name, &parameters(&name, &zone_id, &zone));
    (stack, zone_id, zone)
}

/// The binary's built-in defaults (with the one key that has none).
pub fn defaults() -> Settings {
    settings::from_toml("[route53]\nhosted_zone_id = \"Z1\"").unwrap()
}

/// The settings a container definition's environment alone gives the binary (no file, no other variable).
fn settings_of(container: &Value) -> Settings {
    let env: HashMap<String, String> = environment(container).into_iter().collect();
    settings::load_from(None, env).unwrap_or_else(|e| panic!("the environment is refused: {e}"))
}

#[test]
fn template_passes_cfn_lint() {
    let out = std::process::Command::new(crate::support::env("R53D_E2E_CFN_LINT"))
        .arg(TEMPLATE)
        .output()
        .expect("cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint {TEMPLATE}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stack_task_definitions_services_and_log_group_read_back_as_the_template_says() {
    let (stack, zone_id, zone) = fresh_stack("deploy-read");
    let log_group = format!("/ecs/{}", stack.name);
    check_agent_container(&stack, &zone_id, &zone, &log_group);
    check_janitor_container(&stack, &zone_id, &log_group);
    check_services(&stack);
    let groups = &stack.out["log_groups"]["LogGroup"];
    assert_eq!(groups[0]["logGroupName"], log_group.as_str());
    assert_eq!(groups[0]["retentionInDays"], RETENTION_DAYS);
    assert_eq!(stack.out["outputs"]["LogGroupName"], log_group.as_str());
}

/// The agent's container: command, user, read-only root, memory, stop timeout, the settings its environment
/// gives, its mounts, health check and logs.
fn check_agent_container(stack: &Stack, zone_id: &str, zone: &str, log_group: &str) {
    let defaults = defaults();
    let agent = stack.container("AgentTaskDefinition");
    assert_eq!(agent["command"], json!(["run"]), "the agent's command");
    assert_eq!(
        agent["user"], "0:0",
        "the agent runs as root (the Docker socket)"
    );
    assert_eq!(agent["readonlyRootFilesystem"], true);
    assert_eq!(
        (agent["memory"].clone(), agent["memoryReservation"].clone()),
        (json!(128), json!(32))
    );
    let stop = agent["stopTimeout"].as_u64().unwrap();
    assert!(
        stop > defaults.agent.shutdown_grace.as_secs(),
        "stopTimeout {stop} above the drain"
    );
    let s = settings_of(agent);
    assert_eq!(s.route53.hosted_zone_id, zone_id);
    assert_eq!(s.route53.zone_name.as_ref().map(|z| z.as_str()), Some(zone));
    assert_eq!(s.route53.ttl.to_string(), TTL);
    let types = s.route53.record_types;
    assert_eq!(
        (types.a, types.aaaa, types.srv),
        (true, false, true),
        "{RECORD_TYPES}"
    );
    assert_eq!(s.route53.region.as_deref(), Some(REGION));
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.health.metrics_listen, Some(METRICS));
    let mounts = mounts(stack.task_definition("AgentTaskDefinition"), agent);
    let state_dir = defaults.agent.state_dir.unwrap().display().to_string();
    assert_eq!(
        mounts,
        BTreeMap::from([
            ("/var/run".to_string(), ("/var/run".to_string(), true)),
            (state_dir.clone(), (state_dir, false)),
        ]),
        "the agent's mounts: container path → (host path, read-only)"
    );
    check_health_and_logs(agent, log_group, "agent");
}

/// The janitor's container: command, non-root user, read-only root, no mounts, memory, its settings.
fn check_janitor_container(stack: &Stack, zone_id: &str, log_group: &str) {
    let defaults = defaults();
    let janitor = stack.container("JanitorTaskDefinition");
    assert_eq!(
        janitor["command"],
        json!(["janitor"]),
        "the janitor's command"
    );
    assert_eq!(
        janitor["user"], "65532:65532",
        "the janitor runs as non-root"
    );
    assert_eq!(janitor["readonlyRootFilesystem"], true);
    assert_eq!(janitor["memory"], 64);
    assert_eq!(
        janitor["mountPoints"],
        json!([]),
        "the janitor mounts nothing"
    );
    assert!(janitor["stopTimeout"].as_u64().unwrap() > defaults.agent.shutdown_grace.as_secs());
    assert_eq!(
        stack.task_definition("JanitorTaskDefinition")["memory"],
        "512"
    );
    let s = settings_of(janitor);
    assert_eq!(s.agent.cluster.as_deref(), Some(stack.cluster.as_str()));
    assert_eq!(s.route53.hosted_zone_id, zone_id);
    assert_eq!(s.route53.region.as_deref(), Some(REGION));
    assert_eq!(s.health.metrics_listen, Some(METRICS));
    check_health_and_logs(janitor, log_group, "janitor");
}

/// Container path → (host path, read-only) of a container's mounts of its task definition's host volumes.
fn mounts(td: &Value, container: &Value) -> BTreeMap<String, (String, bool)> {
    let source = |name: &Value| {
        let v = td["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| &v["name"] == name);
        v.unwrap()["host"]["sourcePath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    container["mountPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let path = m["containerPath"].as_str().unwrap().to_string();
            (path, (source(&m["sourceVolume"]), m["readOnly"] == true))
        })
        .collect()
}

fn check_health_and_logs(container: &Value, log_group: &str, prefix: &str) {
    assert_eq!(
        container["healthCheck"]["command"],
        json!(["CMD", "/usr/local/bin/route53-discovery", "healthcheck"]),
        "{prefix}'s health check"
    );
    let logs = &container["logConfiguration"];
    assert_eq!(logs["logDriver"], "awslogs");
    assert_eq!(
        logs["options"],
        json!({"awslogs-group": log_group, "awslogs-region": REGION, "awslogs-stream-prefix": prefix}),
        "{prefix}'s logs go to the stack's group, without awslogs-create-group"
    );
}

fn check_services(stack: &Stack) {
    for (logical, td, suffix) in [
        ("AgentService", "AgentTaskDefinition", "agent"),
        ("JanitorService", "JanitorTaskDefinition", "janitor"),
    ] {
        let service = stack.service(logical);
        let name = format!("{}-{suffix}", stack.name);
        assert_eq!(service["serviceName"], name.as_str());
        assert_eq!(
            stack.out["outputs"][format!("{logical}Name")],
            name.as_str()
        );
        let cluster = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", stack.cluster);
        assert_eq!(service["clusterArn"], cluster.as_str());
        assert_eq!(service["taskDefinition"], stack.out["resources"][td]);
    }
    assert_eq!(stack.service("JanitorService")["desiredCount"], 1);
}

#[test]
fn stack_roles_read_back_least_privilege_with_confused_deputy_conditions() {
    let (stack, zone_id, zone) = fresh_stack("deploy-iam");
    let zone_arn = format!("arn:aws:route53:::hostedzone/{zone_id}");
    let under_zone = json!([format!("*.{}", zone.trim_end_matches('.'))]);
    check_trust(&stack);
    let read = json!({"Sid": "ReadTheZone", "Effect": "Allow",
        "Action": ["route53:GetHostedZone", "route53:ListResourceRecordSets"], "Resource": zone_arn});
    let change = |sid: &str, types: Value, actions: Value| {
        json!({"Sid": sid, "Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
            "Resource": zone_arn, "Condition": {
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsRecordTypes": types,
                    "route53:ChangeResourceRecordSetsActions": actions},
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": under_zone}}})
    };
    // All three types even when RecordTypes is narrowed: the agent deletes what it no longer publishes.
    let agent = change(
        "WriteOnlyAddressAndSrvRecordsUnderTheZone",
        json!(["A", "AAAA", "SRV"]),
        json!(["UPSERT", "DELETE"]),
    );
    assert_statements(&stack, "AgentTaskRole", &[read.clone(), agent]);
    let cluster_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", stack.cluster);
    assert_statements(
        &stack,
        "JanitorTaskRole",
        &[
            read,
            change(
                "DeleteOnlyAddressAndSrvRecordsUnderTheZone",
                json!(["A", "AAAA", "SRV"]),
                json!(["DELETE"]),
            ),
            json!({"Sid": "LearnTheClustersRegionAndAccount", "Effect": "Allow",
                "Action": "ecs:DescribeClusters", "Resource": cluster_arn}),
            json!({"Sid": "AskEc2WhetherEachHostStillRuns", "Effect": "Allow",
                "Action": "ec2:DescribeInstances", "Resource": "*"}),
        ],
    );
    let log_streams = format!(
        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/{}:log-stream:*",
        stack.name
    );
    assert_statements(
        &stack,
        "ExecutionRole",
        &[
            json!({"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}),
            json!({"Sid": "PullTheImage", "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                "Resource": format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/route53-discovery")}),
            json!({"Sid": "WriteTheLogs", "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_streams}),
        ],
    );
}

/// Each role may be assumed by ECS tasks of the stack's account and region only (the confused-deputy guard).
/// Every inline policy of the stack's roles, as moto stored it (parameters and intrinsics resolved), passes
/// parliament: known actions, resource ARNs of the right shape, condition keys that apply to their actions.
#[test]
fn stack_role_policies_pass_parliament() {
    let (stack, _, _) = fresh_stack("deploy-parliament");
    let mut linted = 0;
    for role in ["AgentTaskRole", "JanitorTaskRole", "ExecutionRole"] {
        for (name, doc) in stack.role(role)["policies"].as_object().unwrap() {
            let out = std::process::Command::new(crate::support::env("R53D_E2E_PARLIAMENT"))
                .arg("--string")
                .arg(doc.to_string())
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run parliament");
            assert!(
                out.status.success() && out.stdout.is_empty(),
                "parliament on {role}/{name}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            linted += 1;
        }
    }
    assert_eq!(linted, 3, "one inline policy per role");
}

fn check_trust(stack: &Stack) {
    for (role, output) in [
        ("AgentTaskRole", "AgentTaskRoleArn"),
        ("JanitorTaskRole", "JanitorTaskRoleArn"),
        ("ExecutionRole", "ExecutionRoleArn"),
    ] {
        assert_eq!(stack.role(role)["arn"], stack.out["outputs"][output]);
        assert_eq!(
            stack.role(role)["trust"]["Statement"],
            json!([{
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:*")},
                },
            }]),
            "{role}'s trust policy"
        );
    }
}

/// Role `role`'s inline policies hold exactly `expected` (by Sid), nothing more.
fn assert_statements(stack: &Stack, role: &str, expected: &[Value]) {
    let expected: BTreeMap<String, Value> = expected
        .iter()
        .map(|s| (s["Sid"].as_str().unwrap().to_string(), s.clone()))
        .collect();
    assert_eq!(stack.statements(role), expected, "{role}'s permissions");
}
