//! Tests of the introspection v1 parsers, over the recorded fixtures and inline bodies.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const AWSVPC_APP: &str = "ee08638adaaf009d78c248913f629e38299471d45fe7dc944d1039077e3424ca";
const BRIDGE_APP: &str = "dc7240fe892ab233dbbcee5044d95e1456c120dba9a6b56ec513da45c38e3aeb";

fn awsvpc(ipv4: &[&str], ipv6: &[&str]) -> TaskNetwork {
    TaskNetwork::Awsvpc {
        ipv4: ipv4.iter().map(|s| s.parse().unwrap()).collect(),
        ipv6: ipv6.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn port(container_port: u16, protocol: Protocol, host_port: Option<u16>) -> TaskPort {
    TaskPort {
        container_port,
        protocol,
        host_port,
    }
}

/// A one-container task body whose container has these `Ports` and `Networks` JSON values.
fn task_with(ports: &str, networks: Option<&str>) -> Vec<u8> {
    let networks = networks.map_or(String::new(), |n| format!(r#","Networks":{n}"#));
    format!(
        r#"{{"Arn":"arn:aws:ecs:r:1:task/c/abc","KnownStatus":"RUNNING","Containers":[
        {{"DockerId":"me","Ports":{ports}{networks}}}]}}"#
    )
    .into_bytes()
}

#[test]
fn awsvpc_task_gives_the_eni_address() {
    let t = parse_task(&fixture("introspection_awsvpc.json"), AWSVPC_APP).unwrap();
    assert_eq!(
        t.network,
        awsvpc(&["10.0.2.61"], &["2600:1f14:abcd:1200::1a"])
    );
    assert_eq!(t.ports, [port(8080, Protocol::Tcp, Some(8080))]);
    assert_eq!(t.known_status, TaskStatus::Running);
    assert!(t.arn.ends_with("158d1c8083dd49d6b527399fd6414f5c"));
}

#[test]
fn lookup_by_pause_container_still_finds_the_eni() {
    let pause = "f".repeat(64);
    let t = parse_task(&fixture("introspection_awsvpc.json"), &pause).unwrap();
    assert!(matches!(t.network, TaskNetwork::Awsvpc { .. }));
    assert!(t.ports.is_empty(), "another container's ports are not ours");
}

#[test]
fn bridge_and_racy_bridge_tasks_report_no_network() {
    for f in [
        "introspection_bridge.json",
        "introspection_bridge_racy.json",
    ] {
        let t = parse_task(&fixture(f), BRIDGE_APP).unwrap();
        assert_eq!(t.network, TaskNetwork::NotReported, "{f}");
    }
}

#[test]
fn ipv6_only_and_pending_tasks() {
    let body = br#"{"Arn":"arn:aws:ecs:r:1:task/c/abc","KnownStatus":"PENDING","Containers":[
        {"DockerId":"x","Networks":[{"NetworkMode":"awsvpc","IPv6Addresses":["2600::1"]}]}]}"#;
    let t = parse_task(body, "x").unwrap();
    assert_eq!(t.network, awsvpc(&[], &["2600::1"]));
    assert_eq!(t.known_status, TaskStatus::Pending);
    assert_eq!(t.desired_status, None);
    assert!(!t.is_stopping());
}

#[test]
fn stopping_tasks_are_recognised() {
    let body = br#"{"Arn":"a:task/x","KnownStatus":"RUNNING","DesiredStatus":"STOPPED","Containers":null}"#;
    assert!(parse_task(body, "x").unwrap().is_stopping());
    let body = br#"{"Arn":"a:task/x","KnownStatus":"STOPPED","Containers":[],"Extra":{"new":1}}"#;
    assert!(parse_task(body, "x").unwrap().is_stopping());
}

#[test]
fn wrong_shapes_are_errors_not_tasks() {
    let not_found = br#"{"Arn":"","KnownStatus":"","Family":"","Version":"","Containers":null}"#;
    assert!(matches!(
        parse_task(not_found, "x"),
        Err(ParseError::WrongShape(_))
    ));
    let root = br#"{"AvailableCommands":["/v1/metadata","/v1/tasks","/license"]}"#;
    assert!(matches!(
        parse_task(root, "x"),
        Err(ParseError::WrongShape(_))
    ));
    assert!(matches!(
        parse_task(br#"{"Tasks":[]}"#, "x"),
        Err(ParseError::WrongShape(_))
    ));
    assert!(matches!(
        parse_task(b"<html>", "x"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse_task(b"", "x"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse_task(br#"{"Arn":5}"#, "x"),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn metadata_gives_cluster_and_instance_id() {
    let body = br#"{"Cluster":"prod","ContainerInstanceArn":"arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70","Version":"Amazon ECS Agent - v1.89.0 (abcdef12)"}"#;
    let m = parse_metadata(body).unwrap();
    assert_eq!(m.cluster, "prod");
    assert_eq!(
        m.container_instance_id.as_deref(),
        Some("0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70")
    );
    assert_eq!(m.scope.as_deref(), Some("us-west-2.111122223333"));
    let unregistered =
        parse_metadata(br#"{"Cluster":"prod","ContainerInstanceArn":null}"#).unwrap();
    assert_eq!(unregistered.container_instance_id, None);
    assert_eq!(unregistered.scope, None);
    assert!(parse_metadata(br#"{"AvailableCommands":[]}"#).is_err());
}

#[test]
fn the_scope_is_region_and_account_of_a_well_formed_ecs_arn() {
    let s = |a| scope_of_arn(a);
    assert_eq!(
        s("arn:aws-cn:ecs:cn-north-1:111122223333:container-instance/x").as_deref(),
        Some("cn-north-1.111122223333")
    );
    for bad in [
        "",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        "arn:aws:ecs:US-EAST-1:111122223333:container-instance/x",
        "arn:aws:ecs:us-east-1:1111:container-instance/x",
        "arn:aws:ecs::111122223333:container-instance/x",
        "0f6b9a4c",
    ] {
        assert_eq!(s(bad), None, "{bad}");
    }
}

#[test]
fn bridge_ports_carry_the_host_port_once_known() {
    let t = parse_task(&fixture("introspection_bridge.json"), BRIDGE_APP).unwrap();
    assert_eq!(t.ports, [port(80, Protocol::Tcp, Some(32768))]);
    let racy = parse_task(&fixture("introspection_bridge_racy.json"), BRIDGE_APP).unwrap();
    assert_eq!(racy.ports, [port(80, Protocol::Tcp, None)]);
}

#[test]
fn dual_stack_awsvpc_keeps_every_address_and_drops_garbage() {
    let body = task_with(
        "[]",
        Some(
            r#"[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.0.5","bogus","10.0.0.6"],
            "IPv6Addresses":["2600:1f14::5"," 2600:1f14::6 ","10.0.0.7"]}]"#,
        ),
    );
    let t = parse_task(&body, "me").unwrap();
    assert_eq!(
        t.network,
        awsvpc(&["10.0.0.5", "10.0.0.6"], &["2600:1f14::5", "2600:1f14::6"])
    );
}

#[test]
fn ipv6_only_awsvpc_omits_ipv4_addresses() {
    let body = task_with(
        r#"[{"ContainerPort":443,"Protocol":"tcp","HostPort":443}]"#,
        Some(r#"[{"NetworkMode":"awsvpc","IPv6Addresses":["2600:1f14:abcd::9"]}]"#),
    );
    let t = parse_task(&body, "me").unwrap();
    assert_eq!(t.network, awsvpc(&[], &["2600:1f14:abcd::9"]));
    assert_eq!(t.ports, [port(443, Protocol::Tcp, Some(443))]);
}

#[test]
fn awsvpc_with_garbage_addresses_is_still_awsvpc() {
    let body = task_with("[]", Some(r#"[{"IPv4Addresses":[""]}]"#));
    assert_eq!(parse_task(&body, "me").unwrap().network, awsvpc(&[], &[]));
    let other = task_with("[]", Some(r#"[{"NetworkMode":"bridge"}]"#));
    assert_eq!(
        parse_task(&other, "me").unwrap().network,
        TaskNetwork::NotReported
    );
    let empty = task_with("[]", Some("[]"));
    assert_eq!(
        parse_task(&empty, "me").unwrap().network,
        TaskNetwork::NotReported
    );
}

#[test]
fn ports_with_omitted_fields() {
    let body = task_with(
        r#"[{"ContainerPort":80,"Protocol":"tcp"},{"ContainerPort":53,"Protocol":"udp","HostPort":0},
        {"ContainerPort":9090},{"Protocol":"tcp"},{"HostPort":7000},{"ContainerPort":1,"Protocol":"sctp"},
        {"ContainerPort":70000},{"ContainerPort":"80"},"junk",{"ContainerPort":81,"Protocol":"UDP"}]"#,
        None,
    );
    let t = parse_task(&body, "me").unwrap();
    assert_eq!(
        t.ports,
        [
            port(80, Protocol::Tcp, None),
            port(53, Protocol::Udp, None),
            port(9090, Protocol::Tcp, None),
            port(0, Protocol::Tcp, Some(7000)),
            port(81, Protocol::Udp, None),
        ]
    );
    assert_eq!(t.network, TaskNetwork::NotReported);
}

#[test]
fn duplicated_ipv4_and_ipv6_entries_merge() {
    let body = task_with(
        r#"[{"ContainerPort":80,"Protocol":"tcp","HostPort":32768},{"ContainerPort":80,"Protocol":"tcp","HostPort":32769},
        {"ContainerPort":53,"Protocol":"udp"},{"ContainerPort":53,"Protocol":"udp","HostPort":32770},
        {"ContainerPort":80,"Protocol":"udp","HostPort":32771}]"#,
        None,
    );
    let t = parse_task(&body, "me").unwrap();
    assert_eq!(
        t.ports,
        [
            port(80, Protocol::Tcp, Some(32768)),
            port(53, Protocol::Udp, Some(32770)),
            port(80, Protocol::Udp, Some(32771)),
        ]
    );
}

#[test]
fn ports_of_other_containers_and_null_ports_are_not_ours() {
    let body = br#"{"Arn":"a:task/x","KnownStatus":"RUNNING","Containers":[
        {"DockerId":"other","Ports":[{"ContainerPort":80,"HostPort":80}]},{"DockerId":"me","Ports":null}]}"#;
    assert!(parse_task(body, "me").unwrap().ports.is_empty());
    assert!(parse_task(body, "nobody").unwrap().ports.is_empty());
}
