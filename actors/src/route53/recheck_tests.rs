//! The writer's targeted re-reads (`recheck.rs`): a late-landing change found by the recheck, and the periodic
//! verification: what it restores, what it costs, and its per-agent limit.

use super::*;

/// [`Route53Config::quiet`] with these rechecks and this verification.
fn quick_checks(recheck_after: Duration, verify_interval: Option<Duration>) -> Route53Config {
    Route53Config {
        recheck_after,
        verify_interval,
        ..Route53Config::quiet("Z1")
    }
}

#[actix_rt::test]
async fn a_change_that_lands_after_the_reread_is_found_by_the_recheck_and_undone() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    fake.insert(foreign());
    let h = start_config(fake, quick_checks(Duration::from_millis(1500), None));
    h.warm().await;
    h.fake.land_late(Duration::from_millis(300));
    let sent = h.fake.change_requests().len();
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    // The container stops while the UPSERT is "timing out": the immediate re-read finds nothing, so the book
    // says there is nothing to delete; the UPSERT lands 300 ms later.
    assert!(
        eventually(Duration::from_secs(1), || h.fake.change_requests().len()
            > sent)
        .await
    );
    h.addr.do_send(Deregister {
        container_id: "a".into(),
    });
    h.addr.send(Flush).await.unwrap();
    assert!(
        eventually(Duration::from_secs(1), || h.fake.sets().len() == 2).await,
        "the late UPSERT has landed"
    );
    assert!(
        eventually(Duration::from_secs(5), || h.fake.sets() == vec![foreign()]).await,
        "the recheck removed it"
    );
    assert!(h.failures.lock().unwrap().is_empty());
}

#[actix_rt::test]
async fn a_second_late_change_under_the_same_name_is_found_too() {
    let fake = FakeRoute53::new("Z1", "example.com.");
    fake.insert(foreign());
    let h = start_config(fake, quick_checks(Duration::from_millis(600), None));
    h.addr.send(Flush).await.unwrap();
    let start_and_stop = |id: &str, late: u64| {
        h.fake.land_late(Duration::from_millis(late));
        h.addr.do_send(Register {
            container_id: id.into(),
            records: vec![rec(id, [10, 0, 0, 1])],
        });
        h.addr.do_send(Deregister {
            container_id: id.into(),
        });
    };
    start_and_stop("a", 100); // lands at ~100 ms; its recheck is due at ~600 ms
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    start_and_stop("b", 500); // lands at ~800 ms, after a's recheck time
    actix_rt::time::sleep(Duration::from_millis(700)).await; // both have landed by now
    assert!(
        eventually(Duration::from_secs(5), || h.fake.sets() == vec![foreign()]).await,
        "one recheck after both windows removed both: {:?}",
        h.fake.sets()
    );
}

#[actix_rt::test]
async fn periodic_verification_restores_a_record_deleted_by_hand() {
    let h = start_config(
        FakeRoute53::new("Z1", "example.com."),
        quick_checks(Duration::from_secs(30), Some(Duration::from_millis(300))),
    );
    h.addr.do_send(Register {
        container_id: "a".into(),
        records: vec![rec("a", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    h.fake.remove_name("web.example.com.");
    let lists = h.fake.list_requests();
    assert!(
        eventually(Duration::from_secs(5), || values(&h.fake).len() == 1).await,
        "re-created"
    );
    assert!(h.fake.list_requests() > lists, "by a targeted read");
}

#[actix_rt::test]
async fn periodic_verification_reads_nothing_when_no_record_is_held() {
    let h = start_config(
        FakeRoute53::new("Z1", "example.com."),
        quick_checks(Duration::from_secs(30), Some(Duration::from_millis(100))),
    );
    h.addr.send(Flush).await.unwrap();
    let lists = h.fake.list_requests();
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.fake.list_requests(), lists);
}

#[actix_rt::test]
async fn an_idle_agent_verifies_within_its_reads_per_hour() {
    // Three names, a verification every 100 ms asked for, but at most 360 reads an hour: the rounds are 30 s
    // apart (one name every 8 s or so). Without the limit an hour would hold 36 000 rounds.
    tokio::time::pause();
    let config = Route53Config {
        verify_reads_per_hour: Some(360.0),
        ..quick_checks(Duration::from_secs(30), Some(Duration::from_millis(100)))
    };
    let h = start_config(FakeRoute53::new("Z1", "example.com."), config);
    for (i, name) in ["web", "api", "db"].iter().enumerate() {
        let mut r = rec(&format!("c{i}"), [10, 0, 0, i as u8 + 1]);
        r.key.name = format!("{name}.example.com.");
        h.addr.do_send(Register {
            container_id: format!("c{i}"),
            records: vec![r],
        });
    }
    h.addr.send(Flush).await.unwrap();
    let lists = h.fake.list_requests();
    actix_rt::time::sleep(Duration::from_secs(3600)).await;
    let reads = h.fake.list_requests() - lists;
    assert!(
        (300..=363).contains(&reads),
        "{reads} verification reads in an hour (at most 360)"
    );
}
