//! The janitor's deletes: records of dead owners, each exactly as the zone read found it, in batches through the
//! rate-limited [`DnsApi`], one batch at a time. The records come only from the janitor's read of its cluster and
//! scope ([`super::plan::owner_of`]), so nothing else can be asked for.
//!
//! When a batch conflicts (a record already gone — another janitor was faster — or changed since it was read) or
//! fails ambiguously, only *that batch's* names are re-read and its records settled: gone is done, changed is kept
//! (the next cycle decides again), and the identical ones go again as one batch; the later batches are sent as
//! planned. A batch that keeps failing transiently is retried a few times with backoff; a permanent failure, or
//! transient ones past the retries, stop the purge (the next cycle tries again).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::backoff::FullJitter;
use crate::core::ownership::parse;
use crate::core::plan::{batches, Change};
use crate::core::record::{Record, RecordSet};
use crate::route53::api::{read_name, DnsApi, DnsError, ErrorClass};

/// Tries of one purge batch (transient failures, or conflicts settled by a re-read) before it is given up.
const ATTEMPTS: usize = 3;

/// What a purge achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Records this purge deleted.
    pub removed: usize,
    /// Records that were already gone when re-read.
    pub already_gone: usize,
    /// Records left in place: refused, changed since they were read, or still failing.
    pub kept: usize,
    /// Owners with at least one record left in place; every other owner asked for is fully purged.
    pub kept_owners: BTreeSet<String>,
    /// The last error, when something could not be done.
    pub error: Option<String>,
}

impl PurgeOutcome {
    /// Nothing done: every one of `records` is kept (the caller sets the error).
    pub fn not_done(records: &[Record]) -> Self {
        let mut out = Self::default();
        for r in records {
            out.keep(r);
        }
        out
    }

    /// Counts `r` as left in place.
    fn keep(&mut self, r: &Record) {
        self.kept += 1;
        let owner = parse(&r.key.set_identifier).map_or("", |p| p.owner);
        self.kept_owners.insert(owner.to_string());
    }
}

fn log_removed(zone_id: &str, changes: &[Change]) {
    for c in changes {
        let r = c.record();
        let owner = parse(&r.key.set_identifier).map_or("", |p| p.owner);
        tracing::info!(zone_id, record_name = %r.key.name, record_type = %r.key.record_type, set_identifier = %r.key.set_identifier, value = %r.value,
            owner, "Removed record of a dead owner.");
    }
}

/// Deletes `records` in batches; see the module docs for how failures are settled.
pub async fn purge(api: &dyn DnsApi, zone_id: &str, records: Vec<Record>) -> PurgeOutcome {
    let mut out = PurgeOutcome::default();
    let mut pending = batches(records.into_iter().map(Change::Delete).collect()).into_iter();
    while let Some(batch) = pending.next() {
        if let Err(unsent) = purge_batch(api, zone_id, batch, &mut out).await {
            let rest: Vec<Change> = unsent.into_iter().chain(pending.flatten()).collect();
            rest.iter().for_each(|c| out.keep(c.record()));
            break;
        }
    }
    out
}

/// Deletes one batch. `Err` (with the batch's changes not done) stops the purge: a permanent failure, or
/// transient ones past [`ATTEMPTS`]. Conflicts never stop it: what stays unsettled is kept and the next batch goes.
async fn purge_batch(
    api: &dyn DnsApi,
    zone_id: &str,
    mut batch: Vec<Change>,
    out: &mut PurgeOutcome,
) -> Result<(), Vec<Change>> {
    let mut backoff = FullJitter::new(
        crate::route53::WRITER_BACKOFF.0,
        crate::route53::WRITER_BACKOFF.1,
    );
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let err = match api.change(zone_id, &batch).await {
            Ok(()) => {
                log_removed(zone_id, &batch);
                out.removed += batch.len();
                return Ok(());
            }
            Err(e) => e,
        };
        last = err.to_string();
        if matches!(err, DnsError::Ambiguous(_)) || err.class() == ErrorClass::Conflict {
            tracing::warn!(zone_id, error = %err, changes = batch.len(), "Purge batch conflicts with the zone; re-reading its names.");
            batch = settle(api, zone_id, batch, out).await;
            if batch.is_empty() {
                return Ok(());
            }
        } else if err.class() == ErrorClass::Permanent || attempt == ATTEMPTS {
            tracing::warn!(zone_id, error = %err, changes = batch.len(), "Purge failed; the next janitor cycle tries again.");
            out.error = Some(last);
            return Err(batch);
        } else {
            let delay = backoff.next().unwrap_or(Duration::from_secs(5));
            tracing::warn!(zone_id, error = %err, ?delay, "Purge request failed; retrying.");
            actix_rt::time::sleep(delay).await;
        }
    }
    tracing::warn!(zone_id, error = %last, changes = batch.len(), "Purge batch still conflicts; the next janitor cycle decides again.");
    batch.iter().for_each(|c| out.keep(c.record()));
    out.error = Some(last);
    Ok(())
}

/// Re-reads the names of `batch` and settles each record: gone is done, changed is kept. Returns the records
/// still there as read, to delete again; nothing when the re-read fails (then they are all kept).
async fn settle(
    api: &dyn DnsApi,
    zone_id: &str,
    batch: Vec<Change>,
    out: &mut PurgeOutcome,
) -> Vec<Change> {
    let names: BTreeSet<&str> = batch.iter().map(|c| c.record().key.name.as_str()).collect();
    let mut read: Vec<RecordSet> = Vec::new();
    for name in names {
        match read_name(api, zone_id, name).await {
            Ok(sets) => read.extend(sets),
            Err(e) => {
                batch.iter().for_each(|c| out.keep(c.record()));
                out.error = Some(e.to_string());
                return Vec::new();
            }
        }
    }
    let mut identical = Vec::new();
    for change in batch {
        let r = change.record();
        let now = read.iter().find(|s| {
            s.name.eq_ignore_ascii_case(&r.key.name)
                && s.record_type == r.key.record_type.as_str()
                && s.set_identifier.as_deref() == Some(r.key.set_identifier.as_str())
        });
        match now.map(|s| s.as_record().as_ref() == Some(r)) {
            None => out.already_gone += 1,
            Some(false) => {
                tracing::info!(zone_id, record_name = %r.key.name, set_identifier = %r.key.set_identifier,
                    "Record changed since the janitor read it; keeping it this cycle.");
                out.keep(r);
            }
            Some(true) => identical.push(change),
        }
    }
    identical
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::core::record::RecordValue;
    use crate::route53::fake::FakeRoute53;

    fn rec(name: &str, id: &str, ip: [u8; 4]) -> Record {
        Record::new(name.into(), id.into(), RecordValue::A(ip.into()), 60, 1)
    }

    #[actix_rt::test]
    async fn a_record_already_gone_is_settled_by_a_re_read() {
        let fake = FakeRoute53::new("Z1", "z.");
        let (a, b) = (
            rec("a.z.", "r53d:prod:dead:t-1", [10, 0, 0, 1]),
            rec("a.z.", "r53d:prod:dead:t-2", [10, 0, 0, 2]),
        );
        let changed = rec("b.z.", "r53d:prod:other:t-3", [10, 0, 0, 3]);
        let ups = [a.clone(), b.clone(), changed.clone()].map(Change::Upsert);
        fake.change("Z1", &ups).await.unwrap();
        fake.change("Z1", &[Change::Delete(b.clone())])
            .await
            .unwrap();
        let now = rec("b.z.", "r53d:prod:other:t-3", [10, 0, 0, 9]);
        fake.change("Z1", &[Change::Upsert(now)]).await.unwrap();
        let out = purge(&fake, "Z1", vec![a, b, changed]).await;
        assert_eq!(
            out,
            PurgeOutcome {
                removed: 1,
                already_gone: 1,
                kept: 1,
                kept_owners: BTreeSet::from(["other".to_string()]),
                error: None
            }
        );
        assert_eq!(fake.sets().len(), 1, "only the changed record is left");
        assert_eq!(
            fake.change_requests()[3..],
            [3, 1],
            "the identical one goes again alone"
        );
    }

    /// `n` records of owner `dead`, 100 per name (the weighted-set limit), in name order.
    fn many(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let id = format!("r53d:prod:dead:t-{i:05}");
                rec(
                    &format!("n{:02}.z.", i / 100),
                    &id,
                    [10, 0, (i / 250) as u8, (i % 250) as u8],
                )
            })
            .collect()
    }

    #[actix_rt::test]
    async fn a_conflict_settles_only_its_batch_and_the_later_ones_go_as_batches() {
        let fake = FakeRoute53::new("Z1", "z.");
        let all = many(2500);
        for chunk in all.chunks(500) {
            let ups: Vec<Change> = chunk.iter().cloned().map(Change::Upsert).collect();
            fake.change("Z1", &ups).await.unwrap();
        }
        fake.change("Z1", &[Change::Delete(all[7].clone())])
            .await
            .unwrap();
        let setup = fake.change_requests().len();
        let lists = fake.list_requests();
        let out = purge(&fake, "Z1", all).await;
        assert_eq!((out.removed, out.already_gone, out.kept), (2499, 1, 0));
        assert!(out.kept_owners.is_empty() && out.error.is_none(), "{out:?}");
        assert!(fake.sets().is_empty());
        assert_eq!(
            fake.change_requests()[setup..],
            [1000, 999, 1000, 500],
            "the failed batch once more, then the others in batches"
        );
        let reads = fake.list_requests() - lists;
        assert!(
            reads <= 20,
            "only the 10 names of the failed batch are re-read: {reads}"
        );
    }

    #[actix_rt::test]
    async fn transient_failures_are_retried_and_permanent_ones_reported() {
        let fake = Rc::new(FakeRoute53::new("Z1", "z."));
        let a = rec("a.z.", "r53d:prod:dead:t-1", [10, 0, 0, 1]);
        fake.change("Z1", &[Change::Upsert(a.clone())])
            .await
            .unwrap();
        fake.fail_next([DnsError::Transient("503".into())]);
        let out = purge(&*fake, "Z1", vec![a.clone()]).await;
        assert_eq!((out.removed, out.error), (1, None));
        let gone = purge(&*fake, "Z1", vec![a.clone()]).await;
        assert_eq!(gone.already_gone, 1, "deleting twice settles, never fails");
        fake.fail_next([DnsError::Permanent {
            code: "AccessDenied".into(),
            message: "no".into(),
        }]);
        let denied = purge(&*fake, "Z1", vec![a]).await;
        assert_eq!(denied.kept, 1);
        assert_eq!(denied.kept_owners, BTreeSet::from(["dead".to_string()]));
        assert!(denied.error.unwrap().contains("AccessDenied"));
    }

    #[actix_rt::test]
    async fn a_delete_rejected_for_expired_credentials_is_retried() {
        let fake = Rc::new(FakeRoute53::new("Z1", "z."));
        let a = rec("a.z.", "r53d:prod:dead:t-1", [10, 0, 0, 1]);
        fake.change("Z1", &[Change::Upsert(a.clone())])
            .await
            .unwrap();
        fake.fail_next([DnsError::CredentialsExpired {
            code: "ExpiredToken".into(),
            message: "The security token included in the request is expired".into(),
        }]);
        let out = purge(&*fake, "Z1", vec![a]).await;
        assert_eq!((out.removed, out.error), (1, None));
        assert!(fake.sets().is_empty());
    }
}
