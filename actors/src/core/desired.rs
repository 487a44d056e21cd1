//! A container's labels → the record it should have: naming plus ownership plus the fleet-wide TTL and weight.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::core::naming::{record_name, NameError, ZoneName};
use crate::core::ownership::{InstanceId, Owner};
use crate::core::record::{ARecord, RecordKey};

/// Docker label the ECS agent puts on every container it creates.
pub const TASK_ARN_LABEL: &str = "com.amazonaws.ecs.task-arn";

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

impl RecordPolicy {
    /// The record key a container's labels ask for; needs no address, so it can be computed before lookups.
    pub fn key_for(
        &self,
        container_id: &str,
        labels: &HashMap<String, String>,
    ) -> Result<RecordKey, LabelError> {
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
        Ok(RecordKey {
            name,
            set_identifier: self.owner.set_identifier(&instance),
        })
    }

    /// The record a container should have at `ip`.
    pub fn record_for(
        &self,
        container_id: &str,
        labels: &HashMap<String, String>,
        ip: Ipv4Addr,
    ) -> Result<ARecord, LabelError> {
        let key = self.key_for(container_id, labels)?;
        Ok(ARecord {
            key,
            ip,
            ttl: self.ttl,
            weight: self.weight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ecs_containers_are_keyed_by_task() {
        let l = labels(&[
            ("discovery.service.name", "web"),
            (TASK_ARN_LABEL, "arn:aws:ecs:r:1:task/prod/abc123"),
        ]);
        let r = policy()
            .record_for(&"e".repeat(64), &l, Ipv4Addr::new(10, 0, 0, 1))
            .unwrap();
        assert_eq!(r.key.name, "web.example.com.");
        assert_eq!(r.key.set_identifier, "r53d:prod:i-1:t-abc123");
        assert_eq!((r.ttl, r.weight), (60, 1));
    }

    #[test]
    fn other_containers_are_keyed_by_container_id() {
        let l = labels(&[("discovery.service.name", "web")]);
        let k = policy().key_for(&"e".repeat(64), &l).unwrap();
        assert_eq!(
            k.set_identifier,
            format!("r53d:prod:i-1:c-{}", "e".repeat(32))
        );
    }

    #[test]
    fn missing_and_bad_labels_are_errors() {
        assert!(matches!(
            policy().key_for("c", &labels(&[])),
            Err(LabelError::Missing(_))
        ));
        let bad = labels(&[("discovery.service.name", "bad name!")]);
        let err = policy().key_for("c", &bad).unwrap_err();
        assert!(err.to_string().contains("discovery.service.name"), "{err}");
    }
}
