//! `JanitorActor`: removes the records of hosts that died without cleaning up. It runs in its own process — the
//! `janitor` command, one task of an ECS REPLICA service — never in the agents. Each cycle (jittered ±20 %):
//!
//! * **Read** ([`zone`]): the zone once, paced, counting the records of each owner of this cluster and scope, and
//!   keeping the records of owners already seen dead.
//! * **Judge** ([`verdict`]): EC2 says whether each owner's host lives (the owner id is its EC2 instance id).
//!   Running or pending keeps its records whatever ECS says; terminated, stopped or unknown to EC2 is dead; an
//!   error, throttling or a settling state is no verdict. Owners that are not EC2 instances are never judged.
//! * **Grace** ([`tracker::DeadTracker`]): an owner seen dead on consecutive cycles spanning at least `grace` is
//!   due; its records go as exact DELETEs in batches ([`purge`]), unless more owners look dead at once than
//!   [`plan::removal_limit`] allows (the brake).
//!
//! Two janitors at once (a deployment's overlap) are harmless: each judges alike, and a record the other deleted
//! first is settled as already gone. On [`Drain`] the cycle in flight ends at its next page or before its purge,
//! and the actor stops.

pub mod cycle;
pub mod ec2;
pub mod ecs;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod once;
pub mod plan;
pub mod purge;
pub mod sdk;
#[cfg(test)]
mod tests;
pub mod tracker;
pub mod verdict;
pub mod zone;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use self::cycle::{Cycle, Done, Report};
use self::ec2::Ec2Api;
use self::tracker::DeadTracker;
use crate::backoff::uniform;
use crate::event_watcher::Drain;
use crate::health::HealthState;
use crate::messages::Reporter;
use crate::metrics::JanitorCounters;
use crate::route53::api::DnsApi;

/// Settings of the janitor.
#[derive(Debug, Clone)]
pub struct JanitorConfig {
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>` (from its ARN): only records of this scope are judged.
    pub scope: String,
    /// Hosted zone id.
    pub zone_id: String,
    /// Time between cycles (each one jittered ±20 %; the first is uniform in `[0, first_within]`).
    pub interval: Duration,
    /// The first cycle comes at a random time within this.
    pub first_within: Duration,
    /// How long an owner must be seen dead before its records go.
    pub grace: Duration,
    /// The most owners one cycle removes (`janitor.max_owners_per_cycle`; never more than a quarter of the cluster).
    pub max_owners_per_cycle: usize,
    /// Least time between two pages of the zone read ([`zone`]).
    pub zone_pace: Duration,
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
    /// `r53d_janitor_*`, also logged every cycle.
    stats: JanitorCounters,
    /// Told when the actor stops.
    reporter: Reporter,
    /// Set by [`Drain`]: no cycle starts any more.
    stopping: bool,
}

/// The APIs a janitor asks.
pub struct Apis {
    /// EC2, the authority on whether an owner's host lives.
    pub ec2: Rc<dyn Ec2Api>,
    /// Route53 (rate-limited), for the zone read and the deletes.
    pub dns: Rc<dyn DnsApi>,
}

impl JanitorActor {
    /// A janitor that asks `apis`, counts into `stats` and reports its stop to `reporter`; `health` tells a cycle
    /// in flight that the process is stopping.
    pub fn new(
        config: JanitorConfig,
        apis: Apis,
        stats: JanitorCounters,
        health: Arc<HealthState>,
        reporter: Reporter,
    ) -> Self {
        let cycle = Rc::new(Cycle {
            ec2: apis.ec2,
            dns: apis.dns,
            cluster: config.cluster.clone(),
            scope: config.scope.clone(),
            zone_id: config.zone_id.clone(),
            health,
            max_owners: config.max_owners_per_cycle,
            zone_pace: config.zone_pace,
        });
        Self {
            tracker: Some(DeadTracker::new(config.grace, config.max_gap())),
            cycle,
            config,
            stats,
            reporter,
            stopping: false,
        }
    }

    fn start_cycle(&mut self, ctx: &mut Context<Self>) {
        if self.stopping || self.cycle.stopping() {
            return ctx.stop();
        }
        let Some(tracker) = self.tracker.take() else {
            return;
        };
        let run = cycle::run(self.cycle.clone(), tracker);
        ctx.spawn(run.into_actor(self).map(|(tracker, report), act, ctx| {
            act.tracker = Some(tracker);
            act.record(report);
            if act.stopping {
                return ctx.stop();
            }
            let i = act.config.interval;
            ctx.run_later(i.mul_f64(0.8) + uniform(i.mul_f64(0.4)), Self::start_cycle);
        }));
    }

    /// Logs the cycle and counts it.
    fn record(&self, report: Report) {
        match report {
            Report::ZoneUnreadable(e) if self.stopping || self.cycle.stopping() => {
                tracing::info!(cluster = %self.config.cluster, error = %e, "Janitor cycle cut short: stopping.");
            }
            Report::ZoneUnreadable(e) => {
                self.stats.cycles_skipped.inc();
                tracing::warn!(cluster = %self.config.cluster, zone_id = %self.config.zone_id, error = %e, "Janitor could not read the zone; skipping this cycle.");
            }
            Report::Done(done) => self.record_done(*done),
        }
    }

    fn record_done(&self, done: Done) {
        let (cluster, zone_id) = (self.config.cluster.as_str(), self.config.zone_id.as_str());
        let s = &self.stats;
        s.cycles.inc();
        s.owners_unjudged.set(done.unjudged as i64);
        for (owner, reason) in &done.observed.newly_dead {
            tracing::info!(cluster, owner = %owner, reason, grace = ?self.config.grace, "Owner looks dead; its records go after the grace period unless it comes back.");
        }
        for owner in &done.observed.back_alive {
            tracing::info!(cluster, owner = %owner, "Owner is back; keeping its records.");
        }
        for owner in &done.observed.unknown {
            tracing::info!(cluster, owner = %owner, "No verdict on an owner seen dead; its grace period starts over.");
        }
        if let Some(e) = &done.ec2_error {
            s.ec2_errors.inc();
            tracing::warn!(cluster, error = %e, "EC2 could not be asked; no owner is judged this cycle.");
        }
        s.brake_engaged.set(i64::from(!done.braked.is_empty()));
        if !done.braked.is_empty() {
            s.brakes.inc();
            tracing::error!(cluster, zone_id, due = done.braked.len(), seen_dead = done.seen_dead, limit = done.limit, owners = ?done.braked,
                "Janitor brake: more owners look dead at once than one cycle may remove; removing none.");
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
            unjudged = done.unjudged,
            ec2_calls = done.ec2_calls,
            dead_pending = done.observed.newly_dead.len(),
            removed = p.removed,
            already_gone = p.already_gone,
            kept = p.kept,
            error = p.error.as_deref().unwrap_or(""),
            owners_found_dead = s.owners_found_dead.get(),
            records_removed = s.records_removed.get(),
            "Janitor cycle done."
        );
    }
}

impl Actor for JanitorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(cluster = %self.config.cluster, scope = %self.config.scope, zone_id = %self.config.zone_id,
            interval = ?self.config.interval, grace = ?self.config.grace, "Janitor started.");
        ctx.run_later(uniform(self.config.first_within), Self::start_cycle);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.reporter.stopped("janitor");
    }
}

/// Stop: the cycle in flight ends at its next page or before its purge, and no other starts.
impl Handler<Drain> for JanitorActor {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        self.stopping = true;
        if self.tracker.is_some() {
            ctx.stop();
        }
    }
}
