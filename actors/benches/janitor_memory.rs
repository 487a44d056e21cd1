//! The janitor's memory on a zone of 124 000 records of its cluster (2 000 hosts × 62: A, AAAA and SRV of 20 tasks
//! and the host's own A and AAAA), in the strict in-memory Route53: the peak RSS rise of one zone read as the janitor
//! does it (`janitor::zone::read_owners`: counts per owner, plus the records of the owners asked for), beside
//! collecting every record of the cluster by owner (`api::read_zone`, then a map of owner → records).
//!
//! Each way runs in its own process (this binary run again with `R53D_JANITOR_MEMORY_MODE`), so one's freed memory
//! does not hide another's peak. The rise is VmHWM (reset through `/proc/self/clear_refs` once the fake zone is
//! built) minus VmRSS at the start of the read; the process's VmHWM includes the fake zone, which a real janitor
//! does not hold.
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench janitor_memory
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use route53_discovery_actors::core::record::Record;
use route53_discovery_actors::janitor::plan::owner_of;
use route53_discovery_actors::janitor::zone::{read_owners, Reader};
use route53_discovery_actors::route53::api::read_zone;
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::testkit::fleet::{host_records, instance, HostShape};

const HOSTS: usize = 2000;
const TASKS: usize = 20;
const PER_HOST: usize = 3 * TASKS + 2;
/// 100 tasks a service name: Route53's limit of weighted records per name and type.
const SERVICES: usize = HOSTS * TASKS / 100;
const ZONE_NAME: &str = "bench.example.com.";
const CLUSTER: &str = "prod";
const SCOPE: &str = "us-east-1.123456789012";
const MODE: &str = "R53D_JANITOR_MEMORY_MODE";

fn zone() -> FakeRoute53 {
    let fake = FakeRoute53::new("Z1", ZONE_NAME);
    let shape = HostShape {
        cluster: CLUSTER,
        scope: SCOPE,
        zone_name: ZONE_NAME,
        tasks: TASKS,
        services: SERVICES,
    };
    for h in 0..HOSTS {
        host_records(h, shape)
            .into_iter()
            .for_each(|r| fake.insert(r));
    }
    assert_eq!(fake.set_count(), HOSTS * PER_HOST);
    fake
}

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One way's read: (list requests, time, VmRSS before the zone, the zone's RSS, the read's peak rise, VmHWM), KiB.
async fn read(mode: &str) -> (usize, Duration, [u64; 4]) {
    let before = kib("VmRSS:");
    let fake = zone();
    let zone_rss = kib("VmRSS:").saturating_sub(before);
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
    let base = kib("VmRSS:");
    let start = Instant::now();
    let reader = Reader {
        zone_id: "Z1",
        cluster: CLUSTER,
        scope: SCOPE,
        pace: Duration::ZERO,
    };
    let keep: BTreeSet<String> = match mode {
        "owners, 3 kept" => (0..3).map(instance).collect(),
        _ => BTreeSet::new(),
    };
    let owners = match mode {
        "collect" => {
            let sets = read_zone(&fake, "Z1").await.unwrap();
            let mut by_owner: BTreeMap<String, Vec<Record>> = BTreeMap::new();
            for (owner, r) in sets.iter().filter_map(|s| owner_of(s, CLUSTER, SCOPE)) {
                by_owner.entry(owner).or_default().push(r);
            }
            assert!(by_owner.values().all(|r| r.len() == PER_HOST));
            by_owner.len()
        }
        _ => {
            let read = read_owners(&fake, reader, &keep, || true).await.unwrap();
            assert!(read.counts.values().all(|&n| n == PER_HOST));
            let kept: usize = read.kept.values().map(Vec::len).sum();
            assert_eq!(kept, keep.len() * PER_HOST);
            read.counts.len()
        }
    };
    assert_eq!(owners, HOSTS);
    let took = start.elapsed();
    let hwm = kib("VmHWM:");
    let kib = [before, zone_rss, hwm.saturating_sub(base), hwm];
    (fake.list_requests(), took, kib)
}

fn child(mode: &str) {
    let (requests, took, kib) = actix_rt::System::new().block_on(read(mode));
    let kib: Vec<String> = kib.iter().map(u64::to_string).collect();
    println!("{requests} {} {}", took.as_secs_f64(), kib.join(" "));
}

fn main() {
    if let Ok(mode) = std::env::var(MODE) {
        return child(&mode);
    }
    let records = HOSTS * PER_HOST;
    println!("Janitor's zone read, {records} records of one cluster ({HOSTS} owners × {PER_HOST}), strict fake, unpaced\n");
    println!("| read | list requests | time | peak RSS rise | the fake zone | process VmHWM |");
    println!("|---|---|---|---|---|---|");
    let mib = |v: &str| v.parse::<f64>().unwrap() / 1024.0;
    let mut before = 0.0;
    for mode in ["owners", "owners, 3 kept", "collect"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env(MODE, mode)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<&str> = text.split_whitespace().collect();
        assert!(
            out.status.success() && v.len() == 6,
            "{mode}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secs: f64 = v[1].parse().unwrap();
        before = mib(v[2]);
        println!(
            "| {mode} | {} | {secs:.2} s | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            v[0],
            mib(v[4]),
            mib(v[3]),
            mib(v[5])
        );
    }
    println!("\nVmRSS of this process before the fake zone was built: {before:.1} MiB");
}
