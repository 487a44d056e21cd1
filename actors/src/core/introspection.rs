//! Parsing of the ECS agent introspection API v1 (`/v1/metadata`, `/v1/tasks?dockerid=`).
//!
//! Contract: `shared/reference/ecs-and-docker.md` §1. Only `Arn` and `DockerId` are required; every other field may
//! be absent. Callers branch on the HTTP status first; a 200 whose body is not a task (the root
//! `AvailableCommands` body, a `{"Tasks":...}` list) is a [`ParseError::WrongShape`].

use std::net::Ipv4Addr;

use serde::Deserialize;

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
    /// No `Networks`: a bridge or host task; the address comes from Docker.
    NotReported,
    /// awsvpc with an IPv4 address on the primary ENI.
    Awsvpc(Ipv4Addr),
    /// awsvpc with no usable IPv4 address (IPv6-only).
    AwsvpcWithoutIpv4,
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
}

#[derive(Deserialize)]
struct RawNetwork {
    #[serde(rename = "NetworkMode")]
    network_mode: Option<String>,
    #[serde(rename = "IPv4Addresses")]
    ipv4_addresses: Option<Vec<String>>,
}

fn network_of(networks: &[RawNetwork]) -> TaskNetwork {
    let Some(first) = networks.first() else {
        return TaskNetwork::NotReported;
    };
    if first.network_mode.as_deref().is_some_and(|m| m != "awsvpc") {
        return TaskNetwork::NotReported;
    }
    let ip = first
        .ipv4_addresses
        .iter()
        .flatten()
        .find_map(|s| s.parse::<Ipv4Addr>().ok());
    ip.map_or(TaskNetwork::AwsvpcWithoutIpv4, TaskNetwork::Awsvpc)
}

/// Parses a 200 body of `/v1/tasks?dockerid=<docker_id>`.
///
/// The task's network is taken from our own container when it is listed, else from any container (a lookup by the
/// pause container's id returns the task without the pause container; every container reports the same ENI).
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
    Ok(TaskInfo {
        arn: raw.arn,
        known_status: TaskStatus::parse(raw.known_status.as_deref()),
        desired_status: raw
            .desired_status
            .as_deref()
            .map(|s| TaskStatus::parse(Some(s))),
        network,
    })
}

/// The agent metadata from `/v1/metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentMetadata {
    /// Cluster name.
    pub cluster: String,
    /// Container instance id: the last path part of `ContainerInstanceArn`, when the instance is registered.
    pub container_instance_id: Option<String>,
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
    let id = raw
        .container_instance_arn
        .and_then(|arn| arn.rsplit('/').next().map(str::to_string));
    Ok(AgentMetadata {
        cluster,
        container_instance_id: id.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn awsvpc_task_gives_the_eni_address() {
        let t = parse_task(&fixture("introspection_awsvpc.json"), AWSVPC_APP).unwrap();
        assert_eq!(t.network, TaskNetwork::Awsvpc("10.0.2.61".parse().unwrap()));
        assert_eq!(t.known_status, TaskStatus::Running);
        assert!(t.arn.ends_with("158d1c8083dd49d6b527399fd6414f5c"));
    }

    #[test]
    fn lookup_by_pause_container_still_finds_the_eni() {
        let pause = "f".repeat(64);
        let t = parse_task(&fixture("introspection_awsvpc.json"), &pause).unwrap();
        assert_eq!(t.network, TaskNetwork::Awsvpc("10.0.2.61".parse().unwrap()));
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
        assert_eq!(t.network, TaskNetwork::AwsvpcWithoutIpv4);
        assert_eq!(t.known_status, TaskStatus::Pending);
        assert_eq!(t.desired_status, None);
        assert!(!t.is_stopping());
    }

    #[test]
    fn stopping_tasks_are_recognised() {
        let body = br#"{"Arn":"a:task/x","KnownStatus":"RUNNING","DesiredStatus":"STOPPED","Containers":null}"#;
        assert!(parse_task(body, "x").unwrap().is_stopping());
        let body =
            br#"{"Arn":"a:task/x","KnownStatus":"STOPPED","Containers":[],"Extra":{"new":1}}"#;
        assert!(parse_task(body, "x").unwrap().is_stopping());
    }

    #[test]
    fn wrong_shapes_are_errors_not_tasks() {
        let not_found =
            br#"{"Arn":"","KnownStatus":"","Family":"","Version":"","Containers":null}"#;
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
        let unregistered =
            parse_metadata(br#"{"Cluster":"prod","ContainerInstanceArn":null}"#).unwrap();
        assert_eq!(unregistered.container_instance_id, None);
        assert!(parse_metadata(br#"{"AvailableCommands":[]}"#).is_err());
    }
}
