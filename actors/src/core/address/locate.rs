//! Which mode a container is in, the addresses that mode reaches it on, and the ports its SRV record could use.
//!
//! `shared/reference/addressing.md` §0 and §7: awsvpc is told apart by introspection `Networks` (a `container:`
//! network mode alone does not mean awsvpc: Service Connect bridge uses it too); bridge and host use the instance's
//! addresses; Docker's container address only with `agent.container_address`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::select::Candidate;
use super::{Decision, Inputs, Mode, TargetKind};
use crate::core::instance::InstanceAddresses;
use crate::core::introspection::{TaskInfo, TaskNetwork, TaskPort};
use crate::core::network::{self, InspectFacts, NetworkMode};
use crate::core::port::PortSpec;

/// A container's mode, addresses and candidate ports, before the port and the record types are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Located {
    /// The mode.
    pub mode: Mode,
    /// The IPv4 clients would use.
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 clients would use (for bridge, only if the chosen port is bound on `::`).
    pub ipv6: Option<Ipv6Addr>,
    /// The SRV target kind.
    pub target: TargetKind,
    /// Where the address comes from.
    pub source: &'static str,
    /// The ports the SRV record could use.
    pub candidates: Vec<Candidate>,
    /// Bridge: the IPv6 is usable only with a chosen port bound on `::`.
    pub ipv6_needs_port: bool,
    /// What the container does with a usable port, for notes (`publish on a host port`, `list or expose`).
    pub verb: &'static str,
}

fn skip(reason: impl Into<String>) -> Decision {
    Decision::Skip(reason.into())
}

/// Finds the mode and what it implies, or the decision that ends here (a skip).
pub(super) fn locate(inputs: &Inputs<'_>, own: &InspectFacts) -> Result<Located, Decision> {
    if let Some(task) = inputs.task {
        if let TaskNetwork::Awsvpc { ipv4, ipv6 } = &task.network {
            return awsvpc(ipv4.first().copied(), ipv6.first().copied(), task, own);
        }
    }
    match &own.mode {
        NetworkMode::None => Err(skip("network mode none: the container has no address")),
        NetworkMode::Host => host(inputs, own),
        NetworkMode::Container(id) => shared_namespace(inputs, own, id),
        NetworkMode::Network(_) if inputs.settings.container_address => container_address(own),
        NetworkMode::Network(_) => {
            let candidates = bridge_candidates(own, inputs.instance);
            bridge(inputs.instance, Mode::Bridge, candidates)
        }
    }
}

/// The instance's addresses, or a skip saying why there are none.
fn instance(
    inst: &InstanceAddresses,
    mode: Mode,
) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), Decision> {
    if inst.has_address() {
        return Ok((inst.ipv4, inst.ipv6));
    }
    let why = inst
        .unavailable
        .as_deref()
        .unwrap_or("the instance's addresses are not known");
    Err(Decision::NoInstanceAddress(format!(
        "no instance address for a {mode}-mode container: {why}"
    )))
}

fn add_missing(candidates: &mut Vec<Candidate>, extra: impl IntoIterator<Item = Candidate>) {
    for e in extra {
        if !candidates.iter().any(|c| c.spec == e.spec) {
            candidates.push(e);
        }
    }
}

/// Task ports, then the image's exposed ports (which count for the choice without a label only when the task
/// lists none).
fn direct_candidates(task_ports: Vec<Candidate>, exposed: &[PortSpec]) -> Vec<Candidate> {
    let listed = task_ports.is_empty();
    let mut out = task_ports;
    add_missing(
        &mut out,
        exposed
            .iter()
            .map(|&s| Candidate::direct(s, s.port, listed)),
    );
    out
}

fn awsvpc(
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    task: &TaskInfo,
    own: &InspectFacts,
) -> Result<Located, Decision> {
    if ipv4.is_none() && ipv6.is_none() {
        return Err(skip(
            "the awsvpc task reports no usable address in introspection Networks",
        ));
    }
    let ports = task.ports.iter().filter_map(|p| {
        let spec = container_spec(p)?;
        Some(Candidate::direct(spec, spec.port, true))
    });
    Ok(Located {
        mode: Mode::Awsvpc,
        ipv4,
        ipv6,
        target: TargetKind::Task,
        source: "ecs-introspection",
        candidates: direct_candidates(ports.collect(), &own.exposed),
        ipv6_needs_port: false,
        verb: "list or expose",
    })
}

fn container_spec(p: &TaskPort) -> Option<PortSpec> {
    (p.container_port != 0).then_some(PortSpec {
        port: p.container_port,
        protocol: p.protocol,
    })
}

/// Host mode: `HostPort`, falling back to `ContainerPort` (equal in host mode).
fn host_candidate(p: &TaskPort) -> Option<Candidate> {
    let cp = Some(p.container_port).filter(|&n| n != 0);
    let spec = PortSpec {
        port: cp.or(p.host_port)?,
        protocol: p.protocol,
    };
    Some(Candidate::direct(spec, p.host_port.or(cp)?, true))
}

fn host(inputs: &Inputs<'_>, own: &InspectFacts) -> Result<Located, Decision> {
    let (ipv4, ipv6) = instance(inputs.instance, Mode::Host)?;
    let task_ports = inputs.task.map_or(&[][..], |t| t.ports.as_slice());
    let ports = task_ports.iter().filter_map(host_candidate).collect();
    Ok(Located {
        mode: Mode::Host,
        ipv4,
        ipv6,
        target: TargetKind::Instance,
        source: "instance-metadata",
        candidates: direct_candidates(ports, &own.exposed),
        ipv6_needs_port: false,
        verb: "list or expose",
    })
}

fn bridge(
    inst: &InstanceAddresses,
    mode: Mode,
    candidates: Vec<Candidate>,
) -> Result<Located, Decision> {
    let (ipv4, ipv6) = instance(inst, mode)?;
    Ok(Located {
        mode,
        ipv4,
        ipv6,
        target: TargetKind::Instance,
        source: "instance-metadata",
        candidates,
        ipv6_needs_port: true,
        verb: "publish on a host port",
    })
}

/// Bound ports (the IPv4 host port when the instance has IPv4, else the IPv6 one), then requested ports whose
/// host port is not known yet.
fn bridge_candidates(f: &InspectFacts, inst: &InstanceAddresses) -> Vec<Candidate> {
    let prefer_v4 = inst.ipv4.is_some();
    let mut out: Vec<Candidate> = f
        .published
        .iter()
        .map(|p| Candidate {
            spec: p.spec,
            listed: true,
            port: if prefer_v4 {
                p.ipv4.or(p.ipv6)
            } else {
                p.ipv6.or(p.ipv4)
            },
            v6_port: p.ipv6,
        })
        .collect();
    let pending = f.requested.iter().map(|&spec| Candidate {
        spec,
        listed: true,
        port: None,
        v6_port: None,
    });
    add_missing(&mut out, pending);
    out.sort_by_key(|c| c.spec);
    out
}

/// `container:<id>` without introspection `Networks`: Service Connect bridge (ports on the pause container), or
/// the namespace of a host-mode container.
fn shared_namespace(
    inputs: &Inputs<'_>,
    own: &InspectFacts,
    id: &str,
) -> Result<Located, Decision> {
    let shared = inputs.shared.map(network::facts);
    match shared.as_ref().map(|f| &f.mode) {
        Some(NetworkMode::Host) => return host(inputs, own),
        Some(NetworkMode::Network(_)) => {}
        _ if inputs.task.is_some() => {}
        _ => {
            return Err(skip(format!(
                "the container shares the network namespace of container {id}, whose address is unknown \
                 without ECS introspection"
            )))
        }
    }
    let mut candidates = shared
        .as_ref()
        .map(|f| bridge_candidates(f, inputs.instance))
        .unwrap_or_default();
    if candidates.is_empty() {
        let task_ports = inputs.task.map_or(&[][..], |t| t.ports.as_slice());
        candidates = task_ports
            .iter()
            .filter_map(|p| {
                Some(Candidate {
                    spec: container_spec(p)?,
                    listed: true,
                    port: p.host_port,
                    v6_port: None,
                })
            })
            .collect();
    }
    bridge(inputs.instance, Mode::ServiceConnectBridge, candidates)
}

/// Docker's own address (opt-in), with the container ports.
fn container_address(own: &InspectFacts) -> Result<Located, Decision> {
    if own.ipv4.is_none() && own.ipv6.is_none() {
        return Err(skip(
            "agent.container_address is on, but Docker reports no address for the container",
        ));
    }
    let specs = own
        .exposed
        .iter()
        .chain(own.published.iter().map(|p| &p.spec))
        .chain(own.requested.iter());
    let mut candidates = Vec::new();
    add_missing(
        &mut candidates,
        specs.map(|&s| Candidate::direct(s, s.port, true)),
    );
    candidates.sort_by_key(|c| c.spec);
    Ok(Located {
        mode: Mode::ContainerAddress,
        ipv4: own.ipv4,
        ipv6: own.ipv6,
        target: TargetKind::Task,
        source: "docker-inspect",
        candidates,
        ipv6_needs_port: false,
        verb: "expose",
    })
}
