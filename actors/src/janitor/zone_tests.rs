//! Tests of the janitor's zone read: it counts this cluster's owners, keeps only the records asked for, paces its
//! pages, and resumes a failed page (throttled, or its credentials rejected as expired) instead of starting over.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use async_trait::async_trait;

use super::*;
use crate::core::ownership::{InstanceId, Owner};
use crate::core::plan::Change;
use crate::core::record::{RecordSet, RecordValue};
use crate::route53::api::{ErrorClass, ListPage, ListStart};
use crate::route53::fake::FakeRoute53;

const SCOPE: &str = "us-east-1.111122223333";
const ONE: &str = "i-0aaaaaaaaaaaaaaaa";
const OTHER: &str = "i-0bbbbbbbbbbbbbbbb";

fn set(cluster: &str, owner: &str, i: u32) -> RecordSet {
    let o = Owner::scoped(cluster, owner, SCOPE).unwrap();
    RecordSet::from_record(&Record::new(
        format!("svc{}.z.", i % 7),
        o.set_identifier(&InstanceId::Task(format!("{i:032x}"))),
        RecordValue::A(Ipv4Addr::from(0x0a00_0000 + i)),
        60,
        1,
    ))
}

/// A zone of 1 000 foreign records, 200 of another cluster, 50 of one owner and 100 of another owner of this
/// cluster: 1 350 sets, 5 pages.
fn zone() -> FakeRoute53 {
    let fake = FakeRoute53::new("Z1", "z.");
    for i in 0..1000 {
        let mut s = set("prod", OTHER, i);
        s.set_identifier = Some(format!("external-dns-{i}"));
        fake.insert(s);
    }
    (1000..1200).for_each(|i| fake.insert(set("staging", OTHER, i)));
    (1200..1250).for_each(|i| fake.insert(set("prod", ONE, i)));
    (1250..1350).for_each(|i| fake.insert(set("prod", OTHER, i)));
    fake
}

fn reader(pace: Duration) -> Reader<'static> {
    Reader {
        zone_id: "Z1",
        cluster: "prod",
        scope: SCOPE,
        pace,
    }
}

fn keep(owners: &[&str]) -> BTreeSet<String> {
    owners.iter().map(|o| o.to_string()).collect()
}

#[actix_rt::test]
async fn owners_are_counted_only_the_asked_for_records_kept_and_pages_paced() {
    tokio::time::pause();
    let fake = zone();
    let pace = Duration::from_secs(5);
    let read = read_owners(&fake, reader(pace), &keep(&[OTHER]), || true)
        .await
        .unwrap();
    assert_eq!(read.zone_records, 1350);
    assert_eq!(read.pages, 5);
    assert_eq!(fake.list_requests(), 5);
    let counts: Vec<(&str, usize)> = read.counts.iter().map(|(o, n)| (o.as_str(), *n)).collect();
    assert_eq!(
        counts,
        [(ONE, 50), (OTHER, 100)],
        "this cluster's owners only"
    );
    assert_eq!(read.kept.len(), 1, "{:?}", read.kept.keys());
    assert_eq!(read.kept[OTHER].len(), 100);
    let nothing = read_owners(&fake, reader(Duration::ZERO), &keep(&[]), || true)
        .await
        .unwrap();
    assert!(nothing.kept.is_empty() && nothing.counts.len() == 2);
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
    let read = read_owners(
        &api,
        reader(Duration::from_millis(10)),
        &keep(&[OTHER]),
        || true,
    )
    .await
    .unwrap();
    assert_eq!(read.retries, 3);
    assert_eq!(read.pages, 5);
    assert_eq!(api.zone.list_requests(), 5, "no page read twice");
    assert_eq!(read.kept[OTHER].len(), 100);
}

#[actix_rt::test]
async fn a_permanent_error_or_a_drain_ends_the_read() {
    tokio::time::pause();
    let fake = zone();
    fake.fail_next([DnsError::Permanent {
        code: "AccessDenied".into(),
        message: "no".into(),
    }]);
    let e = read_owners(&fake, reader(Duration::ZERO), &keep(&[]), || true)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent, "{e}");
    let pages = Cell::new(0);
    let e = read_owners(&fake, reader(Duration::ZERO), &keep(&[]), || {
        pages.set(pages.get() + 1);
        pages.get() < 3
    })
    .await
    .unwrap_err();
    assert!(e.to_string().contains("draining"), "{e}");
    assert_eq!(fake.list_requests(), 1 + 2, "stopped before the third page");
}

#[actix_rt::test]
async fn a_page_rejected_for_expired_credentials_is_tried_again() {
    tokio::time::pause();
    let fake = zone();
    fake.fail_next([DnsError::CredentialsExpired {
        code: "ExpiredToken".into(),
        message: "The security token included in the request is expired".into(),
    }]);
    let read = read_owners(&fake, reader(Duration::ZERO), &keep(&[OTHER]), || true)
        .await
        .unwrap();
    assert_eq!((read.retries, read.pages), (1, 5));
    assert_eq!(read.kept[OTHER].len(), 100);
}
