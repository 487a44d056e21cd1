//! Targeted re-reads that keep the writer's view of its own records honest without full zone reads.
//!
//! * **Recheck after an ambiguous failure.** A request that timed out (or whose answer was lost) may reach
//!   Route53 after the immediate re-read: its names are read once more `recheck_after` later, so a record that
//!   landed late is known (and removed if its container has stopped meanwhile).
//! * **Periodic verification** (`verify_interval`, jittered ±20 %): every name this agent holds records under is
//!   read again, and whatever differs from the book (a record deleted or changed by hand, a late landing) is fixed.
//!   It costs one paged read per name, so a few requests per interval; no request at all when the agent holds no
//!   records.
//!
//! Both go through [`Route53Actor::read_names`] with [`AfterRead::Verify`]; they never run while a request is in
//! flight, and stop being scheduled once nothing holds the actor's address (a drain).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::conflict::AfterRead;
use super::Route53Actor;
use crate::backoff::uniform;
use crate::core::record::RecordKey;

/// Delay before a failed recheck read is tried again, when the backoff has nothing better.
pub(super) const RECHECK_RETRY: Duration = Duration::from_secs(5);
/// How long a due recheck waits for a request in flight to finish.
const BUSY_WAIT: Duration = Duration::from_millis(200);

impl Route53Actor {
    /// Reads `names` again after `delay` (a name already due earlier keeps its earlier time).
    pub(super) fn recheck_later(
        &mut self,
        names: impl IntoIterator<Item = String>,
        delay: Duration,
        ctx: &mut Context<Self>,
    ) {
        let at = Instant::now() + delay;
        for name in names {
            let due = self.recheck.entry(name).or_insert(at);
            *due = (*due).min(at);
        }
        self.arm_recheck(ctx);
    }

    /// Makes sure a timer fires when the earliest recheck is due.
    fn arm_recheck(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.recheck.values().min().copied() else {
            return;
        };
        if let Some(old) = self.recheck_timer.take() {
            ctx.cancel_future(old);
        }
        let wait = next.saturating_duration_since(Instant::now());
        self.recheck_timer = Some(ctx.run_later(wait, Self::run_rechecks));
    }

    fn run_rechecks(&mut self, ctx: &mut Context<Self>) {
        self.recheck_timer = None;
        if !ctx.connected() {
            self.recheck.clear();
            return;
        }
        if self.in_flight {
            self.recheck_timer = Some(ctx.run_later(BUSY_WAIT, Self::run_rechecks));
            return;
        }
        let now = Instant::now();
        let due: BTreeSet<String> = self
            .recheck
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(name, _)| name.clone())
            .collect();
        self.recheck.retain(|name, _| !due.contains(name));
        self.arm_recheck(ctx);
        if due.is_empty() {
            return;
        }
        tracing::debug!(zone_id = %self.config.zone_id, names = due.len(), "Re-reading names to verify this agent's records.");
        let carriers = due.iter().map(|n| RecordKey {
            name: n.clone(),
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
        self.health.stats.drift.inc_by(drift.len() as u64);
        self.book.mark_dirty(keys);
        self.publish();
        self.kick(ctx);
    }

    /// Schedules the next periodic verification of every name this agent holds records under.
    pub(super) fn schedule_verify(&mut self, ctx: &mut Context<Self>) {
        let Some(interval) = self.config.verify_interval else {
            return;
        };
        let delay = interval.mul_f64(0.8) + uniform(interval.mul_f64(0.4));
        ctx.run_later(delay, |act, ctx| {
            if !ctx.connected() {
                return;
            }
            let names = act.book.names();
            act.recheck_later(names, Duration::ZERO, ctx);
            act.schedule_verify(ctx);
        });
    }
}
