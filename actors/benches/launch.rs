//! The launch's cost on a large zone (issue 13, items 2 and 5): Route53 requests, time and the read's peak memory
//! of one agent's start on a zone of 100 000 others' records plus its own 10, three ways side by side:
//!
//! * **today** — the launch read before issue 13: every page collected (`api::read_zone`), then filtered;
//! * **scan** — the writer's launch now without a journal: page by page through `core::scan::ZoneScan`;
//! * **journal** — the writer's launch now with a good journal: no read.
//!
//! Each runs in its own process (this binary run again with `R53D_LAUNCH_MODE`), so one's freed memory does not
//! hide another's peak. Peak memory is the rise of the process's peak RSS (VmHWM, reset through
//! `/proc/self/clear_refs` after the fake zone is built) during the launch.
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench launch
//! ```

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use route53_discovery_actors::core::journal::{Journal, JournalKey};
use route53_discovery_actors::core::ownership::{InstanceId, Owner};
use route53_discovery_actors::core::record::{Record, RecordSet, RecordValue};
use route53_discovery_actors::messages::probe;
use route53_discovery_actors::route53::api::read_zone;
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::journal::{JournalStore, WriterJournal};
use route53_discovery_actors::route53::{Flush, Route53Actor, Route53Config};

const FOREIGN: usize = 100_000;
const OWN: usize = 10;
const MODE: &str = "R53D_LAUNCH_MODE";

fn owner() -> Owner {
    Owner::scoped(
        "bench",
        "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70",
        "us-east-1.123456789012",
    )
    .unwrap()
}

fn own(i: usize) -> Record {
    Record::new(
        format!("svc{}.bench.example.com.", i % 3),
        owner().set_identifier(&InstanceId::Task(format!("{i:032x}"))),
        RecordValue::A(Ipv4Addr::new(10, 0, 0, i as u8)),
        60,
        1,
    )
}

fn zone() -> FakeRoute53 {
    let fake = FakeRoute53::new("Z1", "bench.example.com.");
    for i in 0..FOREIGN {
        let other = Owner::new("bench", &format!("{:032x}", i / 10 + 1)).unwrap();
        fake.insert(RecordSet {
            name: format!("app{}.bench.example.com.", i / 50),
            record_type: "A".into(),
            set_identifier: Some(other.set_identifier(&InstanceId::Task(format!("{i:032x}")))),
            weight: Some(1),
            ttl: Some(60),
            values: vec![Ipv4Addr::from(0x0a01_0000 + i as u32).to_string()],
            has_extras: false,
        });
    }
    (0..OWN).for_each(|i| fake.insert(RecordSet::from_record(&own(i))));
    fake
}

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One mode's launch: (requests, time, peak RSS rise in KiB).
async fn launch(mode: &str) -> (usize, Duration, u64) {
    let fake = Rc::new(zone());
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path(), "Z1").unwrap();
    let journal = Journal {
        key: JournalKey::of("Z1", &owner()),
        zone_name: "bench.example.com.".into(),
        cluster_owners: FOREIGN / 10 + 1,
        records: (0..OWN).map(own).collect(),
        shared_ttls: Some(Default::default()),
        unsure: BTreeSet::new(),
    };
    store.save(&journal).unwrap();
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
    let base = kib("VmRSS:");
    let start = Instant::now();
    match mode {
        "today" => {
            let sets = read_zone(&*fake, "Z1").await.unwrap();
            let mine = sets
                .iter()
                .filter(|s| s.set_identifier.as_deref().is_some_and(|i| owner().owns(i)));
            assert_eq!(mine.count(), OWN);
        }
        _ => {
            let loaded = (mode == "journal").then(|| store.load("Z1", &owner()).unwrap());
            let kept = WriterJournal::new(store.clone(), "Z1", "bench.example.com.", &owner());
            let (reporter, _) = probe::reporter();
            let w = Route53Actor::new(
                fake.clone(),
                Route53Config::quiet("Z1"),
                owner(),
                reporter,
                Arc::default(),
                Arc::default(),
            )
            .with_journal(kept, loaded)
            .start();
            w.send(Flush).await.unwrap();
        }
    }
    let took = start.elapsed();
    (
        fake.list_requests(),
        took,
        kib("VmHWM:").saturating_sub(base),
    )
}

fn child(mode: &str) {
    let (requests, took, peak) = actix_rt::System::new().block_on(launch(mode));
    println!("{requests} {} {peak}", took.as_secs_f64());
}

fn main() {
    if let Ok(mode) = std::env::var(MODE) {
        return child(&mode);
    }
    println!("Launch of one agent on a zone of {FOREIGN} others' records + its own {OWN} (strict fake, no latency)\n");
    println!("| launch | list requests | time | peak RSS rise |\n|---|---|---|---|");
    for mode in ["today", "scan", "journal"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env(MODE, mode)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<&str> = text.split_whitespace().collect();
        assert!(
            out.status.success() && v.len() == 3,
            "{mode}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secs: f64 = v[1].parse().unwrap();
        let peak: f64 = v[2].parse().unwrap();
        println!(
            "| {mode} | {} | {:.2} s | {:.1} MiB |",
            v[0],
            secs,
            peak / 1024.0
        );
    }
}
