//! `r53d_event_to_change_seconds`, on the writer's side: a key that a stamped message touched keeps the earliest
//! receipt instant of the events that touched it, until Route53 accepts a change of it (observed then) or it
//! turns out to need none (a start and a stop that cancel out, a refused or quarantined change: dropped).

use std::collections::HashMap;
use std::time::Instant;

use prometheus::Histogram;

use crate::core::plan::Change;
use crate::core::record::RecordKey;

/// The receipt stamps of the keys waiting for a change.
#[derive(Debug, Default)]
pub(super) struct Stamps {
    since: HashMap<RecordKey, Instant>,
}

impl Stamps {
    /// `keys` were touched by an event received `at`; a key already waiting keeps its earlier stamp.
    pub(super) fn stamp(&mut self, keys: impl IntoIterator<Item = RecordKey>, at: Instant) {
        for key in keys {
            let since = self.since.entry(key).or_insert(at);
            *since = (*since).min(at);
        }
    }

    /// Route53 accepted `batch` at `now`: observes and forgets the stamps of its keys.
    pub(super) fn accepted(&mut self, batch: &[Change], now: Instant, into: &Histogram) {
        for change in batch {
            if let Some(at) = self.since.remove(&change.record().key) {
                into.observe(now.saturating_duration_since(at).as_secs_f64());
            }
        }
    }

    /// Keeps only the stamps of keys that `waits` says still wait for a change.
    pub(super) fn retain(&mut self, waits: impl Fn(&RecordKey) -> bool) {
        self.since.retain(|key, _| waits(key));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::record::{Record, RecordValue};

    fn upsert(name: &str) -> Change {
        let value = RecordValue::A([10, 0, 0, 1].into());
        Change::Upsert(Record::new(
            name.into(),
            "r53d:c:o:t-1".into(),
            value,
            60,
            1,
        ))
    }

    fn histogram() -> Histogram {
        let opts = prometheus::HistogramOpts::new("h", "h").buckets(vec![1.0, 10.0, 100.0]);
        Histogram::with_opts(opts).unwrap()
    }

    #[test]
    fn a_key_is_observed_once_from_its_earliest_event_and_a_dropped_one_never() {
        let (h, t0) = (histogram(), Instant::now());
        let (web, api) = (upsert("web."), upsert("api."));
        let mut stamps = Stamps::default();
        stamps.stamp([web.record().key.clone()], t0 + Duration::from_secs(5));
        stamps.stamp([web.record().key.clone(), api.record().key.clone()], t0);
        stamps.retain(|k| k.name == "web.");
        stamps.accepted(&[web.clone(), api], t0 + Duration::from_secs(20), &h);
        assert_eq!(h.get_sample_count(), 1, "api. needed no change");
        assert_eq!(
            h.get_sample_sum(),
            20.0,
            "from the earlier of web.'s two events"
        );
        stamps.accepted(&[web], t0 + Duration::from_secs(30), &h);
        assert_eq!(h.get_sample_count(), 1, "observed once");
    }
}
