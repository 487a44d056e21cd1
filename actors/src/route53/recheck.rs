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
//! flight. One short timer (at most [`TICK`]) drives them, so a drain is never held up by a long timer: once
//! nothing holds the actor's address the checks stop and the writer can stop.

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
/// The longest timer the checks keep: a drain never waits on a long timer, and stops them within this.
const TICK: Duration = Duration::from_secs(1);

impl Route53Actor {
    /// Reads `names` again after `delay`. A name already waiting waits for the later of the two times: one read
    /// after every pending window covers them all, while the earlier time could come before a change of the
    /// later window lands.
    pub(super) fn recheck_later(
        &mut self,
        names: impl IntoIterator<Item = String>,
        delay: Duration,
        ctx: &mut Context<Self>,
    ) {
        let at = Instant::now() + delay;
        for name in names {
            let due = self.recheck.entry(name).or_insert(at);
            *due = (*due).max(at);
        }
        self.arm_tick(ctx);
    }

    /// Starts the periodic verification, if configured (the first one after one jittered interval).
    pub(super) fn start_verify(&mut self, ctx: &mut Context<Self>) {
        if let Some(interval) = self.config.verify_interval {
            self.verify_due = Some(Instant::now() + jittered(interval));
            self.arm_tick(ctx);
        }
    }

    /// Makes sure a tick comes when the next check is due, or within [`TICK`], whichever is sooner.
    fn arm_tick(&mut self, ctx: &mut Context<Self>) {
        if self.recheck_timer.is_some() {
            return;
        }
        let next = self.recheck.values().copied().chain(self.verify_due).min();
        if let Some(next) = next {
            let wait = next.saturating_duration_since(Instant::now()).min(TICK);
            self.recheck_timer = Some(ctx.run_later(wait, Self::tick));
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.recheck_timer = None;
        if !ctx.connected() {
            // Draining: nothing holds the writer's address any more; let it stop.
            self.recheck.clear();
            self.verify_due = None;
            return;
        }
        let now = Instant::now();
        if let (Some(due), Some(interval)) = (self.verify_due, self.config.verify_interval) {
            if due <= now {
                let names = self.book.names();
                self.recheck_later(names, Duration::ZERO, ctx);
                self.verify_due = Some(now + jittered(interval));
            }
        }
        if self.in_flight {
            self.recheck_timer = Some(ctx.run_later(BUSY_WAIT, Self::tick));
            return;
        }
        self.run_due_rechecks(now, ctx);
        self.arm_tick(ctx);
    }

    fn run_due_rechecks(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let due: BTreeSet<String> = self
            .recheck
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(name, _)| name.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        self.recheck.retain(|name, _| !due.contains(name));
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
