//! Full-jitter exponential backoff: each delay is uniform in `[0, min(max, base · 2ⁿ)]`.
//!
//! `backon` supplies the capped exponential schedule; its own jitter only adds to the delay, while full jitter
//! (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads a fleet's retries over the whole window so
//! agents throttled together do not retry together.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use rand::Rng;

/// An endless full-jitter schedule.
#[derive(Debug)]
pub struct FullJitter {
    caps: ExponentialBackoff,
    last_cap: Duration,
}

impl FullJitter {
    /// Delays capped by `base · 2ⁿ`, at most `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        let caps = ExponentialBuilder::default()
            .with_min_delay(base)
            .with_max_delay(max)
            .without_max_times()
            .build();
        Self {
            caps,
            last_cap: base,
        }
    }

    /// The cap of the latest delay (for logs).
    pub fn cap(&self) -> Duration {
        self.last_cap
    }
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.last_cap = self.caps.next().unwrap_or(self.last_cap);
        let millis = self.last_cap.as_millis() as u64;
        Some(Duration::from_millis(
            rand::thread_rng().gen_range(0..=millis),
        ))
    }
}

/// A uniformly random delay in `[0, max]` (start-up jitter).
pub fn uniform(max: Duration) -> Duration {
    Duration::from_millis(rand::thread_rng().gen_range(0..=max.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_a_doubling_capped_envelope() {
        let mut b = FullJitter::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<Duration> = b.by_ref().take(12).collect();
        let caps = [
            100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000, 2000, 2000, 2000,
        ];
        for (d, cap) in delays.iter().zip(caps) {
            assert!(*d <= Duration::from_millis(cap), "{d:?} > {cap} ms");
        }
        assert_eq!(b.cap(), Duration::from_secs(2));
        // Full jitter: across many draws at the cap, some are in the lower half.
        assert!((0..200)
            .filter_map(|_| b.next())
            .any(|d| d < Duration::from_secs(1)));
    }
}
