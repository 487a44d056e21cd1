//! The janitor's families (`r53d_janitor_*`): it counts into them directly, and logs their values every cycle.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{IntCounter, IntGauge};

use super::families::Families;

/// The janitor's counters, held in [`super::Metrics::janitor`].
#[derive(Clone)]
pub struct JanitorCounters {
    /// Cycles that read the zone and judged its owners.
    pub cycles: IntCounter,
    /// Owners declared dead past the grace period whose records were all removed (deleted, or found already
    /// gone) by one purge. An owner with a record left (changed since it was read, refused, or still failing) is
    /// counted by the later cycle that removes the rest.
    pub owners_found_dead: IntCounter,
    /// Records the janitor deleted.
    pub records_removed: IntCounter,
    /// Cycles skipped because the zone could not be read.
    pub cycles_skipped: IntCounter,
    /// Unix time (seconds) of the last cycle that completed; 0 before the first.
    pub last_cycle: IntGauge,
    /// 1 while the last cycle's brake held removals (alert on it), else 0.
    pub brake_engaged: IntGauge,
    /// Cycles whose brake held removals.
    pub brakes: IntCounter,
    /// Owners of the last cycle that no authority can judge: never removed.
    pub owners_unjudged: IntGauge,
    /// Cycles in which EC2 could not be asked, so nobody was judged.
    pub ec2_errors: IntCounter,
}

impl JanitorCounters {
    pub(super) fn new(f: &mut Families) -> Self {
        Self {
            cycles: f.counter(
                "r53d_janitor_cycles_total",
                "Janitor cycles that judged the zone's owners.",
            ),
            owners_found_dead: f.counter(
                "r53d_janitor_owners_found_dead_total",
                "Dead hosts whose records were purged.",
            ),
            records_removed: f.counter(
                "r53d_janitor_records_removed_total",
                "Records the janitor deleted.",
            ),
            cycles_skipped: f.counter(
                "r53d_janitor_cycles_skipped_total",
                "Janitor cycles skipped (the zone unreadable).",
            ),
            last_cycle: f.gauge(
                "r53d_janitor_last_cycle_timestamp_seconds",
                "Unix time of the last janitor cycle (0: none yet).",
            ),
            brake_engaged: f.gauge(
                "r53d_janitor_brake_engaged",
                "1 while the janitor's brake holds removals (too many owners look dead at once).",
            ),
            brakes: f.counter(
                "r53d_janitor_brakes_total",
                "Janitor cycles whose brake held removals.",
            ),
            owners_unjudged: f.gauge(
                "r53d_janitor_owners_unjudged",
                "Owners no authority can judge (ECS Anywhere hosts, configured owner ids); their records are never removed.",
            ),
            ec2_errors: f.counter(
                "r53d_janitor_ec2_errors_total",
                "Janitor cycles in which EC2 could not be asked, so nobody was judged.",
            ),
        }
    }

    /// Marks a completed cycle now.
    pub fn touch(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_cycle.set(now as i64);
    }
}

impl std::fmt::Debug for JanitorCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanitorCounters").finish_non_exhaustive()
    }
}
