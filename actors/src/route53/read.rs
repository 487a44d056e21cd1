//! The writer's targeted reads of one name: before a change into it ([`Why::Before`]), and when its recheck is due
//! ([`Why::Recheck`]): an ambiguous request's second look `recheck_after` later, or the periodic verification.
//!
//! The verification reads every name this agent holds records under, one name per request, spread over its
//! interval: from its first round on an agent reads at most `names / interval`, and the interval grows with the
//! cluster so that all its agents together stay within [`VERIFY_FLEET_BUDGET`] ([`verify_interval`]) and with
//! the names so that one agent reads at most `route53.verify_reads_per_hour` ([`agent_verify_floor`]). Its first
//! round starts at a uniform time within one interval of the start, so a fleet restarted at once spreads out.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::api::{read_name, ErrorClass};
use super::step::Why;
use super::writer::{now, Writer};
use crate::backoff::uniform;
use crate::core::plan::weighted_counts;
use crate::core::record::RecordSet;
use crate::core::scan::other_hosts;
use crate::core::schedule::{
    agent_verify_floor, verify_interval, verify_round, VERIFY_FLEET_BUDGET,
};

impl Writer {
    /// Reads `name` and brings the book's view of it up to date.
    pub(super) async fn read(&mut self, name: String, why: Why) {
        match read_name(&*self.api, &self.config.zone_id, &name).await {
            Ok(sets) => {
                self.succeeded();
                if why == Why::Before {
                    self.reads_while_gathering += 1;
                }
                self.learned(&name, sets, why);
            }
            Err(e) if e.class() == ErrorClass::Permanent => {
                self.fail(format!("reading zone {}: {e}", self.config.zone_id));
            }
            Err(e) => {
                if why == Why::Recheck {
                    self.schedule.recheck_at([name.clone()], now());
                }
                self.retry_later(BTreeSet::new(), &e);
            }
        }
    }

    /// What a read of `name` found: refreshes the book there, logs drift after a recheck, and plans the name's
    /// keys again.
    fn learned(&mut self, name: &str, sets: Vec<RecordSet>, why: Why) {
        let names = BTreeSet::from([name.to_string()]);
        self.notes.warn_mismatches(&self.config, &sets);
        let ttls = self.notes.foreign_ttls(&self.config, &sets);
        self.book.set_foreign_ttls(Some(&names), ttls);
        self.notes
            .shared_owner_id(&self.config, &self.owner, other_hosts(&self.owner, &sets));
        let counts = weighted_counts(&sets);
        let inherited = super::launch::untagged(&self.owner, &sets);
        self.book
            .refresh_names(&names, super::launch::ours(&self.owner, sets), counts);
        self.book.add_inherited(inherited);
        self.names.learned(name);
        self.launch.touched(name);
        // Before the launch sweep a record no container wants may still be a running task's not registered yet:
        // only what containers want is planned again until then.
        let mut keys = match why {
            Why::Recheck if self.swept => self.book.keys_under(&names),
            _ => self.book.desired_keys_under(&names),
        };
        if why == Why::Recheck {
            keys.extend(self.ambiguous.remove(name).unwrap_or_default());
            self.log_drift(&keys);
        }
        self.book.mark_dirty(keys);
        self.publish();
        if !self.ambiguous.contains_key(name) {
            self.journal_settled(&names);
        }
        self.forget_empty(&names);
    }

    fn log_drift(&self, keys: &BTreeSet<crate::core::record::RecordKey>) {
        let drift = self.book.plan_keys(keys).changes;
        for change in &drift {
            let key = &change.record().key;
            tracing::warn!(zone_id = %self.config.zone_id, record_name = %key.name, set_identifier = %key.set_identifier,
                action = change.action(), "Record differs from what this agent expects; fixing it.");
        }
        self.metrics.drift.inc_by(drift.len() as u64);
    }

    /// The verification's interval now: `verify_interval`, longer when the fleet's or this agent's budget asks.
    fn verify_interval_now(&self, min: Duration, names: usize) -> Duration {
        let fleet = verify_interval(min, self.cluster_owners, names, VERIFY_FLEET_BUDGET);
        fleet.max(agent_verify_floor(names, self.config.verify_reads_per_hour))
    }

    /// Sets the first verification round, if configured: at a uniform time within one interval of `from` (a
    /// journal start, which read nothing), or one jittered interval after a full read.
    pub(super) fn start_verify(&mut self, from: Instant, after_full_read: bool) {
        let Some(min) = self.config.verify_interval else {
            return;
        };
        let interval = self.verify_interval_now(min, self.book.names().len());
        let first = if after_full_read {
            jittered(interval)
        } else {
            uniform(interval)
        };
        self.schedule.verify_at(from + first);
    }

    /// When a verification round is due: every name this agent holds records under is put up for a read, spread
    /// over most of the interval, and the next round is set one jittered interval away.
    pub(super) fn verify_if_due(&mut self, now: Instant) {
        let Some(min) = self.config.verify_interval else {
            return;
        };
        if self.schedule.take_verify(now) {
            let names = self.book.names();
            let interval = self.verify_interval_now(min, names.len());
            for (name, at) in verify_round(&names, now, interval.mul_f64(0.8)) {
                self.schedule.recheck_at([name], at);
            }
            tracing::debug!(zone_id = %self.config.zone_id, names = names.len(), ?interval, "Verification round.");
            self.schedule.verify_at(now + jittered(interval));
        }
    }
}

/// `interval` ±20 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.8) + uniform(interval.mul_f64(0.4))
}
