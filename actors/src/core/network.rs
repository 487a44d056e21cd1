//! Where a container's address and ports come from, read off `docker inspect`.
//!
//! Contract: `shared/reference/ecs-and-docker.md` §4.3 and edge cases 23–30. The address is always read from
//! `NetworkSettings.Networks[<name>].IPAddress` (the top-level fields are gone in API 1.52). [`facts`] gathers
//! everything [`crate::core::address`] needs: network mode, Docker's own addresses, running state, the host ports
//! Docker bound (`NetworkSettings.Ports`), the ones asked for at create time (`HostConfig.PortBindings`) and the
//! image's `Config.ExposedPorts`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::{ContainerInspectResponse, EndpointSettings, PortBinding, PortMap};

use crate::core::port::PortSpec;

/// `HostConfig.NetworkMode`, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// `host`.
    Host,
    /// `none` (also the awsvpc pause container).
    None,
    /// `container:<id>`: shares that container's namespace (awsvpc app containers, Service Connect bridge).
    Container(String),
    /// `bridge`, `default` (also when absent) or a user-defined network's name.
    Network(String),
}

/// One container port Docker bound on a wildcard host address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The container port.
    pub spec: PortSpec,
    /// Host port bound on IPv4 (`HostIp` `""` or `0.0.0.0`), when known.
    pub ipv4: Option<u16>,
    /// Host port bound on IPv6 (`HostIp` `::`), when known. Docker ≥ 20.10 may pick a different one than IPv4.
    pub ipv6: Option<u16>,
}

/// What addressing needs from one inspect response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectFacts {
    /// The network mode.
    pub mode: NetworkMode,
    /// `State.Running`.
    pub running: Option<bool>,
    /// Docker's own IPv4 for the container (on-host only for the default bridge).
    pub ipv4: Option<Ipv4Addr>,
    /// Docker's own `GlobalIPv6Address`.
    pub ipv6: Option<Ipv6Addr>,
    /// Ports with at least one known wildcard host port, sorted. Bindings to one specific host address
    /// (`127.0.0.1:8080:80`) are left out: they are not the instance-wide port clients use.
    pub published: Vec<Published>,
    /// Ports asked for in `HostConfig.PortBindings` on a wildcard address (or none given), sorted.
    pub requested: Vec<PortSpec>,
    /// `Config.ExposedPorts`, sorted.
    pub exposed: Vec<PortSpec>,
}

/// Reads every addressing fact off an inspect response; missing parts read as absent, never as errors.
pub fn facts(inspect: &ContainerInspectResponse) -> InspectFacts {
    let host_config = inspect.host_config.as_ref();
    let ports = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref());
    let exposed = inspect
        .config
        .as_ref()
        .and_then(|c| c.exposed_ports.as_ref());
    InspectFacts {
        mode: network_mode(inspect),
        running: inspect.state.as_ref().and_then(|s| s.running),
        ipv4: container_ipv4(inspect),
        ipv6: container_ipv6(inspect),
        published: ports.map(published).unwrap_or_default(),
        requested: host_config
            .and_then(|h| h.port_bindings.as_ref())
            .map(requested)
            .unwrap_or_default(),
        exposed: sorted_specs(exposed.into_iter().flatten().map(String::as_str)),
    }
}

/// Classifies `HostConfig.NetworkMode`.
pub fn network_mode(inspect: &ContainerInspectResponse) -> NetworkMode {
    let mode = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        .unwrap_or("");
    match mode {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        "" => NetworkMode::Network("default".into()),
        m => match m.strip_prefix("container:") {
            Some(other) => NetworkMode::Container(other.to_string()),
            None => NetworkMode::Network(m.to_string()),
        },
    }
}

/// The first address `read` finds on the container's networks: `bridge` first, then by name.
fn first_on_networks<T>(
    inspect: &ContainerInspectResponse,
    read: impl Fn(&EndpointSettings) -> Option<T>,
) -> Option<T> {
    let networks = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref());
    let mut candidates: Vec<(&String, T)> = networks
        .into_iter()
        .flatten()
        .filter_map(|(name, ep)| Some((name, read(ep)?)))
        .collect();
    candidates.sort_by_key(|(name, _)| (name.as_str() != "bridge", name.to_string()));
    candidates.into_iter().next().map(|(_, ip)| ip)
}

/// Docker's own IPv4 for the container: the `bridge` network's, else the alphabetically first network's.
pub fn container_ipv4(inspect: &ContainerInspectResponse) -> Option<Ipv4Addr> {
    first_on_networks(inspect, |ep| ep.ip_address.as_deref()?.parse().ok())
}

/// Docker's own `GlobalIPv6Address`, chosen among networks as for IPv4.
pub fn container_ipv6(inspect: &ContainerInspectResponse) -> Option<Ipv6Addr> {
    first_on_networks(inspect, |ep| {
        ep.global_ipv6_address.as_deref()?.parse().ok()
    })
}

fn sorted_specs<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<PortSpec> {
    let set: BTreeSet<PortSpec> = keys.filter_map(|k| PortSpec::parse(k).ok()).collect();
    set.into_iter().collect()
}

/// The host port of a binding, when it is a real one (not `""` or `"0"`).
fn host_port(b: &PortBinding) -> Option<u16> {
    b.host_port
        .as_deref()?
        .trim()
        .parse()
        .ok()
        .filter(|&p| p != 0)
}

fn published(ports: &PortMap) -> Vec<Published> {
    let mut out = BTreeMap::new();
    for (key, bindings) in ports {
        let Ok(spec) = PortSpec::parse(key) else {
            continue;
        };
        let mut p = Published {
            spec,
            ipv4: None,
            ipv6: None,
        };
        for b in bindings.iter().flatten() {
            match b.host_ip.as_deref().unwrap_or("") {
                "" | "0.0.0.0" => p.ipv4 = p.ipv4.or(host_port(b)),
                "::" => p.ipv6 = p.ipv6.or(host_port(b)),
                _ => {}
            }
        }
        if p.ipv4.is_some() || p.ipv6.is_some() {
            out.insert(spec, p);
        }
    }
    out.into_values().collect()
}

fn requested(bindings: &PortMap) -> Vec<PortSpec> {
    let wildcard = |list: &Option<Vec<PortBinding>>| match list.as_deref() {
        None | Some([]) => true,
        Some(list) => list
            .iter()
            .any(|b| matches!(b.host_ip.as_deref().unwrap_or(""), "" | "0.0.0.0" | "::")),
    };
    let keys = bindings
        .iter()
        .filter(|(_, list)| wildcard(list))
        .map(|(k, _)| k.as_str());
    sorted_specs(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(json: &str) -> ContainerInspectResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_bridge_networks_own_address_is_read_for_the_container_address_opt_in() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"bridge"},"NetworkSettings":{"IPAddress":"9.9.9.9","Ports":{"80/tcp":null},
            "Networks":{"bridge":{"IPAddress":"172.17.0.3","Gateway":"172.17.0.1"}}}}"#,
        );
        assert_eq!(network_mode(&i), NetworkMode::Network("bridge".into()));
        assert_eq!(container_ipv4(&i), Some(Ipv4Addr::new(172, 17, 0, 3)));
    }

    #[test]
    fn user_defined_networks_are_picked_deterministically() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"zeta"},"NetworkSettings":{"Networks":{
            "zeta":{"IPAddress":"10.9.0.2"},"alpha":{"IPAddress":"10.8.0.2"},"empty":{"IPAddress":""}}}}"#,
        );
        assert_eq!(container_ipv4(&i), Some(Ipv4Addr::new(10, 8, 0, 2)));
    }

    #[test]
    fn host_container_and_none() {
        let host = inspect(
            r#"{"HostConfig":{"NetworkMode":"host"},"NetworkSettings":{"Networks":{"host":{"IPAddress":""}}}}"#,
        );
        assert_eq!(network_mode(&host), NetworkMode::Host);
        let none = inspect(
            r#"{"HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{"none":{"IPAddress":""}}}}"#,
        );
        assert_eq!(
            (network_mode(&none), container_ipv4(&none)),
            (NetworkMode::None, None)
        );
        let missing = inspect(
            r#"{"HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":null}}"#,
        );
        assert_eq!(container_ipv4(&missing), None);
        assert_eq!(
            network_mode(&inspect("{}")),
            NetworkMode::Network("default".into())
        );
        assert_eq!(container_ipv4(&inspect("{}")), None);
    }

    #[test]
    fn awsvpc_app_container_shares_the_pause_namespace() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"container:598cba58"},"NetworkSettings":{"Networks":{}}}"#,
        );
        assert_eq!(network_mode(&i), NetworkMode::Container("598cba58".into()));
    }

    fn spec(text: &str) -> PortSpec {
        PortSpec::parse(text).unwrap()
    }

    #[test]
    fn bridge_facts_with_dual_bindings_requests_and_exposed_ports() {
        let i = inspect(
            r#"{"State":{"Running":true},"HostConfig":{"NetworkMode":"bridge","PortBindings":{
                "80/tcp":[{"HostIp":"","HostPort":"0"}],"53/udp":[{"HostPort":"5353"}],"9000/tcp":[{"HostIp":"127.0.0.1","HostPort":"9000"}]}},
            "Config":{"ExposedPorts":{"80/tcp":{},"53/udp":{},"9000/tcp":{},"bogus":{}}},
            "NetworkSettings":{"Ports":{
                "80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32769"}],
                "53/udp":[{"HostIp":"","HostPort":"5353"}],
                "9000/tcp":[{"HostIp":"127.0.0.1","HostPort":"9000"}],
                "7000/tcp":null},
            "Networks":{"bridge":{"IPAddress":"172.17.0.3","GlobalIPv6Address":"2001:db8::3"}}}}"#,
        );
        let f = facts(&i);
        assert_eq!(f.mode, NetworkMode::Network("bridge".into()));
        assert_eq!(f.running, Some(true));
        assert_eq!(f.ipv4, Some(Ipv4Addr::new(172, 17, 0, 3)));
        assert_eq!(f.ipv6, Some("2001:db8::3".parse().unwrap()));
        assert_eq!(
            f.published,
            [
                Published {
                    spec: spec("53/udp"),
                    ipv4: Some(5353),
                    ipv6: None
                },
                Published {
                    spec: spec("80/tcp"),
                    ipv4: Some(32768),
                    ipv6: Some(32769)
                },
            ]
        );
        assert_eq!(f.requested, [spec("53/udp"), spec("80/tcp")]);
        assert_eq!(
            f.exposed,
            [spec("53/udp"), spec("80/tcp"), spec("9000/tcp")]
        );
    }

    #[test]
    fn unknown_host_ports_are_not_published() {
        let i = inspect(
            r#"{"HostConfig":{"PortBindings":{"80/tcp":null,"81/tcp":[]}},"NetworkSettings":{"Ports":{
                "80/tcp":null,"81/tcp":[{"HostIp":"0.0.0.0","HostPort":""},{"HostIp":"::","HostPort":"0"}],"x/tcp":[]}}}"#,
        );
        let f = facts(&i);
        assert_eq!(f.mode, NetworkMode::Network("default".into()));
        assert!(f.published.is_empty());
        assert_eq!(f.requested, [spec("80/tcp"), spec("81/tcp")]);
        assert_eq!((f.running, f.ipv4, f.ipv6), (None, None, None));
    }

    #[test]
    fn modes_are_classified() {
        for (mode, want) in [
            ("host", NetworkMode::Host),
            ("none", NetworkMode::None),
            ("container:abc", NetworkMode::Container("abc".into())),
            ("default", NetworkMode::Network("default".into())),
            ("my-net", NetworkMode::Network("my-net".into())),
        ] {
            let i = inspect(&format!(r#"{{"HostConfig":{{"NetworkMode":"{mode}"}}}}"#));
            assert_eq!(network_mode(&i), want, "{mode}");
        }
        let stopped = inspect(r#"{"State":{"Running":false}}"#);
        assert_eq!(facts(&stopped).running, Some(false));
        assert_eq!(facts(&inspect("{}")).published, []);
    }
}
