//! What moto's CloudFormation drops, checked on the template itself (read as JSON): network modes,
//! compatibilities, task and execution roles, the janitor's CPU and platform, the services' launch types,
//! scheduling strategies, placement constraint and deployment and network configuration, and the parameters'
//! defaults. Also that docs/deploy.md explains every parameter without copying the template.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::cloudformation::template;
use route53_discovery::settings;

#[test]
fn template_settings_that_moto_drops() {
    let t = template();
    let res = &t["Resources"];
    let props = |logical: &str| &res[logical]["Properties"];
    let agent_td = props("AgentTaskDefinition");
    assert_eq!(
        agent_td["NetworkMode"], "host",
        "the agent reaches the ECS agent's loopback API"
    );
    assert_eq!(agent_td["RequiresCompatibilities"], json!(["EC2"]));
    assert_eq!(
        agent_td["TaskRoleArn"],
        json!({"Fn::GetAtt": ["AgentTaskRole", "Arn"]})
    );
    assert_eq!(
        agent_td["ExecutionRoleArn"],
        json!({"Fn::GetAtt": ["ExecutionRole", "Arn"]})
    );
    let janitor_td = props("JanitorTaskDefinition");
    assert_eq!(janitor_td["NetworkMode"], "awsvpc");
    assert_eq!(janitor_td["RequiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(
        (janitor_td["Cpu"].clone(), janitor_td["Memory"].clone()),
        (json!("256"), json!("512"))
    );
    assert_eq!(
        janitor_td["RuntimePlatform"],
        json!({"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"})
    );
    assert_eq!(
        janitor_td["TaskRoleArn"],
        json!({"Fn::GetAtt": ["JanitorTaskRole", "Arn"]})
    );
    assert_eq!(
        janitor_td["ExecutionRoleArn"],
        json!({"Fn::GetAtt": ["ExecutionRole", "Arn"]})
    );

    check_services(res);
    check_parameter_defaults(&t["Parameters"]);
}

/// The services' launch types, scheduling, placement, deployment and network configuration.
fn check_services(res: &Value) {
    let props = |logical: &str| &res[logical]["Properties"];
    let agent = props("AgentService");
    assert_eq!(
        agent["LaunchType"], "EC2",
        "a DAEMON service cannot use a capacity provider strategy"
    );
    assert_eq!(agent["SchedulingStrategy"], "DAEMON");
    assert_eq!(
        agent["PlacementConstraints"],
        json!([{"Type": "memberOf",
            "Expression": "attribute:ecs.os-type == linux and attribute:ecs.cpu-architecture == x86_64"}]),
        "only an x86_64 Linux image is built and tested"
    );
    assert_eq!(
        agent["DeploymentConfiguration"],
        json!({"MaximumPercent": 100, "MinimumHealthyPercent": 50}),
        "a bad build replaces half the agents at most before it shows"
    );
    let janitor = props("JanitorService");
    assert_eq!(janitor["LaunchType"], "FARGATE");
    assert_eq!(janitor["SchedulingStrategy"], "REPLICA");
    assert_eq!(janitor["DesiredCount"], 1);
    assert_eq!(
        janitor["DeploymentConfiguration"],
        json!({"MaximumPercent": 100, "MinimumHealthyPercent": 0}),
        "one janitor, replaced rather than doubled"
    );
    assert_eq!(
        janitor["NetworkConfiguration"]["AwsvpcConfiguration"],
        json!({"Subnets": {"Ref": "JanitorSubnets"}, "SecurityGroups": {"Ref": "JanitorSecurityGroups"},
            "AssignPublicIp": {"Ref": "JanitorAssignPublicIp"}})
    );
}

/// The defaults of the parameters that mirror agent settings are the agent's own defaults.
fn check_parameter_defaults(params: &Value) {
    let defaults = super::defaults();
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "Z1".to_string(),
        ),
        (
            "R53D__ROUTE53__RECORD_TYPES".to_string(),
            params["RecordTypes"]["Default"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
    ]);
    let from_template = settings::load_from(None, env).unwrap();
    assert_eq!(
        from_template.route53.record_types, defaults.route53.record_types,
        "RecordTypes' default is route53.record_types' default"
    );
    assert_eq!(
        params["Ttl"]["Default"], defaults.route53.ttl,
        "Ttl's default is route53.ttl's"
    );
}

#[test]
fn deploy_doc_names_every_parameter_and_copies_no_task_definition() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md");
    let doc = std::fs::read_to_string(doc_path).expect("docs/deploy.md");
    for name in template()["Parameters"].as_object().unwrap().keys() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/deploy.md does not explain `{name}`"
        );
    }
    for copy in [
        "ContainerDefinitions",
        "containerDefinitions",
        "AssumeRolePolicyDocument",
    ] {
        assert!(
            !doc.contains(copy),
            "docs/deploy.md copies the template ({copy}): explain it and point at the template instead"
        );
    }
}
