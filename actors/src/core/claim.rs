//! What a running container's records would be, known from its labels alone: its task's SetIdentifier and the
//! names its records can take. A listing hands the writer one [`Claim`] per running container, so the records an
//! earlier run wrote for a container that holds none here yet are protected per container, not per task (two
//! labelled containers of one task share the SetIdentifier under different names).

use std::collections::BTreeSet;

use crate::core::desired::Identity;
use crate::core::naming::{child_name, srv_name};
use crate::core::ownership::legacy_form;
use crate::core::port::Protocol;
use crate::core::record::RecordKey;

/// The records one container would own: those of its task's SetIdentifier (or its legacy form) under its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The task's (or container's) SetIdentifier.
    pub set_identifier: String,
    /// Every name its records can take.
    pub names: BTreeSet<String>,
}

impl Claim {
    /// The claim of a container with `identity`: its service name, the SRV names of every protocol and its task's
    /// own SRV target (the per-instance target carries the owner's identifier, not the task's: no claim has it).
    pub fn of(identity: &Identity) -> Self {
        let srv = [Protocol::Tcp, Protocol::Udp]
            .into_iter()
            .filter_map(|p| srv_name(&identity.name, &p.to_string()).ok());
        let target = child_name(&identity.instance.to_string(), &identity.name).ok();
        let names = [identity.name.clone()]
            .into_iter()
            .chain(srv)
            .chain(target)
            .collect();
        Self {
            set_identifier: identity.set_identifier.clone(),
            names,
        }
    }

    /// True when `key` is one of the claimed records: under a claimed name, with the task's SetIdentifier or the
    /// legacy form of it (a record an earlier version of this owner wrote for the same task).
    pub fn covers(&self, key: &RecordKey) -> bool {
        self.names.contains(&key.name)
            && (key.set_identifier == self.set_identifier
                || legacy_form(&self.set_identifier).as_deref()
                    == Some(key.set_identifier.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::core::address::{Endpoint, Mode, RecordTypes, SrvPort, TargetKind};
    use crate::core::desired::{RecordPolicy, TASK_ARN_LABEL};
    use crate::core::instance::InstanceAddresses;
    use crate::core::naming::ZoneName;
    use crate::core::ownership::Owner;

    fn policy() -> RecordPolicy {
        RecordPolicy {
            label_key: "discovery.service.name".into(),
            zone: ZoneName::new("example.com").unwrap(),
            owner: Owner::scoped("prod", "i-1", "us-west-2.111122223333").unwrap(),
            ttl: 60,
            weight: 1,
        }
    }

    fn identity() -> Identity {
        let labels = HashMap::from([
            ("discovery.service.name".to_string(), "web".to_string()),
            (
                TASK_ARN_LABEL.to_string(),
                "arn:aws:ecs:r:1:task/prod/abc123".to_string(),
            ),
        ]);
        policy().identity(&"e".repeat(64), &labels).unwrap()
    }

    fn endpoint(target: TargetKind, protocol: Protocol) -> Endpoint {
        Endpoint {
            mode: Mode::Awsvpc,
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 5)),
            ipv6: Some("2600:1f18::5".parse::<Ipv6Addr>().unwrap()),
            srv: Some(SrvPort { port: 80, protocol }),
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

    #[test]
    fn a_claim_covers_every_task_record_its_container_can_be_given_and_nothing_else() {
        let (id, claim) = (identity(), Claim::of(&identity()));
        let instance = InstanceAddresses {
            instance_id: Some("i-0abc".into()),
            ..InstanceAddresses::default()
        };
        for target in [TargetKind::Task, TargetKind::Instance] {
            for protocol in [Protocol::Tcp, Protocol::Udp] {
                let (records, _) =
                    policy().records_for(&id, &endpoint(target, protocol), &instance);
                for r in records {
                    let task = r.key.set_identifier == id.set_identifier;
                    assert_eq!(claim.covers(&r.key), task, "{}", r.key);
                }
            }
        }
    }

    #[test]
    fn a_claim_covers_the_legacy_form_under_its_names_only() {
        let claim = Claim::of(&identity());
        let legacy = legacy_form(&claim.set_identifier).unwrap();
        let key = |name: &str, id: &str| RecordKey {
            name: name.into(),
            record_type: crate::core::record::RecordType::A,
            set_identifier: id.into(),
        };
        assert!(claim.covers(&key("web.example.com.", &legacy)));
        assert!(!claim.covers(&key("api.example.com.", &legacy)));
        assert!(!claim.covers(&key("web.example.com.", "r53d:prod:i-1:t-other")));
    }
}
