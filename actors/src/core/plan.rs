//! Planning: desired vs actual records → the changes to send, packed into batches Route53 accepts.
//!
//! Route53 limits (`shared/reference/route53.md` §4.2): at most 1000 values and 32 000 value characters per
//! request, an UPSERT counting twice. Within a batch every DELETE goes before every UPSERT; SRV records are deleted
//! before, and created after, the address records their targets name, so a split batch never leaves an SRV whose
//! target has no address.

use std::collections::HashMap;

use crate::core::record::{Record, RecordSet, RecordType};

/// Route53's per-request limit on values (UPSERT counts twice).
pub const MAX_BATCH_VALUES: usize = 1000;
/// Route53's per-request limit on value characters (UPSERT counts twice).
pub const MAX_BATCH_CHARS: usize = 32_000;

/// Route53's limit of weighted record sets with the same name and type.
pub const MAX_WEIGHTED_PER_NAME: usize = 100;

/// A weighted group: Route53 counts weights, TTLs and the 100-record limit per name **and type**.
pub type Group = (String, RecordType);

/// Weighted groups whose sets written by agents of this kind (`r53d:` SetIdentifiers) use another TTL or weight
/// than `ttl`/`weight`: Route53 rewrites a weighted group's TTL to the last one written, so these must agree.
pub fn group_mismatches(sets: &[RecordSet], ttl: i64, weight: i64) -> Vec<Group> {
    let mut groups: Vec<Group> = sets
        .iter()
        .filter(|s| {
            s.set_identifier
                .as_deref()
                .is_some_and(|i| i.starts_with("r53d:"))
        })
        .filter(|s| s.ttl != Some(ttl) || s.weight != Some(weight))
        .filter_map(|s| Some((s.name.clone(), RecordType::parse(&s.record_type)?)))
        .collect();
    groups.dedup();
    groups
}

/// The TTL of each weighted group that holds sets of other writers (SetIdentifiers not written by agents of
/// this kind), for the types this agent writes. Route53 forces one TTL per weighted group, rewriting every set's
/// TTL to the last one written, so this agent writes its records in such a group with the group's TTL instead of
/// its own: it never changes another writer's TTL.
pub fn foreign_ttls(sets: &[RecordSet]) -> HashMap<Group, i64> {
    let mut out = HashMap::new();
    for s in sets.iter().filter(|s| s.weight.is_some()) {
        let foreign = !s
            .set_identifier
            .as_deref()
            .is_some_and(|i| i.starts_with("r53d:"));
        if let (true, Some(t), Some(ttl)) = (foreign, RecordType::parse(&s.record_type), s.ttl) {
            out.entry((s.name.to_ascii_lowercase(), t)).or_insert(ttl);
        }
    }
    out
}

/// Number of weighted sets per group (name and type, any owner) among `sets`, for the types this agent writes.
pub fn weighted_counts(sets: &[RecordSet]) -> HashMap<Group, usize> {
    let mut counts = HashMap::new();
    for s in sets.iter().filter(|s| s.weight.is_some()) {
        if let Some(t) = RecordType::parse(&s.record_type) {
            *counts.entry((s.name.to_ascii_lowercase(), t)).or_insert(0) += 1;
        }
    }
    counts
}

/// One change to one of our records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace the record.
    Upsert(Record),
    /// Delete the record exactly as it exists.
    Delete(Record),
}

impl Change {
    /// The record the change is about.
    pub fn record(&self) -> &Record {
        match self {
            Self::Upsert(r) | Self::Delete(r) => r,
        }
    }

    /// The action name Route53 uses.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Upsert(_) => "UPSERT",
            Self::Delete(_) => "DELETE",
        }
    }

    /// (values, characters) this change counts against a batch's limits.
    fn cost(&self) -> (usize, usize) {
        let factor = if matches!(self, Self::Upsert(_)) {
            2
        } else {
            1
        };
        (factor, factor * self.record().value_string().len())
    }
}

/// The change that moves one key from `actual` to `desired`, if any.
///
/// A record that exists with other values is UPSERTed (same name, type and SetIdentifier); one that should not
/// exist is deleted with the values it has.
pub fn plan_key(desired: Option<&Record>, actual: Option<&Record>) -> Option<Change> {
    match (desired, actual) {
        (Some(d), Some(a)) if d == a => None,
        (Some(d), _) => Some(Change::Upsert(d.clone())),
        (None, Some(a)) => Some(Change::Delete(a.clone())),
        (None, None) => None,
    }
}

/// The order changes are sent in: deletes first (SRV before addresses), then upserts (addresses before SRV).
pub fn send_order(c: &Change) -> (bool, bool) {
    let srv = c.record().key.record_type == RecordType::Srv;
    match c {
        Change::Delete(_) => (false, !srv),
        Change::Upsert(_) => (true, srv),
    }
}

/// Packs changes into batches within Route53's limits, in [`send_order`].
pub fn batches(mut changes: Vec<Change>) -> Vec<Vec<Change>> {
    changes.sort_by_key(send_order);
    let mut out: Vec<Vec<Change>> = Vec::new();
    let (mut values, mut chars) = (0, 0);
    for change in changes {
        let (v, c) = change.cost();
        if out.is_empty() || values + v > MAX_BATCH_VALUES || chars + c > MAX_BATCH_CHARS {
            out.push(Vec::new());
            (values, chars) = (0, 0);
        }
        values += v;
        chars += c;
        out.last_mut()
            .expect("a batch was just pushed")
            .push(change);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::{RecordValue, SrvValue};

    fn rec(i: u32, ip: [u8; 4]) -> Record {
        Record::new(
            "web.example.com.".into(),
            format!("r53d:c:o:t-{i}"),
            RecordValue::A(ip.into()),
            60,
            1,
        )
    }

    fn srv(i: u32) -> Record {
        Record::new(
            "_web._tcp.example.com.".into(),
            format!("r53d:c:o:t-{i}"),
            RecordValue::Srv(SrvValue {
                priority: 1,
                weight: 1,
                port: 8080,
                target: "h.hosts.example.com.".into(),
            }),
            60,
            1,
        )
    }

    #[test]
    fn plan_covers_all_four_cases() {
        let a = rec(1, [10, 0, 0, 1]);
        let b = rec(1, [10, 0, 0, 2]);
        assert_eq!(plan_key(Some(&a), Some(&a)), None);
        assert_eq!(
            plan_key(Some(&b), Some(&a)),
            Some(Change::Upsert(b.clone()))
        );
        assert_eq!(plan_key(Some(&a), None), Some(Change::Upsert(a.clone())));
        assert_eq!(plan_key(None, Some(&a)), Some(Change::Delete(a.clone())));
        assert_eq!(plan_key(None, None), None);
    }

    #[test]
    fn groups_are_checked_for_fleet_wide_ttl_and_weight() {
        let set = |id: &str, ttl, weight| RecordSet {
            name: "web.example.com.".into(),
            record_type: "A".into(),
            set_identifier: Some(id.into()),
            weight: Some(weight),
            ttl: Some(ttl),
            values: vec!["10.0.0.1".into()],
            has_extras: false,
        };
        let sets = vec![
            set("r53d:c:a:t-1", 60, 1),
            set("r53d:c:b:t-2", 60, 1),
            set("hand-made", 300, 9),
        ];
        assert!(
            group_mismatches(&sets, 60, 1).is_empty(),
            "foreign writers are not ours to judge"
        );
        assert_eq!(
            group_mismatches(&sets, 30, 1),
            vec![("web.example.com.".to_string(), RecordType::A)]
        );
        assert_eq!(
            weighted_counts(&sets)[&("web.example.com.".to_string(), RecordType::A)],
            3
        );
    }

    #[test]
    fn deletes_go_first() {
        let changes = vec![
            Change::Upsert(rec(1, [10, 0, 0, 1])),
            Change::Delete(rec(2, [10, 0, 0, 2])),
        ];
        let b = batches(changes);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0][0].action(), "DELETE");
    }

    #[test]
    fn srv_records_are_deleted_before_and_created_after_the_addresses_they_point_at() {
        let changes = vec![
            Change::Upsert(srv(1)),
            Change::Delete(rec(2, [10, 0, 0, 2])),
            Change::Upsert(rec(1, [10, 0, 0, 1])),
            Change::Delete(srv(2)),
        ];
        let order: Vec<(&str, RecordType)> = batches(changes)[0]
            .iter()
            .map(|c| (c.action(), c.record().key.record_type))
            .collect();
        assert_eq!(
            order,
            vec![
                ("DELETE", RecordType::Srv),
                ("DELETE", RecordType::A),
                ("UPSERT", RecordType::A),
                ("UPSERT", RecordType::Srv)
            ]
        );
    }

    #[test]
    fn batches_respect_the_value_limit_with_upserts_counting_twice() {
        let upserts: Vec<Change> = (0..1200)
            .map(|i| Change::Upsert(rec(i, [10, 0, 0, 1])))
            .collect();
        let b = batches(upserts);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
        let deletes: Vec<Change> = (0..1200)
            .map(|i| Change::Delete(rec(i, [10, 0, 0, 1])))
            .collect();
        assert_eq!(
            batches(deletes).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 200]
        );
    }

    #[test]
    fn batches_respect_the_character_limit() {
        // 15 characters per value: 1000 upserts need 2 batches by values (500 each) and stay under 32 000 chars.
        let long: Vec<Change> = (0..1000)
            .map(|i| Change::Upsert(rec(i, [100, 100, 100, 100])))
            .collect();
        for batch in batches(long) {
            let chars: usize = batch.iter().map(|c| c.cost().1).sum();
            assert!(chars <= MAX_BATCH_CHARS);
        }
        assert!(batches(Vec::new()).is_empty());
    }
}
