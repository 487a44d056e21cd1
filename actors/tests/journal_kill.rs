//! A journal survives SIGKILL mid-write: a child process saves journals as fast as it can and is killed at
//! random moments; after every kill the journal on disk is one the child saved whole (or none, before the
//! first save), never a torn one, and no temporary file piles up once the store is opened again.
//!
//! The child is this test binary run again with `R53D_JOURNAL_CHILD` set to the state directory.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use route53_discovery_actors::core::journal::{Journal, JournalKey};
use route53_discovery_actors::core::ownership::{InstanceId, Owner};
use route53_discovery_actors::core::record::{Record, RecordValue};
use route53_discovery_actors::route53::journal::JournalStore;

const CHILD: &str = "R53D_JOURNAL_CHILD";

fn owner() -> Owner {
    Owner::new("prod", "me").unwrap()
}

/// Journal number `n`: `n` records (so a torn mix of two saves cannot decode as either).
fn journal(n: usize) -> Journal {
    let records = (0..n)
        .map(|i| {
            Record::new(
                format!("svc{}.example.com.", i % 7),
                owner().set_identifier(&InstanceId::Task(format!("{n}-{i}"))),
                RecordValue::A(Ipv4Addr::from(0x0a00_0000 + i as u32)),
                60,
                1,
            )
        })
        .collect();
    Journal {
        key: JournalKey::of("Z1", &owner()),
        zone_name: "example.com.".into(),
        cluster_owners: 1,
        records,
        shared_ttls: Some(Default::default()),
        unsure: BTreeSet::new(),
    }
}

#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD) else {
        return; // run as a test of its own: nothing to do
    };
    let store = JournalStore::open(Path::new(&dir), "Z1").unwrap();
    for n in (1..).map(|i| 1 + i % 200) {
        store.save(&journal(n)).unwrap();
    }
}

#[test]
fn a_journal_killed_mid_write_is_the_old_one_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seen = 0;
    for round in 0..25u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + (round * 37) % 90));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = JournalStore::open(dir.path(), "Z1").unwrap();
        if let Some(j) = store.load("Z1", &owner()) {
            assert_eq!(j, journal(j.records.len()), "round {round}: a whole save");
            seen += 1;
        } else {
            assert!(
                !store.path().exists(),
                "round {round}: a journal that does not load"
            );
        }
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(
            files <= 1,
            "round {round}: {files} files; temporaries are removed at open"
        );
    }
    assert!(
        seen >= 20,
        "the child saved before most kills ({seen} of 25)"
    );
}
