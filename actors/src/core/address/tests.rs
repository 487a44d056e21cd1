//! Table of [`decide`] cases over every network mode, built from inline `docker inspect` and introspection JSON.
//!
//! This file holds the harness ([`Case`]) and the record-type cases; bridge and Docker-level cases are in
//! `tests/bridge.rs`, ECS-specific ones (awsvpc, host with introspection, Service Connect, task status) in
//! `tests/ecs.rs`. Every decision is checked never to carry a Docker bridge (172.16/12) address unless the
//! container-address opt-in asked for it.

mod bridge;
mod ecs;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::ContainerInspectResponse;

use super::*;
use crate::core::introspection::parse_task;

const HOST_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const IMDS_403: &str = "IMDS returned 403 (instance metadata is turned off)";

fn host_v6() -> Ipv6Addr {
    "2600:1f14:aaaa::5".parse().unwrap()
}

fn inspect(json: &str) -> ContainerInspectResponse {
    serde_json::from_str(json).unwrap()
}

/// A running bridge container on 172.17.0.3 with these `NetworkSettings.Ports` and `HostConfig.PortBindings`.
fn bridge(ports: &str, bindings: &str) -> ContainerInspectResponse {
    inspect(&format!(
        r#"{{"State":{{"Running":true}},"HostConfig":{{"NetworkMode":"bridge","PortBindings":{bindings}}},
        "Config":{{"ExposedPorts":{{"80/tcp":{{}}}}}},
        "NetworkSettings":{{"Ports":{ports},"Networks":{{"bridge":{{"IPAddress":"172.17.0.3",
        "GlobalIPv6Address":"fd00:dead::3"}}}}}}}}"#
    ))
}

fn dual() -> InstanceAddresses {
    InstanceAddresses {
        ipv4: Some(HOST_V4),
        ipv6: Some(host_v6()),
        instance_id: Some("i-0abc".into()),
        unavailable: None,
    }
}

fn v4_only() -> InstanceAddresses {
    InstanceAddresses {
        ipv6: None,
        ..dual()
    }
}

fn imds_off() -> InstanceAddresses {
    InstanceAddresses {
        unavailable: Some(IMDS_403.into()),
        ..InstanceAddresses::default()
    }
}

fn task(body: &str) -> TaskInfo {
    parse_task(body.as_bytes(), "me").unwrap()
}

/// One case: everything but the inspect response has a default.
struct Case<'a> {
    inspect: &'a ContainerInspectResponse,
    shared: Option<&'a ContainerInspectResponse>,
    task: Option<&'a TaskInfo>,
    instance: InstanceAddresses,
    labels: Vec<(&'a str, &'a str)>,
    settings: AddressSettings,
}

fn case(inspect: &ContainerInspectResponse) -> Case<'_> {
    Case {
        inspect,
        shared: None,
        task: None,
        instance: dual(),
        labels: Vec::new(),
        settings: AddressSettings::default(),
    }
}

impl Case<'_> {
    fn run(&self) -> Decision {
        let labels: HashMap<String, String> = self
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let d = decide(&Inputs {
            inspect: self.inspect,
            shared: self.shared,
            task: self.task,
            instance: &self.instance,
            labels: &labels,
            settings: &self.settings,
        });
        if let Decision::Publish(e) = &d {
            let docker = e
                .ipv4
                .is_some_and(|ip| ip.octets()[0] == 172 && ip.octets()[1] & 0xf0 == 16);
            assert!(
                !docker || e.mode == Mode::ContainerAddress,
                "Docker address leaked: {e:?}"
            );
        }
        d
    }

    fn publish(&self) -> Endpoint {
        match self.run() {
            Decision::Publish(e) => e,
            other => panic!("expected Publish, got {other:?}"),
        }
    }

    fn no_address(&self) -> String {
        match self.run() {
            Decision::NoInstanceAddress(why) => why,
            other => panic!("expected NoInstanceAddress, got {other:?}"),
        }
    }

    fn skip(&self) -> String {
        match self.run() {
            Decision::Skip(why) => why,
            other => panic!("expected Skip, got {other:?}"),
        }
    }
}

fn srv(port: u16, protocol: Protocol) -> Option<SrvPort> {
    Some(SrvPort { port, protocol })
}

const P8080: &str =
    r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]}"#;
const B8080: &str = r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#;
const TWO: &str = r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"}],"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"32769"}]}"#;

#[test]
fn record_types_parse() {
    let t = |a, aaaa, srv| RecordTypes { a, aaaa, srv };
    assert_eq!(RecordTypes::parse("A,SRV"), Ok(t(true, false, true)));
    assert_eq!(RecordTypes::parse(" aaaa , srv "), Ok(t(false, true, true)));
    assert_eq!(RecordTypes::parse("a,A,Aaaa,SRV"), Ok(RecordTypes::ALL));
    for (bad, token) in [
        ("", "no record type"),
        ("  ", "no record type"),
        ("A,MX", "\"MX\""),
        ("A,,SRV", "empty"),
    ] {
        let err = RecordTypes::parse(bad).unwrap_err();
        assert!(err.contains(token), "{bad:?}: {err}");
    }
    assert_eq!(RecordTypes::ALL.to_string(), "A, AAAA, SRV");
    assert_eq!(t(false, false, false).to_string(), "none");
    assert_eq!(Protocol::Udp.to_string(), "udp");
}
