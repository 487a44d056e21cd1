//! Where a container's address comes from, read off `docker inspect`.
//!
//! Contract: `shared/reference/ecs-and-docker.md` §4.3 and edge cases 23–30. The address is always read from
//! `NetworkSettings.Networks[<name>].IPAddress` (the top-level fields are gone in API 1.52).

use std::net::Ipv4Addr;

use bollard::models::ContainerInspectResponse;

/// The container's network placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// On a Docker network with this IPv4 address (bridge or user-defined).
    Address(Ipv4Addr),
    /// Host networking: the container answers on the host's address.
    Host,
    /// Shares another container's network namespace (`container:<id>`): awsvpc or Service Connect.
    SharesWith(String),
    /// `none`, or attached but with no IPv4 address (stopped, IPv6-only).
    NoAddress,
}

/// Reads the placement from an inspect response.
///
/// With several networks, `bridge` wins, otherwise the alphabetically first network with an address, so the choice
/// is the same on every call.
pub fn placement(inspect: &ContainerInspectResponse) -> Placement {
    let mode = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    if mode == "host" {
        return Placement::Host;
    }
    if let Some(other) = mode.strip_prefix("container:") {
        return Placement::SharesWith(other.to_string());
    }
    let networks = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref());
    let mut candidates: Vec<(&String, Ipv4Addr)> = networks
        .into_iter()
        .flatten()
        .filter_map(|(name, ep)| Some((name, ep.ip_address.as_deref()?.parse::<Ipv4Addr>().ok()?)))
        .collect();
    candidates.sort_by_key(|(name, _)| (name.as_str() != "bridge", name.to_string()));
    candidates
        .first()
        .map_or(Placement::NoAddress, |(_, ip)| Placement::Address(*ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(json: &str) -> ContainerInspectResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn bridge_container_uses_the_bridge_address() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"bridge"},"NetworkSettings":{"IPAddress":"9.9.9.9","Ports":{"80/tcp":null},
            "Networks":{"bridge":{"IPAddress":"172.17.0.3","Gateway":"172.17.0.1"}}}}"#,
        );
        assert_eq!(
            placement(&i),
            Placement::Address(Ipv4Addr::new(172, 17, 0, 3))
        );
    }

    #[test]
    fn user_defined_networks_are_picked_deterministically() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"zeta"},"NetworkSettings":{"Networks":{
            "zeta":{"IPAddress":"10.9.0.2"},"alpha":{"IPAddress":"10.8.0.2"},"empty":{"IPAddress":""}}}}"#,
        );
        assert_eq!(
            placement(&i),
            Placement::Address(Ipv4Addr::new(10, 8, 0, 2))
        );
    }

    #[test]
    fn host_container_and_none() {
        let host = inspect(
            r#"{"HostConfig":{"NetworkMode":"host"},"NetworkSettings":{"Networks":{"host":{"IPAddress":""}}}}"#,
        );
        assert_eq!(placement(&host), Placement::Host);
        let none = inspect(
            r#"{"HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{"none":{"IPAddress":""}}}}"#,
        );
        assert_eq!(placement(&none), Placement::NoAddress);
        let missing = inspect(
            r#"{"HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":null}}"#,
        );
        assert_eq!(placement(&missing), Placement::NoAddress);
        assert_eq!(placement(&inspect("{}")), Placement::NoAddress);
    }

    #[test]
    fn awsvpc_app_container_shares_the_pause_namespace() {
        let i = inspect(
            r#"{"HostConfig":{"NetworkMode":"container:598cba58"},"NetworkSettings":{"Networks":{}}}"#,
        );
        assert_eq!(placement(&i), Placement::SharesWith("598cba58".into()));
    }
}
