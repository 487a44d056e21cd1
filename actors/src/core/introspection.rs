//! Parsing of the ECS agent introspection API v1 (`/v1/metadata`, `/v1/tasks?dockerid=`).
//!
//! Contract: `shared/reference/ecs-and-docker.md` §1. Only `Arn` and `DockerId` are required; every other field may
//! be absent. Callers branch on the HTTP status first; a 200 whose body is not a task (the root
//! `AvailableCommands` body, a `{"Tasks":...}` list) is a [`ParseError::WrongShape`].
//!
//! What addressing needs (`shared/reference/addressing.md` §2.1): whether `Networks` is present (awsvpc), all of
//! its `IPv4Addresses`/`IPv6Addresses`, and our own container's `Ports`.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use crate::core::port::Protocol;

/// Why a body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or JSON of the wrong types.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// Valid JSON that is not the expected document (for example the root path's `AvailableCommands`).
    #[error("unexpected response shape: {0}")]
    WrongShape(&'static str),
}

/// The task's status as the ECS agent reports it (`PENDING`, `RUNNING`, `STOPPED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Not all containers run yet; normal at an app container's `start` event.
    Pending,
    /// All containers run.
    Running,
    /// The task stopped.
    Stopped,
    /// A value this agent does not know (kept rather than failing).
    Other,
}

impl TaskStatus {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("PENDING") => Self::Pending,
            Some("RUNNING") => Self::Running,
            Some("STOPPED") => Self::Stopped,
            _ => Self::Other,
        }
    }
}

/// What the agent needs from one task lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// Task ARN.
    pub arn: String,
    /// Known status.
    pub known_status: TaskStatus,
    /// Desired status, when the agent sent one.
    pub desired_status: Option<TaskStatus>,
    /// The task's network, when it has one in the response (awsvpc only).
    pub network: TaskNetwork,
    /// Our own container's `Ports` entries (empty when the container is not listed or lists none), one per
    /// container port and protocol.
    pub ports: Vec<TaskPort>,
}

/// One `Ports` entry of our container.
///
/// v1 lists a port once per Docker binding, so a port Docker publishes on `0.0.0.0` and `::` appears twice, with
/// no `HostIp` to tell them apart. Entries are merged per (`ContainerPort`, `Protocol`): the first entry wins, and
/// a later one only fills in a `HostPort` the first lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPort {
    /// `ContainerPort`; 0 when omitted (a port range before its bindings are known).
    pub container_port: u16,
    /// `Protocol`; tcp when omitted.
    pub protocol: Protocol,
    /// `HostPort`; `None` when omitted or 0 (a dynamic bridge port the agent has not learnt yet).
    pub host_port: Option<u16>,
}

impl TaskInfo {
    /// True when the task is stopped or is being stopped.
    pub fn is_stopping(&self) -> bool {
        self.known_status == TaskStatus::Stopped || self.desired_status == Some(TaskStatus::Stopped)
    }
}

/// Network facts from the introspection response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskNetwork {
    /// No `Networks`: a bridge or host task (Service Connect bridge included); the address is the instance's.
    NotReported,
    /// `Networks` present: an awsvpc task with the primary ENI's addresses, in the agent's order. Unparsable
    /// entries are dropped; an IPv6-only task has no `ipv4`, a single-stack one no `ipv6`.
    Awsvpc {
        /// `IPv4Addresses`.
        ipv4: Vec<Ipv4Addr>,
        /// `IPv6Addresses`.
        ipv6: Vec<Ipv6Addr>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTask {
    arn: String,
    desired_status: Option<String>,
    known_status: Option<String>,
    containers: Option<Vec<RawContainer>>,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(rename = "DockerId")]
    docker_id: String,
    #[serde(rename = "Networks")]
    networks: Option<Vec<RawNetwork>>,
    /// Kept as raw JSON so one odd entry cannot fail the whole lookup.
    #[serde(rename = "Ports")]
    ports: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawNetwork {
    #[serde(rename = "NetworkMode")]
    network_mode: Option<String>,
    #[serde(rename = "IPv4Addresses")]
    ipv4_addresses: Option<Vec<String>>,
    #[serde(rename = "IPv6Addresses")]
    ipv6_addresses: Option<Vec<String>>,
}

fn parsed<T: std::str::FromStr>(list: &Option<Vec<String>>) -> Vec<T> {
    list.iter()
        .flatten()
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn network_of(networks: &[RawNetwork]) -> TaskNetwork {
    let Some(first) = networks.first() else {
        return TaskNetwork::NotReported;
    };
    if first.network_mode.as_deref().is_some_and(|m| m != "awsvpc") {
        return TaskNetwork::NotReported;
    }
    TaskNetwork::Awsvpc {
        ipv4: parsed(&first.ipv4_addresses),
        ipv6: parsed(&first.ipv6_addresses),
    }
}

fn port_number(entry: &serde_json::Value, key: &str) -> Option<u16> {
    let n = entry.get(key)?.as_u64()?;
    u16::try_from(n).ok().filter(|&p| p != 0)
}

fn port_of(entry: &serde_json::Value) -> Option<TaskPort> {
    let protocol = match entry.get("Protocol").and_then(|p| p.as_str()) {
        None | Some("") => Protocol::Tcp,
        Some(p) => Protocol::parse(p)?,
    };
    let container_port = port_number(entry, "ContainerPort").unwrap_or(0);
    let host_port = port_number(entry, "HostPort");
    (container_port != 0 || host_port.is_some()).then_some(TaskPort {
        container_port,
        protocol,
        host_port,
    })
}

/// The container's `Ports`, merged per container port and protocol (see [`TaskPort`]).
fn ports_of(entries: &[serde_json::Value]) -> Vec<TaskPort> {
    let mut out: Vec<TaskPort> = Vec::new();
    for port in entries.iter().filter_map(port_of) {
        let same = |p: &&mut TaskPort| {
            p.container_port == port.container_port && p.protocol == port.protocol
        };
        match out.iter_mut().find(same) {
            Some(known) => known.host_port = known.host_port.or(port.host_port),
            None => out.push(port),
        }
    }
    out
}

/// Parses a 200 body of `/v1/tasks?dockerid=<docker_id>`.
///
/// The task's network is taken from our own container when it is listed, else from any container (a lookup by the
/// pause container's id returns the task without the pause container; every container reports the same ENI).
/// `Ports` come from our own container only: another container's ports are not ours to publish.
pub fn parse_task(body: &[u8], docker_id: &str) -> Result<TaskInfo, ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ParseError::Malformed(e.to_string()))?;
    if value.get("AvailableCommands").is_some() {
        return Err(ParseError::WrongShape(
            "root path listing (AvailableCommands), not a task",
        ));
    }
    if value.get("Tasks").is_some() {
        return Err(ParseError::WrongShape("list of all tasks, not one task"));
    }
    let raw: RawTask =
        serde_json::from_value(value).map_err(|e| ParseError::Malformed(e.to_string()))?;
    if raw.arn.is_empty() {
        return Err(ParseError::WrongShape("empty task (Arn is empty)"));
    }
    let containers = raw.containers.unwrap_or_default();
    let ours = containers.iter().find(|c| c.docker_id == docker_id);
    let with_net = ours
        .filter(|c| c.networks.is_some())
        .or_else(|| containers.iter().find(|c| c.networks.is_some()));
    let network = with_net
        .and_then(|c| c.networks.as_deref())
        .map_or(TaskNetwork::NotReported, network_of);
    let ports = ours
        .and_then(|c| c.ports.as_deref())
        .map(ports_of)
        .unwrap_or_default();
    Ok(TaskInfo {
        arn: raw.arn,
        known_status: TaskStatus::parse(raw.known_status.as_deref()),
        desired_status: raw
            .desired_status
            .as_deref()
            .map(|s| TaskStatus::parse(Some(s))),
        network,
        ports,
    })
}

/// The agent metadata from `/v1/metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentMetadata {
    /// Cluster name.
    pub cluster: String,
    /// Container instance id: the last path part of `ContainerInstanceArn`, when the instance is registered.
    pub container_instance_id: Option<String>,
    /// `<region>.<account>` from `ContainerInstanceArn` (`arn:<partition>:ecs:<region>:<account>:…`), when it
    /// is registered: what tells this cluster apart from a same-named one elsewhere.
    pub scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMetadata {
    cluster: Option<String>,
    container_instance_arn: Option<String>,
}

/// Parses a 200 body of `/v1/metadata`.
pub fn parse_metadata(body: &[u8]) -> Result<AgentMetadata, ParseError> {
    let raw: RawMetadata =
        serde_json::from_slice(body).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let cluster = raw
        .cluster
        .filter(|c| !c.is_empty())
        .ok_or(ParseError::WrongShape("no Cluster in metadata"))?;
    let arn = raw.container_instance_arn.unwrap_or_default();
    let id = arn.rsplit('/').next().map(str::to_string);
    Ok(AgentMetadata {
        cluster,
        container_instance_id: id.filter(|s| !s.is_empty()),
        scope: scope_of_arn(&arn),
    })
}

/// `<region>.<account>` of an ECS ARN, when both parts are well-formed (a region of lowercase letters, digits and
/// hyphens; a 12-digit account).
pub fn scope_of_arn(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    let (arn_, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account) = (parts.next()?, parts.next()?);
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (arn_ == "arn" && service == "ecs" && region_ok && account_ok)
        .then(|| format!("{region}.{account}"))
}

#[cfg(test)]
mod tests;
