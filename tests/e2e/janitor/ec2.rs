//! Dead means dead, end to end: an owner whose ECS agent is disconnected (the spy rewrites moto's
//! `agentConnected`) keeps its records while moto's EC2 reports its instance running, loses them after the grace
//! period once EC2 terminates it, and keeps them whenever EC2 cannot be asked (the spy throttles it).

use std::time::Instant;

use super::{cycles, plain, wait_log, Fleet, GRACE, LIMIT};
use crate::support::wait_for;

/// Waits until the agent has run `n` more elected cycles than now.
fn more_cycles(agent: &crate::support::agent::Agent, n: usize) {
    let target = cycles(agent) + n;
    wait_for("more elected cycles", LIMIT, || {
        (cycles(agent) >= target).then_some(())
    });
}

#[test]
fn a_disconnected_agent_keeps_its_records_while_ec2_runs_its_instance_and_loses_them_once_terminated(
) {
    let f = Fleet::new("jan-ec2", 2);
    let (me, cut_off) = (&f.ids[0], &f.ids[1]);
    let recs = f.put_owned(&[cut_off]);
    let agent = f.agent(me, f.w.port, &f.spy);
    f.w.wait_records(recs.clone());
    more_cycles(&agent, 1);
    assert_eq!(
        f.spy.count("ec2:DescribeInstances"),
        0,
        "nobody to ask about: {}",
        f.spy.summary()
    );
    // A network or ECS incident cuts its agent off ECS; the instance and its tasks go on serving.
    f.spy.disconnect(cut_off, true);
    let t0 = Instant::now();
    wait_for("3 x the grace period", LIMIT, || {
        (t0.elapsed() > GRACE * 3).then_some(())
    });
    more_cycles(&agent, 1);
    assert_eq!(f.w.records(), recs, "{}", agent.logs());
    assert!(
        !agent.logs().contains("Owner looks dead"),
        "{}",
        agent.logs()
    );
    let asked = f.spy.count("ec2:DescribeInstances");
    assert!(asked >= 3, "EC2 is asked each cycle: {}", f.spy.summary());
    assert_eq!(f.spy.failed("ec2:DescribeInstances"), 0);
    // The instance is terminated: dead after the grace period.
    f.ecs.terminate_ec2(cut_off);
    let t1 = Instant::now();
    f.w.wait_records(vec![]);
    assert!(t1.elapsed() >= GRACE, "removed after {:?}", t1.elapsed());
    assert!(plain(&agent.logs()).contains("reason=\"agent disconnected, EC2 instance terminated\""));
    eprintln!(
        "janitor-ec2: kept {:?} while EC2 ran it ({asked} DescribeInstances); removed {:?} after termination",
        t1 - t0,
        t1.elapsed()
    );
}

#[test]
fn with_ec2_failing_a_disconnected_owner_keeps_its_records_until_ec2_answers() {
    let f = Fleet::new("jan-ec2-down", 2);
    let (me, gone) = (&f.ids[0], &f.ids[1]);
    let recs = f.put_owned(&[gone]);
    let agent = f.agent(me, f.w.port, &f.spy);
    f.w.wait_records(recs.clone());
    f.spy.fail_ec2(true);
    f.ecs.terminate_ec2(gone);
    f.spy.disconnect(gone, true);
    let t0 = Instant::now();
    wait_log(&agent, "the EC2 warning", "EC2 could not be asked");
    wait_for("3 x the grace period", LIMIT, || {
        (t0.elapsed() > GRACE * 3).then_some(())
    });
    more_cycles(&agent, 1);
    assert_eq!(f.w.records(), recs, "EC2 failing: nothing removed");
    assert!(
        f.spy.failed("ec2:DescribeInstances") >= 3,
        "{}",
        f.spy.summary()
    );
    assert!(!agent.logs().contains("Owner looks dead"));
    // EC2 answers again: the grace period starts then.
    f.spy.fail_ec2(false);
    let t1 = Instant::now();
    f.w.wait_records(vec![]);
    assert!(t1.elapsed() >= GRACE, "removed after {:?}", t1.elapsed());
}
