//! The dry-run sink: accepts every change, logs it, and remembers the result so reads see it. No AWS calls.

use std::cell::RefCell;
use std::collections::BTreeMap;

use async_trait::async_trait;

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::core::plan::Change;
use crate::core::record::{RecordKey, RecordSet};

/// A [`DnsApi`] that plans but never sends.
#[derive(Debug)]
pub struct DryRunDns {
    zone_name: String,
    records: RefCell<BTreeMap<RecordKey, RecordSet>>,
}

impl DryRunDns {
    /// A sink for a zone of the given name.
    pub fn new(zone_name: &str) -> Self {
        Self {
            zone_name: zone_name.to_string(),
            records: RefCell::default(),
        }
    }
}

#[async_trait(?Send)]
impl DnsApi for DryRunDns {
    async fn zone_name(&self, _zone_id: &str) -> Result<String, DnsError> {
        Ok(self.zone_name.clone())
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        let mut records = self.records.borrow_mut();
        for change in changes {
            let r = change.record();
            tracing::info!(
                zone_id, record_name = %r.key.name, record_type = %r.key.record_type, set_identifier = %r.key.set_identifier, value = %r.value,
                action = change.action(), "Planned change (dry run, not sent)."
            );
            match change {
                Change::Upsert(r) => {
                    records.insert(r.key.clone(), RecordSet::from_record(r));
                }
                Change::Delete(r) => {
                    records.remove(&r.key);
                }
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        _zone_id: &str,
        start: Option<&ListStart>,
        _max_items: i32,
    ) -> Result<ListPage, DnsError> {
        let records = self.records.borrow();
        let sets = records
            .values()
            .filter(|s| start.is_none_or(|st| s.name >= st.name))
            .cloned()
            .collect();
        Ok(ListPage { sets, next: None })
    }
}
