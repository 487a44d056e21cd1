//! The janitor's counters: plain atomics shared through an `Arc`, logged every cycle and ready to be exported
//! as metrics (`elections_won`, `owners_found_dead`, `records_removed`, `cycles_skipped`, `last_cycle`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::health::Counter as Count;

/// What the janitor has done since the agent started.
#[derive(Debug, Default)]
pub struct JanitorStats {
    /// Cycles in which this agent was the elected janitor and finished its work.
    pub elections_won: Count,
    /// Owners declared dead past the grace period whose records were all removed (deleted, or found already
    /// gone) by one purge. An owner with a record left (changed since it was read, refused, or still failing) is
    /// counted by the later cycle that removes the rest.
    pub owners_found_dead: Count,
    /// Records the janitor deleted.
    pub records_removed: Count,
    /// Cycles skipped because ECS (or the zone read) failed.
    pub cycles_skipped: Count,
    /// Unix time (seconds) of the last cycle that completed, elected or not; 0 before the first.
    last_cycle: AtomicU64,
}

impl JanitorStats {
    /// Marks a completed cycle now.
    pub fn touch(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_cycle.store(now, Ordering::Relaxed);
    }

    /// Unix time of the last completed cycle; 0 before the first.
    pub fn last_cycle(&self) -> u64 {
        self.last_cycle.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_and_cycles_are_stamped() {
        let s = JanitorStats::default();
        s.records_removed.add(3);
        s.records_removed.inc();
        assert_eq!(s.records_removed.get(), 4);
        assert_eq!(s.last_cycle(), 0);
        s.touch();
        assert!(s.last_cycle() > 1_600_000_000);
    }
}
