//! Planning: desired vs actual records → the changes to send, packed into batches Route53 accepts.
//!
//! Route53 limits (`shared/reference/route53.md` §4.2): at most 1000 values and 32 000 value characters per
//! request, an UPSERT counting twice. Within a batch every DELETE goes before every UPSERT.

use crate::core::record::ARecord;

/// Route53's per-request limit on values (UPSERT counts twice).
pub const MAX_BATCH_VALUES: usize = 1000;
/// Route53's per-request limit on value characters (UPSERT counts twice).
pub const MAX_BATCH_CHARS: usize = 32_000;

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
