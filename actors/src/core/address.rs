//! The one addressing decision: which address, port and record types a container gets, for every ECS network mode.
//!
//! Facts and rules: `shared/reference/addressing.md` §0, §2.1–2.3 and §7. Pure: [`decide`] reads the container's
//! inspect response, the ECS agent's view of its task, the instance's addresses and the labels, and never fails.
//! Bridge and host containers are reached on the **instance's** addresses (never Docker's 172.17.x), awsvpc tasks
//! on their ENI's, and Docker's own container address only when the operator opts in (`agent.container_address`).
//!
//! How the parts are split: [`locate`] finds the mode, the addresses and the candidate ports; [`select`] picks the
//! SRV port; this file holds the public types and puts the two together.

mod locate;
mod select;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::ContainerInspectResponse;

pub use crate::core::port::{PortSpec, Protocol};

use crate::core::instance::InstanceAddresses;
use crate::core::introspection::TaskInfo;
use crate::core::network;

/// The port of an SRV record (a host port for bridge, the container port otherwise) and its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SrvPort {
    /// The port clients connect to.
    pub port: u16,
    /// The protocol, for the `_<proto>` part of the SRV name.
    pub protocol: Protocol,
}

/// Which record types to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordTypes {
    /// A records.
    pub a: bool,
    /// AAAA records.
    pub aaaa: bool,
    /// SRV records (with the target's own A/AAAA, which SRV implies whatever `a`/`aaaa` say).
    pub srv: bool,
}

impl RecordTypes {
    /// A, AAAA and SRV: the agent-wide default.
    pub const ALL: Self = Self {
        a: true,
        aaaa: true,
        srv: true,
    };

    /// Parses `A,SRV` / ` aaaa , srv ` (case-insensitive, comma-separated); an empty list or an unknown or empty
    /// token is an error naming it.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("no record type given (expected a list of A, AAAA, SRV)".into());
        }
        let mut types = Self {
            a: false,
            aaaa: false,
            srv: false,
        };
        for token in s.split(',').map(str::trim) {
            match token.to_ascii_uppercase().as_str() {
                "A" => types.a = true,
                "AAAA" => types.aaaa = true,
                "SRV" => types.srv = true,
                "" => {
                    return Err(format!(
                        "empty record type in {s:?} (expected A, AAAA or SRV)"
                    ))
                }
                _ => {
                    return Err(format!(
                        "unknown record type {token:?} (expected A, AAAA or SRV)"
                    ))
                }
            }
        }
        Ok(types)
    }

    /// The types both allow.
    pub fn intersect(self, other: Self) -> Self {
        Self {
            a: self.a && other.a,
            aaaa: self.aaaa && other.aaaa,
            srv: self.srv && other.srv,
        }
    }

    /// True when no type is left.
    pub fn is_empty(self) -> bool {
        !(self.a || self.aaaa || self.srv)
    }
}

impl Default for RecordTypes {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Display for RecordTypes {
    /// `A, AAAA, SRV`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(self.a, "A"), (self.aaaa, "AAAA"), (self.srv, "SRV")];
        let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        f.write_str(&if on.is_empty() {
            "none".into()
        } else {
            on.join(", ")
        })
    }
}

/// How the container is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The task's ENI (introspection `Networks`).
    Awsvpc,
    /// Docker bridge or user-defined network: the instance's address and the host port.
    Bridge,
    /// `container:<pause>` without `Networks`: bridge, with the ports published on the pause container.
    ServiceConnectBridge,
    /// Host networking: the instance's address and the container's own port.
    Host,
    /// Docker's own container address (opt-in, for routable container networks).
    ContainerAddress,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Awsvpc => "awsvpc",
            Self::Bridge => "bridge",
            Self::ServiceConnectBridge => "Service Connect bridge",
            Self::Host => "host",
            Self::ContainerAddress => "container-address",
        })
    }
}

/// What an SRV record points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// The per-instance name (bridge, host): the instance's A/AAAA.
    Instance,
    /// A per-task name (awsvpc, container address): the task's own A/AAAA.
    Task,
}

/// Agent-wide addressing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSettings {
    /// `agent.container_address`: use Docker's own container address for bridge containers.
    pub container_address: bool,
    /// The label that selects the SRV port (a container port: `8080` or `8080/udp`).
    pub port_label: String,
    /// The label that narrows the record types (`A,SRV`).
    pub records_label: String,
    /// `route53.record_types`.
    pub record_types: RecordTypes,
}

impl Default for AddressSettings {
    fn default() -> Self {
        Self {
            container_address: false,
            port_label: "discovery.service.port".into(),
            records_label: "discovery.service.records".into(),
            record_types: RecordTypes::ALL,
        }
    }
}

/// Where a container is published.
///
/// The fields hold only what is used: `ipv4` is `None` unless an A record or the SRV target needs it, likewise
/// `ipv6`, and `srv` is `None` unless `types.srv`. Use [`Endpoint::a`] / [`Endpoint::aaaa`] for the service name's
/// own records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// How the container is reached.
    pub mode: Mode,
    /// The IPv4 clients use (for A and for the SRV target's A).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 clients use (for AAAA and for the SRV target's AAAA).
    pub ipv6: Option<Ipv6Addr>,
    /// The SRV port, when an SRV record is published.
    pub srv: Option<SrvPort>,
    /// Effective types: agent-wide ∩ the records label.
    pub types: RecordTypes,
    /// What the SRV target names.
    pub target: TargetKind,
    /// Where the address came from (`ecs-introspection`, `instance-metadata`, `docker-inspect`), for logs.
    pub source: &'static str,
    /// Problems that did not stop registration, each a full log sentence.
    pub notes: Vec<String>,
}

impl Endpoint {
    /// The A record value of the service name, if one is published.
    pub fn a(&self) -> Option<Ipv4Addr> {
        self.ipv4.filter(|_| self.types.a)
    }

    /// The AAAA record value of the service name, if one is published.
    pub fn aaaa(&self) -> Option<Ipv6Addr> {
        self.ipv6.filter(|_| self.types.aaaa)
    }
}

/// The outcome for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Publish these records.
    Publish(Endpoint),
    /// Do not register the container, for this reason (a log line names the container).
    Skip(String),
    /// Not publishable while this instance's address is unknown (instance metadata off or unreachable, no
    /// override): a transient condition, so records an earlier agent wrote are kept meanwhile.
    NoInstanceAddress(String),
    /// Not decidable yet (a dynamic host port not known yet); ask again later.
    Retry(String),
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The container's inspect response.
    pub inspect: &'a ContainerInspectResponse,
    /// The container named by `NetworkMode` `container:<id>`, when the caller inspected it.
    pub shared: Option<&'a ContainerInspectResponse>,
    /// Introspection's view of the task, for ECS tasks.
    pub task: Option<&'a TaskInfo>,
    /// The instance's own addresses.
    pub instance: &'a InstanceAddresses,
    /// The container's labels.
    pub labels: &'a HashMap<String, String>,
    /// Agent-wide settings.
    pub settings: &'a AddressSettings,
}

/// Decides what a container gets published as. Never panics; see the module docs for the rules.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let own = network::facts(inputs.inspect);
    if own.running == Some(false) {
        return Decision::Skip("the container is not running".into());
    }
    if inputs.task.is_some_and(TaskInfo::is_stopping) {
        return Decision::Skip("the ECS task is stopping".into());
    }
    let types = match effective_types(inputs.labels, inputs.settings) {
        Ok(t) => t,
        Err(reason) => return Decision::Skip(reason),
    };
    match locate::locate(inputs, &own) {
        Ok(located) => complete(located, types, inputs),
        Err(decision) => decision,
    }
}

/// Agent-wide types ∩ the records label.
fn effective_types(
    labels: &HashMap<String, String>,
    settings: &AddressSettings,
) -> Result<RecordTypes, String> {
    let agent = settings.record_types;
    let Some(value) = labels.get(&settings.records_label) else {
        return nonempty(agent, || {
            format!("the agent publishes no record type ({agent})")
        });
    };
    let key = &settings.records_label;
    let asked = RecordTypes::parse(value)
        .map_err(|e| format!("label {key}={value:?} is not a list of record types: {e}"))?;
    nonempty(agent.intersect(asked), || {
        format!("label {key}={value:?} leaves no record type the agent publishes ({agent})")
    })
}

fn nonempty(types: RecordTypes, why: impl FnOnce() -> String) -> Result<RecordTypes, String> {
    if types.is_empty() {
        Err(why())
    } else {
        Ok(types)
    }
}

/// Picks the port, applies the types and checks that something is left to publish.
fn complete(loc: locate::Located, types: RecordTypes, inputs: &Inputs<'_>) -> Decision {
    let mut notes = Vec::new();
    let chosen = match choose_port(&loc, types, inputs, &mut notes) {
        Ok(chosen) => chosen,
        Err(retry) => return retry,
    };
    let usable_ipv6 = if loc.ipv6_needs_port {
        select::ipv6_on_port(loc.ipv6, chosen.as_ref(), types.aaaa, &mut notes)
    } else {
        loc.ipv6
    };
    let srv = chosen.filter(|_| types.srv).map(|c| SrvPort {
        port: c.port,
        protocol: c.spec.protocol,
    });
    let ipv4 = loc.ipv4.filter(|_| types.a || srv.is_some());
    let ipv6 = usable_ipv6.filter(|_| types.aaaa || srv.is_some());
    if ipv4.is_none() && ipv6.is_none() {
        return Decision::Skip(nothing_left(&loc, usable_ipv6, types, srv, &notes));
    }
    Decision::Publish(Endpoint {
        mode: loc.mode,
        ipv4,
        ipv6,
        srv,
        types,
        target: loc.target,
        source: loc.source,
        notes,
    })
}

/// The SRV port (also needed for a bridge AAAA), when the types make it matter; a retry when it is not known yet.
fn choose_port(
    loc: &locate::Located,
    types: RecordTypes,
    inputs: &Inputs<'_>,
    notes: &mut Vec<String>,
) -> Result<Option<select::Chosen>, Decision> {
    let ipv6_needs_port = loc.ipv6_needs_port && types.aaaa && loc.ipv6.is_some();
    if !types.srv && !ipv6_needs_port {
        return Ok(None);
    }
    let label = select::PortLabel {
        key: &inputs.settings.port_label,
        value: inputs.labels.get(&inputs.settings.port_label),
        verb: loc.verb,
        consequence: if types.srv { "SRV" } else { "AAAA" },
    };
    match select::select(&loc.candidates, &label) {
        select::Selection::Port(c) => Ok(Some(c)),
        select::Selection::NoPort(note) => {
            notes.extend(note);
            Ok(None)
        }
        select::Selection::Pending(spec) => Err(Decision::Retry(format!(
            "host port of {spec} not known yet"
        ))),
    }
}

fn nothing_left(
    loc: &locate::Located,
    ipv6: Option<Ipv6Addr>,
    types: RecordTypes,
    srv: Option<SrvPort>,
    notes: &[String],
) -> String {
    let v4 = loc
        .ipv4
        .map_or("no IPv4 address".into(), |ip| format!("IPv4 {ip}"));
    let v6 = ipv6.map_or("no usable IPv6 address".into(), |ip| format!("IPv6 {ip}"));
    let why_srv = match (types.srv, srv) {
        (false, _) => "",
        (true, None) => " and no SRV port was chosen",
        (true, Some(_)) => " and the SRV target would have no address",
    };
    let mut reason = format!(
        "nothing to publish: the {} container has {v4} and {v6}, the record types are {types}{why_srv}.",
        loc.mode
    );
    for note in notes {
        reason.push(' ');
        reason.push_str(note);
    }
    reason
}
