//! A container's labels and endpoint → the records it should have: naming plus ownership plus the fleet-wide TTL
//! and weight.
//!
//! | endpoint                      | records                                                                    |
//! |-------------------------------|----------------------------------------------------------------------------|
//! | IPv4 / IPv6                   | weighted `A` / `AAAA` at `<service>.<zone>`                                |
//! | a port (SRV enabled)          | weighted `SRV` at `_<service>._<proto>.<domain>`: `1 1 <port> <target>`    |
//! | SRV target, bridge/host       | `<instance id>.hosts.<zone>` A/AAAA, shared by every SRV of this instance  |
//! | SRV target, awsvpc            | `t-<task id>.<service>.<zone>` A/AAAA, the task's own                      |
//!
//! Every record of a task carries the task's SetIdentifier; the per-instance target carries the owner's
//! `h-host` identifier ([`crate::core::ownership`]).

use std::collections::HashMap;

use crate::core::address::{Endpoint, SrvPort, TargetKind};
use crate::core::instance::InstanceAddresses;
use crate::core::naming::{child_name, record_name, srv_name, NameError, ZoneName};
use crate::core::ownership::{InstanceId, Owner};
use crate::core::record::{Record, RecordValue, SrvValue};

/// Docker label the ECS agent puts on every container it creates.
pub const TASK_ARN_LABEL: &str = "com.amazonaws.ecs.task-arn";
/// The label under the zone that holds the per-instance SRV targets.
pub const HOSTS_LABEL: &str = "hosts";
/// SRV priority and weight: the same for every task (as AWS Cloud Map does); Route53's weights share the load.
const SRV_PRIORITY_WEIGHT: u16 = 1;

/// Why a container gets no record from its labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The service label is absent.
    #[error("the container has no {0:?} label")]
    Missing(String),
    /// The label value is not a valid DNS name.
    #[error("label {label:?}: {error}")]
    BadName {
        /// The label key.
        label: String,
        /// What is wrong with its value.
        error: NameError,
    },
}

/// How every record of this agent is made.
#[derive(Debug, Clone)]
pub struct RecordPolicy {
    /// The service label key (`discovery.service.name`).
    pub label_key: String,
    /// The hosted zone's name.
    pub zone: ZoneName,
    /// Who owns the records.
    pub owner: Owner,
    /// TTL, the same for the whole fleet.
    pub ttl: i64,
    /// Weight, the same for the whole fleet.
    pub weight: i64,
}

/// Who a container's records belong to, known from its labels alone (before any lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The service's record name (`web.example.com.`).
    pub name: String,
    /// The task's (or container's) SetIdentifier.
    pub set_identifier: String,
    /// The task or container the records stand for.
    pub instance: InstanceId,
}

impl RecordPolicy {
    /// The identity a container's labels ask for; needs no address, so it can be computed before lookups.
    pub fn identity(
        &self,
        container_id: &str,
        labels: &HashMap<String, String>,
    ) -> Result<Identity, LabelError> {
        let value = labels
            .get(&self.label_key)
            .ok_or_else(|| LabelError::Missing(self.label_key.clone()))?;
        let name = record_name(value, &self.zone).map_err(|error| LabelError::BadName {
            label: self.label_key.clone(),
            error,
        })?;
        let instance = labels
            .get(TASK_ARN_LABEL)
            .and_then(|arn| InstanceId::from_task_arn(arn))
            .unwrap_or_else(|| InstanceId::from_container_id(container_id));
        Ok(Identity {
            name,
            set_identifier: self.owner.set_identifier(&instance),
            instance,
        })
    }

    /// The records a container with `identity` at `endpoint` should have, and the problems that cost it only its
    /// SRV record (each a log sentence).
    pub fn records_for(
        &self,
        identity: &Identity,
        endpoint: &Endpoint,
        instance: &InstanceAddresses,
    ) -> (Vec<Record>, Vec<String>) {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let types = endpoint.types;
        let record = |name: &str, id: &str, value| {
            Record::new(name.into(), id.into(), value, self.ttl, self.weight)
        };
        if let (true, Some(ip)) = (types.a, endpoint.ipv4) {
            out.push(record(
                &identity.name,
                &identity.set_identifier,
                RecordValue::A(ip),
            ));
        }
        if let (true, Some(ip)) = (types.aaaa, endpoint.ipv6) {
            out.push(record(
                &identity.name,
                &identity.set_identifier,
                RecordValue::Aaaa(ip),
            ));
        }
        if let (true, Some(port)) = (types.srv, endpoint.srv) {
            match self.srv_records(identity, endpoint, port, instance) {
                Ok(srv) => out.extend(srv),
                Err(e) => notes.push(format!("no SRV record: {e}")),
            }
        }
        (out, notes)
    }

    /// The SRV record and its target's address records.
    fn srv_records(
        &self,
        identity: &Identity,
        endpoint: &Endpoint,
        port: SrvPort,
        instance: &InstanceAddresses,
    ) -> Result<Vec<Record>, NameError> {
        let srv = srv_name(&identity.name, &port.protocol.to_string())?;
        let (target, target_id) = match endpoint.target {
            TargetKind::Task => (
                child_name(&identity.instance.to_string(), &identity.name)?,
                identity.set_identifier.clone(),
            ),
            TargetKind::Instance => (
                self.host_target_name(instance)?,
                self.owner.set_identifier(&InstanceId::Host),
            ),
        };
        let value = RecordValue::Srv(SrvValue {
            priority: SRV_PRIORITY_WEIGHT,
            weight: SRV_PRIORITY_WEIGHT,
            port: port.port,
            target: target.clone(),
        });
        let make =
            |name: &str, id: &str, v| Record::new(name.into(), id.into(), v, self.ttl, self.weight);
        let mut out = Vec::new();
        if let Some(ip) = endpoint.ipv4 {
            out.push(make(&target, &target_id, RecordValue::A(ip)));
        }
        if let Some(ip) = endpoint
            .ipv6
            .filter(|_| endpoint.types.aaaa || endpoint.ipv4.is_none())
        {
            out.push(make(&target, &target_id, RecordValue::Aaaa(ip)));
        }
        if !out.is_empty() {
            out.push(make(&srv, &identity.set_identifier, value));
        }
        Ok(out)
    }

    /// The per-instance SRV target: `<EC2 instance id>.hosts.<zone>`, or the owner id when the instance id is not
    /// known (`agent.host_ip` set and no instance metadata).
    pub fn host_target_name(&self, instance: &InstanceAddresses) -> Result<String, NameError> {
        let label = instance
            .instance_id
            .as_deref()
            .unwrap_or(self.owner.owner());
        let hosts = child_name(HOSTS_LABEL, self.zone.as_str())?;
        child_name(label, &hosts)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::core::address::{Mode, Protocol, RecordTypes};
    use crate::core::record::RecordType;

    fn policy() -> RecordPolicy {
        RecordPolicy {
            label_key: "discovery.service.name".into(),
            zone: ZoneName::new("example.com").unwrap(),
            owner: Owner::new("prod", "i-1").unwrap(),
            ttl: 60,
            weight: 1,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn task() -> Identity {
        let l = labels(&[
            ("discovery.service.name", "web"),
            (TASK_ARN_LABEL, "arn:aws:ecs:r:1:task/prod/abc123"),
        ]);
        policy().identity(&"e".repeat(64), &l).unwrap()
    }

    fn endpoint(mode: Mode, target: TargetKind, v6: bool, port: Option<u16>) -> Endpoint {
        Endpoint {
            mode,
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 5)),
            ipv6: v6.then(|| "2600:1f18::5".parse::<Ipv6Addr>().unwrap()),
            srv: port.map(|port| SrvPort {
                port,
                protocol: Protocol::Tcp,
            }),
            types: RecordTypes {
                a: true,
                aaaa: true,
                srv: true,
            },
            target,
            source: "test",
            notes: Vec::new(),
        }
    }

    fn host() -> InstanceAddresses {
        InstanceAddresses {
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 5)),
            instance_id: Some("i-0abc".into()),
            ..InstanceAddresses::default()
        }
    }

    fn shape(records: &[Record]) -> Vec<(String, RecordType, String, String)> {
        records
            .iter()
            .map(|r| {
                (
                    r.key.name.clone(),
                    r.key.record_type,
                    r.key.set_identifier.clone(),
                    r.value_string(),
                )
            })
            .collect()
    }

    #[test]
    fn ecs_containers_are_keyed_by_task() {
        let id = task();
        assert_eq!(id.name, "web.example.com.");
        assert_eq!(id.set_identifier, "r53d:prod:i-1:t-abc123");
    }

    #[test]
    fn other_containers_are_keyed_by_container_id() {
        let l = labels(&[("discovery.service.name", "web")]);
        let k = policy().identity(&"e".repeat(64), &l).unwrap();
        assert_eq!(
            k.set_identifier,
            format!("r53d:prod:i-1:c-{}", "e".repeat(32))
        );
    }

    #[test]
    fn missing_and_bad_labels_are_errors() {
        assert!(matches!(
            policy().identity("c", &labels(&[])),
            Err(LabelError::Missing(_))
        ));
        let bad = labels(&[("discovery.service.name", "bad name!")]);
        let err = policy().identity("c", &bad).unwrap_err();
        assert!(err.to_string().contains("discovery.service.name"), "{err}");
    }

    #[test]
    fn a_bridge_task_gets_an_srv_record_whose_target_is_the_instance_name() {
        let ep = endpoint(Mode::Bridge, TargetKind::Instance, false, Some(32768));
        let (records, notes) = policy().records_for(&task(), &ep, &host());
        assert!(notes.is_empty());
        let t = "r53d:prod:i-1:t-abc123".to_string();
        assert_eq!(
            shape(&records),
            vec![
                (
                    "web.example.com.".into(),
                    RecordType::A,
                    t.clone(),
                    "10.0.0.5".into()
                ),
                (
                    "i-0abc.hosts.example.com.".into(),
                    RecordType::A,
                    "r53d:prod:i-1:h-host".into(),
                    "10.0.0.5".into()
                ),
                (
                    "_web._tcp.example.com.".into(),
                    RecordType::Srv,
                    t,
                    "1 1 32768 i-0abc.hosts.example.com.".into()
                ),
            ]
        );
    }

    #[test]
    fn an_awsvpc_task_gets_its_own_srv_target_with_both_families() {
        let ep = endpoint(Mode::Awsvpc, TargetKind::Task, true, Some(8080));
        let (records, _) = policy().records_for(&task(), &ep, &host());
        let names: Vec<(String, RecordType)> = records
            .iter()
            .map(|r| (r.key.name.clone(), r.key.record_type))
            .collect();
        assert_eq!(
            names,
            vec![
                ("web.example.com.".into(), RecordType::A),
                ("web.example.com.".into(), RecordType::Aaaa),
                ("t-abc123.web.example.com.".into(), RecordType::A),
                ("t-abc123.web.example.com.".into(), RecordType::Aaaa),
                ("_web._tcp.example.com.".into(), RecordType::Srv),
            ]
        );
        assert!(records
            .iter()
            .all(|r| r.key.set_identifier == "r53d:prod:i-1:t-abc123"));
    }

    #[test]
    fn record_types_and_missing_ports_limit_what_is_published() {
        let mut ep = endpoint(Mode::Awsvpc, TargetKind::Task, true, None);
        ep.types = RecordTypes {
            a: false,
            aaaa: true,
            srv: true,
        };
        let (records, notes) = policy().records_for(&task(), &ep, &host());
        assert_eq!(
            shape(&records).len(),
            1,
            "AAAA only: no A by type, no SRV without a port"
        );
        assert!(notes.is_empty());
        ep.ipv4 = None;
        ep.srv = Some(SrvPort {
            port: 53,
            protocol: Protocol::Udp,
        });
        let (records, _) = policy().records_for(&task(), &ep, &host());
        assert_eq!(records.last().unwrap().key.name, "_web._udp.example.com.");
    }

    #[test]
    fn an_srv_name_that_cannot_exist_costs_only_the_srv_record() {
        let l = labels(&[("discovery.service.name", &"a".repeat(63))]);
        let id = policy().identity("c", &l).unwrap();
        let ep = endpoint(Mode::Host, TargetKind::Instance, false, Some(80));
        let (records, notes) = policy().records_for(&id, &ep, &host());
        assert_eq!(records.len(), 1, "the A record stays");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
