//! The writer's one sequential loop, end to end through moto behind the counting spy: names only this owner can
//! hold (a task's SRV target) are never read, and a shared name is read once, however many tasks join it; under
//! heavy throttling a deregistration still leaves within seconds and new services get through; without a journal
//! the zone is read page by page while deregistrations go out between the pages.

use std::time::{Duration, Instant};

use crate::support::agent::Agent;
use crate::support::docker::{Container, Spec};
use crate::support::ecs::{Task, CLUSTER};
use crate::support::moto::{Rec, Typed};
use crate::support::spy::Spy;
use crate::support::{task_id, wait_for_result};
use crate::{World, HOST_IP};

/// `w`'s agent config talking to moto through `spy`.
fn config(w: &World, spy: &Spy) -> String {
    w.config().replace(&w.moto.url, &spy.url)
}

/// Zone-read and targeted-read requests the spy has seen (any status).
fn reads(spy: &Spy) -> usize {
    spy.count("r53:list") + spy.count("r53:list-name")
}

fn typed(name: String, rtype: &str, set_identifier: &str, value: String) -> Typed {
    Typed {
        name,
        rtype: rtype.into(),
        set_identifier: set_identifier.into(),
        values: vec![value],
    }
}

/// The `n`-th awsvpc task of `service` at `ip` with container port `port` (its SRV port): a pause container
/// (`--network none`) and an app on `container:<pause>`, announced to the fake ECS agent before the app starts.
/// Returns (app, pause, task id).
fn vpc_task(
    w: &World,
    service: &str,
    n: usize,
    ip: &str,
    port: u16,
) -> (Container, Container, String) {
    let tid = task_id(&format!("{}-{service}-{n}", w.name));
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{tid}");
    let ecs_labels = vec![("com.amazonaws.ecs.task-arn".to_string(), arn.clone())];
    let pause = Container::run(Spec {
        name: &format!("r53d-{}-{service}-{n}-pause", w.name),
        labels: ecs_labels.clone(),
        network: Some("none"),
        ..Default::default()
    });
    let mut labels = ecs_labels;
    labels.push((w.label.clone(), service.into()));
    let shared = format!("container:{}", pause.id);
    let app = Container::create(Spec {
        name: &format!("r53d-{}-{service}-{n}-app", w.name),
        labels,
        network: Some(&shared),
        ..Default::default()
    });
    w.ecs.add_task(Task {
        arn,
        known_status: "PENDING".into(),
        desired_status: Some("RUNNING".into()),
        containers: vec![(app.id.clone(), "app".into())],
        internal: vec![pause.id.clone()],
        awsvpc_ip: Some(ip.into()),
        ports: vec![(port, port)],
        ..Default::default()
    });
    app.start();
    (app, pause, tid)
}

/// A bridge task of `service`, created and announced to the fake ECS agent but not started yet.
fn created_bridge_task(w: &World, service: &str) -> (Container, String) {
    let tid = task_id(&format!("{}-{service}", w.name));
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{tid}");
    let c = Container::create(Spec {
        name: &format!("r53d-{}-{service}", w.name),
        labels: vec![
            (w.label.clone(), service.to_string()),
            ("com.amazonaws.ecs.task-arn".to_string(), arn.clone()),
        ],
        ..Default::default()
    });
    w.ecs.add_task(Task {
        arn,
        known_status: "RUNNING".into(),
        desired_status: Some("RUNNING".into()),
        containers: vec![(c.id.clone(), "app".into())],
        ..Default::default()
    });
    (c, tid)
}

#[test]
fn twenty_starts_of_one_service_with_srv_cost_at_most_four_reads() {
    let w = World::new("w-srv20");
    let spy = Spy::start(&w.moto.url);
    let mut agent = Agent::start(&config(&w, &spy), w.port);
    agent.wait_ready();
    let before = reads(&spy);

    let tasks: Vec<_> = (0..20)
        .map(|n| vpc_task(&w, "api", n, &format!("10.20.40.{}", n + 1), 8080))
        .collect();
    let (name, srv) = (w.name_of("api"), format!("_api._tcp.{}", w.zone));
    let mut want = Vec::new();
    for (n, (_, _, tid)) in tasks.iter().enumerate() {
        let (id, ip) = (w.set_id(tid), format!("10.20.40.{}", n + 1));
        let target = format!("t-{tid}.{name}");
        want.push(typed(name.clone(), "A", &id, ip.clone()));
        want.push(typed(target.clone(), "A", &id, ip));
        want.push(typed(srv.clone(), "SRV", &id, format!("1 1 8080 {target}")));
    }
    want.sort();
    let mut last = Vec::new();
    let ok = wait_for_result(Duration::from_secs(60), || {
        last = w.moto.typed_records(&w.zone_id);
        last == want
    });
    assert!(
        ok,
        "records did not converge\nexpected: {want:#?}\nactual:   {last:#?}"
    );
    let after = reads(&spy);
    eprintln!("{} reads after ready; {}", after - before, spy.summary());
    assert!(
        after - before <= 4,
        "{} reads (pages + targeted) after ready for 20 tasks of one service: {}",
        after - before,
        spy.summary()
    );
}

#[test]
fn under_half_throttling_a_stop_leaves_within_20s_and_ten_new_services_register_within_3min() {
    let w = World::new("w-throttled");
    let spy = Spy::start(&w.moto.url);
    let (first, first_tid) = w.bridge_task("first", 0);
    let mut agent = Agent::start(&config(&w, &spy), w.port);
    agent.wait_ready();
    w.wait_records(vec![w.expected("first", &first_tid, HOST_IP)]);

    let new: Vec<_> = (0..10)
        .map(|i| created_bridge_task(&w, &format!("new{i}")))
        .collect();
    spy.throttle_every(2);
    let (calls_before, throttled_before) = spy.r53();
    let start = Instant::now();
    let mut stopping = first.stop_in_background(5);
    let mut starting = std::process::Command::new("docker")
        .arg("start")
        .args(new.iter().map(|(c, _)| c.id.as_str()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let first_id = w.set_id(&first_tid);
    let gone = wait_for_result(Duration::from_secs(20), || {
        w.records().iter().all(|r| r.set_identifier != first_id)
    });
    let gone_after = start.elapsed();
    assert!(
        gone,
        "the stopped container's record still in moto after 20 s: {:#?}\nspy: {}",
        w.records(),
        spy.summary()
    );
    let _ = stopping.wait();
    assert!(
        starting.wait().unwrap().success(),
        "docker start of the ten"
    );

    let mut want: Vec<Rec> = new
        .iter()
        .enumerate()
        .map(|(i, (_, tid))| w.expected(&format!("new{i}"), tid, HOST_IP))
        .collect();
    want.sort();
    let mut last = Vec::new();
    let all = wait_for_result(Duration::from_secs(180), || {
        last = w.records();
        last == want
    });
    let (calls, throttled) = spy.r53();
    eprintln!(
        "first record gone after {gone_after:?}; ten services after {:?}; Route53 requests {} (throttled {}); {}",
        start.elapsed(),
        calls - calls_before,
        throttled - throttled_before,
        spy.summary()
    );
    assert!(
        all,
        "the ten new services not all registered within 3 min\nexpected: {want:#?}\nactual:   {last:#?}\nspy: {}",
        spy.summary()
    );
    assert!(
        throttled - throttled_before >= ((calls - calls_before) / 2).saturating_sub(1),
        "half the requests throttled: {}",
        spy.summary()
    );
}

/// Others' records in the zone: 20 pages of a full read (300 record sets a page).
const FOREIGN: usize = 6000;

#[test]
fn a_stop_during_a_journal_less_launch_read_leaves_before_the_read_ends() {
    let w = World::new("w-launchstop");
    let foreign: Vec<Rec> = (0..FOREIGN)
        .map(|i| Rec {
            name: w.name_of(&format!("other{}", i / 10)),
            set_identifier: format!("someone-else-{i}"),
            weight: 1,
            ttl: 300,
            values: vec![format!("192.0.2.{}", i % 250 + 1)],
        })
        .collect();
    w.moto.put_many(&w.zone_id, &foreign);
    let spy = Spy::start(&w.moto.url);
    spy.throttle_pages(3);
    let (goes, tid) = w.bridge_task("web", 0);
    // No state directory: no journal, so the launch reads the zone page by page.
    let state = format!("state_dir = \"{}\"", w.state.path().display());
    let toml = config(&w, &spy).replace(&state, "state_dir = \"\"");
    assert!(toml.contains("state_dir = \"\"\n"), "{toml}");
    let agent = Agent::start(&toml, w.port);
    let (name, id) = (w.name_of("web"), w.set_id(&tid));
    let ours = || -> Vec<Typed> {
        w.moto
            .typed_at(&w.zone_id, &name)
            .into_iter()
            .filter(|r| r.set_identifier == id)
            .collect()
    };
    let pages = || spy.count("r53:list") - spy.failed("r53:list");
    let started = Instant::now();
    let registered = wait_for_result(Duration::from_secs(60), || !ours().is_empty());
    assert!(
        registered,
        "never registered: {}\n{}",
        spy.summary(),
        agent.logs()
    );
    let at_registered = pages();
    // A few pages into the read, unless the read has ended already (then the assertion below says so).
    wait_for_result(Duration::from_secs(30), || pages() >= 3);
    let at_stop = pages();
    let mut stopping = goes.stop_in_background(5);
    let gone = wait_for_result(Duration::from_secs(30), || ours().is_empty());
    let at_gone = pages();
    eprintln!(
        "registered after {:?} at page {at_registered}; stopped at page {at_stop}; gone at page {at_gone}; {}",
        started.elapsed(),
        spy.summary()
    );
    assert!(
        gone,
        "the stopped container's record stayed: {}",
        spy.summary()
    );
    assert!(
        at_gone < FOREIGN / 300,
        "the record left only after the read ({at_gone} pages of {}): {}",
        FOREIGN / 300,
        spy.summary()
    );
    let _ = stopping.wait();

    // The read goes on to its end: the launch sync completes.
    let ready = wait_for_result(Duration::from_secs(120), || {
        agent.get("/readyz").map(|(s, _)| s) == Some(200)
    });
    assert!(
        ready,
        "the launch read did not finish: {}\n{}",
        spy.summary(),
        agent.logs()
    );
    assert!(
        pages() >= FOREIGN / 300 && spy.failed("r53:list") >= 3,
        "the whole zone read, throttled pages retried: {}",
        spy.summary()
    );
    assert!(
        agent
            .logs()
            .contains("Found this owner's records in the zone."),
        "{}",
        agent.logs()
    );
    assert!(ours().is_empty(), "the read did not bring the record back");
    eprintln!(
        "read finished after {:?}; {}",
        started.elapsed(),
        spy.summary()
    );
}
