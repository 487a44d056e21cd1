//! Account-wide token buckets for the in-memory fakes: one quota shared by every client of a fake, as AWS
//! applies its request rates per account. [`Admit`] is what a fake asks; it is implemented by governor's
//! wall-clock limiter and by [`virtual_bucket`], a governor limiter on tokio's clock, so that a simulation with
//! paused time (`tokio::time::pause`) runs hours of a fleet's traffic in seconds.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// One request's admission by an account bucket.
pub trait Admit {
    /// Takes a token; false when the bucket is empty (the request is throttled).
    fn admit(&self) -> bool;
}

impl std::fmt::Debug for dyn Admit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("account bucket")
    }
}

impl Admit for DefaultDirectRateLimiter {
    fn admit(&self) -> bool {
        self.check().is_ok()
    }
}

/// Tokio's clock (paused or not) as a governor clock: the time since the clock was made.
#[derive(Debug, Clone)]
pub struct TokioClock {
    base: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            base: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.base.elapsed()
    }
}

/// A limiter on tokio's clock.
pub type VirtualLimiter =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

impl Admit for VirtualLimiter {
    fn admit(&self) -> bool {
        self.check().is_ok()
    }
}

/// A bucket of `burst` tokens refilled at `per_sec`, on tokio's clock.
pub fn virtual_bucket(per_sec: f64, burst: u32) -> Arc<VirtualLimiter> {
    let period = Duration::from_secs_f64(1.0 / per_sec);
    let quota = Quota::with_period(period)
        .expect("a positive rate")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"));
    Arc::new(RateLimiter::direct_with_clock(quota, TokioClock::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::Reference;

    #[actix_rt::test]
    async fn the_virtual_bucket_refills_with_paused_time() {
        tokio::time::pause();
        let b = virtual_bucket(5.0, 2);
        assert!(b.admit() && b.admit());
        assert!(!b.admit(), "burst spent");
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(b.admit(), "one token after 1/5 s");
        assert!(!b.admit());
        // Reference is implemented for Duration by governor; make sure the clock moves with tokio's.
        let c = TokioClock::default();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(c.now().duration_since(Duration::ZERO) >= Duration::from_secs(3).into());
    }
}
