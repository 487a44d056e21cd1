//! One janitor cycle as a plain async function, without actix: elect, read the zone, judge the owners, purge.
//!
//! ```text
//! (once) PutAttributes route53-discovery.janitor=<zone> on this agent's instance: a candidate from now on
//! no standing and the last full elections failed? hold: no call this cycle (waits double, super::standing)
//! step (super::standing): rest (no call) | check (describe the remembered janitor; full if it no longer serves)
//!   | full:
//! ListContainerInstances ACTIVE + DRAINING (paged) ─▶ DescribeContainerInstances, lowest ids first, until a
//!   connected candidate for this zone is found ─▶ elected? no: done (no zone read, nothing deleted)
//!                                       yes: ListResourceRecordSets (whole zone, paged, once, paced: super::zone)
//!                                            ─▶ this cluster's other owners ─▶ describe those not known yet
//!                                            ─▶ EC2 DescribeInstances of those ECS cannot vouch for (verdict)
//!                                            ─▶ DeadTracker (grace) ─▶ still not draining? ─▶ Purge to the writer
//! ```
//!
//! Any ECS error ends the cycle before anything is deleted, and clears the tracker (as does a lost election). When
//! owners are due but more owners are seen dead (due, or their grace still running) than [`removal_limit`]
//! allows, none is removed (the brake; they stay due, so every cycle says so again).
//! Owners whose id is not shaped like a container instance id are never judged (an `agent.owner_id` override is
//! unknown to ECS, not dead). An EC2 error gives the owners that needed EC2 no verdict ([`super::verdict`]).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::WeakRecipient;

use super::ec2::{Ec2Api, Ec2Error};
use super::ecs::{EcsApi, EcsError, Knowledge};
use super::elect::{announce, holding, stand};
use super::plan::{legacy_only, removal_limit};
use super::standing::Standing;
use super::standing_file::StandingStore;
use super::tracker::{DeadTracker, Observed};
use super::verdict::{verdicts, Judged};
use super::zone::{read_owners, Reader};
use crate::core::record::Record;
use crate::health::{HealthState, NotReady};
use crate::route53::api::{DnsApi, DnsError};
use crate::route53::{Purge, PurgeOutcome};

/// What a cycle works with; built once by the actor.
pub struct Cycle {
    /// ECS (rate-limited).
    pub ecs: Rc<dyn EcsApi>,
    /// EC2, asked only about owners ECS cannot vouch for.
    pub ec2: Rc<dyn Ec2Api>,
    /// Route53 (the writer's rate-limited client), for the zone read.
    pub dns: Rc<dyn DnsApi>,
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>`, when known: records of a same-named cluster elsewhere are not judged.
    pub scope: Option<String>,
    /// Hosted zone id.
    pub zone_id: String,
    /// This agent's owner id (its container instance id).
    pub me: String,
    /// Read right before a purge: a cycle that started before a drain sends nothing during it.
    pub health: Arc<HealthState>,
    /// `janitor.max_owners_per_cycle` ([`removal_limit`]).
    pub max_owners: usize,
    /// Least time between two pages of the zone read (`1 / janitor.zone_read_per_sec`).
    pub zone_pace: Duration,
    /// True once this agent's [`CANDIDATE_ATTRIBUTE`] is on its container instance (put at the first cycle,
    /// tried again every cycle until it is).
    pub announced: Cell<bool>,
    /// What the last full election found: which ECS call the next cycle makes ([`super::standing`]).
    pub standing: RefCell<Option<Standing>>,
    /// Where the standing is saved after each full election (`agent.state_dir`), so a restart resumes it.
    pub store: Option<StandingStore>,
    /// Without a standing: full elections failed in a row, and the cycles still to wait before the next one
    /// ([`super::standing::hold_after`]).
    pub held: Cell<(u32, u32)>,
}

impl Cycle {
    fn draining(&self) -> bool {
        self.health.readiness(Duration::MAX) == Err(NotReady::Draining)
    }
}

/// What an elected cycle found and did.
#[derive(Debug, Default)]
pub struct Done {
    /// Record sets read from the zone.
    pub zone_records: usize,
    /// Pages of the zone read, and the failed page requests it tried again.
    pub zone_pages: (usize, usize),
    /// How long the zone read took (paced).
    pub read_time: Duration,
    /// Other owners of this cluster holding records.
    pub owners: usize,
    /// What the tracker made of them.
    pub observed: Observed,
    /// Set when EC2 could not be asked: owners that needed it got no verdict (their clocks start over).
    pub ec2_error: Option<Ec2Error>,
    /// Records asked to be purged, per owner.
    pub doomed: BTreeMap<String, usize>,
    /// Owners due for removal that the brake held (more owners were seen dead than `limit`, their grace over or
    /// still running): none of them was purged.
    pub braked: Vec<String>,
    /// Owners seen dead this cycle, their grace over or still running.
    pub seen_dead: usize,
    /// How many owners this cycle could remove ([`removal_limit`]).
    pub limit: usize,
    /// The writer's answer, when something was purged.
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
    /// ECS could not be asked; nothing was read or deleted.
    Skipped(EcsError),
    /// No standing yet and the last full elections failed: this cycle waits (no ECS call) before the next try.
    Holding {
        /// Full elections failed in a row.
        failures: u32,
        /// Cycles still to wait after this one.
        cycles_left: u32,
    },
    /// Another instance is the janitor (or none can be); `listed` tells whether this agent's id is an instance
    /// of the cluster at all.
    NotElected {
        /// The elected instance, if any.
        janitor: Option<String>,
        /// This agent's owner id is among the cluster's ACTIVE/DRAINING instances.
        listed: bool,
    },
    /// Elected, but the zone could not be read; nothing was deleted.
    ZoneUnreadable(DnsError),
    /// Elected and done.
    Done(Box<Done>),
}

/// Runs one cycle. The tracker goes in and comes back out, so the caller keeps it between cycles; it is cleared
/// whenever the cycle does not end with a judgement (skipped, zone unreadable, not elected): only dead sightings
/// on consecutive judged cycles add up to the grace period.
pub async fn run(
    c: Rc<Cycle>,
    mut tracker: DeadTracker,
    writer: WeakRecipient<Purge>,
) -> (DeadTracker, Report) {
    let report = elect_and_judge(&c, &mut tracker, &writer).await;
    if !matches!(report, Report::Done(_)) {
        tracker.clear();
    }
    (tracker, report)
}

async fn elect_and_judge(
    c: &Cycle,
    tracker: &mut DeadTracker,
    writer: &WeakRecipient<Purge>,
) -> Report {
    announce(c).await;
    if let Some(report) = holding(c) {
        return report;
    }
    let (janitor, listed, known) = match stand(c).await {
        Ok(e) => e,
        Err(e) => return Report::Skipped(e),
    };
    if janitor.as_deref() != Some(c.me.as_str()) {
        return Report::NotElected { janitor, listed };
    }
    match judge(c, tracker, known).await {
        Ok((mut done, doomed)) => {
            if !doomed.is_empty() {
                done.purge = Some(send_purge(c, writer, doomed).await);
            }
            Report::Done(Box::new(done))
        }
        Err(report) => report,
    }
}

/// The elected part: reads the zone, asks ECS about this cluster's other owners, folds the verdicts into the
/// tracker. Returns what it found and the records of owners dead past the grace period.
async fn judge(
    c: &Cycle,
    tracker: &mut DeadTracker,
    mut known: Knowledge,
) -> Result<(Done, Vec<Record>), Report> {
    let reader = Reader {
        zone_id: &c.zone_id,
        cluster: &c.cluster,
        scope: c.scope.as_deref(),
        me: &c.me,
        pace: c.zone_pace,
    };
    let read = read_owners(&*c.dns, reader, || !c.draining())
        .await
        .map_err(Report::ZoneUnreadable)?;
    let by_owner = read.by_owner;
    let owners: Vec<String> = by_owner.keys().cloned().collect();
    let legacy = legacy_only(&by_owner, c.scope.as_deref());
    let judged = Judged {
        owners: &owners,
        legacy: &legacy,
    };
    let v = verdicts(&*c.ecs, &*c.ec2, &c.cluster, judged, &mut known)
        .await
        .map_err(Report::Skipped)?;
    // Tokio's clock (the fleet simulation pauses it); the tracker takes std instants.
    tracker.set_slack(read.took);
    let observed = tracker.observe(actix_rt::time::Instant::now().into_std(), &v.by_owner);
    // This agent is an owner of the cluster too.
    let limit = removal_limit(c.max_owners, by_owner.len() + 1);
    // Owners whose grace still runs count too: an incident that unfolds over a few cycles must not trickle away
    // one owner at a time.
    let brake = !observed.due.is_empty() && tracker.dead_count() > limit;
    let (due, braked) = match brake {
        true => (Vec::new(), observed.due.clone()),
        false => (observed.due.clone(), Vec::new()),
    };
    let doomed: Vec<Record> = due
        .iter()
        .flat_map(|o| by_owner[o].iter().cloned())
        .collect();
    let done = Done {
        zone_records: read.zone_records,
        zone_pages: (read.pages, read.retries),
        read_time: read.took,
        owners: by_owner.len(),
        doomed: due.iter().map(|o| (o.clone(), by_owner[o].len())).collect(),
        braked,
        limit,
        seen_dead: tracker.dead_count(),
        observed,
        ec2_error: v.ec2_error,
        purge: None,
    };
    Ok((done, doomed))
}

/// Hands the records to the writer, unless the agent started draining during this cycle (checked right before
/// sending). The strong address is held only while the purge runs, so it never keeps the writer alive through a
/// drain.
async fn send_purge(
    c: &Cycle,
    writer: &WeakRecipient<Purge>,
    records: Vec<Record>,
) -> PurgeOutcome {
    let mut unsent = PurgeOutcome::not_done(&records);
    let writer = match (c.draining(), writer.upgrade()) {
        (false, Some(writer)) => writer,
        (true, _) => {
            unsent.error = Some("the agent is draining; nothing was sent".into());
            return unsent;
        }
        (false, None) => {
            unsent.error = Some("the Route53 writer has stopped".into());
            return unsent;
        }
    };
    let msg = Purge {
        cluster: c.cluster.clone(),
        records,
    };
    writer.send(msg).await.unwrap_or_else(|e| {
        unsent.error = Some(format!("the Route53 writer did not answer: {e}"));
        unsent
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::janitor::plan::CANDIDATE_ATTRIBUTE;

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

    use crate::janitor::fake::FakeEcs;
    use crate::route53::fake::FakeRoute53;

    const LOW: &str = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const ME: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn cycle(ecs: &Rc<FakeEcs>, me: &str) -> Rc<Cycle> {
        Rc::new(Cycle {
            ecs: ecs.clone(),
            ec2: ecs.clone(),
            dns: Rc::new(FakeRoute53::new("Z1", "z.")),
            cluster: "prod".into(),
            scope: None,
            zone_id: "Z1".into(),
            me: me.into(),
            health: Arc::new(HealthState::default()),
            max_owners: 5,
            zone_pace: Duration::ZERO,
            announced: Cell::new(false),
            standing: RefCell::new(None),
            store: None,
            held: Cell::default(),
        })
    }

    /// A writer that is never asked: these zones hold no record to purge.
    struct Nobody;

    impl actix::Actor for Nobody {
        type Context = actix::Context<Self>;
    }

    impl actix::Handler<Purge> for Nobody {
        type Result = actix::MessageResult<Purge>;

        fn handle(&mut self, m: Purge, _: &mut Self::Context) -> Self::Result {
            actix::MessageResult(PurgeOutcome::not_done(&m.records))
        }
    }

    async fn once(c: &Rc<Cycle>) -> Report {
        use actix::Actor;
        let tracker = DeadTracker::new(Duration::ZERO, Duration::MAX);
        let writer = Nobody.start().recipient().downgrade();
        run(c.clone(), tracker, writer).await.1
    }

    #[actix_rt::test]
    async fn the_lowest_instance_without_a_candidate_agent_is_passed_over_and_the_announcement_is_made_once(
    ) {
        let ecs = Rc::new(FakeEcs::new("prod", 10));
        // The lowest instance runs no agent (daemon task pending) or one with the janitor off: no attribute.
        ecs.register(LOW);
        ecs.register(ME);
        let c = cycle(&ecs, ME);
        assert!(matches!(once(&c).await, Report::Done(_)), "elected");
        assert!(matches!(once(&c).await, Report::Done(_)));
        assert_eq!(ecs.attribute_calls(), 1, "announced once");
        let low = cycle(&ecs, LOW);
        low.announced.set(true); // as if announced for another zone: still not a candidate for Z1
        let r = once(&low).await;
        assert!(
            matches!(&r, Report::NotElected { janitor: Some(j), .. } if j == ME),
            "{r:?}"
        );
    }

    #[actix_rt::test]
    async fn with_no_candidate_anywhere_nobody_is_elected() {
        let ecs = Rc::new(FakeEcs::new("prod", 10));
        ecs.register(LOW);
        // This agent's own id is not an instance of the cluster: PutAttributes fails (TargetNotFound).
        let c = cycle(&ecs, ME);
        let r = once(&c).await;
        assert!(
            matches!(
                r,
                Report::NotElected {
                    janitor: None,
                    listed: false
                }
            ),
            "{r:?}"
        );
        assert!(!c.announced.get(), "tried again next cycle");
        once(&c).await;
        assert_eq!(ecs.attribute_calls(), 2);
    }

    #[actix_rt::test]
    async fn a_withdrawn_candidacy_is_not_elected() {
        let ecs = Rc::new(FakeEcs::new("prod", 10));
        ecs.register(ME);
        let c = cycle(&ecs, ME);
        assert!(matches!(once(&c).await, Report::Done(_)));
        // The graceful stop's withdrawal (bootstrap), by name and target only.
        ecs.delete_attribute("prod", ME, CANDIDATE_ATTRIBUTE)
            .await
            .unwrap();
        let r = once(&c).await;
        assert!(
            matches!(
                r,
                Report::NotElected {
                    janitor: None,
                    listed: true
                }
            ),
            "{r:?}"
        );
    }
}
