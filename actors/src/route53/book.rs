//! The writer's book-keeping, apart from actix: what should exist, what does exist, what still has to be sent.
//!
//! * `desired`: records running containers should have, by key, with the record each holding container asked
//!   for (two labelled containers of one task share one key; the first holder's address is used, and when it
//!   stops the next holder's);
//! * `actual`: this owner's records as they exist in Route53 (read at launch, then kept by applied changes);
//! * `dirty`: keys whose desired and actual state may differ. A later change of a key simply re-marks it, so a
//!   start and a stop inside one window plan nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::plan::{plan_key, Change, MAX_WEIGHTED_PER_NAME};
use crate::core::record::{ARecord, RecordKey};

/// Desired, actual and dirty state of one owner's records.
#[derive(Debug, Default)]
pub struct RecordBook {
    desired: BTreeMap<RecordKey, BTreeMap<String, ARecord>>,
    by_container: HashMap<String, RecordKey>,
    actual: BTreeMap<RecordKey, ARecord>,
    dirty: BTreeSet<RecordKey>,
    /// Weighted A sets per name, of every owner, as last read (and kept by our own changes).
    counts: HashMap<String, usize>,
}

/// What one planning round produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes to send.
    pub changes: Vec<Change>,
    /// New records refused because their name already holds the maximum of weighted records.
    pub refused: Vec<RecordKey>,
}

impl RecordBook {
    /// Container `container_id` wants `record` to exist.
    pub fn register(&mut self, container_id: &str, record: ARecord) {
        if let Some(old) = self
            .by_container
            .get(container_id)
            .filter(|k| **k != record.key)
            .cloned()
        {
            self.release(container_id, &old);
        }
        let key = record.key.clone();
        self.desired
            .entry(key.clone())
            .or_default()
            .insert(container_id.to_string(), record);
        self.by_container
            .insert(container_id.to_string(), key.clone());
        self.dirty.insert(key);
    }

    /// Container `container_id` stopped; its record goes once no other container holds it.
    /// Returns the key it held, if any.
    pub fn deregister(&mut self, container_id: &str) -> Option<RecordKey> {
        let key = self.by_container.remove(container_id)?;
        self.release(container_id, &key);
        Some(key)
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
    /// weighted counts per name).
    pub fn load_actual(&mut self, records: Vec<ARecord>, counts: HashMap<String, usize>) {
        self.counts = counts;
        self.actual = records.into_iter().map(|r| (r.key.clone(), r)).collect();
        self.dirty.extend(self.desired.keys().cloned());
    }

    /// Replaces the actual state of the given names with what a targeted read found (marks nothing dirty).
    pub fn refresh_names(
        &mut self,
        names: &BTreeSet<String>,
        found: Vec<ARecord>,
        counts: HashMap<String, usize>,
    ) {
        for name in names {
            self.counts
                .insert(name.clone(), counts.get(name).copied().unwrap_or(0));
        }
        self.actual.retain(|k, _| !names.contains(&k.name));
        self.actual
            .extend(found.into_iter().map(|r| (r.key.clone(), r)));
    }

    /// Launch sync: records that exist but that no running container holds and that `keep` does not protect are
    /// marked for deletion. Returns how many.
    pub fn sweep(&mut self, keep: &BTreeSet<RecordKey>) -> usize {
        let stale: Vec<RecordKey> = self
            .actual
            .keys()
            .filter(|k| !self.desired.contains_key(*k) && !keep.contains(*k))
            .cloned()
            .collect();
        self.dirty.extend(stale.iter().cloned());
        stale.len()
    }

    /// Marks keys to be planned again.
    pub fn mark_dirty(&mut self, keys: impl IntoIterator<Item = RecordKey>) {
        self.dirty.extend(keys);
    }

    /// Plans every dirty key and clears the dirty set. A record that would be new under a name already holding
    /// the maximum of weighted records is refused instead of sent.
    pub fn take_plan(&mut self) -> Plan {
        let dirty = std::mem::take(&mut self.dirty);
        self.plan_keys(&dirty)
    }

    /// Plans the given keys (without touching the dirty set), refusing new records on full names.
    pub fn plan_keys(&self, keys: &BTreeSet<RecordKey>) -> Plan {
        let mut plan = Plan::default();
        let mut extra: HashMap<&str, usize> = HashMap::new();
        for key in keys {
            let Some(change) = self.plan(key) else {
                continue;
            };
            if matches!(change, Change::Upsert(_)) && !self.actual.contains_key(key) {
                let planned = extra.entry(key.name.as_str()).or_insert(0);
                if self.counts.get(&key.name).copied().unwrap_or(0) + *planned
                    >= MAX_WEIGHTED_PER_NAME
                {
                    plan.refused.push(key.clone());
                    continue;
                }
                *planned += 1;
            }
            plan.changes.push(change);
        }
        plan
    }

    /// The change one key needs now.
    pub fn plan(&self, key: &RecordKey) -> Option<Change> {
        plan_key(
            self.desired.get(key).and_then(|h| h.values().next()),
            self.actual.get(key),
        )
    }

    /// Records the effect of changes Route53 accepted.
    pub fn applied(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Upsert(r) => {
                    if self.actual.insert(r.key.clone(), r.clone()).is_none() {
                        *self.counts.entry(r.key.name.clone()).or_insert(0) += 1;
                    }
                }
                Change::Delete(r) => {
                    if self.actual.remove(&r.key).is_some() {
                        let n = self.counts.entry(r.key.name.clone()).or_insert(1);
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

    /// Every name this owner has or wants records under.
    pub fn names(&self) -> BTreeSet<String> {
        self.desired
            .keys()
            .chain(self.actual.keys())
            .map(|k| k.name.clone())
            .collect()
    }

    /// The records that exist, for `/records`.
    pub fn actual_records(&self) -> Vec<ARecord> {
        self.actual.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, ip: [u8; 4]) -> ARecord {
        ARecord {
            key: RecordKey {
                name: "web.example.com.".into(),
                set_identifier: id.into(),
            },
            ip: ip.into(),
            ttl: 60,
            weight: 1,
        }
    }

    #[test]
    fn start_then_stop_in_one_window_plans_nothing() {
        let mut b = RecordBook::default();
        b.register("c1", rec("t1", [10, 0, 0, 1]));
        b.deregister("c1");
        assert!(b.take_plan().changes.is_empty());
    }

    #[test]
    fn stop_deletes_the_record_as_it_exists() {
        let mut b = RecordBook::default();
        b.register("c1", rec("t1", [10, 0, 0, 1]));
        let plan = b.take_plan().changes;
        b.applied(&plan);
        b.deregister("c1");
        assert_eq!(
            b.take_plan().changes,
            vec![Change::Delete(rec("t1", [10, 0, 0, 1]))]
        );
    }

    #[test]
    fn a_shared_record_stays_until_its_last_holder_stops() {
        let mut b = RecordBook::default();
        b.register("app", rec("t1", [10, 0, 0, 1]));
        b.register("sidecar", rec("t1", [10, 0, 0, 1]));
        let plan = b.take_plan().changes;
        assert_eq!(plan.len(), 1);
        b.applied(&plan);
        b.deregister("app");
        assert!(b.take_plan().changes.is_empty());
        b.deregister("sidecar");
        assert_eq!(b.take_plan().changes.len(), 1);
    }

    #[test]
    fn when_the_holder_whose_address_is_used_stops_the_next_holder_takes_over() {
        let mut b = RecordBook::default();
        b.register("a-app", rec("t1", [10, 0, 0, 1]));
        b.register("b-sidecar", rec("t1", [10, 0, 0, 2]));
        let plan = b.take_plan().changes;
        assert_eq!(plan, vec![Change::Upsert(rec("t1", [10, 0, 0, 1]))]);
        b.applied(&plan);
        b.deregister("a-app");
        assert_eq!(
            b.take_plan().changes,
            vec![Change::Upsert(rec("t1", [10, 0, 0, 2]))]
        );
    }

    #[test]
    fn sweep_removes_only_unprotected_records() {
        let mut b = RecordBook::default();
        b.load_actual(
            vec![
                rec("live", [10, 0, 0, 1]),
                rec("dead", [10, 0, 0, 2]),
                rec("kept", [10, 0, 0, 3]),
            ],
            HashMap::new(),
        );
        b.register("c-live", rec("live", [10, 0, 0, 1]));
        let keep = BTreeSet::from([rec("kept", [0, 0, 0, 0]).key]);
        assert!(
            b.take_plan().changes.is_empty(),
            "loading alone deletes nothing"
        );
        assert_eq!(b.sweep(&keep), 1);
        assert_eq!(
            b.take_plan().changes,
            vec![Change::Delete(rec("dead", [10, 0, 0, 2]))]
        );
    }

    #[test]
    fn a_new_record_on_a_full_name_is_refused_but_updates_and_other_names_go_through() {
        let mut b = RecordBook::default();
        b.load_actual(
            vec![rec("mine", [10, 0, 0, 1])],
            HashMap::from([("web.example.com.".to_string(), 99)]),
        );
        b.register("mine", rec("mine", [10, 0, 0, 9]));
        b.register("n1", rec("n1", [10, 0, 0, 2]));
        b.register("n2", rec("n2", [10, 0, 0, 3]));
        let plan = b.take_plan();
        assert_eq!(
            plan.changes.len(),
            2,
            "the update of an existing record and one new record (the 100th)"
        );
        assert_eq!(
            plan.refused,
            vec![rec("n2", [0; 4]).key],
            "the 101st is refused"
        );
        b.applied(&plan.changes);
        b.deregister("n1");
        let plan = b.take_plan().changes;
        b.applied(&plan);
        b.mark_dirty([rec("n2", [0; 4]).key]);
        assert_eq!(
            b.take_plan().changes,
            vec![Change::Upsert(rec("n2", [10, 0, 0, 3]))],
            "room again after a delete"
        );
    }

    #[test]
    fn a_restart_with_a_new_address_upserts() {
        let mut b = RecordBook::default();
        b.register("c1", rec("t1", [10, 0, 0, 1]));
        let plan = b.take_plan().changes;
        b.applied(&plan);
        b.register("c1", rec("t1", [10, 0, 0, 7]));
        assert_eq!(
            b.take_plan().changes,
            vec![Change::Upsert(rec("t1", [10, 0, 0, 7]))]
        );
    }
}
