//! Targeted re-reads that keep the writer's view of its own records honest without full zone reads.
//!
//! * **Recheck after an ambiguous failure.** A request that timed out (or whose answer was lost) may reach
//!   Route53 after the immediate re-read: its names are read once more `recheck_after` later, so a record that
//!   landed late is known (and removed if its container has stopped meanwhile).
//! * **Periodic verification** (`verify_interval`, jittered ±20 %, longer in a large fleet): every name this agent
//!   holds records under is read again, and whatever differs from the book (a record deleted or changed by hand or
//!   by a janitor that misjudged, a late landing) is fixed. It costs one paged read per name; no request at all
//!   when the agent holds no records. The interval grows with the cluster so that all its agents together stay
//!   within [`VERIFY_FLEET_BUDGET`] ([`verify_interval`]), and with the names it holds so that an idle agent reads
//!   at most `route53.verify_reads_per_hour` names an hour ([`agent_verify_floor`]; default 4).
//!
//! Both go through [`Route53Actor::read_names`] with [`AfterRead::Verify`]; they never run while a request is in
//! flight. When they are due is the [`Schedule`]'s to say; the writer's one timer (`send.rs`, at most a second
//! away) runs them, so a drain is never held up by a long timer: once nothing holds the actor's address the checks
//! stop and the writer can stop.
//!
//! [`Schedule`]: crate::core::schedule::Schedule

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::conflict::AfterRead;
use super::Route53Actor;
use crate::backoff::uniform;
use crate::core::record::RecordKey;
use crate::core::schedule::{agent_verify_floor, verify_interval, VERIFY_FLEET_BUDGET};

impl Route53Actor {
    /// Reads `names` again after `delay` (a name already waiting waits for the later time).
    pub(super) fn recheck_later(
        &mut self,
        names: impl IntoIterator<Item = String>,
        delay: Duration,
        ctx: &mut Context<Self>,
    ) {
        self.schedule.recheck_at(names, Instant::now() + delay);
        self.arm(ctx);
    }

    /// Starts the periodic verification, if configured (the first one after one jittered interval).
    pub(super) fn start_verify(&mut self, ctx: &mut Context<Self>) {
        if let Some(interval) = self.config.verify_interval {
            self.schedule.verify_at(Instant::now() + jittered(interval));
            self.arm(ctx);
        }
    }

    /// When the verification is due: every name this agent holds records under is read again now, and the next
    /// verification is set, `verify_interval` away unless the fleet's share of the Route53 quota asks for longer
    /// ([`verify_interval`]: this cluster's owners, each reading its names).
    pub(super) fn verify_if_due(&mut self, now: Instant) {
        let Some(min) = self.config.verify_interval else {
            return;
        };
        if self.schedule.take_verify(now) {
            let names = self.book.names();
            let fleet = verify_interval(min, self.cluster_owners, names.len(), VERIFY_FLEET_BUDGET);
            let interval = fleet.max(agent_verify_floor(
                names.len(),
                self.config.verify_reads_per_hour,
            ));
            self.schedule.recheck_at(names, now);
            self.schedule.verify_at(now + jittered(interval));
        }
    }

    /// Reads the names whose recheck is due (none while a request is under way).
    pub(super) fn run_due_rechecks(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let due = self.schedule.take_due_rechecks(now);
        if due.is_empty() {
            return;
        }
        tracing::debug!(zone_id = %self.config.zone_id, names = due.len(), "Re-reading names to verify this agent's records.");
        let carriers = due.iter().map(|n| RecordKey {
            name: n.clone(),
            record_type: crate::core::record::RecordType::A,
            set_identifier: String::new(),
        });
        self.read_names(due.clone(), carriers.collect(), AfterRead::Verify, ctx);
    }

    /// After a verification read: plans every key under `names`, logs drift, sends the fixes.
    pub(super) fn verified(&mut self, names: &BTreeSet<String>, ctx: &mut Context<Self>) {
        let keys = self.book.keys_under(names);
        let drift = self.book.plan_keys(&keys).changes;
        for change in &drift {
            let key = &change.record().key;
            tracing::warn!(zone_id = %self.config.zone_id, record_name = %key.name, set_identifier = %key.set_identifier,
                action = change.action(), "Record differs from what this agent expects; fixing it.");
        }
        self.metrics.drift.inc_by(drift.len() as u64);
        self.book.mark_dirty(keys);
        self.publish();
        self.kick(ctx);
    }
}

/// `interval` ±20 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.8) + uniform(interval.mul_f64(0.4))
}
