//! One janitor cycle as a plain async function, without actix: read the zone, judge the owners, purge.
//!
//! ```text
//! ListResourceRecordSets (whole zone, paged, paced: super::zone) ─▶ this cluster's owners and their record counts,
//!   and the records of owners already seen dead ─▶ EC2 DescribeInstances of the owners that are EC2 instances
//!   (super::verdict) ─▶ DeadTracker (grace) ─▶ the brake ─▶ still not stopping? ─▶ exact DELETEs (super::purge)
//! ```
//!
//! A zone that cannot be read ends the cycle before anything is judged, and clears the tracker: only dead
//! sightings on consecutive judged cycles add up to the grace period. When owners are due but more owners are
//! seen dead (due, or their grace still running) than [`removal_limit`] allows, none is removed (the brake; they
//! stay due, so every cycle says so again). An EC2 error gives every owner no verdict this cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::ec2::{Ec2Api, Ec2Error};
use super::plan::removal_limit;
use super::purge::{purge, PurgeOutcome};
use super::tracker::{DeadTracker, Observed};
use super::verdict::verdicts;
use super::zone::{read_owners, Reader};
use crate::core::record::Record;
use crate::health::{HealthState, NotReady};
use crate::route53::api::{DnsApi, DnsError};

/// What a cycle works with; built once by the actor.
pub struct Cycle {
    /// EC2, the authority on whether an owner's host lives.
    pub ec2: Rc<dyn Ec2Api>,
    /// Route53 (rate-limited), for the zone read and the deletes.
    pub dns: Rc<dyn DnsApi>,
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>`: only records of this scope are judged.
    pub scope: String,
    /// Hosted zone id.
    pub zone_id: String,
    /// Read during the zone read and right before a purge: a stopping janitor sends nothing more.
    pub health: Arc<HealthState>,
    /// `janitor.max_owners_per_cycle` ([`removal_limit`]).
    pub max_owners: usize,
    /// Least time between two pages of the zone read (`1 / janitor.zone_read_per_sec`).
    pub zone_pace: Duration,
}

impl Cycle {
    /// True once the process is stopping (SIGTERM or a failure).
    pub fn stopping(&self) -> bool {
        self.health.readiness(Duration::MAX) == Err(NotReady::Draining)
    }
}

/// What a judged cycle found and did.
#[derive(Debug, Default)]
pub struct Done {
    /// Record sets read from the zone.
    pub zone_records: usize,
    /// Pages of the zone read, and the failed page requests it tried again.
    pub zone_pages: (usize, usize),
    /// How long the zone read took (paced).
    pub read_time: Duration,
    /// Owners of this cluster holding records.
    pub owners: usize,
    /// Owners no authority can judge (never deleted).
    pub unjudged: usize,
    /// What the tracker made of them.
    pub observed: Observed,
    /// Set when EC2 could not be asked: nobody got a verdict (every clock starts over).
    pub ec2_error: Option<Ec2Error>,
    /// `DescribeInstances` calls made.
    pub ec2_calls: usize,
    /// Records asked to be purged, per owner.
    pub doomed: BTreeMap<String, usize>,
    /// Owners due for removal that the brake held (more owners were seen dead than `limit`, their grace over or
    /// still running): none of them was purged.
    pub braked: Vec<String>,
    /// Owners seen dead this cycle, their grace over or still running.
    pub seen_dead: usize,
    /// How many owners this cycle could remove ([`removal_limit`]).
    pub limit: usize,
    /// What the deletes did, when something was purged.
    pub purge: Option<PurgeOutcome>,
}

impl Done {
    /// Owners whose records this cycle's purge removed entirely (deleted, or found already gone).
    pub fn owners_purged(&self) -> usize {
        let Some(p) = &self.purge else {
            return 0;
        };
        self.doomed
            .keys()
            .filter(|o| !p.kept_owners.contains(*o))
            .count()
    }
}

/// The result of one cycle.
#[derive(Debug)]
pub enum Report {
    /// The zone could not be read; nothing was judged or deleted.
    ZoneUnreadable(DnsError),
    /// Judged (and purged what was due).
    Done(Box<Done>),
}

/// Runs one cycle. The tracker goes in and comes back out, so the caller keeps it between cycles; it is cleared
/// when the zone could not be read.
pub async fn run(c: Rc<Cycle>, mut tracker: DeadTracker) -> (DeadTracker, Report) {
    let report = match judge(&c, &mut tracker).await {
        Ok((mut done, doomed)) => {
            if !doomed.is_empty() {
                done.purge = Some(send_purge(&c, doomed).await);
            }
            Report::Done(Box::new(done))
        }
        Err(e) => {
            tracker.clear();
            Report::ZoneUnreadable(e)
        }
    };
    (tracker, report)
}

/// Reads the zone, asks EC2 about this cluster's owners, folds the verdicts into the tracker. Returns what it
/// found and the records of owners dead past the grace period (none when the brake holds).
async fn judge(c: &Cycle, tracker: &mut DeadTracker) -> Result<(Done, Vec<Record>), DnsError> {
    let reader = Reader {
        zone_id: &c.zone_id,
        cluster: &c.cluster,
        scope: &c.scope,
        pace: c.zone_pace,
    };
    let keep: BTreeSet<String> = tracker.pending().into_iter().map(str::to_string).collect();
    let mut read = read_owners(&*c.dns, reader, &keep, || !c.stopping()).await?;
    let v = verdicts(&*c.ec2, read.counts.keys()).await;
    // Tokio's clock (simulations pause it); the tracker takes std instants.
    tracker.set_slack(read.took);
    let observed = tracker.observe(actix_rt::time::Instant::now().into_std(), &v.by_owner);
    let limit = removal_limit(c.max_owners, read.counts.len());
    // Owners whose grace still runs count too: an incident that unfolds over a few cycles must not trickle away
    // one owner at a time.
    let brake = !observed.due.is_empty() && tracker.dead_count() > limit;
    let (due, braked) = match brake {
        true => (Vec::new(), observed.due.clone()),
        false => (observed.due.clone(), Vec::new()),
    };
    // A due owner was seen dead before this read, so its records were kept (a grace of at least a second).
    let doomed: BTreeMap<String, Vec<Record>> = due
        .iter()
        .filter_map(|o| Some((o.clone(), read.kept.remove(o)?)))
        .collect();
    let done = Done {
        zone_records: read.zone_records,
        zone_pages: (read.pages, read.retries),
        read_time: read.took,
        owners: read.counts.len(),
        unjudged: v.unjudged,
        doomed: doomed.iter().map(|(o, r)| (o.clone(), r.len())).collect(),
        braked,
        limit,
        seen_dead: tracker.dead_count(),
        observed,
        ec2_error: v.ec2_error,
        ec2_calls: v.ec2_calls,
        purge: None,
    };
    Ok((done, doomed.into_values().flatten().collect()))
}

/// Deletes the records, unless the janitor started stopping during this cycle (checked right before sending).
async fn send_purge(c: &Cycle, records: Vec<Record>) -> PurgeOutcome {
    if c.stopping() {
        let mut unsent = PurgeOutcome::not_done(&records);
        unsent.error = Some("the janitor is stopping; nothing was sent".into());
        return unsent;
    }
    purge(&*c.dns, &c.zone_id, records).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_whose_records_all_went_count_as_purged() {
        let doomed = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 3)]);
        let mut done = Done {
            doomed,
            ..Done::default()
        };
        assert_eq!(done.owners_purged(), 0, "nothing sent");
        done.purge = Some(PurgeOutcome {
            removed: 4,
            kept: 1,
            kept_owners: ["b".to_string()].into(),
            ..PurgeOutcome::default()
        });
        assert_eq!(done.owners_purged(), 1, "b has a record left");
        done.purge = Some(PurgeOutcome {
            removed: 3,
            already_gone: 2,
            ..PurgeOutcome::default()
        });
        assert_eq!(done.owners_purged(), 2, "already gone counts as removed");
    }
}
