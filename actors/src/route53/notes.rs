//! What the writer tells operators about the zone it finds: weighted groups whose TTL or weight differ from its
//! own, groups shared with other writers (whose TTL it adopts), hosts sharing its owner id, records refused at
//! Route53's 100-per-name limit, and each change Route53 accepted. Each warning is logged once per subject.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::writer::{now, Writer};
use super::Route53Config;
use crate::core::ownership::Owner;
use crate::core::plan::{foreign_ttls, group_mismatches, Change, Group};
use crate::core::record::{RecordKey, RecordSet};

/// What has been warned about already.
#[derive(Debug, Default)]
pub(super) struct Notes {
    /// Groups warned about for a TTL or weight mismatch, or a foreign TTL.
    warned_groups: HashSet<Group>,
    /// Other hosts seen writing under this owner's `agent.owner_id`.
    shared_owner_id: BTreeSet<String>,
}

impl Notes {
    /// Logs (once per group) weighted groups whose TTL or weight differ from this agent's.
    pub(super) fn warn_mismatches(&mut self, config: &Route53Config, sets: &[RecordSet]) {
        for group in group_mismatches(sets, config.ttl, config.weight) {
            let (name, record_type) = group.clone();
            if self.warned_groups.insert(group) {
                tracing::warn!(zone_id = %config.zone_id, record_name = %name, %record_type, ttl = config.ttl, weight = config.weight,
                    "Other agents' records under this name use another TTL or weight.");
            }
        }
    }

    /// The TTLs of weighted groups holding other writers' sets, which this agent adopts there (warned once each).
    pub(super) fn foreign_ttls(
        &mut self,
        config: &Route53Config,
        sets: &[RecordSet],
    ) -> HashMap<Group, i64> {
        let ttls = foreign_ttls(sets);
        for ((name, record_type), ttl) in &ttls {
            let group = (name.clone(), *record_type);
            if *ttl != config.ttl && self.warned_groups.insert(group) {
                tracing::warn!(zone_id = %config.zone_id, record_name = %name, %record_type, ttl, agent_ttl = config.ttl,
                    "Adopting the TTL of other writers' records in this weighted group.");
            }
        }
        ttls
    }

    /// Warns when other hosts hold records under this owner's `agent.owner_id` (each newly seen host once): their
    /// records carry their own host tag and are never touched, but the owner id was meant to name one host.
    pub(super) fn shared_owner_id(
        &mut self,
        config: &Route53Config,
        owner: &Owner,
        others: BTreeSet<String>,
    ) {
        if others.is_subset(&self.shared_owner_id) {
            return;
        }
        self.shared_owner_id.extend(others);
        let others = &self.shared_owner_id;
        tracing::warn!(zone_id = %config.zone_id, owner = owner.owner(), hosts = others.len() + 1, others = ?others,
            "agent.owner_id is set on other hosts too.");
    }
}

impl Writer {
    /// New records refused because their name already holds the maximum of weighted records: quarantined, and
    /// their names read again before they are tried, so the group's size is fresh then.
    pub(super) fn refuse(&mut self, keys: Vec<RecordKey>) {
        let until = now() + self.config.quarantine;
        for key in keys {
            tracing::error!(zone_id = %self.config.zone_id, record_name = %key.name, record_type = %key.record_type, set_identifier = %key.set_identifier,
                "Not registering: the name already holds 100 weighted records of this type.");
            self.metrics.refused_full.inc();
            self.names.doubt([key.name.clone()]);
            self.schedule.quarantine([key], until);
        }
    }

    /// Logs and counts changes Route53 accepted.
    pub(super) fn log_applied(&self, changes: &[Change]) {
        let zone_id = self.config.zone_id.as_str();
        for c in changes {
            let r = c.record();
            let (family, what) = match c {
                Change::Upsert(_) => (&self.metrics.registrations, "Registered record."),
                Change::Delete(_) => (&self.metrics.deregistrations, "Removed record."),
            };
            family
                .with_label_values(&[r.key.record_type.as_str()])
                .inc();
            tracing::info!(zone_id, record_name = %r.key.name, record_type = %r.key.record_type, set_identifier = %r.key.set_identifier, value = %r.value, "{what}");
        }
    }
}
