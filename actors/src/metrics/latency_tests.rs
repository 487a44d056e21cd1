//! `r53d_event_to_change_seconds` through a whole in-memory agent: it runs from the moment the watcher received
//! the event or listing (so a slow address lookup counts), one observation per record Route53 accepted.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::testkit::{Host, TaskFault, Timing};

/// How long each container's address lookup takes here.
const LOOKUP: Duration = Duration::from_millis(400);

fn observed(h: &prometheus::Histogram) -> (u64, f64) {
    (h.get_sample_count(), h.get_sample_sum())
}

#[actix_rt::test]
async fn event_to_change_runs_from_the_receipt_to_the_accepted_change() {
    let h = Host::default();
    let (listed, started) = (
        crate::testkit::container_id(1, "a"),
        crate::testkit::container_id(2, "b"),
    );
    h.start(&listed, "web", Ipv4Addr::new(10, 0, 0, 1));
    h.engine.task_fault(&listed, Some(TaskFault::Slow(LOOKUP)));
    let agent = h.agent(Timing::default());
    agent.ready().await;
    let latency = &agent.metrics.event_to_change;
    let (n, launch) = observed(latency);
    assert_eq!(n, 1, "the listed container's record");
    assert!(
        launch >= LOOKUP.as_secs_f64(),
        "from the listing, lookup included: {launch}"
    );

    h.engine.task_fault(&started, Some(TaskFault::Slow(LOOKUP)));
    h.start(&started, "web", Ipv4Addr::new(10, 0, 0, 2));
    crate::testkit::sleep_ms(50).await;
    agent.settle().await;
    assert_eq!(h.zone.set_count(), 2);
    let (n, sum) = observed(latency);
    assert_eq!(n, 2, "one more record");
    let event = sum - launch;
    assert!(
        event >= LOOKUP.as_secs_f64(),
        "from the start event, lookup included: {event}"
    );
    assert!(event < 10.0, "{event}");

    h.engine.die(&started);
    crate::testkit::sleep_ms(50).await;
    agent.settle().await;
    assert_eq!(h.zone.set_count(), 1);
    assert_eq!(observed(latency).0, 3, "the deletion too");
    agent.drain(&h.probe).await;
}
