//! A [`DnsApi`] decorator that counts every Route53 request by operation and outcome, the change batch sizes,
//! throttling, and the failures since the last success (`r53d_route53_*` in [`crate::metrics`]).

use std::rc::Rc;
use std::sync::Arc;

use async_trait::async_trait;

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

    fn count<T>(&self, operation: &str, res: &Result<T, DnsError>) {
        let m = &self.metrics;
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
        let res = self.inner.zone_name(zone_id).await;
        self.count("get_hosted_zone", &res);
        res
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.metrics.batch_size.observe(changes.len() as f64);
        let res = self.inner.change(zone_id, changes).await;
        self.count("change_resource_record_sets", &res);
        res
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        let res = self.inner.list(zone_id, start, max_items).await;
        self.count("list_resource_record_sets", &res);
        res
    }
}
