//! The janitor's deletion path through the writer: [`Purge`] deletes records of *dead owners of this cluster*,
//! exactly as the janitor read them — the one exception to "only ever change this owner's records".
//!
//! The writer checks again what it is asked to delete: the SetIdentifier must parse, name this agent's cluster
//! (its tag, possibly shortened) and an owner other than this agent; anything else is refused and logged. The
//! deletes go out in batches through the same rate-limited [`DnsApi`] as every other request. On a conflict
//! (a record already gone or changed since it was read) or an ambiguous failure the names are re-read and each
//! record is settled on its own: gone is done, changed is kept (the next cycle decides again), identical is
//! deleted alone. Transient failures are retried a few times with backoff; nothing here ever stops the agent.

use std::collections::BTreeSet;
use std::time::Duration;

use actix::prelude::*;

use super::api::{read_name, DnsApi, DnsError, ErrorClass};
use super::io::send_all;
use super::{new_backoff, Route53Actor};
use crate::core::ownership::{is_cluster_tag_of, parse, Owner};
use crate::core::plan::Change;
use crate::core::record::{ARecord, RecordSet};

/// Tries of a purge batch that keeps failing transiently, before the cycle gives up (the next one tries again).
const ATTEMPTS: usize = 3;

/// Deletes records of dead owners of `cluster`, each exactly as read. Sent only by the elected janitor.
#[derive(Debug, Message)]
#[rtype(result = "PurgeOutcome")]
pub struct Purge {
    /// The full ECS cluster name the janitor serves.
    pub cluster: String,
    /// The records to delete, as the janitor read them from the zone.
    pub records: Vec<ARecord>,
}

/// What a [`Purge`] achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Records this purge deleted.
    pub removed: usize,
    /// Records that were already gone when re-read.
    pub already_gone: usize,
    /// Records left in place: refused, changed since they were read, or still failing.
    pub kept: usize,
    /// The last error, when something could not be done.
    pub error: Option<String>,
}

/// Splits `records` into those the janitor may delete and the number refused.
fn purgeable(me: &Owner, cluster: &str, records: Vec<ARecord>) -> (Vec<ARecord>, usize) {
    let serves_cluster = is_cluster_tag_of(me.cluster_tag(), cluster);
    let (ok, refused): (Vec<ARecord>, Vec<ARecord>) = records.into_iter().partition(|r| {
        parse(&r.key.set_identifier).is_some_and(|p| {
            serves_cluster && is_cluster_tag_of(p.cluster_tag, cluster) && p.owner != me.owner()
        })
    });
    for r in &refused {
        tracing::error!(record_name = %r.key.name, set_identifier = %r.key.set_identifier, cluster,
            "Refusing to purge a record that is not a dead owner's of this cluster.");
    }
    (ok, refused.len())
}

fn log_removed(zone_id: &str, changes: &[Change]) {
    for c in changes {
        let r = c.record();
        let owner = parse(&r.key.set_identifier).map_or("", |p| p.owner);
        tracing::info!(zone_id, record_name = %r.key.name, set_identifier = %r.key.set_identifier, ip = %r.ip,
            owner, "Removed record of a dead owner.");
    }
}

/// Deletes `records` in batches; see the module docs for how failures are settled.
pub(super) async fn purge(api: &dyn DnsApi, zone_id: &str, records: Vec<ARecord>) -> PurgeOutcome {
    let mut out = PurgeOutcome::default();
    let mut pending: Vec<Change> = records.into_iter().map(Change::Delete).collect();
    let mut backoff = new_backoff();
    for attempt in 1..=ATTEMPTS {
        let sent = send_all(api, zone_id, pending).await;
        log_removed(zone_id, &sent.applied);
        out.removed += sent.applied.len();
        let Some((rest, err)) = sent.failed else {
            return out;
        };
        let settle_first =
            matches!(err, DnsError::Ambiguous(_)) || err.class() == ErrorClass::Conflict;
        if settle_first {
            tracing::warn!(zone_id, error = %err, changes = rest.len(), "Purge batch conflicts with the zone; re-reading.");
            settle(api, zone_id, rest, &mut out).await;
            return out;
        }
        if err.class() == ErrorClass::Permanent || attempt == ATTEMPTS {
            tracing::warn!(zone_id, error = %err, changes = rest.len(), "Purge failed; the next janitor cycle tries again.");
            out.kept += rest.len();
            out.error = Some(err.to_string());
            return out;
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(5));
        tracing::warn!(zone_id, error = %err, ?delay, "Purge request failed; retrying.");
        actix_rt::time::sleep(delay).await;
        pending = rest;
    }
    out
}

/// Re-reads the names of `rest` and settles each record on its own.
async fn settle(api: &dyn DnsApi, zone_id: &str, rest: Vec<Change>, out: &mut PurgeOutcome) {
    let names: BTreeSet<&str> = rest.iter().map(|c| c.record().key.name.as_str()).collect();
    let mut read: Vec<RecordSet> = Vec::new();
    for name in names {
        match read_name(api, zone_id, name).await {
            Ok(sets) => read.extend(sets),
            Err(e) => {
                out.kept += rest.len();
                out.error = Some(e.to_string());
                return;
            }
        }
    }
    for change in rest {
        let r = change.record();
        let now = read.iter().find(|s| {
            s.name.eq_ignore_ascii_case(&r.key.name)
                && s.set_identifier.as_deref() == Some(r.key.set_identifier.as_str())
        });
        match now.map(|s| s.as_a_record().as_ref() == Some(r)) {
            None => out.already_gone += 1,
            Some(false) => {
                tracing::info!(zone_id, record_name = %r.key.name, set_identifier = %r.key.set_identifier,
                    "Record changed since the janitor read it; keeping it this cycle.");
                out.kept += 1;
            }
            Some(true) => match api.change(zone_id, std::slice::from_ref(&change)).await {
                Ok(()) => {
                    log_removed(zone_id, std::slice::from_ref(&change));
                    out.removed += 1;
                }
                Err(e) => {
                    out.kept += 1;
                    out.error = Some(e.to_string());
                }
            },
        }
    }
}

impl Handler<Purge> for Route53Actor {
    type Result = ResponseFuture<PurgeOutcome>;

    fn handle(&mut self, msg: Purge, _ctx: &mut Context<Self>) -> Self::Result {
        let (records, refused) = purgeable(&self.owner, &msg.cluster, msg.records);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        Box::pin(async move {
            let mut out = purge(&*api, &zone_id, records).await;
            out.kept += refused;
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::core::record::RecordKey;
    use crate::route53::fake::FakeRoute53;

    fn rec(name: &str, id: &str, ip: [u8; 4]) -> ARecord {
        ARecord {
            key: RecordKey {
                name: name.into(),
                set_identifier: id.into(),
            },
            ip: ip.into(),
            ttl: 60,
            weight: 1,
        }
    }

    #[test]
    fn only_other_owners_of_this_cluster_are_purgeable() {
        let me = Owner::new("prod", "me").unwrap();
        let records = vec![
            rec("a.z.", "r53d:prod:dead:t-1", [10, 0, 0, 1]),
            rec("a.z.", "r53d:prod:me:t-2", [10, 0, 0, 2]),
            rec("a.z.", "r53d:staging:dead:t-3", [10, 0, 0, 3]),
            rec("a.z.", "hand-made", [10, 0, 0, 4]),
        ];
        let (ok, refused) = purgeable(&me, "prod", records.clone());
        assert_eq!((ok, refused), (vec![records[0].clone()], 3));
        let (ok, refused) = purgeable(&me, "staging", records);
        assert_eq!((ok.len(), refused), (0, 4), "a janitor of another cluster");
    }

    #[actix_rt::test]
    async fn a_record_already_gone_is_settled_by_a_re_read() {
        let fake = FakeRoute53::new("Z1", "z.");
        let (a, b) = (
            rec("a.z.", "r53d:prod:dead:t-1", [10, 0, 0, 1]),
            rec("a.z.", "r53d:prod:dead:t-2", [10, 0, 0, 2]),
        );
        let changed = rec("b.z.", "r53d:prod:dead:t-3", [10, 0, 0, 3]);
        let ups = [a.clone(), b.clone(), changed.clone()].map(Change::Upsert);
        fake.change("Z1", &ups).await.unwrap();
        fake.change("Z1", &[Change::Delete(b.clone())])
            .await
            .unwrap();
        let now = rec("b.z.", "r53d:prod:dead:t-3", [10, 0, 0, 9]);
        fake.change("Z1", &[Change::Upsert(now)]).await.unwrap();
        let out = purge(&fake, "Z1", vec![a, b, changed]).await;
        assert_eq!(
            out,
            PurgeOutcome {
                removed: 1,
                already_gone: 1,
                kept: 1,
                error: None
            }
        );
        assert_eq!(fake.sets().len(), 1, "only the changed record is left");
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
        assert!(denied.error.unwrap().contains("AccessDenied"));
    }
}
