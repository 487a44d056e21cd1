//! Model-based property test of the writer: random sequences of container starts, stops and restarts (with new
//! addresses), over many containers, with injected Route53 faults (throttling, 5xx, lost responses, credentials
//! rejected as expired, spurious batch rejections, requests that time out for the agent but land later), against
//! the strict fake. Whatever happens, the zone ends equal to the model: one record per running container at its
//! latest address, and the foreign record untouched.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use proptest::prelude::*;
use route53_discovery_actors::core::ownership::{InstanceId, Owner};
use route53_discovery_actors::core::record::{Record, RecordSet, RecordValue};
use route53_discovery_actors::messages::probe;
use route53_discovery_actors::route53::api::DnsError;
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::{
    Deregister, Flush, Register, Route53Actor, Route53Config, WRITER_BACKOFF,
};

#[derive(Debug, Clone)]
enum Op {
    /// Container n starts (or restarts: die then start) with address 10.0.n.ip.
    Start(u8, u8),
    /// Container n stops.
    Stop(u8),
    /// Wait for everything sent so far to be attempted.
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, 1u8..250).prop_map(|(n, ip)| Op::Start(n, ip)),
        3 => (0u8..12).prop_map(Op::Stop),
        1 => Just(Op::Flush),
    ]
}

fn fault() -> impl Strategy<Value = DnsError> {
    prop_oneof![
        Just(DnsError::Throttled {
            code: "Throttling".into(),
            message: "Rate exceeded".into()
        }),
        Just(DnsError::Throttled {
            code: "PriorRequestNotComplete".into(),
            message: "busy".into()
        }),
        Just(DnsError::Transient("HTTP 503".into())),
        Just(DnsError::Ambiguous("timeout".into())),
        Just(DnsError::CredentialsExpired {
            code: "ExpiredToken".into(),
            message: "The security token included in the request is expired".into()
        }),
        Just(DnsError::InvalidChangeBatch("spurious".into())),
    ]
}

fn owner() -> Owner {
    Owner::new("prod", "me").unwrap()
}

fn record(n: u8, ip: u8) -> Record {
    Record::new(
        "web.example.com.".into(),
        owner().set_identifier(&InstanceId::Task(format!("{n:02}"))),
        RecordValue::A(Ipv4Addr::new(10, 0, n, ip)),
        60,
        1,
    )
}

fn foreign() -> RecordSet {
    RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some("hand-made".into()),
        weight: Some(9),
        ttl: Some(60),
        values: vec!["192.0.2.1".into()],
        has_extras: false,
    }
}

fn zone_view(fake: &FakeRoute53) -> BTreeMap<String, String> {
    fake.sets()
        .into_iter()
        .map(|s| (s.set_identifier.unwrap_or_default(), s.values.join(",")))
        .collect()
}

fn run_case(ops: Vec<Op>, faults: Vec<DnsError>, late: Vec<u64>) -> Result<(), TestCaseError> {
    actix_rt::System::new().block_on(async move {
        let fake = Rc::new(FakeRoute53::new("Z1", "example.com."));
        fake.insert(foreign());
        let config = Route53Config {
            zone_id: "Z1".into(),
            quarantine: Duration::from_millis(50),
            ttl: 60,
            weight: 1,
            startup_jitter: Duration::ZERO,
            recheck_after: Duration::from_millis(400),
            verify_interval: None,
            verify_reads_per_hour: None,
            backoff: WRITER_BACKOFF,
        };
        let (reporter, failures) = probe::reporter();
        let (health, metrics) = (Arc::default(), Arc::default());
        let writer = Route53Actor::new(fake.clone(), config, owner(), reporter, health, metrics);
        let writer = writer.start();
        writer.send(Flush).await.unwrap();
        fake.fail_next(faults);
        for ms in late {
            fake.land_late(Duration::from_millis(ms));
        }
        let mut model: BTreeMap<u8, u8> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Start(n, ip) => {
                    model.insert(n, ip);
                    writer.do_send(Register {
                        container_id: format!("c{n}"),
                        records: vec![record(n, ip)],
                    });
                }
                Op::Stop(n) => {
                    model.remove(&n);
                    writer.do_send(Deregister {
                        container_id: format!("c{n}"),
                    });
                }
                Op::Flush => writer.send(Flush).await.unwrap(),
            }
        }
        let mut expected: BTreeMap<String, String> = model
            .iter()
            .map(|(n, ip)| (record(*n, *ip).key.set_identifier, format!("10.0.{n}.{ip}")))
            .collect();
        expected.insert("hand-made".into(), "192.0.2.1".into());
        // Quarantined keys come back on their own within a few quarantine periods.
        // Generous: backoffs reach 5 s, and CI machines are busy; a converging case exits at once.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            writer.send(Flush).await.unwrap();
            // Settled: no change is still on its way to the zone, and the zone is the model.
            let settled = fake.pending_late() == 0 && zone_view(&fake) == expected;
            if settled || Instant::now() > deadline {
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        prop_assert_eq!(zone_view(&fake), expected);
        prop_assert!(
            failures.lock().unwrap().is_empty(),
            "no fault here is permanent"
        );
        Ok(())
    })
}

/// `MODEL_CASES` sets the number of cases (default 32).
fn cases() -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_zone_always_converges_to_the_model(ops in prop::collection::vec(op(), 1..80), faults in prop::collection::vec(fault(), 0..8), late in prop::collection::vec(10u64..300, 0..3)) {
        run_case(ops, faults, late)?;
    }
}
