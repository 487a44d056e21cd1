//! The journal file (every way it is unusable falls back, a save is atomic) and the writer's launch from it:
//! no zone read, unsure names read at once, a stopped task's record removed by the launch sweep.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::*;
use crate::core::ownership::InstanceId;
use crate::core::record::{Record, RecordSet};
use crate::messages::probe;
use crate::route53::fake::FakeRoute53;
use crate::route53::tests::{listed, owner, plain_config, rec};
use crate::route53::{Flush, Register, Route53Actor, Sweep};

fn journal(records: Vec<Record>) -> Journal {
    Journal {
        key: JournalKey::of("Z1", &owner()),
        zone_name: "example.com.".into(),
        cluster_owners: 3,
        records,
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
    let loaded = store.load("Z1", &owner());
    let journal = WriterJournal::new(store.clone(), "Z1", "example.com.", &owner());
    let (reporter, _failures) = probe::reporter();
    let config = plain_config(Duration::from_secs(3600));
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
