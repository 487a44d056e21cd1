//! `JanitorActor`: removes the records of dead container instances of this cluster, with no Lambda and no lock
//! service. Every agent runs it; each cycle (jittered ±20 %) decides by a deterministic election over the ECS API
//! whether *this* agent is the cluster's janitor:
//!
//! * **Election** ([`plan::elect`]): among the cluster's ACTIVE and DRAINING container instances whose agent is
//!   connected, the lowest instance id wins. Agents that see the same ECS state agree; if the janitor's instance
//!   dies, its agent disconnects and another agent wins at its next cycle.
//! * **Judgement**: the janitor reads the zone once, paced ([`zone`]), keeps the records whose SetIdentifier names this cluster and
//!   another owner ([`plan::records_by_owner`]), and asks ECS about those owners — and EC2 about those ECS cannot
//!   vouch for ([`verdict`]). An owner unknown to ECS, or whose instance EC2 reports terminated, stopped or gone
//!   (its agent disconnected or INACTIVE), on consecutive judged cycles spanning at least `grace`
//!   ([`tracker::DeadTracker`]), is dead: its records go to the writer as one [`Purge`] (batched, rate-limited,
//!   exact DELETEs). An instance EC2 reports running keeps its records, whatever ECS says.
//! * **Safety**: any ECS error skips the cycle before anything is read or deleted, and starts every grace clock
//!   over; records of other clusters, of foreign writers and of this agent are never touched; a cycle that finds
//!   the agent draining sends nothing; nothing here stops the agent.
//!
//! The actor holds the writer only as a weak recipient, so it never keeps it alive during a drain; it stops by
//! itself once the agent drains.

pub mod cycle;
pub mod ec2;
pub mod ecs;
mod elect;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
#[cfg(test)]
mod fleet_tests;
pub mod once;
pub mod plan;
pub mod sdk;
pub mod standing;
pub mod standing_file;
#[cfg(test)]
mod tests;
pub mod tracker;
pub mod verdict;
pub mod zone;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix::WeakRecipient;

use self::cycle::{Cycle, Done, Report};
use self::ec2::Ec2Api;
use self::ecs::EcsApi;
use self::standing_file::StandingStore;
use self::tracker::DeadTracker;
use crate::backoff::uniform;
use crate::health::{HealthState, NotReady};
use crate::metrics::JanitorCounters;
use crate::route53::api::DnsApi;
use crate::route53::Purge;

/// Settings of the janitor.
#[derive(Debug, Clone)]
pub struct JanitorConfig {
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>`, when known ([`crate::core::ownership::Owner::region_account`]).
    pub scope: Option<String>,
    /// This agent's owner id (its container instance id).
    pub owner: String,
    /// Hosted zone id.
    pub zone_id: String,
    /// Time between cycles (each one jittered ±20 %; the first is uniform in `[0, interval]`).
    pub interval: Duration,
    /// How long an owner must be seen dead before its records go.
    pub grace: Duration,
    /// The most owners one cycle removes (`janitor.max_owners_per_cycle`; never more than a quarter of the cluster).
    pub max_owners_per_cycle: usize,
    /// Least time between two pages of the zone read ([`zone`]).
    pub zone_pace: Duration,
    /// Where the election standing is kept across restarts (`agent.state_dir`; `None`: in memory only).
    pub standing_dir: Option<std::path::PathBuf>,
}

/// Time a cycle's own requests may add between two sightings of an owner on consecutive cycles.
const CYCLE_ALLOWANCE: Duration = Duration::from_secs(30);

impl JanitorConfig {
    /// Two dead sightings further apart than this do not add up: the owner's grace clock starts over. Two
    /// consecutive cycles are at most 1.2 intervals apart, plus the time their requests take.
    pub fn max_gap(&self) -> Duration {
        self.interval
            .saturating_mul(2)
            .saturating_add(CYCLE_ALLOWANCE)
    }
}

/// The janitor.
pub struct JanitorActor {
    cycle: Rc<Cycle>,
    config: JanitorConfig,
    /// `None` while a cycle runs (the cycle owns it then).
    tracker: Option<DeadTracker>,
    /// The writer, weakly: the janitor must not keep it alive through a drain.
    writer: WeakRecipient<Purge>,
    /// `r53d_janitor_*`, also logged every cycle.
    stats: JanitorCounters,
    /// Read to stop once the agent drains.
    health: Arc<HealthState>,
}

/// The control-plane APIs a janitor asks.
pub struct Apis {
    /// ECS (rate-limited).
    pub ecs: Rc<dyn EcsApi>,
    /// EC2, asked only about owners ECS cannot vouch for.
    pub ec2: Rc<dyn Ec2Api>,
    /// Route53 (the writer's rate-limited client), for the zone read.
    pub dns: Rc<dyn DnsApi>,
}

impl JanitorActor {
    /// A janitor that asks `apis`, purges through `writer` and counts into `stats`.
    pub fn new(
        config: JanitorConfig,
        apis: Apis,
        writer: WeakRecipient<Purge>,
        stats: JanitorCounters,
        health: Arc<HealthState>,
    ) -> Self {
        let store = config.standing_dir.as_deref().and_then(|dir| {
            StandingStore::open(dir, &config.zone_id, &config.cluster, &config.owner)
                .map_err(|e| tracing::warn!(zone_id = %config.zone_id, path = %dir.display(), error = %e,
                    "agent.state_dir cannot be written: the janitor's standing is not kept, so every start elects in full."))
                .ok()
        });
        let standing = store.as_ref().and_then(StandingStore::load);
        let cycle = Rc::new(Cycle {
            ecs: apis.ecs,
            ec2: apis.ec2,
            dns: apis.dns,
            cluster: config.cluster.clone(),
            scope: config.scope.clone(),
            zone_id: config.zone_id.clone(),
            me: config.owner.clone(),
            health: health.clone(),
            max_owners: config.max_owners_per_cycle,
            zone_pace: config.zone_pace,
            announced: std::cell::Cell::new(false),
            standing: std::cell::RefCell::new(standing),
            store,
            held: std::cell::Cell::default(),
        });
        Self {
            tracker: Some(DeadTracker::new(config.grace, config.max_gap())),
            cycle,
            config,
            writer,
            stats,
            health,
        }
    }

    fn schedule(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        ctx.run_later(delay, Self::start_cycle);
    }

    fn start_cycle(&mut self, ctx: &mut Context<Self>) {
        let draining = self.health.readiness(Duration::MAX) == Err(NotReady::Draining);
        if draining || self.writer.upgrade().is_none() {
            return ctx.stop();
        }
        let Some(tracker) = self.tracker.take() else {
            return;
        };
        let run = cycle::run(self.cycle.clone(), tracker, self.writer.clone());
        ctx.spawn(run.into_actor(self).map(|(tracker, report), act, ctx| {
            act.tracker = Some(tracker);
            act.record(report);
            let i = act.config.interval;
            act.schedule(i.mul_f64(0.8) + uniform(i.mul_f64(0.4)), ctx);
        }));
    }

    /// Logs the cycle and counts it.
    fn record(&self, report: Report) {
        let cluster = self.config.cluster.as_str();
        match report {
            Report::Skipped(e) if e.is_transient() => {
                self.stats.cycles_skipped.inc();
                tracing::warn!(cluster, error = %e, "ECS API unavailable; skipping this janitor cycle.");
            }
            Report::Skipped(e) => {
                self.stats.cycles_skipped.inc();
                tracing::error!(cluster, error = %e, "ECS API refused the janitor's request (check ecs:ListContainerInstances and ecs:DescribeContainerInstances on the cluster); skipping this janitor cycle.");
            }
            Report::NotElected { janitor: None, .. } => {
                self.stats.touch();
                self.stats.no_candidate.inc();
                tracing::warn!(cluster, zone_id = %self.config.zone_id, "No janitor this cycle: no ACTIVE or DRAINING instance of the cluster with a connected ECS agent runs an agent that announced its janitor for this zone (ECS attribute route53-discovery.janitor). Nobody removes dead instances' records until one does.");
            }
            Report::NotElected {
                janitor: Some(janitor),
                listed,
            } => {
                self.stats.touch();
                self.stats.elections_lost.inc();
                if listed {
                    tracing::debug!(cluster, owner = %self.config.owner, janitor = %janitor, "Not the elected janitor this cycle.");
                } else {
                    tracing::warn!(cluster, owner = %self.config.owner, janitor = %janitor, "This agent's owner id is not an ACTIVE or DRAINING container instance of the cluster, so it is never the janitor.");
                }
            }
            Report::Holding {
                failures,
                cycles_left,
            } => {
                self.stats.cycles_skipped.inc();
                tracing::info!(cluster, failures, cycles_left, "No janitor standing yet and the last full elections failed: waiting before electing again (no ECS call this cycle).");
            }
            Report::ZoneUnreadable(e) => {
                self.stats.cycles_skipped.inc();
                tracing::warn!(cluster, zone_id = %self.config.zone_id, error = %e, "Janitor could not read the zone; skipping this cycle.");
            }
            Report::Done(done) => self.record_done(*done),
        }
    }

    fn record_done(&self, done: Done) {
        let (cluster, zone_id) = (self.config.cluster.as_str(), self.config.zone_id.as_str());
        let s = &self.stats;
        s.elections_won.inc();
        for (owner, reason) in &done.observed.newly_dead {
            tracing::info!(cluster, owner = %owner, reason, grace = ?self.config.grace, "Owner looks dead; its records go after the grace period unless it comes back.");
        }
        for owner in &done.observed.back_alive {
            tracing::info!(cluster, owner = %owner, "Owner is back; keeping its records.");
        }
        for owner in &done.observed.unknown {
            tracing::info!(cluster, owner = %owner, "No verdict on an owner seen dead (ECS said nothing, EC2 could not be asked, or its instance is stopping); its grace period starts over.");
        }
        if let Some(e) = &done.ec2_error {
            tracing::warn!(cluster, error = %e, "EC2 could not be asked about owners whose ECS agent is disconnected (check ec2:DescribeInstances); they get no verdict this cycle and nothing of theirs is deleted.");
        }
        s.brake_engaged.set(i64::from(!done.braked.is_empty()));
        if !done.braked.is_empty() {
            s.brakes.inc();
            tracing::error!(cluster, zone_id, due = done.braked.len(), seen_dead = done.seen_dead, limit = done.limit, owners = ?done.braked,
                "Janitor brake: more owners look dead at once than one cycle may remove (janitor.max_owners_per_cycle, at most a quarter of the cluster); removing none. That looks like an incident (an AZ, network or ECS outage), not instances dying: check them. The brake holds every cycle until fewer are due or janitor.max_owners_per_cycle is raised.");
        }
        for (owner, records) in &done.doomed {
            tracing::warn!(cluster, zone_id, owner = %owner, records, "Owner dead past the grace period; deleting its records.");
        }
        s.owners_found_dead.inc_by(done.owners_purged() as u64);
        if let Some(p) = &done.purge {
            s.records_removed.inc_by(p.removed as u64);
        }
        s.touch();
        let p = done.purge.unwrap_or_default();
        tracing::info!(
            cluster,
            zone_id,
            zone_records = done.zone_records,
            zone_pages = done.zone_pages.0,
            zone_page_retries = done.zone_pages.1,
            read_secs = done.read_time.as_secs_f64(),
            owners = done.owners,
            dead_pending = done.observed.newly_dead.len(),
            removed = p.removed,
            already_gone = p.already_gone,
            kept = p.kept,
            error = p.error.as_deref().unwrap_or(""),
            elections_won = s.elections_won.get(),
            owners_found_dead = s.owners_found_dead.get(),
            records_removed = s.records_removed.get(),
            last_cycle = s.last_cycle.get(),
            "Janitor cycle done."
        );
    }
}

impl Actor for JanitorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(cluster = %self.config.cluster, owner = %self.config.owner, interval = ?self.config.interval,
            grace = ?self.config.grace, "Janitor started.");
        self.schedule(uniform(self.config.interval), ctx);
    }
}
