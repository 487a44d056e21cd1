//! Shared, lock-light health state: written by the actors, read by the HTTP endpoints.
//!
//! It holds no actor addresses, so the health server never keeps the pipeline alive during a drain. The Prometheus
//! metrics live beside it (`Metrics`, in the `metrics` module), not in it: an actor that changes both updates each.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::core::record::Record;

/// What `/healthz`, `/readyz` and `/records` report.
#[derive(Debug)]
pub struct HealthState {
    created: Instant,
    /// Milliseconds after `created` of the last heartbeat from the actor system's main arbiter.
    last_beat_ms: AtomicU64,
    synced: AtomicBool,
    draining: AtomicBool,
    stream_down_since: Mutex<Option<Instant>>,
    records: RwLock<Vec<Record>>,
}

/// Why the agent is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The launch sync has not finished.
    Syncing,
    /// The agent is shutting down.
    Draining,
    /// The Docker event stream has been down longer than the limit.
    EventStreamDown,
}

impl Default for HealthState {
    fn default() -> Self {
        Self {
            created: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            synced: AtomicBool::default(),
            draining: AtomicBool::default(),
            stream_down_since: Mutex::default(),
            records: RwLock::default(),
        }
    }
}

impl HealthState {
    /// Called periodically from the actor system; proves it still runs.
    pub fn beat(&self) {
        self.last_beat_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::SeqCst);
    }

    /// True when the actor system has beaten within `limit` (or the process is younger than `limit`).
    pub fn is_live(&self, limit: Duration) -> bool {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_beat_ms.load(Ordering::SeqCst)) <= limit.as_millis() as u64
    }

    /// Marks the launch sync as done.
    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::SeqCst);
    }

    /// Marks the agent as draining; it never becomes ready again.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Records that the event stream is down (keeps the first time) or up again.
    pub fn set_stream_down(&self, down: bool) {
        let mut since = self
            .stream_down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match (down, since.is_some()) {
            (true, false) => *since = Some(Instant::now()),
            (false, _) => *since = None,
            _ => {}
        }
    }

    /// Ready, or the reason it is not.
    pub fn readiness(&self, stream_down_limit: Duration) -> Result<(), NotReady> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(NotReady::Draining);
        }
        if !self.synced.load(Ordering::SeqCst) {
            return Err(NotReady::Syncing);
        }
        let since = *self
            .stream_down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match since {
            Some(t) if t.elapsed() > stream_down_limit => Err(NotReady::EventStreamDown),
            _ => Ok(()),
        }
    }

    /// Replaces the view of the records this agent holds.
    pub fn set_records(&self, records: Vec<Record>) {
        *self.records.write().unwrap_or_else(|p| p.into_inner()) = records;
    }

    /// The records this agent holds, sorted by name and SetIdentifier.
    pub fn records(&self) -> Vec<Record> {
        self.records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_sync_stream_and_drain() {
        let h = HealthState::default();
        assert_eq!(h.readiness(Duration::from_secs(60)), Err(NotReady::Syncing));
        h.set_synced();
        assert_eq!(h.readiness(Duration::from_secs(60)), Ok(()));
        h.set_stream_down(true);
        assert_eq!(
            h.readiness(Duration::from_secs(60)),
            Ok(()),
            "a short outage is tolerated"
        );
        assert_eq!(h.readiness(Duration::ZERO), Err(NotReady::EventStreamDown));
        h.set_stream_down(false);
        assert_eq!(h.readiness(Duration::ZERO), Ok(()));
        h.set_draining();
        assert_eq!(
            h.readiness(Duration::from_secs(60)),
            Err(NotReady::Draining)
        );
    }
}
