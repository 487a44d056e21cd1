//! The journal file (every way it is unusable falls back, a save is atomic) and the writer's launch from it:
//! no zone read, unsure names read at once, a stopped task's record removed by the launch sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::*;
use crate::core::claim::Claim;
use crate::core::ownership::InstanceId;
use crate::core::record::{Record, RecordSet, RecordValue};
use crate::messages::probe;
use crate::route53::fake::FakeRoute53;
use crate::route53::tests::{listed, owner, plain_config, rec};
use crate::route53::{Flush, Register, Route53Actor, Route53Config, Sweep};

fn journal(records: Vec<Record>) -> Journal {
    Journal {
        key: JournalKey::of("Z1", &owner()),
        zone_name: "example.com.".into(),
        cluster_owners: 3,
        records,
        shared_ttls: Some(Default::default()),
        unsure: BTreeSet::new(),
    }
}

#[test]
fn a_saved_journal_loads_back_and_a_save_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "/hostedzone/Z1").unwrap();
    assert!(store.load("Z1", &owner()).is_none(), "none yet");
    let first = journal(vec![rec("a", [10, 0, 0, 1])]);
    store.save(&first).unwrap();
    assert_eq!(store.load("Z1", &owner()), Some(first));
    let second = journal(vec![rec("b", [10, 0, 0, 2])]);
    store.save(&second).unwrap();
    assert_eq!(store.load("Z1", &owner()), Some(second));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file stays behind");
}

#[test]
fn a_corrupt_truncated_foreign_or_unreadable_journal_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let good = encode(&journal(vec![rec("a", [10, 0, 0, 1])]));
    let cases: [&[u8]; 3] = [b"garbage", &good[..good.len() - 3], b""];
    for bytes in cases {
        std::fs::write(store.path(), bytes).unwrap();
        assert!(store.load("Z1", &owner()).is_none());
    }
    std::fs::write(store.path(), &good).unwrap();
    assert!(store.load("Z2", &owner()).is_none(), "another zone's");
    let other = Owner::new("prod", "other").unwrap();
    assert!(store.load("Z1", &other).is_none(), "another owner's");
    std::fs::remove_file(store.path()).unwrap();
    std::fs::create_dir(store.path()).unwrap();
    assert!(store.load("Z1", &owner()).is_none(), "unreadable");
}

#[test]
fn a_state_dir_that_cannot_be_written_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(JournalStore::open(&file, "Z1").is_err(), "not a directory");
    assert!(JournalStore::open(&file.join("below"), "Z1").is_err());
}

fn writer(fake: &Rc<FakeRoute53>, store: &JournalStore) -> Addr<Route53Actor> {
    writer_with(fake, store, plain_config(Duration::from_secs(3600)))
}

fn writer_with(
    fake: &Rc<FakeRoute53>,
    store: &JournalStore,
    config: Route53Config,
) -> Addr<Route53Actor> {
    let loaded = store.load("Z1", &owner());
    let journal = WriterJournal::new(store.clone(), "Z1", "example.com.", &owner());
    let (reporter, _failures) = probe::reporter();
    Route53Actor::new(
        fake.clone(),
        config,
        owner(),
        reporter,
        Arc::default(),
        Arc::default(),
    )
    .with_journal(journal, loaded)
    .start()
}

fn foreign(n: usize) -> RecordSet {
    RecordSet {
        name: format!("other{n}.example.com."),
        record_type: "A".into(),
        set_identifier: Some(format!("someone-else-{n}")),
        weight: Some(1),
        ttl: Some(60),
        values: vec!["192.0.2.1".into()],
        has_extras: false,
    }
}

fn id(task: &str) -> String {
    owner().set_identifier(&InstanceId::Task(task.into()))
}

fn ids(fake: &FakeRoute53) -> BTreeSet<String> {
    fake.sets()
        .into_iter()
        .filter_map(|s| s.set_identifier)
        .collect()
}

#[actix_rt::test]
async fn a_restart_with_a_journal_reads_nothing_and_still_removes_a_task_that_stopped_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    (0..900).for_each(|n| fake.insert(foreign(n)));
    let first = writer(&fake, &store);
    for task in ["a", "b"] {
        first.do_send(Register {
            container_id: format!("c-{task}"),
            records: vec![rec(task, [10, 0, 0, 1])],
        });
    }
    let keep = listed([("c-a", id("a")), ("c-b", id("b"))]);
    first.send(Sweep { keep }).await.unwrap();
    first.send(Flush).await.unwrap();
    let full = fake.list_requests();
    assert!(full >= 3, "the first start reads the zone: {full} pages");
    let saved = store.load("Z1", &owner()).unwrap();
    assert_eq!(saved.records.len(), 2);
    assert!(saved.unsure.is_empty(), "{:?}", saved.unsure);

    // Restart: task b stopped while the agent was down.
    let second = writer(&fake, &store);
    second.do_send(Register {
        container_id: "c-a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    let keep = listed([("c-a", id("a"))]);
    assert_eq!(second.send(Sweep { keep }).await.unwrap(), 1, "b's record");
    second.send(Flush).await.unwrap();
    assert_eq!(fake.list_requests(), full, "no read at the restart");
    let mine: BTreeSet<String> = ids(&fake)
        .into_iter()
        .filter(|i| i.starts_with("r53d:"))
        .collect();
    assert_eq!(mine, BTreeSet::from([id("a")]));
    assert_eq!(store.load("Z1", &owner()).unwrap().records.len(), 1);
}

#[actix_rt::test]
async fn names_left_unsure_by_a_killed_run_are_read_at_the_launch() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    // The killed run sent b's record, which landed, but never heard back: the journal lists the name as unsure.
    fake.insert(RecordSet::from_record(&rec("b", [10, 0, 0, 2])));
    let mut j = journal(vec![]);
    j.unsure.insert("web.example.com.".into());
    store.save(&j).unwrap();
    let w = writer(&fake, &store);
    w.send(Sweep { keep: listed([]) }).await.unwrap();
    // The unsure name is read, b's record found, and (its task not running) removed.
    let mut waited = 0;
    while ids(&fake).contains(&id("b")) && waited < 50 {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        w.send(Flush).await.unwrap();
        waited += 1;
    }
    assert!(
        !ids(&fake).contains(&id("b")),
        "the landed record was found and removed"
    );
    assert!(fake.list_requests() >= 1);
    assert!(store.load("Z1", &owner()).unwrap().unsure.is_empty());
}

#[actix_rt::test]
async fn an_unsure_name_is_not_read_before_the_launch_sweep_so_a_live_tasks_landed_record_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    // The killed run's upsert of a's record landed unacknowledged; a still runs.
    fake.insert(RecordSet::from_record(&rec("a", [10, 0, 0, 1])));
    let mut j = journal(vec![]);
    j.unsure.insert("web.example.com.".into());
    store.save(&j).unwrap();
    let w = writer(&fake, &store);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    w.send(Flush).await.unwrap();
    assert!(
        ids(&fake).contains(&id("a")),
        "not deleted before the sweep"
    );
    w.do_send(Register {
        container_id: "c-a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    w.send(Sweep {
        keep: listed([("c-a", id("a"))]),
    })
    .await
    .unwrap();
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    w.send(Flush).await.unwrap();
    assert_eq!(ids(&fake), BTreeSet::from([id("a")]));
    assert!(
        fake.list_requests() >= 1,
        "the unsure name was read after the sweep"
    );
}

#[test]
fn a_save_that_fails_removes_the_old_journal_so_it_is_never_trusted_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    store.save(&journal(vec![rec("a", [10, 0, 0, 1])])).unwrap();
    // The directory's temporary files cannot be created any more (its path now names a missing directory).
    let broken = JournalStore {
        dir: dir.path().join("gone"),
        path: store.path().to_path_buf(),
    };
    assert!(broken.save(&journal(vec![])).is_err());
    assert!(
        store.load("Z1", &owner()).is_none(),
        "the stale journal is gone"
    );
}

/// A fleet of 2 000 agents restarted at once, each from its journal, must not read every name of every agent a
/// few minutes later: each agent's first verification round is spread over the interval the fleet's budget asks
/// for (2 000 agents × 10 names at 0.25 reads/s: 80 000 s), so within the first hour it reads one name or two.
#[actix_rt::test]
async fn a_journal_start_in_a_large_fleet_spreads_its_first_verification_over_the_fleet_interval() {
    tokio::time::pause();
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    let records: Vec<Record> = (0..10)
        .map(|n| {
            let mut r = rec(&format!("t{n}"), [10, 0, 0, n as u8 + 1]);
            r.key.name = format!("svc{n}.example.com.");
            r
        })
        .collect();
    for r in &records {
        fake.insert(RecordSet::from_record(r));
    }
    store
        .save(&Journal {
            cluster_owners: 2000,
            ..journal(records.clone())
        })
        .unwrap();
    let config = Route53Config {
        verify_interval: Some(Duration::from_secs(300)),
        ..plain_config(Duration::from_secs(3600))
    };
    let w = writer_with(&fake, &store, config);
    for (n, r) in records.iter().enumerate() {
        w.do_send(Register {
            container_id: format!("c{n}"),
            records: vec![r.clone()],
        });
    }
    let keep = records
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let names = BTreeSet::from([r.key.name.clone()]);
            let set_identifier = r.key.set_identifier.clone();
            (
                format!("c{n}"),
                Claim {
                    set_identifier,
                    names,
                },
            )
        })
        .collect();
    w.send(Sweep { keep }).await.unwrap();
    w.send(Flush).await.unwrap();
    actix_rt::time::sleep(Duration::from_secs(3600)).await;
    let reads = fake.list_requests();
    assert!(
        reads <= 2,
        "{reads} reads in the first hour after a journal start"
    );
}

/// A bridge task's SRV record and its target, the host's own per-instance name.
fn bridge_task() -> Vec<Record> {
    let host = owner().set_identifier(&InstanceId::Host);
    let target = "i-0abc.hosts.example.com.";
    let srv = crate::core::record::SrvValue {
        priority: 1,
        weight: 1,
        port: 32768,
        target: target.into(),
    };
    vec![
        Record::new(
            target.into(),
            host,
            RecordValue::A([10, 0, 0, 5].into()),
            60,
            1,
        ),
        Record::new(
            "_web._tcp.example.com.".into(),
            id("a"),
            RecordValue::Srv(srv),
            60,
            1,
        ),
    ]
}

/// The host was stopped longer than the janitor's grace: the janitor removed its records, the per-instance name
/// included, while the journal still lists them. At the start the agent reads its own per-instance name, finds
/// it empty and writes it again; after a quick restart (a fresh journal) it reads nothing.
#[actix_rt::test]
async fn after_a_long_stop_the_journal_start_reads_its_per_instance_name_and_restores_it() {
    let records = bridge_task();
    for (age, reads) in [(Duration::from_secs(3600), 1), (Duration::ZERO, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path(), "Z1").unwrap();
        let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
        fake.insert(RecordSet::from_record(&records[1]));
        store.save(&journal(records.clone())).unwrap();
        let saved = std::time::SystemTime::now() - age;
        let file = std::fs::File::options()
            .write(true)
            .open(store.path())
            .unwrap();
        file.set_modified(saved).unwrap();
        let w = writer(&fake, &store);
        w.do_send(Register {
            container_id: "c-a".into(),
            records: records.clone(),
        });
        w.send(Sweep {
            keep: listed([("c-a", id("a"))]),
        })
        .await
        .unwrap();
        w.send(Flush).await.unwrap();
        let start = std::time::Instant::now();
        while fake.sets().len() < 2 && start.elapsed() < Duration::from_secs(2) && reads > 0 {
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(fake.list_requests(), reads, "journal {age:?} old");
        assert_eq!(
            fake.sets().len(),
            1 + reads,
            "journal {age:?} old: {:?}",
            fake.sets()
        );
    }
}

/// A change that timed out may land after the writer's immediate re-read: its name stays unsure in the journal
/// until the recheck `recheck_after` later has read it. An agent restarted before that reads the name at its
/// start and removes the record, landed meanwhile, of a container that stopped.
#[actix_rt::test]
async fn a_timed_out_change_stays_unsure_in_the_journal_until_its_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    store.save(&journal(vec![])).unwrap();
    let first = writer(&fake, &store);
    first
        .send(Sweep {
            keep: BTreeMap::new(),
        })
        .await
        .unwrap();
    fake.land_late(Duration::from_millis(300));
    first.do_send(Register {
        container_id: "c-a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    // The UPSERT "times out"; the name is read, nothing found, the UPSERT sent again and acknowledged.
    first.send(Flush).await.unwrap();
    assert_eq!(fake.change_requests().len(), 2);
    // The container stops; its DELETE is acknowledged; the agent is restarted before the recheck.
    first.do_send(crate::route53::Deregister {
        container_id: "c-a".into(),
    });
    first.send(Flush).await.unwrap();
    assert!(ids(&fake).is_empty());
    drop(first);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ids(&fake),
        BTreeSet::from([id("a")]),
        "the UPSERT landed late"
    );
    let saved = store.load("Z1", &owner()).unwrap();
    assert!(
        saved.unsure.contains("web.example.com."),
        "{:?}",
        saved.unsure
    );

    let second = writer(&fake, &store);
    second
        .send(Sweep {
            keep: BTreeMap::new(),
        })
        .await
        .unwrap();
    let start = std::time::Instant::now();
    while !ids(&fake).is_empty() && start.elapsed() < Duration::from_secs(3) {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        ids(&fake).is_empty(),
        "the late record of a stopped container is removed"
    );
}

/// A drain that ends the launch read before its end saves no journal: the book knows only part of this owner's
/// records, and a journal trusted at the next start would hide the rest for ever.
#[actix_rt::test]
async fn a_drain_during_the_launch_read_saves_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let zone = FakeRoute53::new("Z1", "example.com.").with_latency(Duration::from_millis(20));
    let fake = Rc::new(zone);
    (0..3000).for_each(|n| fake.insert(foreign(n)));
    let w = writer(&fake, &store);
    w.do_send(Register {
        container_id: "c-a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    w.send(Flush).await.unwrap();
    assert!(fake.list_requests() < 10, "the launch read is still going");
    w.do_send(crate::route53::Deregister {
        container_id: "c-a".into(),
    });
    drop(w);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ids(&fake).iter().all(|i| !i.starts_with("r53d:")),
        "the drain sent the DELETE"
    );
    assert!(
        store.load("Z1", &owner()).is_none(),
        "no journal of a partial read"
    );
}

/// A restarted writer: task a still runs, task b starts under the same name.
async fn task_b_joins(w: &Addr<Route53Actor>) {
    w.do_send(Register {
        container_id: "c-b".into(),
        records: vec![rec("b", [10, 0, 0, 2])],
    });
    let keep = listed([("c-a", id("a")), ("c-b", id("b"))]);
    w.send(Sweep { keep }).await.unwrap();
    w.send(Flush).await.unwrap();
}

#[actix_rt::test]
async fn a_restart_from_the_journal_keeps_the_ttl_of_a_group_another_writer_shares() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    // Someone else's weighted set under the service name, at TTL 300 (this agent's own TTL is 60).
    fake.insert(RecordSet {
        name: "web.example.com.".into(),
        set_identifier: Some("hand-made".into()),
        ttl: Some(300),
        ..foreign(0)
    });
    let first = writer(&fake, &store);
    first.do_send(Register {
        container_id: "c-a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    first.send(Sweep { keep: listed([]) }).await.unwrap();
    first.send(Flush).await.unwrap();
    drop(first);

    // Restart from the journal; a new task joins the same group. Route53 gives a weighted group one TTL (the
    // last written), so a record at 60 would change the hand-made set's TTL.
    task_b_joins(&writer(&fake, &store)).await;
    let ttls: BTreeMap<String, Option<i64>> = fake
        .sets()
        .into_iter()
        .filter(|s| s.name == "web.example.com.")
        .map(|s| (s.set_identifier.unwrap(), s.ttl))
        .collect();
    assert_eq!(ttls.len(), 3, "{ttls:?}");
    assert!(ttls.values().all(|t| *t == Some(300)), "{ttls:?}");
}

#[actix_rt::test]
async fn a_journal_without_shared_ttls_has_each_name_read_before_a_new_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
    let hand_made = RecordSet {
        name: "web.example.com.".into(),
        set_identifier: Some("hand-made".into()),
        ttl: Some(300),
        ..foreign(0)
    };
    fake.insert(hand_made);
    let a = Record {
        ttl: 300,
        ..rec("a", [10, 0, 0, 1])
    };
    fake.insert(RecordSet::from_record(&a));
    // As the previous format wrote it: no shared TTLs.
    let mut old: serde_json::Value = serde_json::from_slice(&encode(&journal(vec![a]))).unwrap();
    old["format"] = 1.into();
    old.as_object_mut().unwrap().remove("shared_ttls");
    std::fs::write(store.path(), serde_json::to_vec(&old).unwrap()).unwrap();
    assert_eq!(store.load("Z1", &owner()).unwrap().shared_ttls, None);
    task_b_joins(&writer(&fake, &store)).await;
    assert_eq!(fake.list_requests(), 1, "the name, once");
    let ttls: Vec<Option<i64>> = fake.sets().into_iter().map(|s| s.ttl).collect();
    assert_eq!(ttls, vec![Some(300); 3]);
}
