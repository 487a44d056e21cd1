//! Writer tests of a task's several record types against the strict fake (exact DELETEs, per-type groups): a
//! bridge task's A, SRV and the shared per-instance target go in the batch of its start and go again with its
//! stop, the target only with the last SRV that names it.

use crate::core::ownership::InstanceId;
use crate::core::record::{Record, RecordValue, SrvValue};
use crate::route53::fake::FakeRoute53;
use crate::route53::tests::{owner, start};
use crate::route53::{Deregister, Flush, Register};

const TARGET: &str = "i-0abc.hosts.example.com.";

fn task_records(task: &str, port: u16) -> Vec<Record> {
    let id = owner().set_identifier(&InstanceId::Task(task.into()));
    let host = owner().set_identifier(&InstanceId::Host);
    let srv = SrvValue {
        priority: 1,
        weight: 1,
        port,
        target: TARGET.into(),
    };
    vec![
        Record::new(
            "web.example.com.".into(),
            id.clone(),
            RecordValue::A([10, 0, 0, 5].into()),
            60,
            1,
        ),
        Record::new(
            TARGET.into(),
            host,
            RecordValue::A([10, 0, 0, 5].into()),
            60,
            1,
        ),
        Record::new(
            "_web._tcp.example.com.".into(),
            id,
            RecordValue::Srv(srv),
            60,
            1,
        ),
    ]
}

fn names_and_types(fake: &FakeRoute53) -> Vec<String> {
    fake.sets()
        .into_iter()
        .map(|s| format!("{} {}", s.name, s.record_type))
        .collect()
}

#[actix_rt::test]
async fn a_bridge_tasks_records_go_in_one_batch_and_every_one_is_deleted_exactly() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: task_records("1", 32768),
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(
        h.fake.change_requests(),
        vec![3],
        "one request: A, target, SRV"
    );
    assert_eq!(h.fake.sets().len(), 3);
    h.addr.do_send(Deregister {
        container_id: "c1".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert!(h.fake.sets().is_empty(), "{:?}", h.fake.sets());
    assert_eq!(
        h.fake.change_requests(),
        vec![3, 3],
        "the strict fake accepted every exact DELETE"
    );
}

#[actix_rt::test]
async fn the_shared_target_outlives_all_but_the_last_srv() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: task_records("1", 32768),
    });
    h.addr.do_send(Register {
        container_id: "c2".into(),
        records: task_records("2", 32769),
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets().len(), 5, "one target for both tasks");
    h.addr.do_send(Deregister {
        container_id: "c1".into(),
    });
    h.addr.send(Flush).await.unwrap();
    let left = names_and_types(&h.fake);
    assert!(left.contains(&format!("{TARGET} A")), "{left:?}");
    assert_eq!(left.len(), 3);
    h.addr.do_send(Deregister {
        container_id: "c2".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert!(h.fake.sets().is_empty(), "{:?}", h.fake.sets());
}

/// Route53 forces one TTL per weighted group: a record written with our TTL into a group another writer uses
/// would rewrite theirs. The agent adopts the group's TTL instead (the strict fake applies the rule).
#[actix_rt::test]
async fn a_group_shared_with_another_writer_keeps_that_writers_ttl() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    fake.insert(crate::core::record::RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some("hand-made".into()),
        weight: Some(5),
        ttl: Some(300),
        values: vec!["192.0.2.1".into()],
        has_extras: false,
    });
    let h = start(fake);
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: task_records("1", 32768),
    });
    h.addr.send(Flush).await.unwrap();
    let ttls: Vec<(String, Option<String>, Option<i64>)> = h
        .fake
        .sets()
        .into_iter()
        .filter(|s| s.name == "web.example.com.")
        .map(|s| (s.record_type, s.set_identifier, s.ttl))
        .collect();
    assert_eq!(ttls.len(), 2, "{ttls:?}");
    assert!(
        ttls.iter().all(|(_, _, ttl)| *ttl == Some(300)),
        "the foreign TTL is unchanged and ours adopts it: {ttls:?}"
    );
    let srv_ttl = h
        .fake
        .sets()
        .into_iter()
        .find(|s| s.record_type == "SRV")
        .and_then(|s| s.ttl);
    assert_eq!(
        srv_ttl,
        Some(60),
        "groups without other writers keep route53.ttl"
    );
    h.addr.do_send(Deregister {
        container_id: "c1".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(
        h.fake.sets().len(),
        1,
        "ours deleted exactly as they exist (TTL 300); theirs stays"
    );
}
