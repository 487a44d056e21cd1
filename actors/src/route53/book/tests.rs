//! Unit tests of the record book: holders, sweeps, protection per container, the per-instance target, the 100
//! limit.
use super::*;

use crate::core::record::SrvValue;

fn rec(id: &str, ip: [u8; 4]) -> Record {
    Record::new(
        "web.example.com.".into(),
        id.into(),
        RecordValue::A(ip.into()),
        60,
        1,
    )
}

const HOST_ID: &str = "r53d:c:o:h-host";
const HOST_NAME: &str = "i-1.hosts.example.com.";

fn host(ip: [u8; 4]) -> Record {
    Record::new(
        HOST_NAME.into(),
        HOST_ID.into(),
        RecordValue::A(ip.into()),
        60,
        1,
    )
}

/// The claim of a container of task `id` whose service is `web`.
fn web(id: &str) -> Claim {
    claim(id, &["web.example.com.", "_web._tcp.example.com."])
}

fn claim(id: &str, names: &[&str]) -> Claim {
    Claim {
        set_identifier: id.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
    }
}

/// What a listing hands on: claims by container id.
fn listed<const N: usize>(claims: [(&str, Claim); N]) -> BTreeMap<String, Claim> {
    claims
        .into_iter()
        .map(|(id, c)| (id.to_string(), c))
        .collect()
}

fn srv(id: &str, port: u16) -> Record {
    let value = RecordValue::Srv(SrvValue {
        priority: 1,
        weight: 1,
        port,
        target: HOST_NAME.into(),
    });
    Record::new("_web._tcp.example.com.".into(), id.into(), value, 60, 1)
}

#[test]
fn start_then_stop_in_one_window_plans_nothing() {
    let mut b = RecordBook::default();
    b.register("c1", vec![rec("t1", [10, 0, 0, 1])]);
    b.deregister("c1");
    assert!(b.take_plan().changes.is_empty());
}

#[test]
fn stop_deletes_the_record_as_it_exists() {
    let mut b = RecordBook::default();
    b.register("c1", vec![rec("t1", [10, 0, 0, 1])]);
    let plan = b.take_plan().changes;
    b.applied(&plan);
    b.deregister("c1");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))]
    );
}

#[test]
fn a_shared_record_stays_until_its_last_holder_stops() {
    let mut b = RecordBook::default();
    b.register("app", vec![rec("t1", [10, 0, 0, 1])]);
    b.register("sidecar", vec![rec("t1", [10, 0, 0, 1])]);
    let plan = b.take_plan().changes;
    assert_eq!(plan.len(), 1);
    b.applied(&plan);
    b.deregister("app");
    assert!(b.take_plan().changes.is_empty());
    b.deregister("sidecar");
    assert_eq!(b.take_plan().changes.len(), 1);
}

#[test]
fn when_the_holder_whose_address_is_used_stops_the_next_holder_takes_over() {
    let mut b = RecordBook::default();
    b.register("a-app", vec![rec("t1", [10, 0, 0, 1])]);
    b.register("b-sidecar", vec![rec("t1", [10, 0, 0, 2])]);
    let plan = b.take_plan().changes;
    assert_eq!(plan, vec![Change::Upsert(rec("t1", [10, 0, 0, 1]))]);
    b.applied(&plan);
    b.deregister("a-app");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Upsert(rec("t1", [10, 0, 0, 2]))]
    );
}

#[test]
fn sweep_removes_only_unprotected_records() {
    let mut b = RecordBook::default();
    b.load_actual(
        vec![
            rec("live", [10, 0, 0, 1]),
            rec("dead", [10, 0, 0, 2]),
            rec("kept", [10, 0, 0, 3]),
        ],
        HashMap::new(),
    );
    b.register("c-live", vec![rec("live", [10, 0, 0, 1])]);
    let keep = listed([("c-live", web("live")), ("c-kept", web("kept"))]);
    assert!(
        b.take_plan().changes.is_empty(),
        "loading alone deletes nothing"
    );
    assert_eq!(b.sweep(&keep), 1);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("dead", [10, 0, 0, 2]))]
    );
}

#[test]
fn a_new_record_on_a_full_name_is_refused_but_updates_and_other_names_go_through() {
    let mut b = RecordBook::default();
    b.load_actual(
        vec![rec("mine", [10, 0, 0, 1])],
        HashMap::from([(("web.example.com.".to_string(), RecordType::A), 99)]),
    );
    b.register("mine", vec![rec("mine", [10, 0, 0, 9])]);
    b.register("n1", vec![rec("n1", [10, 0, 0, 2])]);
    b.register("n2", vec![rec("n2", [10, 0, 0, 3])]);
    let plan = b.take_plan();
    assert_eq!(
        plan.changes.len(),
        2,
        "the update of an existing record and one new record (the 100th)"
    );
    assert_eq!(
        plan.refused,
        vec![rec("n2", [0; 4]).key],
        "the 101st is refused"
    );
    b.applied(&plan.changes);
    b.deregister("n1");
    let plan = b.take_plan().changes;
    b.applied(&plan);
    b.mark_dirty([rec("n2", [0; 4]).key]);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Upsert(rec("n2", [10, 0, 0, 3]))],
        "room again after a delete"
    );
}

#[test]
fn a_restart_with_a_new_address_upserts() {
    let mut b = RecordBook::default();
    b.register("c1", vec![rec("t1", [10, 0, 0, 1])]);
    let plan = b.take_plan().changes;
    b.applied(&plan);
    b.register("c1", vec![rec("t1", [10, 0, 0, 7])]);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Upsert(rec("t1", [10, 0, 0, 7]))]
    );
}

#[test]
fn a_container_holds_all_its_records_and_a_stop_removes_every_one() {
    let mut b = RecordBook::default();
    let mine = vec![
        rec("r53d:c:o:t-1", [10, 0, 0, 1]),
        srv("r53d:c:o:t-1", 32768),
        host([10, 0, 0, 9]),
    ];
    b.register("c1", mine.clone());
    let plan = b.take_plan().changes;
    assert_eq!(plan.len(), 3);
    b.applied(&plan);
    b.register(
        "c1",
        vec![rec("r53d:c:o:t-1", [10, 0, 0, 1]), host([10, 0, 0, 9])],
    );
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(srv("r53d:c:o:t-1", 32768))],
        "a record the container no longer asks for goes; the others stay"
    );
    b.applied(&[Change::Delete(srv("r53d:c:o:t-1", 32768))]);
    b.deregister("c1");
    let plan = b.take_plan().changes;
    assert_eq!(plan.len(), 2);
    assert!(plan.iter().all(|c| matches!(c, Change::Delete(_))));
}

#[test]
fn the_per_instance_target_stays_while_any_srv_of_this_agent_points_at_it() {
    let mut b = RecordBook::default();
    b.register("c1", vec![srv("r53d:c:o:t-1", 32768), host([10, 0, 0, 9])]);
    b.register("c2", vec![srv("r53d:c:o:t-2", 32769), host([10, 0, 0, 9])]);
    let plan = b.take_plan().changes;
    assert_eq!(plan.len(), 3, "one target for both: {plan:?}");
    b.applied(&plan);
    b.deregister("c1");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(srv("r53d:c:o:t-1", 32768))]
    );
    b.applied(&[Change::Delete(srv("r53d:c:o:t-1", 32768))]);
    b.deregister("c2");
    let plan = b.take_plan().changes;
    assert_eq!(
        plan.len(),
        2,
        "the last SRV and its target go together: {plan:?}"
    );
    assert!(plan.contains(&Change::Delete(host([10, 0, 0, 9]))));
    assert!(plan.contains(&Change::Delete(srv("r53d:c:o:t-2", 32769))));
}

#[test]
fn sweep_keeps_the_target_of_a_protected_srv_and_removes_an_unused_one() {
    let mut b = RecordBook::default();
    b.load_actual(
        vec![srv("kept", 32768), host([10, 0, 0, 9])],
        HashMap::new(),
    );
    assert_eq!(b.sweep(&listed([("c-kept", web("kept"))])), 0);
    assert!(b.take_plan().changes.is_empty());
    assert_eq!(b.sweep(&listed([])), 2);
    assert_eq!(b.take_plan().changes.len(), 2);
}

#[test]
fn the_100_limit_counts_each_type_apart() {
    let mut b = RecordBook::default();
    b.load_actual(
        Vec::new(),
        HashMap::from([(("web.example.com.".to_string(), RecordType::A), 100)]),
    );
    let aaaa = Record::new(
        "web.example.com.".into(),
        "t1".into(),
        RecordValue::Aaaa("2600::1".parse().unwrap()),
        60,
        1,
    );
    b.register("c1", vec![rec("t1", [10, 0, 0, 1]), aaaa.clone()]);
    let plan = b.take_plan();
    assert_eq!(plan.changes, vec![Change::Upsert(aaaa)]);
    assert_eq!(plan.refused, vec![rec("t1", [0; 4]).key]);
}

#[test]
fn a_listed_container_that_never_registers_keeps_its_records_until_a_listing_misses_it() {
    let mut b = RecordBook::default();
    b.load_actual(
        vec![
            rec("skipped", [10, 0, 0, 1]),
            srv("skipped", 32768),
            host([10, 0, 0, 9]),
        ],
        HashMap::new(),
    );
    let running = listed([("c-skipped", web("skipped"))]);
    assert_eq!(b.sweep(&running), 0);
    let all = b.keys_under(&b.names());
    assert!(
        b.plan_keys(&all).changes.is_empty(),
        "a verify or recheck deletes nothing protected"
    );
    b.protect(&running);
    assert!(
        b.take_plan().changes.is_empty(),
        "still listed: still protected"
    );
    b.protect(&listed([]));
    let plan = b.take_plan().changes;
    assert_eq!(
        plan.len(),
        3,
        "gone from the listing: its records and the target go: {plan:?}"
    );
}

#[test]
fn a_registered_container_is_not_protected_so_its_stop_deletes() {
    let mut b = RecordBook::default();
    b.register("c1", vec![rec("t1", [10, 0, 0, 1])]);
    let plan = b.take_plan().changes;
    b.applied(&plan);
    b.protect(&listed([("c1", web("t1"))]));
    b.deregister("c1");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))]
    );
}

#[test]
fn the_per_instance_target_takes_the_address_resolved_last() {
    let mut b = RecordBook::default();
    b.register("a", vec![srv("t1", 1), host([10, 0, 0, 9])]);
    b.register("b", vec![srv("t2", 2), host([10, 0, 0, 9])]);
    let plan = b.take_plan().changes;
    b.applied(&plan);
    b.register("b", vec![srv("t2", 2), host([10, 0, 0, 7])]);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Upsert(host([10, 0, 0, 7]))],
        "the instance moved: the target follows even before container a is resolved again"
    );
}

#[test]
fn a_stop_ends_the_protection_of_a_container_that_never_registered() {
    let mut b = RecordBook::default();
    b.load_actual(vec![rec("skipped", [10, 0, 0, 1])], HashMap::new());
    assert_eq!(b.sweep(&listed([("c-skipped", web("skipped"))])), 0);
    b.deregister("c-skipped");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("skipped", [10, 0, 0, 1]))]
    );
}

#[test]
fn a_withheld_container_loses_its_inherited_records_and_listings_do_not_protect_them_again() {
    let mut b = RecordBook::default();
    b.load_actual(vec![rec("t1", [10, 0, 0, 1])], HashMap::new());
    let running = listed([("c1", web("t1"))]);
    assert_eq!(b.sweep(&running), 0, "listed: protected");
    b.withhold("c1");
    b.protect(&running);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))],
        "unhealthy: the inherited record goes, a listing does not keep it"
    );
    b.register("c1", vec![rec("t1", [10, 0, 0, 2])]);
    assert!(!b.withheld.contains("c1"), "registering ends withholding");
    b.deregister("c1");
    b.protect(&running);
    assert!(!b.protected.contains_key("c1"), "nor does a stop");
    b.protect(&listed([]));
    assert!(
        b.withheld.is_empty(),
        "gone from a listing after the launch sweep: forgotten"
    );
}

#[test]
fn a_launch_sweep_answered_after_a_newer_listing_does_not_protect_a_stopped_containers_records() {
    let mut b = RecordBook::default();
    b.load_actual(vec![rec("t1", [10, 0, 0, 1])], HashMap::new());
    b.deregister("c1");
    // A reconnect's listing (c1 gone) is applied before the launch sweep, whose listing still had c1.
    b.protect(&listed([]));
    assert_eq!(b.sweep(&listed([("c1", web("t1"))])), 1);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))]
    );
}

#[test]
fn a_listing_taken_before_a_containers_stop_does_not_protect_its_inherited_records() {
    let mut b = RecordBook::default();
    b.load_actual(vec![rec("t1", [10, 0, 0, 1])], HashMap::new());
    // The container stopped (or turned unhealthy) after the launch listing, whose sweep arrives later.
    b.deregister("c1");
    assert_eq!(b.sweep(&listed([("c1", web("t1"))])), 1);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))]
    );
}

fn named(name: &str, id: &str, ip: [u8; 4]) -> Record {
    Record::new(name.into(), id.into(), RecordValue::A(ip.into()), 60, 1)
}

/// One task, two labelled containers (an app under `a.`, a sidecar under `b.`), both with records an earlier
/// run wrote; the listing claims each container's name.
fn two_containers_of_one_task() -> (RecordBook, Record, Record) {
    const S: &str = "r53d:c:o:t-1";
    let (a, side) = (named("a.", S, [10, 0, 0, 1]), named("b.", S, [10, 0, 0, 2]));
    let mut b = RecordBook::default();
    b.load_actual(vec![a.clone(), side.clone()], HashMap::new());
    b.protect(&task_listing());
    (b, a, side)
}

fn task_listing() -> BTreeMap<String, Claim> {
    const S: &str = "r53d:c:o:t-1";
    listed([
        ("a-container", claim(S, &["a."])),
        ("b-container", claim(S, &["b."])),
    ])
}

#[test]
fn withholding_one_container_of_a_task_keeps_the_inherited_record_of_the_other() {
    let (mut b, a, side) = two_containers_of_one_task();
    b.withhold("b-container");
    assert_eq!(b.plan(&a.key), None, "the app's inherited record is kept");
    assert_eq!(b.plan(&side.key), Some(Change::Delete(side.clone())));
    b.protect(&task_listing());
    assert_eq!(b.plan(&a.key), None, "a later listing keeps it too");
    assert_eq!(b.plan(&side.key), Some(Change::Delete(side)));
}

#[test]
fn one_container_of_a_task_registering_keeps_the_inherited_record_of_the_other() {
    let (mut b, a, side) = two_containers_of_one_task();
    b.register(
        "a-container",
        vec![named("a.", &a.key.set_identifier, [10, 0, 0, 3])],
    );
    assert_eq!(b.plan(&side.key), None);
    b.protect(&task_listing());
    assert_eq!(b.plan(&side.key), None, "a later listing keeps it too");
}

#[test]
fn one_container_of_a_task_stopping_keeps_the_inherited_record_of_the_other() {
    let (mut b, a, side) = two_containers_of_one_task();
    b.deregister("b-container");
    assert_eq!(b.plan(&a.key), None);
    assert_eq!(b.plan(&side.key), Some(Change::Delete(side)));
}

#[test]
fn a_listing_without_the_task_or_its_stop_ends_the_protection_of_all_its_names() {
    let (mut b, a, side) = two_containers_of_one_task();
    b.protect(&listed([]));
    let deleted = vec![Change::Delete(a.clone()), Change::Delete(side.clone())];
    assert_eq!(b.take_plan().changes, deleted);
}

#[test]
fn a_claim_protects_only_its_task_under_its_names() {
    let (mut b, a, _) = two_containers_of_one_task();
    let other = named("a.", "r53d:c:o:t-2", [10, 0, 0, 4]);
    b.load_actual(vec![a.clone(), other.clone()], HashMap::new());
    assert_eq!(b.plan(&a.key), None);
    assert_eq!(b.plan(&other.key), Some(Change::Delete(other)));
}
