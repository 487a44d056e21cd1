//! Planning: desired vs actual records → the changes to send, packed into batches Route53 accepts.
//!
//! Route53 limits (`shared/reference/route53.md` §4.2): at most 1000 values and 32 000 value characters per
//! request, an UPSERT counting twice. Within a batch every DELETE goes before every UPSERT.

use crate::core::record::{ARecord, RecordSet};

/// Route53's per-request limit on values (UPSERT counts twice).
pub const MAX_BATCH_VALUES: usize = 1000;
/// Route53's per-request limit on value characters (UPSERT counts twice).
pub const MAX_BATCH_CHARS: usize = 32_000;

/// Route53's limit of weighted record sets with the same name and type.
pub const MAX_WEIGHTED_PER_NAME: usize = 100;

/// Names whose weighted A sets written by agents of this kind (`r53d:` SetIdentifiers) use another TTL or weight
/// than `ttl`/`weight`: Route53 rewrites a weighted group's TTL to the last one written, so these must agree.
pub fn group_mismatches(sets: &[RecordSet], ttl: i64, weight: i64) -> Vec<String> {
    let ours = |s: &&RecordSet| {
        s.record_type == "A"
            && s.set_identifier
                .as_deref()
                .is_some_and(|i| i.starts_with("r53d:"))
    };
    let mut names: Vec<String> = sets
        .iter()
        .filter(ours)
        .filter(|s| s.ttl != Some(ttl) || s.weight != Some(weight))
        .map(|s| s.name.clone())
        .collect();
    names.dedup();
    names
}

/// Number of weighted A sets per name among `sets` (any owner).
pub fn weighted_counts(sets: &[RecordSet]) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for s in sets
        .iter()
        .filter(|s| s.record_type == "A" && s.weight.is_some())
    {
        *counts.entry(s.name.to_ascii_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// One change to one of our records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace the record.
    Upsert(ARecord),
    /// Delete the record exactly as it exists.
    Delete(ARecord),
}

impl Change {
    /// The record the change is about.
    pub fn record(&self) -> &ARecord {
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
        (factor, factor * self.record().ip.to_string().len())
    }
}

/// The change that moves one key from `actual` to `desired`, if any.
///
/// A record that exists with other values is UPSERTed (same name, type and SetIdentifier); one that should not
/// exist is deleted with the values it has.
pub fn plan_key(desired: Option<&ARecord>, actual: Option<&ARecord>) -> Option<Change> {
    match (desired, actual) {
        (Some(d), Some(a)) if d == a => None,
        (Some(d), _) => Some(Change::Upsert(d.clone())),
        (None, Some(a)) => Some(Change::Delete(a.clone())),
        (None, None) => None,
    }
}

/// Packs changes into batches within Route53's limits, deletes first in each batch.
pub fn batches(mut changes: Vec<Change>) -> Vec<Vec<Change>> {
    changes.sort_by_key(|c| matches!(c, Change::Upsert(_)));
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
    use crate::core::record::RecordKey;

    fn rec(i: u32, ip: [u8; 4]) -> ARecord {
        ARecord {
            key: RecordKey {
                name: "web.example.com.".into(),
                set_identifier: format!("r53d:c:o:t-{i}"),
            },
            ip: ip.into(),
            ttl: 60,
            weight: 1,
        }
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
            vec!["web.example.com.".to_string()]
        );
        assert_eq!(weighted_counts(&sets)["web.example.com."], 3);
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
        // 15 characters per value: 1000 deletes would be 15 000 chars, within limits; 1000 upserts need 3 batches
        // by values (500 each) and stay under 32 000 chars (15 000).
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
