//! Unit tests of the record book: holders, sweeps, protection, the per-instance target, the 100 limit.
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
    let keep = BTreeSet::from(["kept".to_string()]);
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
    assert_eq!(b.sweep(&BTreeSet::from(["kept".to_string()])), 0);
    assert!(b.take_plan().changes.is_empty());
    assert_eq!(b.sweep(&BTreeSet::new()), 2);
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
    let listed = BTreeSet::from(["skipped".to_string()]);
    assert_eq!(b.sweep(&listed), 0);
    let all = b.keys_under(&b.names());
    assert!(
        b.plan_keys(&all).changes.is_empty(),
        "a verify or recheck deletes nothing protected"
    );
    b.protect(&listed);
    assert!(
        b.take_plan().changes.is_empty(),
        "still listed: still protected"
    );
    b.protect(&BTreeSet::new());
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
    b.protect(&BTreeSet::from(["t1".to_string()]));
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
    assert_eq!(b.sweep(&BTreeSet::from(["skipped".to_string()])), 0);
    b.deregister("c-skipped");
    assert!(
        b.take_plan().changes.is_empty(),
        "a stop without its SetIdentifier cannot end the protection"
    );
    b.unprotect("skipped");
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("skipped", [10, 0, 0, 1]))]
    );
}

#[test]
fn a_withheld_container_loses_its_inherited_records_and_listings_do_not_protect_them_again() {
    let mut b = RecordBook::default();
    b.load_actual(vec![rec("t1", [10, 0, 0, 1])], HashMap::new());
    let listed = BTreeSet::from(["t1".to_string()]);
    assert_eq!(b.sweep(&listed), 0, "listed: protected");
    b.withhold("c1", "t1");
    b.protect(&listed);
    assert_eq!(
        b.take_plan().changes,
        vec![Change::Delete(rec("t1", [10, 0, 0, 1]))],
        "unhealthy: the inherited record goes, a listing does not keep it"
    );
    b.register("c1", vec![rec("t1", [10, 0, 0, 2])]);
    b.deregister("c1");
    b.protect(&listed);
    assert!(
        b.protected.contains("t1"),
        "withholding ends with the container's registration or stop"
    );
}
