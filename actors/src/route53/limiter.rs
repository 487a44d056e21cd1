//! Client-side rate limiting: a [`DnsApi`] decorator that takes a token from a `governor` bucket before every
//! request (changes, pages of reads, zone lookups alike, as Route53 counts them all).
//!
//! Route53 allows a few requests per second per *account*, shared by every agent and tool in it; the default is
//! deliberately low. While the writer waits for a token its request is "in flight", so further changes coalesce
//! into the next batch.

use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::core::plan::Change;

/// A rate-limited view of another [`DnsApi`].
pub struct RateLimited {
    inner: Rc<dyn DnsApi>,
    limiter: Arc<DefaultDirectRateLimiter>,
}

/// A token bucket refilled at `per_second` (may be below 1) holding at most `burst` tokens.
pub fn bucket(per_second: f64, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let quota = Quota::with_period(period)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("≥ 1"));
    Arc::new(RateLimiter::direct(quota))
}

impl RateLimited {
    /// Wraps `inner` behind `limiter`.
    pub fn new(inner: Rc<dyn DnsApi>, limiter: Arc<DefaultDirectRateLimiter>) -> Self {
        Self { inner, limiter }
    }
}

#[async_trait(?Send)]
impl DnsApi for RateLimited {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.limiter.until_ready().await;
        self.inner.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.limiter.until_ready().await;
        self.inner.change(zone_id, changes).await
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        self.limiter.until_ready().await;
        self.inner.list(zone_id, start, max_items).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::fake::FakeRoute53;

    #[actix_rt::test]
    async fn requests_beyond_the_burst_wait_for_tokens() {
        let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
        let api = RateLimited::new(fake.clone(), bucket(20.0, 2));
        let start = std::time::Instant::now();
        for _ in 0..6 {
            api.list("Z1", None, 10).await.unwrap();
        }
        // Two from the burst, four at 20/s: at least ~150 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(fake.list_requests(), 6);
    }
}
