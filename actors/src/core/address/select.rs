//! SRV port selection: the `discovery.service.port` label, or the container's only port.
//!
//! A/AAAA never depend on this, except a bridge AAAA, which needs the chosen port to be published on `::` with the
//! same host port. Problems become notes (full log sentences naming the label); only a port whose host port Docker
//! has not assigned yet makes the caller retry.

use std::net::Ipv6Addr;

use crate::core::port::PortSpec;

/// A port the SRV record could use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    /// The container port (what the label names).
    pub spec: PortSpec,
    /// Counts for the choice without a label (published on bridge, listed by ECS or exposed for host/awsvpc);
    /// an unlisted candidate can only be chosen by the label.
    pub listed: bool,
    /// The SRV port; `None` while a requested host port is not known yet.
    pub port: Option<u16>,
    /// The host port on IPv6 (`::`), when there is one.
    pub v6_port: Option<u16>,
}

impl Candidate {
    /// A port clients reach directly (awsvpc, host, container address): the same port on both families.
    pub fn direct(spec: PortSpec, port: u16, listed: bool) -> Self {
        Self {
            spec,
            listed,
            port: Some(port),
            v6_port: Some(port),
        }
    }
}

/// The chosen port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chosen {
    /// The container port.
    pub spec: PortSpec,
    /// The SRV port.
    pub port: u16,
    /// The host port on IPv6, when there is one.
    pub v6_port: Option<u16>,
}

/// The port label and how to word notes about it.
pub(super) struct PortLabel<'a> {
    /// The label key.
    pub key: &'a str,
    /// Its value on this container.
    pub value: Option<&'a String>,
    /// What the container does with a usable port (`publish`, `list or expose`).
    pub verb: &'static str,
    /// The record type that is lost without a port (`SRV`, or `AAAA` for a bridge without SRV).
    pub consequence: &'static str,
}

impl PortLabel<'_> {
    fn lost(&self) -> String {
        format!("no {} record is published for it", self.consequence)
    }
}

/// The outcome of the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Selection {
    /// This port.
    Port(Chosen),
    /// No port, with the note to log (none when the container simply has no port).
    NoPort(Option<String>),
    /// The port is requested but its host port is not known yet.
    Pending(PortSpec),
}

/// Chooses the port: the label's, else the only listed one.
pub(super) fn select(candidates: &[Candidate], label: &PortLabel<'_>) -> Selection {
    match label.value {
        Some(value) => by_label(candidates, label, value),
        None => only_one(candidates, label),
    }
}

fn pick(c: &Candidate) -> Selection {
    match c.port {
        Some(port) => Selection::Port(Chosen {
            spec: c.spec,
            port,
            v6_port: c.v6_port,
        }),
        None => Selection::Pending(c.spec),
    }
}

fn by_label(candidates: &[Candidate], label: &PortLabel<'_>, value: &str) -> Selection {
    let key = label.key;
    let spec = match PortSpec::parse(value) {
        Ok(spec) => spec,
        Err(e) => {
            return Selection::NoPort(Some(format!(
                "Label {key}={value:?} is not a usable port ({e}; expected a container port such as 8080 \
                 or 8080/udp), so {}.",
                label.lost()
            )))
        }
    };
    match candidates.iter().find(|c| c.spec == spec) {
        Some(c) => pick(c),
        None => Selection::NoPort(Some(format!(
            "Label {key}={value:?} names {spec}, which the container does not {}, so {}.",
            label.verb,
            label.lost()
        ))),
    }
}

fn only_one(candidates: &[Candidate], label: &PortLabel<'_>) -> Selection {
    let listed: Vec<&Candidate> = candidates.iter().filter(|c| c.listed).collect();
    match listed.as_slice() {
        [] => Selection::NoPort(None),
        [one] => pick(one),
        several => {
            let names: Vec<String> = several.iter().map(|c| c.spec.to_string()).collect();
            Selection::NoPort(Some(format!(
                "The container has several ports ({}), so {}; add the label {}=<port> to choose one.",
                names.join(", "),
                label.lost(),
                label.key
            )))
        }
    }
}

/// A bridge container's IPv6: the instance's, only when the chosen port is bound on `::` with the same host port
/// as on IPv4 (Docker ≥ 20.10 can pick two different ones; an AAAA would then send clients to the wrong port).
pub(super) fn ipv6_on_port(
    ipv6: Option<Ipv6Addr>,
    chosen: Option<&Chosen>,
    aaaa: bool,
    notes: &mut Vec<String>,
) -> Option<Ipv6Addr> {
    let (ip, c) = (ipv6?, chosen?);
    match c.v6_port {
        Some(p) if p == c.port => Some(ip),
        Some(p) => {
            if aaaa {
                notes.push(format!(
                    "Port {} is published on host port {} for IPv4 but {p} for IPv6, so no AAAA record is published.",
                    c.spec, c.port
                ));
            }
            None
        }
        None => None,
    }
}
