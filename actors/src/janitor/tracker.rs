//! The dead-owner tracker: the grace period as a pure rule over injected instants.
//!
//! An owner is due (its records go) only when it has been seen dead on a run of *consecutive* judged cycles
//! spanning at least the grace period. The run is broken, and the owner's clock starts over, when:
//!
//! * its authority reports the owner alive (it came back),
//! * no verdict on it in a cycle (`Unknown`): what happened meanwhile is not known,
//! * two sightings are more than `max_gap` apart (the janitor did not look for that long), or
//! * the janitor's cycle was skipped: the caller then [`DeadTracker::clear`]s the tracker.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::verdict::Liveness;

/// What one observation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Owners seen dead with no run of sightings going on (the grace period starts now).
    pub newly_dead: Vec<(String, &'static str)>,
    /// Owners that had been seen dead and are alive again (their records stay).
    pub back_alive: Vec<String>,
    /// Owners that had been seen dead and that got no verdict this time (their clock starts over).
    pub unknown: Vec<String>,
    /// Owners seen dead on consecutive cycles spanning at least the grace period: delete their records.
    pub due: Vec<String>,
}

/// The first and the latest sighting of one owner's current run.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: Instant,
    last: Instant,
}

/// Remembers, per owner, the run of dead sightings across this janitor's cycles.
#[derive(Debug)]
pub struct DeadTracker {
    grace: Duration,
    max_gap: Duration,
    /// Added to `max_gap` for the next observation: the time this cycle's own zone read took.
    slack: Duration,
    runs: HashMap<String, Run>,
}

impl DeadTracker {
    /// A tracker that declares an owner due after `grace`, and restarts its clock when two sightings are more
    /// than `max_gap` apart.
    pub fn new(grace: Duration, max_gap: Duration) -> Self {
        Self {
            grace,
            max_gap,
            slack: Duration::ZERO,
            runs: HashMap::new(),
        }
    }

    /// Allows sightings `slack` further apart than `max_gap` from now on: a paced zone read of that length came
    /// between this cycle's sighting and the previous one.
    pub fn set_slack(&mut self, slack: Duration) {
        self.slack = slack;
    }

    /// How many owners are seen dead now (their grace running or over).
    pub fn dead_count(&self) -> usize {
        self.runs.len()
    }

    /// Folds in one cycle's verdicts, taken at `now`. Owners absent from `verdicts` (no records left) are
    /// forgotten.
    pub fn observe(&mut self, now: Instant, verdicts: &BTreeMap<String, Liveness>) -> Observed {
        self.runs.retain(|owner, _| verdicts.contains_key(owner));
        let mut out = Observed::default();
        for (owner, verdict) in verdicts {
            match verdict {
                Liveness::Alive => {
                    if self.runs.remove(owner).is_some() {
                        out.back_alive.push(owner.clone());
                    }
                }
                Liveness::Unknown => {
                    if self.runs.remove(owner).is_some() {
                        out.unknown.push(owner.clone());
                    }
                }
                Liveness::Dead(reason) => self.seen_dead(now, owner, reason, &mut out),
            }
        }
        out
    }

    /// One dead sighting: extends the owner's run, or starts a new one when there is none or the last sighting
    /// is too old.
    fn seen_dead(&mut self, now: Instant, owner: &str, reason: &'static str, out: &mut Observed) {
        let run = match self.runs.get(owner) {
            Some(r)
                if now.saturating_duration_since(r.last)
                    <= self.max_gap.saturating_add(self.slack) =>
            {
                Run {
                    first: r.first,
                    last: now,
                }
            }
            _ => {
                out.newly_dead.push((owner.to_string(), reason));
                Run {
                    first: now,
                    last: now,
                }
            }
        };
        self.runs.insert(owner.to_string(), run);
        if now.saturating_duration_since(run.first) >= self.grace {
            out.due.push(owner.to_string());
        }
    }

    /// Forgets everything: the janitor skipped a cycle, so it cannot vouch for what happened meanwhile; every
    /// clock starts over.
    pub fn clear(&mut self) {
        self.runs.clear();
    }

    /// Owners currently seen dead and waiting out the grace period.
    pub fn pending(&self) -> BTreeSet<&str> {
        self.runs.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(600);
    /// Sightings every 300 s; a gap over 2 × 300 s breaks a run.
    const GAP: Duration = Duration::from_secs(600);

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    fn v(l: Liveness) -> BTreeMap<String, Liveness> {
        BTreeMap::from([("d".to_string(), l)])
    }

    fn dead() -> BTreeMap<String, Liveness> {
        v(Liveness::Dead("inactive"))
    }

    #[test]
    fn an_owner_is_due_after_consecutive_dead_sightings_spanning_the_grace_period() {
        let t0 = Instant::now();
        let mut t = DeadTracker::new(GRACE, GAP);
        let first = t.observe(t0, &dead());
        assert_eq!(first.newly_dead, vec![("d".to_string(), "inactive")]);
        assert!(first.due.is_empty());
        assert!(t.observe(at(t0, 300), &dead()).due.is_empty());
        assert!(t
            .observe(t0 + GRACE - Duration::from_millis(1), &dead())
            .due
            .is_empty());
        let due = t.observe(t0 + GRACE, &dead());
        assert_eq!(due.due, vec!["d".to_string()]);
        assert!(
            due.newly_dead.is_empty(),
            "still the first sighting's clock"
        );
    }

    #[test]
    fn an_owner_that_comes_back_within_the_grace_period_starts_over() {
        let t0 = Instant::now();
        let mut t = DeadTracker::new(Duration::from_secs(10), GAP);
        t.observe(t0, &v(Liveness::Dead("agent disconnected")));
        let back = t.observe(at(t0, 5), &v(Liveness::Alive));
        assert_eq!(back.back_alive, vec!["d".to_string()]);
        let again = t.observe(at(t0, 11), &dead());
        assert!(again.due.is_empty(), "the clock restarted at 11 s");
        assert_eq!(again.newly_dead.len(), 1);
        assert_eq!(t.observe(at(t0, 21), &dead()).due, vec!["d".to_string()]);
    }

    #[test]
    fn an_unknown_verdict_in_between_restarts_the_clock() {
        let t0 = Instant::now();
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        let unknown = t.observe(at(t0, 300), &v(Liveness::Unknown));
        assert_eq!(unknown.unknown, vec!["d".to_string()]);
        assert!(t.pending().is_empty());
        let blip = t.observe(at(t0, 600), &dead());
        assert!(
            blip.due.is_empty(),
            "not due at the first sighting after Unknown"
        );
        assert_eq!(blip.newly_dead.len(), 1);
        assert!(t.observe(at(t0, 900), &dead()).due.is_empty());
        assert_eq!(t.observe(at(t0, 1200), &dead()).due, vec!["d".to_string()]);
    }

    #[test]
    fn sightings_too_far_apart_restart_the_clock() {
        // Seen dead at t0; then no sighting for 15 minutes (the janitor was not running): the owner may have come
        // back meanwhile, so one more blip is not enough.
        let t0 = Instant::now();
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        let blip = t.observe(at(t0, 900), &dead());
        assert!(blip.due.is_empty());
        assert_eq!(blip.newly_dead.len(), 1, "a new run starts");
        assert!(t.observe(at(t0, 1200), &dead()).due.is_empty());
        assert_eq!(t.observe(at(t0, 1500), &dead()).due, vec!["d".to_string()]);
        // Right at the limit the run goes on.
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        assert_eq!(t.observe(t0 + GAP, &dead()).due, vec!["d".to_string()]);
    }

    #[test]
    fn a_slow_zone_read_widens_the_gap_by_its_own_length() {
        // A paced read of 500 s between two sightings 1 000 s apart: the run goes on (it broke before the slack).
        let t0 = Instant::now();
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        t.set_slack(Duration::from_secs(500));
        assert_eq!(t.observe(at(t0, 1000), &dead()).due, vec!["d".to_string()]);
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        t.set_slack(Duration::from_secs(399));
        let broke = t.observe(at(t0, 1000), &dead());
        assert!(
            broke.due.is_empty() && broke.newly_dead.len() == 1,
            "{broke:?}"
        );
    }

    #[test]
    fn skipped_cycles_in_between_restart_the_clock() {
        // The caller clears the tracker on every skipped cycle (the zone unreadable).
        let t0 = Instant::now();
        let mut t = DeadTracker::new(GRACE, GAP);
        t.observe(t0, &dead());
        t.observe(at(t0, 300), &dead());
        t.clear(); // skipped at 600
        let after = t.observe(at(t0, 900), &dead());
        assert!(after.due.is_empty(), "dead since t0, but not seen at 600");
        assert_eq!(after.newly_dead.len(), 1);
        assert!(t.observe(at(t0, 1200), &dead()).due.is_empty());
        assert_eq!(t.observe(at(t0, 1500), &dead()).due, vec!["d".to_string()]);
    }

    #[test]
    fn owners_without_records_are_forgotten() {
        let t0 = Instant::now();
        let mut t = DeadTracker::new(Duration::from_secs(1), GAP);
        let both = BTreeMap::from([
            ("a".to_string(), Liveness::Dead("inactive")),
            ("b".to_string(), Liveness::Dead("inactive")),
        ]);
        t.observe(t0, &both);
        let a = BTreeMap::from([("a".to_string(), Liveness::Dead("inactive"))]);
        t.observe(t0, &a);
        assert_eq!(t.pending(), BTreeSet::from(["a"]));
        t.clear();
        assert!(t.pending().is_empty());
        assert!(
            t.observe(at(t0, 5), &a).due.is_empty(),
            "a new run waits out the grace again"
        );
    }
}
