//! The Route53 writer's timing, as pure state over injected instants: whether a request may go now (none during a
//! backoff), which keys sit in quarantine until when, which names are read again when (an ambiguous failure's
//! recheck, the periodic verification, spread over its interval), and how far the flush accounting has come. The
//! writer's loop sleeps until [`Schedule::next_wake`] when it has nothing else to do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::core::record::RecordKey;

/// The writer's schedule.
#[derive(Debug, Default)]
pub struct Schedule {
    /// No request goes before this (a backoff).
    retry_at: Option<Instant>,
    quarantine: BTreeMap<RecordKey, Instant>,
    recheck: BTreeMap<String, Instant>,
    verify_due: Option<Instant>,
    /// Changes received, and how many of them have been attempted.
    received: u64,
    done: u64,
}

impl Schedule {
    /// Counts a change received; returns its number.
    pub fn received(&mut self) -> u64 {
        self.received += 1;
        self.received
    }

    /// The number of the latest change received.
    pub fn latest(&self) -> u64 {
        self.received
    }

    /// Every change up to number `upto` has been attempted; returns how far that has come.
    pub fn complete(&mut self, upto: u64) -> u64 {
        self.done = self.done.max(upto);
        self.done
    }

    /// How far the attempts have come.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Changes received and not yet attempted.
    pub fn queued(&self) -> u64 {
        self.received.saturating_sub(self.done)
    }

    /// True when a request may go at `now`: no backoff running (a backoff that has run out is over).
    pub fn ready(&mut self, now: Instant) -> bool {
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
        }
        self.retry_at.is_none()
    }

    /// A request failed transiently: nothing goes before `until`.
    pub fn back_off(&mut self, until: Instant) {
        self.retry_at = Some(until);
    }

    /// A request went through: the backoff is over.
    pub fn succeeded(&mut self) {
        self.retry_at = None;
    }

    /// Puts `keys` aside until `until`.
    pub fn quarantine(&mut self, keys: impl IntoIterator<Item = RecordKey>, until: Instant) {
        self.quarantine.extend(keys.into_iter().map(|k| (k, until)));
    }

    /// The quarantined keys due at `now`, no longer quarantined.
    pub fn release_quarantine(&mut self, now: Instant) -> Vec<RecordKey> {
        take_due(&mut self.quarantine, now).into_iter().collect()
    }

    /// Reads `names` again at `at`. A name already waiting waits for the later of the two times: one read after
    /// every pending window covers them all, while the earlier time could come before a change of the later
    /// window lands.
    pub fn recheck_at(&mut self, names: impl IntoIterator<Item = String>, at: Instant) {
        for name in names {
            let due = self.recheck.entry(name).or_insert(at);
            *due = (*due).max(at);
        }
    }

    /// The earliest name whose recheck is due at `now`, taken off the list: one read per request, so a failure
    /// costs only that name and the rest keep their turn.
    pub fn take_due_recheck(&mut self, now: Instant) -> Option<String> {
        let (name, _) = self
            .recheck
            .iter()
            .filter(|(_, t)| **t <= now)
            .min_by_key(|(_, t)| **t)?;
        let name = name.clone();
        self.recheck.remove(&name);
        Some(name)
    }

    /// True when a recheck of `name` is still waiting.
    pub fn recheck_pending(&self, name: &str) -> bool {
        self.recheck.contains_key(name)
    }

    /// The next periodic verification is due at `at`.
    pub fn verify_at(&mut self, at: Instant) {
        self.verify_due = Some(at);
    }

    /// True (once) when the periodic verification is due at `now`; the caller sets the next one.
    pub fn take_verify(&mut self, now: Instant) -> bool {
        if self.verify_due.is_some_and(|t| t <= now) {
            self.verify_due = None;
            return true;
        }
        false
    }

    /// The writer drains: rechecks, the verification and quarantined keys are dropped (a drain does not wait for
    /// them); a backoff of pending changes still runs.
    pub fn drain(&mut self) {
        self.recheck.clear();
        self.verify_due = None;
        self.quarantine.clear();
    }

    /// When something is due next: the end of a running backoff (nothing can be done before it, and pending
    /// changes go then), else a recheck, the verification or a quarantined key.
    pub fn next_wake(&self) -> Option<Instant> {
        let rechecks = self.recheck.values().copied();
        let quarantine = self.quarantine.values().copied();
        let due = rechecks.chain(quarantine).chain(self.verify_due).min();
        self.retry_at.or(due)
    }
}

/// One verification round of `names` starting at `now`: the names' reads spread evenly over `spread`, so an
/// agent's verification costs at most `names / spread` requests a second at any moment, from its first round on.
pub fn verify_round(
    names: &BTreeSet<String>,
    now: Instant,
    spread: Duration,
) -> Vec<(String, Instant)> {
    let step = spread
        .checked_div(names.len().max(1) as u32)
        .unwrap_or_default();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), now + step * i as u32))
        .collect()
}

/// The keys of `map` due at `now`, taken out of it.
fn take_due<K: Ord + Clone>(map: &mut BTreeMap<K, Instant>, now: Instant) -> BTreeSet<K> {
    let due: BTreeSet<K> = map
        .iter()
        .filter(|(_, t)| **t <= now)
        .map(|(k, _)| k.clone())
        .collect();
    map.retain(|k, _| !due.contains(k));
    due
}

/// The share of the account's Route53 quota (5 requests/s) the fleet's periodic verifications may use together:
/// 5 %, 0.25 requests/s, 900 requests an hour, whatever the fleet's size.
pub const VERIFY_FLEET_BUDGET: f64 = 0.25;

/// The longest verification interval, whatever the fleet: a deleted record is back within a day at worst.
pub const MAX_VERIFY_INTERVAL: Duration = Duration::from_secs(86_400);

/// How often one agent verifies its records so that the whole fleet's verifications stay within
/// `fleet_requests_per_sec` of the account's Route53 quota: `owners` agents (this cluster's owners holding records,
/// this one included) each reading `requests` names per verification. Never more often than `min` (the configured
/// interval), never less often than [`MAX_VERIFY_INTERVAL`]. Each agent computes its own from its own cost, so
/// the fleet's rate is `owners × requests / interval` ≤ the budget.
pub fn verify_interval(
    min: Duration,
    owners: usize,
    requests: usize,
    fleet_requests_per_sec: f64,
) -> Duration {
    let load = owners.max(1) as f64 * requests.max(1) as f64;
    let secs = load / fleet_requests_per_sec.max(f64::MIN_POSITIVE);
    let budgeted = Duration::try_from_secs_f64(secs).unwrap_or(MAX_VERIFY_INTERVAL);
    budgeted.clamp(min, MAX_VERIFY_INTERVAL.max(min))
}

/// The default of `route53.verify_reads_per_hour`: an idle agent's verification reads at most 4 names an hour.
pub const VERIFY_AGENT_READS_PER_HOUR: f64 = 4.0;

/// The least verification interval of one agent reading `requests` names per verification within `per_hour` reads
/// an hour (`None`: no per-agent limit), at most [`MAX_VERIFY_INTERVAL`].
pub fn agent_verify_floor(requests: usize, per_hour: Option<f64>) -> Duration {
    let Some(per_hour) = per_hour else {
        return Duration::ZERO;
    };
    let secs = requests.max(1) as f64 * 3600.0 / per_hour.max(f64::MIN_POSITIVE);
    Duration::try_from_secs_f64(secs)
        .unwrap_or(MAX_VERIFY_INTERVAL)
        .min(MAX_VERIFY_INTERVAL)
}

#[cfg(test)]
#[path = "schedule/tests.rs"]
mod tests;
