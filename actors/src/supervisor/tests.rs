//! Actor tests of the drain protocol with stand-in pipeline actors.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Stands in for the pipeline head: on `Drain` it stops, and then each stand-in worker reports stopped.
struct Head {
    reporter: Reporter,
    workers: usize,
    in_flight: Duration,
    drained: Arc<AtomicUsize>,
}

impl Actor for Head {
    type Context = Context<Self>;
}

impl Handler<Drain> for Head {
    type Result = ();
    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        // Workers finish their in-flight work before they report.
        let (reporter, workers, drained) =
            (self.reporter.clone(), self.workers, self.drained.clone());
        ctx.run_later(self.in_flight, move |_, ctx| {
            for _ in 0..workers {
                drained.fetch_add(1, Ordering::SeqCst);
                reporter.stopped("worker");
            }
            reporter.stopped("head");
            ctx.stop();
        });
    }
}

fn start(
    grace: Duration,
    in_flight: Duration,
) -> (Addr<SupervisorActor>, Arc<HealthState>, Arc<AtomicUsize>) {
    let health = Arc::new(HealthState::default());
    let sup = SupervisorActor::new(health.clone(), grace).start();
    let drained = Arc::new(AtomicUsize::new(0));
    let head = Head {
        reporter: SupervisorActor::reporter(&sup),
        workers: 2,
        in_flight,
        drained: drained.clone(),
    }
    .start();
    sup.do_send(Attach {
        watcher: head.recipient(),
        expected: 3,
    });
    (sup, health, drained)
}

fn run_system(f: impl FnOnce() -> Arc<AtomicUsize> + 'static) -> (i32, usize) {
    let sys = actix_rt::System::new();
    let drained = sys.block_on(async move { f() });
    let code = sys.run_with_code().unwrap_or(-1);
    (code, drained.load(Ordering::SeqCst))
}

#[test]
fn a_failure_drains_every_worker_then_exits_non_zero() {
    let (code, drained) = run_system(|| {
        let (sup, _, drained) = start(Duration::from_secs(10), Duration::from_millis(200));
        SupervisorActor::reporter(&sup).failed("route53", "NoSuchHostedZone");
        drained
    });
    assert_eq!((code, drained), (EXIT_FAILURE, 2));
}

#[test]
fn shutdown_drains_then_exits_zero() {
    let (code, drained) = run_system(|| {
        let (sup, _, drained) = start(Duration::from_secs(10), Duration::from_millis(100));
        sup.do_send(Shutdown);
        drained
    });
    assert_eq!((code, drained), (0, 2));
}

#[test]
fn the_deadline_stops_a_drain_that_hangs() {
    let start_time = std::time::Instant::now();
    let (code, drained) = run_system(|| {
        let (sup, _, drained) = start(Duration::from_millis(300), Duration::from_secs(3600));
        sup.do_send(Shutdown);
        drained
    });
    assert_eq!((code, drained), (0, 0));
    assert!(start_time.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_failure_during_a_signal_drain_makes_the_exit_non_zero() {
    let (code, _) = run_system(|| {
        let (sup, _, drained) = start(Duration::from_secs(10), Duration::from_millis(200));
        sup.do_send(Shutdown);
        SupervisorActor::reporter(&sup).failed("metadata", "boom");
        drained
    });
    assert_eq!(code, EXIT_FAILURE);
}
