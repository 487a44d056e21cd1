//! Tests of the janitor's zone read: it keeps only this cluster's other owners, paces its pages, and resumes a
//! failed page instead of starting over.

use std::cell::Cell;
use std::net::Ipv4Addr;

use async_trait::async_trait;

use super::*;
use crate::core::ownership::{InstanceId, Owner};
use crate::core::plan::Change;
use crate::core::record::{RecordSet, RecordValue};
use crate::route53::api::{ErrorClass, ListPage, ListStart};
use crate::route53::fake::FakeRoute53;

const ME: &str = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn set(cluster: &str, owner: &str, i: u32) -> RecordSet {
    let o = Owner::new(cluster, owner).unwrap();
    RecordSet::from_record(&Record::new(
        format!("svc{}.z.", i % 7),
        o.set_identifier(&InstanceId::Task(format!("{i:032x}"))),
        RecordValue::A(Ipv4Addr::from(0x0a00_0000 + i)),
        60,
        1,
    ))
}

/// A zone of 1 000 foreign records, 200 of another cluster, 50 of this agent and 100 of another owner of
/// this cluster: 1 350 sets, 5 pages.
fn zone() -> FakeRoute53 {
    let fake = FakeRoute53::new("Z1", "z.");
    for i in 0..1000 {
        let mut s = set("prod", OTHER, i);
        s.set_identifier = Some(format!("external-dns-{i}"));
        fake.insert(s);
    }
    (1000..1200).for_each(|i| fake.insert(set("staging", OTHER, i)));
    (1200..1250).for_each(|i| fake.insert(set("prod", ME, i)));
    (1250..1350).for_each(|i| fake.insert(set("prod", OTHER, i)));
    fake
}

fn reader(pace: Duration) -> Reader<'static> {
    Reader {
        zone_id: "Z1",
        cluster: "prod",
        scope: None,
        me: ME,
        pace,
    }
}

#[actix_rt::test]
async fn only_this_clusters_other_owners_are_kept_and_pages_are_paced() {
    tokio::time::pause();
    let fake = zone();
    let pace = Duration::from_secs(5);
    let read = read_owners(&fake, reader(pace), || true).await.unwrap();
    assert_eq!(read.zone_records, 1350);
    assert_eq!(read.pages, 5);
    assert_eq!(fake.list_requests(), 5);
    assert_eq!(read.by_owner.len(), 1, "{:?}", read.by_owner.keys());
    assert_eq!(read.by_owner[OTHER].len(), 100);
    assert!(read.took >= pace * 4, "5 pages, 4 paces: {:?}", read.took);
    assert!(read.took < pace * 5, "{:?}", read.took);
}

/// Fails the listed calls (0-based) with throttling, passes the rest to the zone.
struct FailAt {
    zone: FakeRoute53,
    fail: Vec<usize>,
    calls: Cell<usize>,
}

#[async_trait(?Send)]
impl DnsApi for FailAt {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.zone.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.zone.change(zone_id, changes).await
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        let n = self.calls.replace(self.calls.get() + 1);
        if self.fail.contains(&n) {
            return Err(DnsError::Throttled {
                code: "Throttling".into(),
                message: "Rate exceeded".into(),
            });
        }
        self.zone.list(zone_id, start, max_items).await
    }
}

#[actix_rt::test]
async fn a_throttled_page_is_tried_again_and_the_read_goes_on_from_there() {
    tokio::time::pause();
    let api = FailAt {
        zone: zone(),
        fail: vec![2, 3, 4],
        calls: Cell::new(0),
    };
    let read = read_owners(&api, reader(Duration::from_millis(10)), || true)
        .await
        .unwrap();
    assert_eq!(read.retries, 3);
    assert_eq!(read.pages, 5);
    assert_eq!(api.zone.list_requests(), 5, "no page read twice");
    assert_eq!(read.by_owner[OTHER].len(), 100);
}

#[actix_rt::test]
async fn a_permanent_error_or_a_drain_ends_the_read() {
    tokio::time::pause();
    let fake = zone();
    fake.fail_next([DnsError::Permanent {
        code: "AccessDenied".into(),
        message: "no".into(),
    }]);
    let e = read_owners(&fake, reader(Duration::ZERO), || true)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent, "{e}");
    let pages = Cell::new(0);
    let e = read_owners(&fake, reader(Duration::ZERO), || {
        pages.set(pages.get() + 1);
        pages.get() < 3
    })
    .await
    .unwrap_err();
    assert!(e.to_string().contains("draining"), "{e}");
    assert_eq!(fake.list_requests(), 1 + 2, "stopped before the third page");
}
