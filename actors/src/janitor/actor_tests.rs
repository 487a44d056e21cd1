//! `JanitorActor` itself: its cycles on a timer, the grace period in real time, skipped cycles, and its standing
//! kept in the state directory across a restart.

use super::*;

fn actor(w: &World, me: &str, grace: Duration, stats: &JanitorCounters) -> Addr<JanitorActor> {
    actor_in(w, me, grace, stats, None)
}

/// The actor, its standing kept in `dir` when given.
fn actor_in(
    w: &World,
    me: &str,
    grace: Duration,
    stats: &JanitorCounters,
    dir: Option<&std::path::Path>,
) -> Addr<JanitorActor> {
    let config = JanitorConfig {
        cluster: "prod".into(),
        scope: Some(SCOPE.into()),
        owner: me.into(),
        zone_id: "Z1".into(),
        interval: Duration::from_millis(40),
        grace,
        max_owners_per_cycle: 5,
        zone_pace: Duration::ZERO,
        standing_dir: dir.map(std::path::Path::to_path_buf),
    };
    let weak = w.writer.clone().recipient().downgrade();
    let health = Arc::new(HealthState::default());
    let apis = Apis {
        ecs: w.ecs.clone(),
        ec2: w.ecs.clone(),
        dns: w.zone.clone() as Rc<dyn DnsApi>,
    };
    JanitorActor::new(config, apis, weak, stats.clone(), health).start()
}

async fn wait_until(limit: Duration, check: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

#[actix_rt::test]
async fn the_actor_waits_out_the_grace_period_then_purges_and_counts() {
    let w = world().await;
    let stats = Metrics::default().janitor;
    w.ecs.set(D, "INACTIVE", false);
    let started = std::time::Instant::now();
    let _janitor = actor(&w, A, Duration::from_millis(200), &stats);
    assert!(wait_until(Duration::from_secs(5), || stats.records_removed.get() == 2).await);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(owners_left(&w.ids()), [A, B, C]);
    assert_eq!(stats.owners_found_dead.get(), 1);
    assert!(stats.elections_won.get() >= 2 && stats.last_cycle.get() > 0);
}

#[actix_rt::test]
async fn the_actor_skips_cycles_while_ecs_is_down() {
    let w = world().await;
    let stats = Metrics::default().janitor;
    w.ecs.set_down(true);
    w.ecs.remove(D);
    let _janitor = actor(&w, A, Duration::ZERO, &stats);
    assert!(wait_until(Duration::from_secs(5), || stats.cycles_skipped.get() >= 2).await);
    assert_eq!(
        (stats.records_removed.get(), w.zone.list_requests()),
        (0, 0)
    );
    w.ecs.set_down(false);
    assert!(
        wait_until(Duration::from_secs(5), || stats.records_removed.get() == 2).await,
        "the first cycle after the outage judges again"
    );
}

#[actix_rt::test]
async fn a_restarted_actor_resumes_the_standing_its_last_run_saved() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let stats = Metrics::default().janitor;
    let janitor = actor_in(&w, B, Duration::from_secs(3600), &stats, Some(dir.path()));
    assert!(wait_until(Duration::from_secs(5), || stats.elections_lost.get() >= 1).await);
    drop(janitor);
    let saved = std::fs::read_to_string(dir.path().join("janitor-Z1.json")).unwrap();
    assert!(saved.contains(A), "A is the janitor: {saved}");
    // The restart (a new actor, same directory) makes no full election: B is a deputy and describes A only.
    let (lists, _) = w.ecs.calls();
    let again = Metrics::default().janitor;
    let _janitor = actor_in(&w, B, Duration::from_secs(3600), &again, Some(dir.path()));
    assert!(wait_until(Duration::from_secs(5), || again.elections_lost.get() >= 2).await);
    assert_eq!(
        w.ecs.calls().0,
        lists,
        "no ListContainerInstances after the restart"
    );
}
