//! [`decide`] cases that involve the ECS agent: awsvpc, host mode with introspection, Service Connect bridge, and
//! the task's status.

use super::*;

const DUAL_TASK: &str = r#"{"Arn":"arn:aws:ecs:r:1:task/c/abc","KnownStatus":"RUNNING","Containers":[{"DockerId":"me",
    "Ports":[{"ContainerPort":8080,"Protocol":"tcp","HostPort":8080}],
    "Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.2.61"],"IPv6Addresses":["2600:1f14:abcd:1200::1a"]}]}]}"#;
const V6_TASK: &str = r#"{"Arn":"arn:aws:ecs:r:1:task/c/abc","KnownStatus":"RUNNING","Containers":[{"DockerId":"me",
    "Ports":[{"ContainerPort":8080,"Protocol":"tcp","HostPort":8080}],
    "Networks":[{"NetworkMode":"awsvpc","IPv6Addresses":["2600:1f14:abcd:1200::1a"]}]}]}"#;
const AWSVPC_APP: &str = r#"{"State":{"Running":true},"HostConfig":{"NetworkMode":"container:pause"},
    "NetworkSettings":{"Ports":{},"Networks":{}}}"#;

fn eni_v6() -> Ipv6Addr {
    "2600:1f14:abcd:1200::1a".parse().unwrap()
}

/// A bridge/host task (no `Networks`) whose container lists these `Ports`.
fn plain_task(ports: &str) -> TaskInfo {
    task(&format!(
        r#"{{"Arn":"arn:aws:ecs:r:1:task/c/abc","KnownStatus":"RUNNING","Containers":[{{"DockerId":"me","Ports":{ports}}}]}}"#
    ))
}

#[test]
fn awsvpc_dual_stack() {
    let (i, t) = (inspect(AWSVPC_APP), task(DUAL_TASK));
    let e = Case {
        task: Some(&t),
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.mode, e.target, e.source),
        (Mode::Awsvpc, TargetKind::Task, "ecs-introspection")
    );
    assert_eq!(
        (e.ipv4, e.ipv6),
        (Some(Ipv4Addr::new(10, 0, 2, 61)), Some(eni_v6()))
    );
    assert_eq!(e.srv, srv(8080, Protocol::Tcp));
}

#[test]
fn awsvpc_ipv6_only_has_no_a() {
    let (i, t) = (inspect(AWSVPC_APP), task(V6_TASK));
    let e = Case {
        task: Some(&t),
        ..case(&i)
    }
    .publish();
    assert_eq!((e.ipv4, e.ipv6, e.a()), (None, Some(eni_v6()), None));
    let settings = AddressSettings {
        record_types: RecordTypes::parse("A").unwrap(),
        ..AddressSettings::default()
    };
    let why = Case {
        task: Some(&t),
        settings,
        ..case(&i)
    }
    .skip();
    assert!(
        why.starts_with("nothing to publish") && why.contains("no IPv4"),
        "{why}"
    );
}

#[test]
fn awsvpc_publishes_when_imds_is_unavailable() {
    let (i, t) = (inspect(AWSVPC_APP), task(DUAL_TASK));
    let e = Case {
        task: Some(&t),
        instance: imds_off(),
        ..case(&i)
    }
    .publish();
    assert_eq!(e.ipv4, Some(Ipv4Addr::new(10, 0, 2, 61)));
}

#[test]
fn awsvpc_port_label_may_name_an_exposed_port() {
    let i = inspect(
        r#"{"HostConfig":{"NetworkMode":"container:pause"},"Config":{"ExposedPorts":{"9090/tcp":{}}}}"#,
    );
    let t = task(DUAL_TASK);
    let e = Case {
        task: Some(&t),
        labels: vec![("discovery.service.port", "9090")],
        ..case(&i)
    }
    .publish();
    assert_eq!(e.srv, srv(9090, Protocol::Tcp));
    let e = Case {
        task: Some(&t),
        labels: vec![("discovery.service.port", "9091")],
        ..case(&i)
    }
    .publish();
    assert_eq!(e.srv, None);
    assert!(
        e.notes[0].contains("discovery.service.port=\"9091\""),
        "{}",
        e.notes[0]
    );
}

#[test]
fn awsvpc_without_usable_addresses_skips() {
    let t = task(
        r#"{"Arn":"a:task/x","KnownStatus":"RUNNING","Containers":[{"DockerId":"me","Networks":[{"IPv4Addresses":["junk"]}]}]}"#,
    );
    let i = inspect(AWSVPC_APP);
    assert!(Case {
        task: Some(&t),
        ..case(&i)
    }
    .skip()
    .contains("awsvpc"));
}

#[test]
fn host_mode_with_introspection_ports() {
    let i = inspect(
        r#"{"State":{"Running":true},"HostConfig":{"NetworkMode":"host"},"Config":{"ExposedPorts":{"9000/tcp":{}}}}"#,
    );
    let t = plain_task(r#"[{"ContainerPort":8080,"Protocol":"tcp"}]"#);
    let e = Case {
        task: Some(&t),
        ..case(&i)
    }
    .publish();
    assert_eq!((e.mode, e.target), (Mode::Host, TargetKind::Instance));
    assert_eq!((e.ipv4, e.ipv6), (Some(HOST_V4), Some(host_v6())));
    assert_eq!(
        e.srv,
        srv(8080, Protocol::Tcp),
        "HostPort omitted: the ContainerPort"
    );
    let t = plain_task(
        r#"[{"ContainerPort":8080,"HostPort":8080},{"ContainerPort":8443,"HostPort":8443}]"#,
    );
    let e = Case {
        task: Some(&t),
        ..case(&i)
    }
    .publish();
    assert_eq!(e.srv, None);
    assert!(e.notes[0].contains("8080/tcp, 8443/tcp"), "{}", e.notes[0]);
}

#[test]
fn host_mode_without_a_task_uses_exposed_ports() {
    let i =
        inspect(r#"{"HostConfig":{"NetworkMode":"host"},"Config":{"ExposedPorts":{"53/udp":{}}}}"#);
    let e = case(&i).publish();
    assert_eq!((e.ipv4, e.srv), (Some(HOST_V4), srv(53, Protocol::Udp)));
    let v6_only = InstanceAddresses {
        ipv4: None,
        ..dual()
    };
    let e = Case {
        instance: v6_only,
        ..case(&i)
    }
    .publish();
    assert_eq!((e.ipv4, e.ipv6), (None, Some(host_v6())));
}

#[test]
fn service_connect_bridge_ports_from_introspection() {
    let i = inspect(
        r#"{"State":{"Running":true},"HostConfig":{"NetworkMode":"container:pause"},"NetworkSettings":{"Networks":{}}}"#,
    );
    let t = plain_task(
        r#"[{"ContainerPort":80,"Protocol":"tcp","HostPort":49153},{"ContainerPort":80,"Protocol":"tcp","HostPort":49154}]"#,
    );
    let e = Case {
        task: Some(&t),
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.mode, e.target, e.source),
        (
            Mode::ServiceConnectBridge,
            TargetKind::Instance,
            "instance-metadata"
        )
    );
    assert_eq!((e.ipv4, e.srv), (Some(HOST_V4), srv(49153, Protocol::Tcp)));
    assert_eq!(
        e.ipv6, None,
        "introspection cannot tell whether the port is on ::"
    );
    let racy = plain_task(r#"[{"ContainerPort":80,"Protocol":"tcp"}]"#);
    assert_eq!(
        Case {
            task: Some(&racy),
            ..case(&i)
        }
        .run(),
        Decision::Retry("host port of 80/tcp not known yet".into())
    );
    let why = Case {
        task: Some(&t),
        instance: imds_off(),
        ..case(&i)
    }
    .no_address();
    assert!(why.contains(IMDS_403), "{why}");
}

#[test]
fn service_connect_bridge_ports_from_the_pause_container() {
    let i = inspect(r#"{"HostConfig":{"NetworkMode":"container:pause"}}"#);
    let pause = bridge(P8080, B8080);
    let t = plain_task("[]");
    let e = Case {
        task: Some(&t),
        shared: Some(&pause),
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.mode, e.ipv4, e.ipv6),
        (Mode::ServiceConnectBridge, Some(HOST_V4), Some(host_v6()))
    );
    assert_eq!(e.srv, srv(8080, Protocol::Tcp));
    // Without introspection, the shared bridge namespace is still enough.
    assert_eq!(
        Case {
            shared: Some(&pause),
            ..case(&i)
        }
        .publish()
        .mode,
        Mode::ServiceConnectBridge
    );
}

#[test]
fn shared_namespace_without_introspection_is_not_guessed() {
    let i = inspect(r#"{"HostConfig":{"NetworkMode":"container:pause"}}"#);
    assert!(case(&i).skip().contains("pause"));
    let awsvpc_pause = inspect(r#"{"HostConfig":{"NetworkMode":"none"}}"#);
    assert!(Case {
        shared: Some(&awsvpc_pause),
        ..case(&i)
    }
    .skip()
    .contains("introspection"));
    let host = inspect(r#"{"HostConfig":{"NetworkMode":"host"}}"#);
    assert_eq!(
        Case {
            shared: Some(&host),
            ..case(&i)
        }
        .publish()
        .mode,
        Mode::Host
    );
}

#[test]
fn stopping_tasks_skip() {
    let i = bridge(P8080, B8080);
    for body in [
        r#"{"Arn":"a:task/x","KnownStatus":"RUNNING","DesiredStatus":"STOPPED","Containers":[]}"#,
        r#"{"Arn":"a:task/x","KnownStatus":"STOPPED","Containers":[]}"#,
    ] {
        let t = task(body);
        assert_eq!(
            Case {
                task: Some(&t),
                ..case(&i)
            }
            .skip(),
            "the ECS task is stopping"
        );
        // Definite even while this instance's address is unknown: its records go (not kept as for a blip).
        let why = Case {
            task: Some(&t),
            instance: imds_off(),
            ..case(&i)
        }
        .skip();
        assert_eq!(why, "the ECS task is stopping");
    }
    let pending = task(r#"{"Arn":"a:task/x","KnownStatus":"PENDING","Containers":[]}"#);
    assert_eq!(
        Case {
            task: Some(&pending),
            ..case(&i)
        }
        .publish()
        .ipv4,
        Some(HOST_V4)
    );
}

#[test]
fn bridge_tasks_never_use_the_docker_address() {
    let i = bridge(P8080, B8080);
    let t = plain_task(r#"[{"ContainerPort":80,"Protocol":"tcp","HostPort":8080}]"#);
    for instance in [dual(), v4_only()] {
        let e = Case {
            task: Some(&t),
            instance,
            ..case(&i)
        }
        .publish();
        assert_eq!((e.mode, e.ipv4), (Mode::Bridge, Some(HOST_V4)));
    }
}
