//! Records in the legacy SetIdentifier format (no region and account) written by an earlier version of this
//! owner: recognised as its own and migrated to the scoped format at the launch sync, kept while their task runs
//! unlooked-up; records of the same cluster and owner id in another scope are never touched.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::core::ownership::{InstanceId, Owner};
use crate::core::record::{Record, RecordSet, RecordValue};
use crate::route53::fake::FakeRoute53;
use crate::route53::tests::{listed, plain_config, start_as};
use crate::route53::{Flush, Protect, Register, Sweep};

const SCOPE: &str = "us-west-2.111122223333";

fn me() -> Owner {
    Owner::scoped("prod", "me", SCOPE).unwrap()
}

fn id(owner: &Owner, task: &str) -> String {
    owner.set_identifier(&InstanceId::Task(task.into()))
}

fn legacy(task: &str) -> String {
    id(&Owner::new("prod", "me").unwrap(), task)
}

fn set(set_identifier: &str, ip: [u8; 4]) -> RecordSet {
    RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some(set_identifier.into()),
        weight: Some(1),
        ttl: Some(60),
        values: vec![Ipv4Addr::from(ip).to_string()],
        has_extras: false,
    }
}

fn ids(fake: &FakeRoute53) -> BTreeSet<String> {
    fake.sets()
        .into_iter()
        .filter_map(|s| s.set_identifier)
        .collect()
}

fn zone(extra: &[RecordSet]) -> FakeRoute53 {
    let fake = FakeRoute53::new("Z1", "example.com.");
    for s in extra {
        fake.insert(s.clone());
    }
    fake
}

#[actix_rt::test]
async fn legacy_records_of_this_owner_are_migrated_and_another_scopes_are_left_alone() {
    let elsewhere = id(
        &Owner::scoped("prod", "me", "us-east-1.111122223333").unwrap(),
        "e",
    );
    let fake = zone(&[
        set(&legacy("a"), [10, 0, 0, 5]),
        set(&legacy("gone"), [10, 0, 0, 6]),
        set(&elsewhere, [10, 0, 0, 7]),
        set("hand-made", [192, 0, 2, 1]),
    ]);
    let h = start_as(fake, plain_config(Duration::from_secs(3600)), me());
    let a = Record::new(
        "web.example.com.".into(),
        id(&me(), "a"),
        RecordValue::A(Ipv4Addr::new(10, 0, 0, 5)),
        60,
        1,
    );
    h.addr.do_send(Register {
        container_id: "c-a".into(),
        records: vec![a],
    });
    let keep = listed([("c-a", id(&me(), "a"))]);
    assert_eq!(
        h.addr.send(Sweep { keep }).await.unwrap(),
        2,
        "both legacy records"
    );
    h.addr.send(Flush).await.unwrap();
    let expected = BTreeSet::from([id(&me(), "a"), elsewhere, "hand-made".to_string()]);
    assert_eq!(ids(&h.fake), expected);
}

#[actix_rt::test]
async fn a_legacy_record_of_a_running_task_not_looked_up_yet_stays_until_its_protection_ends() {
    let fake = zone(&[set(&legacy("b"), [10, 0, 0, 8])]);
    let h = start_as(fake, plain_config(Duration::from_secs(3600)), me());
    let keep = listed([("c-b", id(&me(), "b"))]);
    assert_eq!(
        h.addr.send(Sweep { keep }).await.unwrap(),
        0,
        "protected with its task"
    );
    h.addr.send(Flush).await.unwrap();
    assert_eq!(ids(&h.fake), BTreeSet::from([legacy("b")]));
    h.addr.do_send(Protect {
        running: listed([]),
    });
    h.addr.send(Flush).await.unwrap();
    assert!(
        ids(&h.fake).is_empty(),
        "its task is gone: so is its record"
    );
}

#[actix_rt::test]
async fn with_an_owner_id_on_two_hosts_neither_deletes_the_others_records_and_untagged_ones_are_only_replaced(
) {
    use crate::core::ownership::host_tag;
    let (tag_a, tag_b) = (
        host_tag("i-0aaaaaaaaaaaaaaaa"),
        host_tag("i-0bbbbbbbbbbbbbbbb"),
    );
    let here = Owner::on_host("prod", "web-host", None, &tag_a).unwrap();
    let there = Owner::on_host("prod", "web-host", None, &tag_b).unwrap();
    let untagged = Owner::new("prod", "web-host").unwrap();
    let fake = zone(&[
        set(&id(&untagged, "a"), [10, 0, 0, 5]),
        set(&id(&untagged, "other"), [10, 0, 0, 6]),
        set(&id(&there, "b"), [10, 0, 0, 7]),
    ]);
    let h = start_as(fake, plain_config(Duration::from_secs(3600)), here.clone());
    let a = Record::new(
        "web.example.com.".into(),
        id(&here, "a"),
        RecordValue::A(Ipv4Addr::new(10, 0, 0, 5)),
        60,
        1,
    );
    h.addr.do_send(Register {
        container_id: "c-a".into(),
        records: vec![a],
    });
    // The untagged record of task a is replaced by the registration (before or by the sweep, as the launch
    // read's pages and the registration interleave); nothing else is stale.
    let keep = listed([("c-a", id(&here, "a"))]);
    assert!(h.addr.send(Sweep { keep }).await.unwrap() <= 1);
    h.addr.send(Flush).await.unwrap();
    let expected = BTreeSet::from([id(&here, "a"), id(&untagged, "other"), id(&there, "b")]);
    assert_eq!(ids(&h.fake), expected);
}
