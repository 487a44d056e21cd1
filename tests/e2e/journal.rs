//! The journal end to end, through moto behind the counting spy, in a zone holding thousands of others' records:
//! the first start reads the zone in full and writes the journal; a restart trusts it and reads nothing (not
//! even GetHostedZone), and still removes the record of a task that stopped while the agent was down; a corrupt
//! journal is not used: the restart reads the zone in full and everything converges. `sync --once --full`
//! reads the zone in full whatever the journal says. A launch read throttled every third page resumes at the page
//! that failed.

use std::time::Duration;

use crate::support::agent::{run_once, Agent};
use crate::support::moto::Rec;
use crate::support::spy::Spy;
use crate::World;

/// Others' records in the zone: 10 pages of a full read.
const FOREIGN: usize = 3000;

fn foreign(w: &World) -> Vec<Rec> {
    (0..FOREIGN)
        .map(|i| Rec {
            name: w.name_of(&format!("other{}", i / 10)),
            set_identifier: format!("someone-else-{i}"),
            weight: 1,
            ttl: 300,
            values: vec![format!("192.0.2.{}", i % 250 + 1)],
        })
        .collect()
}

/// `w`'s agent config talking to moto through `spy`.
fn config(w: &World, spy: &Spy) -> String {
    w.config().replace(&w.moto.url, &spy.url)
}

fn mine(w: &World) -> Vec<Rec> {
    let mut recs: Vec<Rec> = w
        .records()
        .into_iter()
        .filter(|r| r.set_identifier.starts_with("r53d:"))
        .collect();
    recs.sort();
    recs
}

fn wait_mine(w: &World, mut expected: Vec<Rec>) {
    expected.sort();
    let ok = crate::support::wait_for_result(crate::CONVERGE, || mine(w) == expected);
    assert!(ok, "expected {expected:#?}\nactual {:#?}", mine(w));
}

/// Starts the agent, waits until it is ready and has written `expected`.
fn start(w: &World, spy: &Spy, expected: Vec<Rec>) -> Agent {
    let mut agent = Agent::start(&config(w, spy), w.port);
    agent.wait_ready();
    wait_mine(w, expected);
    agent
}

fn stop(mut agent: Agent) {
    agent.terminate();
    assert!(agent.wait_exit(Duration::from_secs(15)).success());
}

#[test]
fn a_restart_with_the_journal_reads_nothing_and_removes_a_task_that_stopped_meanwhile() {
    let w = World::new("journal");
    w.moto.put_many(&w.zone_id, &foreign(&w));
    let spy = Spy::start(&w.moto.url);
    let (_stays, stays) = w.bridge_task("web", 0);
    let (goes, gone) = w.bridge_task("api", 1);
    let agent = start(
        &w,
        &spy,
        vec![
            w.expected("web", &stays, crate::HOST_IP),
            w.expected("api", &gone, crate::HOST_IP),
        ],
    );
    let first = spy.count("r53:list");
    assert!(
        first >= FOREIGN / 300,
        "the first start reads the zone: {}",
        spy.summary()
    );
    stop(agent);
    assert!(
        w.state.path().read_dir().unwrap().count() == 1,
        "the journal"
    );

    goes.stop();
    let (lists, zones) = (spy.count("r53:list"), spy.count("r53:zone"));
    let agent = start(&w, &spy, vec![w.expected("web", &stays, crate::HOST_IP)]);
    assert_eq!(
        spy.count("r53:list"),
        lists,
        "no zone read at the restart: {}",
        spy.summary()
    );
    assert_eq!(spy.count("r53:zone"), zones, "no GetHostedZone either");
    assert!(
        agent.logs().contains("Launch from the journal"),
        "{}",
        agent.logs()
    );
    assert_eq!(w.records().len(), FOREIGN + 1, "others' records untouched");
    stop(agent);

    // The operator's full read, whatever the journal says.
    let lists = spy.count("r53:list");
    let (status, out, err) = run_once(&["sync", "--once", "--full"], &config(&w, &spy));
    let logs = out + &err;
    assert!(status.success(), "{logs}");
    assert!(
        spy.count("r53:list") >= lists + FOREIGN / 300,
        "{}",
        spy.summary()
    );
    assert!(logs.contains("A full read was asked for"), "{logs}");
}

#[test]
fn a_corrupt_journal_falls_back_to_the_full_read_and_converges() {
    let w = World::new("journal-bad");
    w.moto.put_many(&w.zone_id, &foreign(&w)[..900]);
    let spy = Spy::start(&w.moto.url);
    let (_stays, stays) = w.bridge_task("web", 0);
    let (goes, gone) = w.bridge_task("web", 1);
    let agent = start(
        &w,
        &spy,
        vec![
            w.expected("web", &stays, crate::HOST_IP),
            w.expected("web", &gone, crate::HOST_IP),
        ],
    );
    stop(agent);
    let file = w
        .state
        .path()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap(); // torn, as no save of ours would leave it

    goes.stop();
    let lists = spy.count("r53:list");
    let agent = start(&w, &spy, vec![w.expected("web", &stays, crate::HOST_IP)]);
    assert!(
        spy.count("r53:list") >= lists + 3,
        "a full read: {}",
        spy.summary()
    );
    assert!(
        agent.logs().contains("Journal not used"),
        "{}",
        agent.logs()
    );
    stop(agent);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains(&stays) && !saved.contains(&gone),
        "a fresh journal: {saved}"
    );
}

#[test]
fn a_throttled_launch_read_resumes_at_the_page_that_failed() {
    let w = World::new("journal-throttled");
    w.moto.put_many(&w.zone_id, &foreign(&w));
    let spy = Spy::start(&w.moto.url);
    spy.throttle_pages(3);
    let (_task, tid) = w.bridge_task("web", 0);
    let agent = start(&w, &spy, vec![w.expected("web", &tid, crate::HOST_IP)]);
    let (ok, throttled) = (
        spy.count("r53:list") - spy.failed("r53:list"),
        spy.failed("r53:list"),
    );
    assert!(throttled >= 3, "{}", spy.summary());
    // Pages of 300 (moto may end one early at a weighted group): each read once, however often throttled.
    assert!(
        ok <= FOREIGN / 300 + 2,
        "no page read twice: {}",
        spy.summary()
    );
    assert!(
        agent.logs().contains("retrying this page"),
        "{}",
        agent.logs()
    );
    stop(agent);
}
