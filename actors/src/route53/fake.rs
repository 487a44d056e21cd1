//! A strict in-memory Route53 for tests: the semantics moto lacks (`shared/reference/route53.md` §5.1).
//!
//! * batches are atomic: every change is checked against the state the earlier changes of the batch leave, and
//!   nothing is applied unless all pass;
//! * DELETE must match the existing set exactly (TTL, weight, values), else `InvalidChangeBatch`
//!   ("not found" / "values provided do not match"), and is scoped to name + type + SetIdentifier;
//! * at most 100 weighted sets per name and type;
//! * one TTL per weighted group (name and type): a write with another TTL rewrites every set of the group, as
//!   Route53 does (moto does not);
//! * listing is ordered like Route53 (labels reversed, then type, then identifier) with identifier-aware paging;
//! * faults can be queued: the next requests fail with the given errors;
//! * a change can "land late": the client gets an ambiguous failure (a timeout) and the change is applied at a
//!   later instant, seen by every request after it, like a request that reached Route53 after the client gave up;
//! * optional account-wide token bucket shared by every client of the fake (`Throttling: Rate exceeded` when it
//!   is empty), optional per-request latency, and optional `PriorRequestNotComplete` for a change that arrives
//!   while the zone is still processing the previous one.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::core::plan::Change;
use crate::core::record::RecordSet;
use crate::testkit::bucket::Admit;

/// Route53's limit of weighted sets with the same name and type.
pub const MAX_WEIGHTED_PER_NAME: usize = 100;

type SetKey = (String, String, String);

/// The strict fake. Single-threaded (actors run on one arbiter); share it with `Rc`.
#[derive(Debug, Default)]
pub struct FakeRoute53 {
    zone_id: String,
    zone_name: String,
    sets: RefCell<BTreeMap<SetKey, RecordSet>>,
    faults: RefCell<VecDeque<DnsError>>,
    change_requests: RefCell<Vec<usize>>,
    list_requests: RefCell<usize>,
    throttled: Cell<usize>,
    account: RefCell<Option<Arc<dyn Admit>>>,
    latency: Duration,
    processing: Duration,
    busy_until: Cell<Option<Instant>>,
    /// Delays of the next change requests that will time out for the client but land later.
    land_late: RefCell<VecDeque<Duration>>,
    /// Changes that timed out for the client and are applied at their instant.
    landing: RefCell<Vec<(Instant, Vec<Change>)>>,
}

fn sort_name(name: &str) -> String {
    name.trim_end_matches('.')
        .split('.')
        .rev()
        .collect::<Vec<_>>()
        .join(".")
}

fn key_of(s: &RecordSet) -> SetKey {
    (
        sort_name(&s.name),
        s.record_type.clone(),
        s.set_identifier.clone().unwrap_or_default(),
    )
}

impl FakeRoute53 {
    /// An empty zone.
    pub fn new(zone_id: &str, zone_name: &str) -> Self {
        Self {
            zone_id: zone_id.into(),
            zone_name: zone_name.into(),
            ..Self::default()
        }
    }

    /// Every request first takes a token from `bucket`, shared by all clients like an account's quota.
    pub fn with_account_bucket<B: Admit + 'static>(self, bucket: Arc<B>) -> Self {
        self.set_account_bucket(bucket);
        self
    }

    /// Starts sharing `bucket` from now on.
    pub fn set_account_bucket<B: Admit + 'static>(&self, bucket: Arc<B>) {
        *self.account.borrow_mut() = Some(bucket);
    }

    /// Every request takes `latency` before it is answered.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// After an accepted change the zone is busy for `processing`; a change arriving then gets
    /// `PriorRequestNotComplete`.
    pub fn with_processing(mut self, processing: Duration) -> Self {
        self.processing = processing;
        self
    }

    /// Requests refused for lack of an account token.
    pub fn throttled(&self) -> usize {
        self.throttled.get()
    }

    /// Puts a set into the zone directly (a record some other writer created).
    pub fn insert(&self, set: RecordSet) {
        self.sets.borrow_mut().insert(key_of(&set), set);
    }

    /// Removes every set named `name` (another writer cleaning up).
    pub fn remove_name(&self, name: &str) {
        self.sets.borrow_mut().retain(|_, s| s.name != name);
    }

    /// Removes the set of `name` with `set_identifier` (another writer deleting its record).
    pub fn remove_set(&self, name: &str, set_identifier: &str) {
        self.sets
            .borrow_mut()
            .retain(|_, s| s.name != name || s.set_identifier.as_deref() != Some(set_identifier));
    }

    /// How many record sets the zone holds.
    pub fn set_count(&self) -> usize {
        self.settle_late();
        self.sets.borrow().len()
    }

    /// Every set in the zone, in listing order.
    pub fn sets(&self) -> Vec<RecordSet> {
        self.settle_late();
        self.sets.borrow().values().cloned().collect()
    }

    /// The next requests (of any kind) fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = DnsError>) {
        self.faults.borrow_mut().extend(errors);
    }

    /// The next change request answers with an ambiguous failure (a timeout) but is applied `after` later.
    pub fn land_late(&self, after: Duration) {
        self.land_late.borrow_mut().push_back(after);
    }

    /// Applies the late changes whose instant has come (each as the batch it was; a batch that no longer applies
    /// is dropped, as Route53 would reject it).
    fn settle_late(&self) {
        let now = Instant::now();
        let due: Vec<Vec<Change>> = self
            .landing
            .borrow_mut()
            .extract_if(.., |(t, _)| *t <= now)
            .map(|(_, c)| c)
            .collect();
        for batch in due {
            let mut next = self.sets.borrow().clone();
            if batch.iter().all(|c| apply(&mut next, c).is_ok()) {
                *self.sets.borrow_mut() = next;
            }
        }
    }

    /// Late changes not applied yet.
    pub fn pending_late(&self) -> usize {
        self.settle_late();
        self.landing.borrow().len()
    }

    /// Sizes of the change batches that were accepted or rejected, in order.
    pub fn change_requests(&self) -> Vec<usize> {
        self.change_requests.borrow().clone()
    }

    /// Number of list requests served.
    pub fn list_requests(&self) -> usize {
        *self.list_requests.borrow()
    }

    async fn admit(&self, zone_id: &str) -> Result<(), DnsError> {
        if !self.latency.is_zero() {
            actix_rt::time::sleep(self.latency).await;
        }
        self.settle_late();
        if self.account.borrow().as_ref().is_some_and(|b| !b.admit()) {
            self.throttled.set(self.throttled.get() + 1);
            return Err(DnsError::Throttled {
                code: "Throttling".into(),
                message: "Rate exceeded".into(),
            });
        }
        self.check_zone(zone_id)
    }

    fn check_zone(&self, zone_id: &str) -> Result<(), DnsError> {
        if let Some(e) = self.faults.borrow_mut().pop_front() {
            return Err(e);
        }
        if zone_id != self.zone_id {
            return Err(DnsError::Permanent {
                code: "NoSuchHostedZone".into(),
                message: format!("No hosted zone found with ID: {zone_id}"),
            });
        }
        Ok(())
    }
}

fn to_set(change: &Change) -> RecordSet {
    RecordSet::from_record(change.record())
}

fn apply(state: &mut BTreeMap<SetKey, RecordSet>, change: &Change) -> Result<(), String> {
    let set = to_set(change);
    let key = key_of(&set);
    let label = format!(
        "[name='{}', type='{}', set-identifier='{}']",
        set.name, set.record_type, key.2
    );
    match change {
        Change::Delete(_) => match state.get(&key) {
            None => Err(format!("Tried to delete resource record set {label} but it was not found")),
            Some(existing) if *existing != set => {
                Err(format!("Tried to delete resource record set {label} but the values provided do not match the current values"))
            }
            Some(_) => {
                state.remove(&key);
                Ok(())
            }
        },
        Change::Upsert(_) => {
            let same_name = |k: &SetKey| k.0 == key.0 && k.1 == key.1;
            if state.keys().any(|k| same_name(k) && k.2.is_empty()) {
                return Err(format!("RRSet with DNS name {} type {} cannot be created as other RRSets exist with the same name and type", set.name, set.record_type));
            }
            if !state.contains_key(&key) && state.keys().filter(|k| same_name(k)).count() >= MAX_WEIGHTED_PER_NAME {
                return Err(format!("Tried to create resource record set {label} but the limit of {MAX_WEIGHTED_PER_NAME} weighted records was reached"));
            }
            // Route53's rule: a weighted group has one TTL, the last one written.
            if set.weight.is_some() {
                for other in state.values_mut().filter(|s| s.name == set.name && s.record_type == set.record_type) {
                    other.ttl = set.ttl;
                }
            }
            state.insert(key, set);
            Ok(())
        }
    }
}

#[async_trait(?Send)]
impl DnsApi for FakeRoute53 {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.admit(zone_id).await?;
        Ok(self.zone_name.clone())
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.change_requests.borrow_mut().push(changes.len());
        self.admit(zone_id).await?;
        if let Some(after) = self.land_late.borrow_mut().pop_front() {
            let at = Instant::now() + after;
            self.landing.borrow_mut().push((at, changes.to_vec()));
            return Err(DnsError::Ambiguous("request timed out (fake)".into()));
        }
        if self.busy_until.get().is_some_and(|t| Instant::now() < t) {
            return Err(DnsError::Throttled {
                code: "PriorRequestNotComplete".into(),
                message: "The request was rejected because Route 53 was still processing a prior request.".into(),
            });
        }
        let mut next = self.sets.borrow().clone();
        let errors: Vec<String> = changes
            .iter()
            .filter_map(|c| apply(&mut next, c).err())
            .collect();
        if !errors.is_empty() {
            return Err(DnsError::InvalidChangeBatch(errors.join("; ")));
        }
        *self.sets.borrow_mut() = next;
        if !self.processing.is_zero() {
            self.busy_until.set(Some(Instant::now() + self.processing));
        }
        Ok(())
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        *self.list_requests.borrow_mut() += 1;
        self.admit(zone_id).await?;
        let from = start.map(|s| {
            (
                sort_name(&s.name),
                s.record_type.clone(),
                s.identifier.clone().unwrap_or_default(),
            )
        });
        let sets = self.sets.borrow();
        let mut rest = match &from {
            Some(f) => sets.range(f.clone()..),
            None => sets.range::<SetKey, _>(..),
        };
        let page: Vec<RecordSet> = rest
            .by_ref()
            .take(max_items.max(1) as usize)
            .map(|(_, s)| s.clone())
            .collect();
        let next = rest.next().map(|(_, s)| ListStart {
            name: s.name.clone(),
            record_type: s.record_type.clone(),
            identifier: s.set_identifier.clone(),
        });
        Ok(ListPage { sets: page, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::{Record, RecordValue};
    use crate::route53::api::{read_name, read_zone};

    fn rec(name: &str, id: &str, ip: [u8; 4]) -> Record {
        Record::new(name.into(), id.into(), RecordValue::A(ip.into()), 60, 1)
    }

    #[actix_rt::test]
    async fn batches_are_atomic_and_deletes_exact() {
        let f = FakeRoute53::new("Z1", "example.com.");
        let a = rec("web.example.com.", "a", [10, 0, 0, 1]);
        f.change("Z1", &[Change::Upsert(a.clone())]).await.unwrap();
        let stale = rec("web.example.com.", "a", [10, 0, 0, 9]);
        let b = rec("web.example.com.", "b", [10, 0, 0, 2]);
        let err = f
            .change("Z1", &[Change::Upsert(b), Change::Delete(stale)])
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::InvalidChangeBatch(m) if m.contains("do not match")));
        assert_eq!(f.sets().len(), 1, "nothing of a failed batch is applied");
        f.change("Z1", &[Change::Delete(a.clone())]).await.unwrap();
        let err = f.change("Z1", &[Change::Delete(a)]).await.unwrap_err();
        assert!(matches!(err, DnsError::InvalidChangeBatch(m) if m.contains("not found")));
    }

    #[actix_rt::test]
    async fn paging_is_identifier_aware_and_reads_stop_after_the_name() {
        let f = FakeRoute53::new("Z1", "example.com.");
        let many: Vec<Change> = (0..100)
            .map(|i| Change::Upsert(rec("big.example.com.", &format!("id{i:03}"), [10, 0, 0, 1])))
            .collect();
        f.change("Z1", &many).await.unwrap();
        f.change(
            "Z1",
            &[Change::Upsert(rec("zzz.example.com.", "z", [10, 0, 0, 3]))],
        )
        .await
        .unwrap();
        assert_eq!(
            read_name(&f, "Z1", "big.example.com.").await.unwrap().len(),
            100
        );
        assert_eq!(read_zone(&f, "Z1").await.unwrap().len(), 101);
        // Small pages: every cursor inside the weighted group carries the identifier, so nothing repeats.
        let (mut start, mut seen) = (None, Vec::new());
        loop {
            let page = f.list("Z1", start.as_ref(), 7).await.unwrap();
            seen.extend(page.sets.into_iter().map(|s| s.set_identifier));
            match page.next {
                Some(n) => start = Some(n),
                None => break,
            }
        }
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (101, 101));
        let err = f.list("Z2", None, 10).await.unwrap_err();
        assert!(matches!(err, DnsError::Permanent { code, .. } if code == "NoSuchHostedZone"));
    }

    #[actix_rt::test]
    async fn one_account_bucket_throttles_every_client_and_busy_zones_refuse_changes() {
        let bucket = crate::route53::limiter::bucket(1.0, 2);
        let a = FakeRoute53::new("Z1", "example.com.").with_account_bucket(bucket.clone());
        let b = FakeRoute53::new("Z2", "example.com.").with_account_bucket(bucket);
        assert!(a.list("Z1", None, 1).await.is_ok());
        assert!(b.list("Z2", None, 1).await.is_ok());
        assert!(
            matches!(a.list("Z1", None, 1).await, Err(DnsError::Throttled { code, .. }) if code == "Throttling")
        );
        assert_eq!(a.throttled(), 1);
        let busy = FakeRoute53::new("Z1", "example.com.").with_processing(Duration::from_secs(60));
        busy.change(
            "Z1",
            &[Change::Upsert(rec("a.example.com.", "a", [10, 0, 0, 1]))],
        )
        .await
        .unwrap();
        let err = busy
            .change(
                "Z1",
                &[Change::Upsert(rec("b.example.com.", "b", [10, 0, 0, 1]))],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Throttled { code, .. } if code == "PriorRequestNotComplete")
        );
    }

    #[actix_rt::test]
    async fn the_101st_weighted_record_is_refused() {
        let f = FakeRoute53::new("Z1", "example.com.");
        let hundred: Vec<Change> = (0..100)
            .map(|i| Change::Upsert(rec("w.example.com.", &format!("{i}"), [10, 0, 0, 1])))
            .collect();
        f.change("Z1", &hundred).await.unwrap();
        let err = f
            .change(
                "Z1",
                &[Change::Upsert(rec("w.example.com.", "x", [10, 0, 0, 1]))],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::InvalidChangeBatch(_)));
    }
}
