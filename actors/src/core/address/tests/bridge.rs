//! [`decide`] cases for Docker bridge and user-defined networks, host mode without ECS, the container-address
//! opt-in, and the record-type and port labels.

use super::*;

#[test]
fn bridge_static_port_uses_the_instance_and_the_host_port() {
    let i = bridge(P8080, B8080);
    let e = case(&i).publish();
    assert_eq!(
        (e.mode, e.target, e.source),
        (Mode::Bridge, TargetKind::Instance, "instance-metadata")
    );
    assert_eq!((e.ipv4, e.ipv6), (Some(HOST_V4), Some(host_v6())));
    assert_eq!(e.srv, srv(8080, Protocol::Tcp));
    assert_eq!((e.a(), e.aaaa()), (Some(HOST_V4), Some(host_v6())));
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    let v4 = Case {
        instance: v4_only(),
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (v4.ipv4, v4.ipv6, v4.srv),
        (Some(HOST_V4), None, srv(8080, Protocol::Tcp))
    );
}

#[test]
fn bridge_ipv6_needs_the_port_on_colon_colon() {
    let i = bridge(B8080, B8080);
    let e = case(&i).publish();
    assert_eq!(
        (e.ipv4, e.ipv6, e.srv),
        (Some(HOST_V4), None, srv(8080, Protocol::Tcp))
    );
    let none = bridge("{}", "{}");
    let e = case(&none).publish();
    assert_eq!((e.ipv4, e.ipv6, e.srv), (Some(HOST_V4), None, None));
    assert!(e.notes.is_empty(), "no port, no note: {:?}", e.notes);
}

#[test]
fn bridge_dynamic_port() {
    let i = bridge(
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32768"}]}"#,
        r#"{"80/tcp":[{"HostIp":"","HostPort":"0"}]}"#,
    );
    let e = case(&i).publish();
    assert_eq!(
        (e.ipv6, e.srv),
        (Some(host_v6()), srv(32768, Protocol::Tcp))
    );
}

#[test]
fn bridge_two_ports_with_and_without_label() {
    let i = bridge(TWO, "{}");
    let e = Case {
        labels: vec![("discovery.service.port", "443")],
        ..case(&i)
    }
    .publish();
    assert_eq!(e.srv, srv(32769, Protocol::Tcp));
    assert!(e.notes.is_empty());
    let e = case(&i).publish();
    assert_eq!((e.ipv4, e.srv, e.ipv6), (Some(HOST_V4), None, None));
    assert_eq!(e.notes.len(), 1);
    assert!(
        e.notes[0].contains("discovery.service.port") && e.notes[0].contains("80/tcp, 443/tcp"),
        "{}",
        e.notes[0]
    );
}

#[test]
fn bad_port_labels_drop_srv_but_keep_a() {
    let i = bridge(TWO, "{}");
    for value in ["9999", "80/udp", "http", "0", "70000", "80/sctp", "", "-1"] {
        let e = Case {
            labels: vec![("discovery.service.port", value)],
            ..case(&i)
        }
        .publish();
        assert_eq!((e.ipv4, e.srv), (Some(HOST_V4), None), "{value:?}");
        assert_eq!(e.notes.len(), 1, "{value:?}");
        let note = &e.notes[0];
        assert!(
            note.contains(&format!("discovery.service.port={value:?}")),
            "{note}"
        );
        assert!(note.contains("no SRV record"), "{note}");
    }
}

#[test]
fn a_custom_port_label_key_is_used_and_named() {
    let i = bridge(TWO, "{}");
    let settings = AddressSettings {
        port_label: "my.port".into(),
        ..AddressSettings::default()
    };
    let c = Case {
        labels: vec![("my.port", "nope")],
        settings,
        ..case(&i)
    };
    let e = c.publish();
    assert!(e.notes[0].contains("my.port=\"nope\""), "{}", e.notes[0]);
}

#[test]
fn udp_port_label() {
    let i = bridge(
        r#"{"53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}],"53/tcp":[{"HostIp":"0.0.0.0","HostPort":"5354"}]}"#,
        "{}",
    );
    let e = Case {
        labels: vec![("discovery.service.port", "53/udp")],
        ..case(&i)
    }
    .publish();
    assert_eq!(e.srv, srv(5353, Protocol::Udp));
}

#[test]
fn duplicated_bindings_with_different_host_ports() {
    let i = bridge(
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32770"}]}"#,
        r#"{"80/tcp":[{"HostPort":"0"}]}"#,
    );
    let e = case(&i).publish();
    assert_eq!(
        (e.ipv4, e.ipv6, e.srv),
        (Some(HOST_V4), None, srv(32768, Protocol::Tcp))
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("32770") && n.contains("AAAA")),
        "{:?}",
        e.notes
    );
}

#[test]
fn unknown_host_ports_mean_retry() {
    for ports in [
        r#"{"80/tcp":null}"#,
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":""}]}"#,
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"0"}]}"#,
        "{}",
    ] {
        let i = bridge(ports, r#"{"80/tcp":[{"HostIp":"","HostPort":"0"}]}"#);
        assert_eq!(
            case(&i).run(),
            Decision::Retry("host port of 80/tcp not known yet".into()),
            "{ports}"
        );
    }
    // Not requested: an exposed-only port, nothing to wait for.
    let i = bridge(r#"{"80/tcp":null}"#, "{}");
    assert_eq!(case(&i).publish().srv, None);
    // SRV off and no IPv6 to check: the port does not matter, so no retry.
    let i = bridge(r#"{"80/tcp":null}"#, r#"{"80/tcp":[{"HostPort":"0"}]}"#);
    let settings = AddressSettings {
        record_types: RecordTypes::parse("A").unwrap(),
        ..AddressSettings::default()
    };
    assert_eq!(
        Case {
            settings,
            ..case(&i)
        }
        .publish()
        .ipv4,
        Some(HOST_V4)
    );
}

#[test]
fn srv_disabled_means_no_port_and_no_port_notes() {
    let i = bridge(TWO, "{}");
    let settings = AddressSettings {
        record_types: RecordTypes::parse("A").unwrap(),
        ..AddressSettings::default()
    };
    let e = Case {
        labels: vec![("discovery.service.port", "garbage")],
        settings,
        ..case(&i)
    }
    .publish();
    assert_eq!((e.ipv4, e.ipv6, e.srv), (Some(HOST_V4), None, None));
    assert!(e.notes.is_empty(), "{:?}", e.notes);
}

#[test]
fn records_label_narrows_the_types() {
    let i = bridge(P8080, B8080);
    let e = Case {
        labels: vec![("discovery.service.records", "A,SRV")],
        ..case(&i)
    }
    .publish();
    assert_eq!(e.types, RecordTypes::parse("A,SRV").unwrap());
    assert_eq!(
        (e.a(), e.aaaa(), e.srv),
        (Some(HOST_V4), None, srv(8080, Protocol::Tcp))
    );
    // The SRV target's AAAA still needs the address.
    assert_eq!(e.ipv6, Some(host_v6()));
    let settings = AddressSettings {
        record_types: RecordTypes::parse("A,AAAA").unwrap(),
        ..AddressSettings::default()
    };
    let e = Case {
        labels: vec![("discovery.service.records", "a,srv")],
        settings,
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.types, e.srv, e.ipv6),
        (RecordTypes::parse("A").unwrap(), None, None)
    );
}

#[test]
fn bad_or_empty_records_labels_skip() {
    let i = bridge(P8080, B8080);
    for value in ["MX", "", "A;SRV"] {
        let why = Case {
            labels: vec![("discovery.service.records", value)],
            ..case(&i)
        }
        .skip();
        assert!(
            why.contains(&format!("discovery.service.records={value:?}")),
            "{why}"
        );
    }
    let settings = AddressSettings {
        record_types: RecordTypes::parse("SRV").unwrap(),
        ..AddressSettings::default()
    };
    let why = Case {
        labels: vec![("discovery.service.records", "A")],
        settings,
        ..case(&i)
    }
    .skip();
    assert!(why.contains("leaves no record type"), "{why}");
}

#[test]
fn srv_only_without_a_port_publishes_nothing() {
    let i = bridge("{}", "{}");
    let settings = AddressSettings {
        record_types: RecordTypes::parse("SRV").unwrap(),
        ..AddressSettings::default()
    };
    let why = Case {
        settings,
        ..case(&i)
    }
    .skip();
    assert!(
        why.starts_with("nothing to publish") && why.contains("no SRV port"),
        "{why}"
    );
}

#[test]
fn imds_unavailable_skips_bridge_and_host() {
    let i = bridge(P8080, B8080);
    let why = Case {
        instance: imds_off(),
        ..case(&i)
    }
    .no_address();
    assert!(why.contains(IMDS_403) && why.contains("bridge"), "{why}");
    let host = inspect(
        r#"{"HostConfig":{"NetworkMode":"host"},"Config":{"ExposedPorts":{"8080/tcp":{}}}}"#,
    );
    let why = Case {
        instance: imds_off(),
        ..case(&host)
    }
    .no_address();
    assert!(why.contains(IMDS_403) && why.contains("host"), "{why}");
    let unknown = Case {
        instance: InstanceAddresses::default(),
        ..case(&i)
    }
    .no_address();
    assert!(unknown.contains("no instance address"), "{unknown}");
}

#[test]
fn user_defined_network_is_bridge_and_container_address_is_opt_in() {
    let i = inspect(
        r#"{"HostConfig":{"NetworkMode":"my-net","PortBindings":{}},"Config":{"ExposedPorts":{"80/tcp":{}}},
        "NetworkSettings":{"Ports":{"80/tcp":null},"Networks":{"my-net":{"IPAddress":"172.18.0.4","GlobalIPv6Address":"fd00::4"}}}}"#,
    );
    let e = case(&i).publish();
    assert_eq!((e.mode, e.ipv4, e.srv), (Mode::Bridge, Some(HOST_V4), None));
    let settings = AddressSettings {
        container_address: true,
        ..AddressSettings::default()
    };
    let e = Case {
        settings,
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.mode, e.target, e.source),
        (Mode::ContainerAddress, TargetKind::Task, "docker-inspect")
    );
    assert_eq!(
        (e.ipv4, e.ipv6),
        (
            Some(Ipv4Addr::new(172, 18, 0, 4)),
            Some("fd00::4".parse().unwrap())
        )
    );
    assert_eq!(
        e.srv,
        srv(80, Protocol::Tcp),
        "the container port, not a host port"
    );
}

#[test]
fn container_address_works_without_imds_and_needs_a_docker_address() {
    let settings = AddressSettings {
        container_address: true,
        ..AddressSettings::default()
    };
    let i = bridge(P8080, B8080);
    let e = Case {
        settings: settings.clone(),
        instance: imds_off(),
        ..case(&i)
    }
    .publish();
    assert_eq!(
        (e.ipv4, e.srv),
        (Some(Ipv4Addr::new(172, 17, 0, 3)), srv(80, Protocol::Tcp))
    );
    let gone = inspect(
        r#"{"HostConfig":{"NetworkMode":"bridge"},"NetworkSettings":{"Networks":{"bridge":{"IPAddress":""}}}}"#,
    );
    assert!(Case {
        settings,
        ..case(&gone)
    }
    .skip()
    .contains("no address"));
}

#[test]
fn not_running_and_none_mode_skip() {
    let stopped = inspect(r#"{"State":{"Running":false},"HostConfig":{"NetworkMode":"bridge"}}"#);
    assert_eq!(case(&stopped).skip(), "the container is not running");
    let none = inspect(r#"{"HostConfig":{"NetworkMode":"none"}}"#);
    assert!(case(&none).skip().contains("none"));
    // No input panics, even an empty inspect response.
    let empty = inspect("{}");
    assert_eq!(case(&empty).publish().ipv4, Some(HOST_V4));
}
