//! The writer's book-keeping, apart from actix: what should exist, what does exist, what still has to be sent.
//!
//! * `desired`: records running containers should have, by key, with the record each holding container asked
//!   for (two labelled containers of one task share one key, and every bridge/host container with an SRV record
//!   holds the per-instance target; the first holder's value is used, and when it stops the next holder's);
//! * `actual`: this owner's records as they exist in Route53 (read at launch, then kept by applied changes);
//! * `dirty`: keys whose desired and actual state may differ. A later change of a key simply re-marks it, so a
//!   start and a stop inside one window plan nothing;
//! * `protected`: per running container that holds nothing here, the records it would own ([`Claim`]): existing
//!   ones stay. Protection is per container, not per task: two containers of one task share the SetIdentifier
//!   under different names, and one of them registering, being withheld or stopping leaves the other's records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::core::claim::Claim;
use crate::core::ownership::{parse, InstanceId};
use crate::core::plan::{plan_key, Change, Group, MAX_WEIGHTED_PER_NAME};
use crate::core::record::{Record, RecordKey, RecordType, RecordValue};

/// Desired, actual and dirty state of one owner's records.
#[derive(Debug, Default)]
pub struct RecordBook {
    desired: BTreeMap<RecordKey, BTreeMap<String, Record>>,
    by_container: HashMap<String, BTreeSet<RecordKey>>,
    actual: BTreeMap<RecordKey, Record>,
    dirty: BTreeSet<RecordKey>,
    /// Weighted sets per group (name and type), of every owner, as last read (and kept by our own changes).
    counts: HashMap<Group, usize>,
    /// Claims of the containers the latest listing found running that hold no record here (not resolved yet, or
    /// skipped: instance address unknown), by container id. The existing records a claim covers are never
    /// deleted; a container's protection ends when it registers records, is withheld or stops, or when a later
    /// listing no longer finds it.
    protected: BTreeMap<String, Claim>,
    /// Containers that must have no records now (withheld: unhealthy or their task stopping; deregistered:
    /// stopping or stopped): a listing does not protect their records until they register records again. One
    /// is forgotten when a listing after the launch sweep no longer finds it running.
    withheld: BTreeSet<String>,
    /// The launch sweep has been applied. Its listing may be older than a periodic one that came first (the sweep
    /// waits for the launch lookups, or for the zone read), so until then no container is forgotten.
    swept: bool,
    /// TTLs of weighted groups that hold other writers' sets: our records there adopt them
    /// ([`crate::core::plan::foreign_ttls`]).
    foreign_ttl: HashMap<Group, i64>,
    /// Records of this owner id without this host's tag (written before the tag, or by another host given the
    /// same `agent.owner_id`), by name, type and task: never deleted, except when a container here registers
    /// the same task's record, which replaces it.
    inherited: BTreeMap<(String, RecordType, String), Record>,
}

/// Name, type and instance part (`t-<task>`) of a record: the same task's record under another owner part.
fn task_slot(key: &RecordKey) -> Option<(String, RecordType, String)> {
    let p = parse(&key.set_identifier)?;
    Some((key.name.clone(), key.record_type, p.instance.to_string()))
}

/// What one planning round produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes to send.
    pub changes: Vec<Change>,
    /// New records refused because their group already holds the maximum of weighted records.
    pub refused: Vec<RecordKey>,
}

fn group(key: &RecordKey) -> Group {
    (key.name.clone(), key.record_type)
}

fn is_host_target(key: &RecordKey) -> bool {
    key.record_type != RecordType::Srv
        && parse(&key.set_identifier).is_some_and(|p| p.instance == InstanceId::Host.to_string())
}

impl RecordBook {
    /// Container `container_id` wants exactly `records` to exist (an empty list: none, as after a stop). Records
    /// end its withholding and its protection (not that of the other containers of its task).
    pub fn register(&mut self, container_id: &str, records: Vec<Record>) {
        if !records.is_empty() {
            self.withheld.remove(container_id);
            self.end_protection(container_id);
        }
        let wanted: BTreeSet<RecordKey> = records.iter().map(|r| r.key.clone()).collect();
        let old = self.by_container.remove(container_id).unwrap_or_default();
        for key in old.difference(&wanted) {
            self.release(container_id, key);
        }
        for record in records {
            let key = record.key.clone();
            self.adopt_inherited(&key);
            let holders = self.desired.entry(key.clone()).or_default();
            if is_host_target(&key) {
                // The instance's address as last resolved, whichever container resolved it.
                holders.values_mut().for_each(|r| *r = record.clone());
            }
            holders.insert(container_id.to_string(), record);
            self.dirty.insert(key);
        }
        if !wanted.is_empty() {
            self.by_container.insert(container_id.to_string(), wanted);
        }
    }

    /// The keys container `container_id` holds records under.
    pub fn keys_of(&self, container_id: &str) -> impl Iterator<Item = RecordKey> + '_ {
        self.by_container
            .get(container_id)
            .into_iter()
            .flatten()
            .cloned()
    }

    /// True when `key` may need a change that has not been planned yet.
    pub fn is_dirty(&self, key: &RecordKey) -> bool {
        self.dirty.contains(key)
    }

    /// Keeps `records` (untagged ones of this owner id, as a read found them) apart: see `inherited`. Those of a
    /// task a container here registered already are replaced at once.
    pub fn add_inherited(&mut self, records: Vec<Record>) {
        let slots = records
            .into_iter()
            .filter_map(|r| Some((task_slot(&r.key)?, r)));
        self.inherited.extend(slots);
        let wanted: Vec<RecordKey> = self.desired.keys().cloned().collect();
        for key in &wanted {
            self.adopt_inherited(key);
        }
    }

    /// A container here registers `key`: an inherited record of the same task becomes this owner's, to be
    /// deleted (it is not desired), so the task's record is replaced rather than doubled.
    fn adopt_inherited(&mut self, key: &RecordKey) {
        let Some(old) = task_slot(key).and_then(|slot| self.inherited.remove(&slot)) else {
            return;
        };
        self.dirty.insert(old.key.clone());
        self.actual.insert(old.key.clone(), old);
    }

    /// Container `container_id` runs but must have no records now: its records go, and so do the existing ones
    /// its claim covers that no container holds, inherited ones included; listings no longer protect them. The
    /// other containers of its task keep theirs. (Its SetIdentifier is not needed: the claim came with the
    /// listing.)
    pub fn withhold(&mut self, container_id: &str) {
        self.register(container_id, Vec::new());
        self.withheld.insert(container_id.to_string());
        self.end_protection(container_id);
    }

    /// Container `container_id` stopped; each of its records goes once no other container holds it, and so do
    /// the existing ones its claim protected: a listing taken before its stop does not protect them again.
    pub fn deregister(&mut self, container_id: &str) {
        self.withheld.insert(container_id.to_string());
        self.end_protection(container_id);
        for key in self.by_container.remove(container_id).unwrap_or_default() {
            self.release(container_id, &key);
        }
    }

    fn release(&mut self, container_id: &str, key: &RecordKey) {
        if let Some(holders) = self.desired.get_mut(key) {
            holders.remove(container_id);
            if holders.is_empty() {
                self.desired.remove(key);
            }
        }
        self.dirty.insert(key.clone());
    }

    /// Replaces the actual state with what a full read found (this owner's records only, and every owner's
    /// weighted counts per group).
    pub fn load_actual(&mut self, records: Vec<Record>, counts: HashMap<Group, usize>) {
        self.counts = counts;
        self.actual = records.into_iter().map(|r| (r.key.clone(), r)).collect();
        self.dirty.extend(self.desired.keys().cloned());
    }

    /// Replaces the actual state of the given names (every type) with what a targeted read found (marks nothing
    /// dirty).
    pub fn refresh_names(
        &mut self,
        names: &BTreeSet<String>,
        found: Vec<Record>,
        counts: HashMap<Group, usize>,
    ) {
        for name in names {
            for t in RecordType::ALL {
                let g = (name.clone(), t);
                let n = counts.get(&g).copied().unwrap_or(0);
                self.counts.insert(g, n);
            }
        }
        self.actual.retain(|k, _| !names.contains(&k.name));
        self.actual
            .extend(found.into_iter().map(|r| (r.key.clone(), r)));
    }

    /// A listing found these containers running (their claims by container id): the records claimed by those
    /// that hold nothing here and are not withheld are protected from now on, and records whose protection ends
    /// are planned again (deleted, unless someone holds them).
    pub fn protect(&mut self, running: &BTreeMap<String, Claim>) {
        if self.swept {
            self.withheld.retain(|id| running.contains_key(id));
        }
        let now: BTreeMap<String, Claim> = running
            .iter()
            .filter(|(id, _)| !self.by_container.contains_key(*id) && !self.withheld.contains(*id))
            .map(|(id, claim)| (id.clone(), claim.clone()))
            .collect();
        let ended: Vec<Claim> = self
            .protected
            .iter()
            .filter(|(id, claim)| now.get(*id) != Some(claim))
            .map(|(_, claim)| claim.clone())
            .collect();
        self.protected = now;
        self.replan_unprotected(&ended);
    }

    /// Marks the records of the claims whose protection `ended` (and the per-instance targets, which a protected
    /// SRV may have kept) to be planned again.
    fn replan_unprotected(&mut self, ended: &[Claim]) {
        let replan: Vec<RecordKey> = self
            .actual
            .keys()
            .filter(|k| ended.iter().any(|c| c.covers(k)) || is_host_target(k))
            .cloned()
            .collect();
        self.dirty.extend(replan);
    }

    /// Container `container_id`'s records lose their protection, if they had one, and are planned again.
    fn end_protection(&mut self, container_id: &str) {
        if let Some(claim) = self.protected.remove(container_id) {
            self.replan_unprotected(&[claim]);
        }
    }

    /// True when `key` must not be deleted although no container holds it: a protected container claims it, or
    /// it is the per-instance target of a protected SRV record.
    fn is_protected(&self, key: &RecordKey) -> bool {
        let claimed = |k: &RecordKey| self.protected.values().any(|c| c.covers(k));
        if claimed(key) {
            return true;
        }
        is_host_target(key)
            && self.actual.values().any(|r| match &r.value {
                RecordValue::Srv(s) => s.target == key.name && claimed(&r.key),
                _ => false,
            })
    }

    /// Launch sync: protects the records the listed containers claim (`keep`, by container id) and marks for
    /// deletion every other record no running container holds. Returns how many.
    pub fn sweep(&mut self, keep: &BTreeMap<String, Claim>) -> usize {
        self.protect(keep);
        self.swept = true;
        let stale: Vec<RecordKey> = self
            .actual
            .keys()
            .filter(|k| !self.desired.contains_key(*k) && !self.is_protected(k))
            .cloned()
            .collect();
        self.dirty.extend(stale.iter().cloned());
        stale.len()
    }

    /// Marks keys to be planned again.
    pub fn mark_dirty(&mut self, keys: impl IntoIterator<Item = RecordKey>) {
        self.dirty.extend(keys);
    }

    /// Plans every dirty key and clears the dirty set. A record that would be new in a group already holding
    /// the maximum of weighted records is refused instead of sent.
    pub fn take_plan(&mut self) -> Plan {
        let dirty = std::mem::take(&mut self.dirty);
        self.plan_keys(&dirty)
    }

    /// Plans the given keys (without touching the dirty set), refusing new records in full groups.
    pub fn plan_keys(&self, keys: &BTreeSet<RecordKey>) -> Plan {
        let mut plan = Plan::default();
        let mut extra: HashMap<Group, usize> = HashMap::new();
        for key in keys {
            let Some(change) = self.plan(key) else {
                continue;
            };
            if matches!(change, Change::Upsert(_)) && !self.actual.contains_key(key) {
                let g = group(key);
                let existing = self.counts.get(&g).copied().unwrap_or(0);
                let planned = extra.entry(g).or_insert(0);
                if existing + *planned >= MAX_WEIGHTED_PER_NAME {
                    plan.refused.push(key.clone());
                    continue;
                }
                *planned += 1;
            }
            plan.changes.push(change);
        }
        plan
    }

    /// Records the TTLs of groups that hold other writers' sets, as a read found them: for every group when
    /// `names` is `None` (a full read), else for the groups under `names` (a targeted read). Marks the keys of
    /// changed groups dirty.
    pub fn set_foreign_ttls(
        &mut self,
        names: Option<&BTreeSet<String>>,
        ttls: HashMap<Group, i64>,
    ) {
        match names {
            None => self.foreign_ttl.clear(),
            Some(names) => self.foreign_ttl.retain(|(n, _), _| !names.contains(n)),
        }
        self.foreign_ttl.extend(ttls);
        let groups: BTreeSet<&Group> = self.foreign_ttl.keys().collect();
        let replan: Vec<RecordKey> = self
            .desired
            .keys()
            .filter(|k| groups.contains(&group(k)))
            .cloned()
            .collect();
        self.dirty.extend(replan);
    }

    /// The TTLs of the groups other writers share under the names this owner holds records in (for the journal).
    pub fn shared_ttls(&self) -> BTreeMap<Group, i64> {
        let names: BTreeSet<&String> = self.actual.keys().map(|k| &k.name).collect();
        let shared = self
            .foreign_ttl
            .iter()
            .filter(|((n, _), _)| names.contains(n));
        shared.map(|(g, ttl)| (g.clone(), *ttl)).collect()
    }

    /// The change one key needs now; never the deletion of a protected record. A record in a group that holds
    /// other writers' sets takes the group's TTL.
    pub fn plan(&self, key: &RecordKey) -> Option<Change> {
        let desired = self.desired.get(key).and_then(|h| h.values().next());
        if desired.is_none() && self.is_protected(key) {
            return None;
        }
        let adopted = desired.and_then(|d| {
            let ttl = *self.foreign_ttl.get(&group(key))?;
            (ttl != d.ttl).then(|| Record { ttl, ..d.clone() })
        });
        plan_key(adopted.as_ref().or(desired), self.actual.get(key))
    }

    /// Records the effect of changes Route53 accepted.
    pub fn applied(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Upsert(r) => {
                    if self.actual.insert(r.key.clone(), r.clone()).is_none() {
                        *self.counts.entry(group(&r.key)).or_insert(0) += 1;
                    }
                }
                Change::Delete(r) => {
                    if self.actual.remove(&r.key).is_some() {
                        let n = self.counts.entry(group(&r.key)).or_insert(1);
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Every key under `names` that is desired or exists.
    pub fn keys_under(&self, names: &BTreeSet<String>) -> BTreeSet<RecordKey> {
        self.desired
            .keys()
            .chain(self.actual.keys())
            .filter(|k| names.contains(&k.name))
            .cloned()
            .collect()
    }

    /// Every key under `names` that a container wants.
    pub fn desired_keys_under(&self, names: &BTreeSet<String>) -> BTreeSet<RecordKey> {
        let under = self.desired.keys().filter(|k| names.contains(&k.name));
        under.cloned().collect()
    }

    /// Every name this owner has or wants records under.
    pub fn names(&self) -> BTreeSet<String> {
        self.desired
            .keys()
            .chain(self.actual.keys())
            .map(|k| k.name.clone())
            .collect()
    }

    /// True when some key waits to be planned.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The targets of the SRV records this owner wants: per-task and per-instance names only this owner writes.
    pub fn own_targets(&self) -> HashSet<String> {
        let wanted = self.desired.values().flat_map(|h| h.values());
        wanted
            .filter_map(|r| match &r.value {
                RecordValue::Srv(s) => Some(s.target.clone()),
                _ => None,
            })
            .collect()
    }

    /// True when this owner neither has nor wants a record under `name`.
    pub fn holds_nothing_under(&self, name: &str) -> bool {
        let under = |k: &RecordKey| k.name == name;
        !self.desired.keys().any(under) && !self.actual.keys().any(under)
    }

    /// Drops the group sizes and adopted TTLs kept for `name`.
    pub fn forget_name(&mut self, name: &str) {
        self.counts.retain(|(n, _), _| n != name);
        self.foreign_ttl.retain(|(n, _), _| n != name);
    }

    /// Takes what a full read found for every name but `newer`, whose state the writer learnt after the read
    /// passed them: this owner's records (none elsewhere), and the weighted counts of the names the read kept
    /// (the counts targeted reads found under other names stay).
    pub fn merge_actual(
        &mut self,
        records: Vec<Record>,
        counts: HashMap<Group, usize>,
        newer: &BTreeSet<String>,
    ) {
        self.actual.retain(|k, _| newer.contains(&k.name));
        let fresh = records.into_iter().filter(|r| !newer.contains(&r.key.name));
        self.actual.extend(fresh.map(|r| (r.key.clone(), r)));
        self.counts
            .extend(counts.into_iter().filter(|((n, _), _)| !newer.contains(n)));
        self.dirty.extend(self.desired.keys().cloned());
    }

    /// The records that exist, for `/records`.
    pub fn actual_records(&self) -> Vec<Record> {
        self.actual.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
