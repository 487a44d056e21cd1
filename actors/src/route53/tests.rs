//! Actor tests of the writer against the strict fake: coalescing, retries, conflicts, ownership, launch sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::api::DnsError;
use super::fake::FakeRoute53;
use super::*;
use crate::core::claim::Claim;
use crate::core::ownership::InstanceId;
use crate::core::plan::Change;
use crate::core::record::{Record, RecordSet, RecordValue};
use crate::messages::probe;

pub(super) fn owner() -> Owner {
    Owner::new("prod", "me").unwrap()
}

/// What a listing hands on for running containers of service `web`: by container id, the claim of its task's
/// SetIdentifier on the service's A and SRV names.
pub(super) fn listed<const N: usize>(containers: [(&str, String); N]) -> BTreeMap<String, Claim> {
    let names = BTreeSet::from(["web.example.com.".into(), "_web._tcp.example.com.".into()]);
    containers
        .into_iter()
        .map(|(id, set_identifier)| {
            let names = names.clone();
            (
                id.to_string(),
                Claim {
                    set_identifier,
                    names,
                },
            )
        })
        .collect()
}

pub(super) fn rec(task: &str, ip: [u8; 4]) -> Record {
    let set_identifier = owner().set_identifier(&InstanceId::Task(task.into()));
    Record::new(
        "web.example.com.".into(),
        set_identifier,
        RecordValue::A(Ipv4Addr::from(ip)),
        60,
        1,
    )
}

fn foreign() -> RecordSet {
    RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some("someone-else".into()),
        weight: Some(5),
        ttl: Some(60),
        values: vec!["192.0.2.1".into()],
        has_extras: false,
    }
}

pub(super) struct Harness {
    pub(super) fake: Rc<FakeRoute53>,
    pub(super) addr: Addr<Route53Actor>,
    failures: probe::Failures,
}

pub(super) fn start(fake: FakeRoute53) -> Harness {
    start_with(fake, Duration::from_secs(3600))
}

fn start_with(fake: FakeRoute53, quarantine: Duration) -> Harness {
    start_config(fake, plain_config(quarantine))
}

/// The writer's settings of these tests: no jitter, no verification.
pub(super) fn plain_config(quarantine: Duration) -> Route53Config {
    Route53Config {
        quarantine,
        ..Route53Config::quiet("Z1")
    }
}

fn start_config(fake: FakeRoute53, config: Route53Config) -> Harness {
    start_as(fake, config, owner())
}

/// A writer on behalf of `owner`.
pub(super) fn start_as(fake: FakeRoute53, config: Route53Config, owner: Owner) -> Harness {
    let fake = Rc::new(fake);
    let (reporter, failures) = probe::reporter();
    let (health, metrics) = (Arc::default(), Arc::default());
    let addr = Route53Actor::new(fake.clone(), config, owner, reporter, health, metrics).start();
    Harness {
        fake,
        addr,
        failures,
    }
}

impl Harness {
    /// Writes and removes a record under `rec`'s name, so the writer has read the name (the first write into a
    /// name reads it first): the next request of a test is then the one it means.
    pub(super) async fn warm(&self) {
        self.addr.do_send(Register {
            container_id: "warm".into(),
            records: vec![rec("warm", [10, 9, 9, 9])],
        });
        self.addr.send(Flush).await.unwrap();
        self.addr.do_send(Deregister {
            container_id: "warm".into(),
        });
        self.addr.send(Flush).await.unwrap();
    }

    /// The failures reported so far.
    pub(super) fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }
}

fn values(fake: &FakeRoute53) -> Vec<(Option<String>, Vec<String>)> {
    fake.sets()
        .into_iter()
        .map(|s| (s.set_identifier, s.values))
        .collect()
}

#[actix_rt::test]
async fn a_burst_coalesces_into_few_requests() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    for i in 0..200u8 {
        let mut record = rec(&format!("{i:03}"), [10, 0, 1, i]);
        record.key.name = format!("svc{}.example.com.", i % 4);
        h.addr.do_send(Register {
            container_id: format!("c{i}"),
            records: vec![record],
        });
    }
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets().len(), 200);
    // Four names nobody has written yet: each is read once, and the records gathered meanwhile go together.
    let requests = h.fake.change_requests();
    assert!(requests.len() <= 2, "burst of 200 took {requests:?}");
    assert!(
        h.fake.list_requests() <= 5,
        "one page of the launch read and one read per name"
    );
}

#[actix_rt::test]
async fn start_and_stop_while_a_request_is_in_flight_sends_nothing_for_that_container() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    h.addr.do_send(Register {
        container_id: "b".into(),
        records: vec![rec("b", [10, 0, 0, 2])],
    });
    h.addr.do_send(Deregister {
        container_id: "b".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(
        h.fake.change_requests(),
        vec![1],
        "only a's UPSERT was sent"
    );
    assert_eq!(
        values(&h.fake),
        vec![(
            Some(rec("a", [0; 4]).key.set_identifier),
            vec!["10.0.0.1".into()]
        )]
    );
}

#[actix_rt::test]
async fn throttling_then_recovery_loses_nothing() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    let throttle = || DnsError::Throttled {
        code: "Throttling".into(),
        message: "Rate exceeded".into(),
    };
    fake.fail_next([throttle(), throttle(), throttle()]);
    let h = start(fake);
    // The launch read takes the three faults (it retries too); then writes go through.
    for i in 0..5u8 {
        h.addr.do_send(Register {
            container_id: format!("c{i}"),
            records: vec![rec(&format!("{i}"), [10, 0, 0, i])],
        });
    }
    h.addr.send(Flush).await.unwrap();
    h.fake
        .fail_next([throttle(), DnsError::Transient("HTTP 503".into())]);
    h.addr.do_send(Deregister {
        container_id: "c0".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets().len(), 4);
    assert!(h.failures.lock().unwrap().is_empty());
}

#[actix_rt::test]
async fn a_conflicting_key_does_not_lose_the_others_and_not_found_counts_as_done() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    // Someone deletes our record behind our back; then a stop and a start land in one batch.
    h.fake
        .change("Z1", &[Change::Delete(rec("a", [10, 0, 0, 1]))])
        .await
        .unwrap();
    h.fake.fail_next([DnsError::Throttled {
        code: "Throttling".into(),
        message: "hold".into(),
    }]);
    h.addr.do_send(Register {
        container_id: "x".into(),
        records: vec![rec("x", [10, 0, 0, 9])],
    });
    h.addr.do_send(Deregister {
        container_id: "a".into(),
    });
    h.addr.do_send(Register {
        container_id: "b".into(),
        records: vec![rec("b", [10, 0, 0, 2])],
    });
    h.addr.send(Flush).await.unwrap();
    let ids: BTreeSet<_> = h
        .fake
        .sets()
        .into_iter()
        .filter_map(|s| s.set_identifier)
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            rec("b", [0; 4]).key.set_identifier,
            rec("x", [0; 4]).key.set_identifier
        ])
    );
    assert!(h.failures.lock().unwrap().is_empty());
}

#[actix_rt::test]
async fn foreign_records_under_the_same_name_are_never_touched() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    fake.insert(foreign());
    let h = start(fake);
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    h.addr.do_send(Deregister {
        container_id: "a".into(),
    });
    h.addr.send(Sweep { keep: listed([]) }).await.unwrap();
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets(), vec![foreign()]);
}

#[actix_rt::test]
async fn the_101st_weighted_record_is_quarantined_while_the_rest_are_served() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    for i in 0..100 {
        fake.insert(RecordSet {
            set_identifier: Some(format!("other-{i}")),
            ..foreign()
        });
    }
    let h = start(fake);
    h.addr.do_send(Register {
        container_id: "full".into(),
        records: vec![rec("full", [10, 0, 0, 1])],
    });
    let mut other = rec("o", [10, 0, 0, 2]);
    other.key.name = "api.example.com.".into();
    h.addr.do_send(Register {
        container_id: "o".into(),
        records: vec![other.clone()],
    });
    h.addr.send(Flush).await.unwrap();
    let sets = h.fake.sets();
    assert_eq!(sets.len(), 101, "the 100 others and api, not the 101st web");
    assert!(sets
        .iter()
        .any(|s| s.set_identifier.as_deref() == Some(other.key.set_identifier.as_str())));
    assert!(
        h.failures.lock().unwrap().is_empty(),
        "a quota refusal is not fatal"
    );
}

#[actix_rt::test]
async fn launch_sweep_removes_only_stale_records_of_this_owner() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    fake.insert(foreign());
    let mine = |task: &str, ip: [u8; 4]| RecordSet {
        set_identifier: Some(rec(task, ip).key.set_identifier),
        weight: Some(1),
        values: vec![Ipv4Addr::from(ip).to_string()],
        ..foreign()
    };
    fake.insert(mine("stale", [10, 0, 0, 5]));
    fake.insert(mine("starting", [10, 0, 0, 6]));
    let other_owner = Owner::new("prod", "other")
        .unwrap()
        .set_identifier(&InstanceId::Task("t".into()));
    fake.insert(RecordSet {
        set_identifier: Some(other_owner.clone()),
        ..foreign()
    });
    let h = start(fake);
    let keep = listed([("c-starting", rec("starting", [0; 4]).key.set_identifier)]);
    assert_eq!(h.addr.send(Sweep { keep }).await.unwrap(), 1);
    h.addr.send(Flush).await.unwrap();
    let ids: BTreeSet<_> = h
        .fake
        .sets()
        .into_iter()
        .filter_map(|s| s.set_identifier)
        .collect();
    let expected = BTreeSet::from([
        "someone-else".to_string(),
        other_owner,
        rec("starting", [0; 4]).key.set_identifier,
    ]);
    assert_eq!(ids, expected);
}

#[actix_rt::test]
async fn a_missing_zone_is_fatal() {
    let h = start(FakeRoute53::new("Z-other", "example.com."));
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    let failures = h.failures.lock().unwrap().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("NoSuchHostedZone"), "{failures:?}");
}

#[actix_rt::test]
async fn writers_sharing_one_account_bucket_all_converge() {
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    let mut writers = Vec::new();
    for a in 0..8 {
        let (reporter, _) = probe::reporter();
        let config = Route53Config::quiet("Z1");
        let owner = Owner::new("prod", &format!("agent{a}")).unwrap();
        let (health, metrics) = (Arc::default(), Arc::default());
        let writer = Route53Actor::new(fake.clone(), config, owner, reporter, health, metrics);
        writers.push(writer.start());
    }
    for w in &writers {
        w.send(Flush).await.unwrap();
    }
    fake.set_account_bucket(super::limiter::bucket(8.0, 2));
    for (a, w) in writers.iter().enumerate() {
        for t in 0..5 {
            let owner = Owner::new("prod", &format!("agent{a}")).unwrap();
            let set_identifier = owner.set_identifier(&InstanceId::Task(format!("{t}")));
            let record = Record::new(
                "web.example.com.".into(),
                set_identifier,
                RecordValue::A(Ipv4Addr::new(10, 0, a as u8, t)),
                60,
                1,
            );
            w.do_send(Register {
                container_id: format!("{a}-{t}"),
                records: vec![record],
            });
        }
    }
    for w in &writers {
        w.send(Flush).await.unwrap();
    }
    assert_eq!(fake.sets().len(), 40, "nothing lost");
    assert!(fake.throttled() > 0, "the shared bucket did throttle");
}

#[actix_rt::test]
async fn a_quarantined_change_is_retried_on_its_own_once_the_conflict_is_gone() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    // A simple (non-weighted) record of someone else blocks weighted records under the name.
    fake.insert(RecordSet {
        set_identifier: None,
        weight: None,
        ..foreign()
    });
    let h = start_with(fake, Duration::from_millis(300));
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(
        h.fake.sets().len(),
        1,
        "refused while the simple record exists"
    );
    h.fake.remove_name("web.example.com.");
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        values(&h.fake),
        vec![(
            Some(rec("a", [0; 4]).key.set_identifier),
            vec!["10.0.0.1".into()]
        )]
    );
}

#[path = "recheck_tests.rs"]
mod recheck;

/// Polls `check` every 20 ms for at most `limit`.
pub(super) async fn eventually(limit: Duration, check: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// A refusal at the 100 limit is retried with the group's size read again: once room has freed (another writer's
/// record went), the task is registered when its quarantine ends, not only at the next verification.
#[actix_rt::test]
async fn a_record_refused_at_the_limit_is_registered_once_room_frees() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    for i in 0..100 {
        fake.insert(RecordSet {
            set_identifier: Some(format!("other-{i}")),
            ..foreign()
        });
    }
    let h = start_with(fake, Duration::from_millis(200));
    h.addr.do_send(Register {
        container_id: "full".into(),
        records: vec![rec("full", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets().len(), 100, "refused");
    h.fake.remove_set("web.example.com.", "other-0");
    let mine = rec("full", [0; 4]).key.set_identifier;
    let registered = || {
        h.fake
            .sets()
            .iter()
            .any(|s| s.set_identifier.as_deref() == Some(mine.as_str()))
    };
    assert!(
        eventually(Duration::from_secs(3), registered).await,
        "registered once room freed"
    );
}

/// A change refused on its own is quarantined, and the same change is not sent again before the quarantine
/// ends, however often its key is planned again (here: a second container registering the same record); a new
/// change of the record goes at once.
#[actix_rt::test]
async fn a_quarantined_change_is_not_sent_again_when_its_key_is_planned_again() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    // A simple (non-weighted) record of someone else makes Route53 refuse weighted records under the name.
    fake.insert(RecordSet {
        set_identifier: None,
        weight: None,
        ..foreign()
    });
    let h = start_with(fake, Duration::from_secs(3600));
    let record = rec("shared", [10, 0, 0, 7]);
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: vec![record.clone()],
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(
        h.fake.change_requests().len(),
        2,
        "the batch, then the change alone"
    );
    h.addr.do_send(Register {
        container_id: "c2".into(),
        records: vec![record],
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.change_requests().len(), 2, "held: the same change");
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: vec![rec("shared", [10, 0, 0, 8])],
    });
    h.addr.do_send(Register {
        container_id: "c2".into(),
        records: vec![rec("shared", [10, 0, 0, 8])],
    });
    h.addr.send(Flush).await.unwrap();
    assert!(
        h.fake.change_requests().len() > 2,
        "a new change goes at once"
    );
}

/// The launch sweep waits for the launch read; a container that stops meanwhile is no longer kept by it, though
/// it was running when the sweep was asked for.
#[actix_rt::test]
async fn a_container_stopping_during_the_launch_read_is_not_kept_by_the_sweep() {
    let fake = FakeRoute53::new("Z1", "example.com.").with_latency(Duration::from_millis(20));
    for n in 0..3000 {
        fake.insert(RecordSet {
            name: format!("other{n:04}.example.com."),
            set_identifier: Some(format!("other-{n}")),
            ..foreign()
        });
    }
    let mine = rec("s", [10, 0, 0, 9]);
    fake.insert(RecordSet::from_record(&mine));
    let h = start(fake);
    let keep = listed([("c-s", mine.key.set_identifier.clone())]);
    let sweep = h.addr.send(Sweep { keep });
    h.addr.do_send(Deregister {
        container_id: "c-s".into(),
    });
    assert!(
        h.fake.list_requests() < 10,
        "the launch read is still going"
    );
    sweep.await.unwrap();
    h.addr.send(Flush).await.unwrap();
    let ours =
        |s: &RecordSet| s.set_identifier.as_deref() == Some(mine.key.set_identifier.as_str());
    assert!(
        !h.fake.sets().iter().any(ours),
        "its record went with the sweep"
    );
}
