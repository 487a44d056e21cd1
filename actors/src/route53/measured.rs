//! A [`DnsApi`] decorator that counts every Route53 request by operation and outcome, times it by operation, and
//! counts the change batch sizes, throttling, and the failures since the last success (`r53d_route53_*` in
//! [`crate::metrics`]).

use std::rc::Rc;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::core::plan::Change;
use crate::metrics::Metrics;

/// A measured view of another [`DnsApi`].
pub struct Measured {
    inner: Rc<dyn DnsApi>,
    metrics: Arc<Metrics>,
}

impl Measured {
    /// Wraps `inner`, counting into `metrics`.
    pub fn new(inner: Rc<dyn DnsApi>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    /// Counts a request of `operation` that began at `began` (tokio's clock: a paused test runtime's time).
    fn count<T>(&self, operation: &str, began: Instant, res: &Result<T, DnsError>) {
        let m = &self.metrics;
        m.observe_request(operation, began.elapsed());
        let outcome = match res {
            Ok(_) => "ok",
            Err(DnsError::Throttled { .. }) => "throttled",
            Err(DnsError::Transient(_)) => "transient",
            Err(DnsError::Ambiguous(_)) => "ambiguous",
            Err(DnsError::CredentialsExpired { .. }) => "credentials_expired",
            Err(DnsError::InvalidChangeBatch(_)) => "conflict",
            Err(DnsError::Permanent { .. }) => "permanent",
        };
        m.requests.with_label_values(&[operation, outcome]).inc();
        match res {
            Ok(_) => m.consecutive_errors.set(0),
            Err(e) => {
                m.consecutive_errors.inc();
                if matches!(e, DnsError::Throttled { .. }) {
                    m.throttled.inc();
                }
            }
        }
    }
}

#[async_trait(?Send)]
impl DnsApi for Measured {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        let began = Instant::now();
        let res = self.inner.zone_name(zone_id).await;
        self.count("get_hosted_zone", began, &res);
        res
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.metrics.batch_size.observe(changes.len() as f64);
        let began = Instant::now();
        let res = self.inner.change(zone_id, changes).await;
        self.count("change_resource_record_sets", began, &res);
        res
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        let began = Instant::now();
        let res = self.inner.list(zone_id, start, max_items).await;
        self.count("list_resource_record_sets", began, &res);
        res
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::route53::fake::FakeRoute53;

    /// (count, sum) of `r53d_route53_request_duration_seconds{operation}`.
    fn timed(m: &Metrics, operation: &str) -> (u64, f64) {
        let h = m.request_duration.with_label_values(&[operation]);
        (h.get_sample_count(), h.get_sample_sum())
    }

    #[actix_rt::test]
    async fn every_request_is_timed_by_operation_whatever_its_outcome() {
        tokio::time::pause();
        let zone = FakeRoute53::new("Z1", "example.com.").with_latency(Duration::from_millis(300));
        zone.fail_next([DnsError::Throttled {
            code: "Throttling".into(),
            message: "Rate exceeded".into(),
        }]);
        let metrics = Arc::new(Metrics::default());
        let api = Measured::new(Rc::new(zone), metrics.clone());
        assert!(api.zone_name("Z1").await.is_err(), "throttled");
        api.zone_name("Z1").await.unwrap();
        api.list("Z1", None, 100).await.unwrap();
        let near =
            |(n, sum): (u64, f64), want: u64| n == want && (sum - 0.3 * n as f64).abs() < 0.05;
        assert!(near(timed(&metrics, "get_hosted_zone"), 2));
        assert!(near(timed(&metrics, "list_resource_record_sets"), 1));
        assert_eq!(timed(&metrics, "change_resource_record_sets"), (0, 0.0));
        let text = metrics.encode();
        let bucket = |le: &str| {
            format!("r53d_route53_request_duration_seconds_bucket{{operation=\"get_hosted_zone\",le=\"{le}\"}}")
        };
        assert!(text.contains(&format!("{} 0\n", bucket("0.25"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", bucket("0.5"))), "{text}");
    }
}
