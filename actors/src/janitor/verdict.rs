//! Dead means dead: how alive each owner of records looks, from what ECS says and — for an owner ECS cannot vouch
//! for — what EC2 says about its instance. The rules are pure ([`ecs_view`], [`liveness`]); [`verdicts`] gathers
//! the answers (the agent's cycle and `janitor --once` both use it).
//!
//! | ECS says                                   | EC2 says about its `ec2InstanceId`       | verdict  |
//! |--------------------------------------------|------------------------------------------|----------|
//! | registered, agent connected (not INACTIVE) | (not asked)                              | alive    |
//! | agent disconnected, or INACTIVE            | running or pending                       | alive    |
//! |                                            | terminated, stopped, or no such instance | dead     |
//! |                                            | shutting-down, stopping, anything else   | none     |
//! |                                            | the call failed (or was throttled)       | none     |
//! | agent disconnected, no `ec2InstanceId`     | (cannot be asked)                        | none     |
//! | INACTIVE, no `ec2InstanceId`               | (cannot be asked)                        | dead     |
//! | `MISSING` (ECS does not know the id)       | (no instance id to ask about)            | dead     |
//! | nothing (not in the answer)                | (not asked)                              | none     |
//!
//! "None" is no verdict: the owner's grace clock starts over and nothing of it is deleted.

use std::collections::{BTreeMap, BTreeSet};

use super::ec2::{states, Ec2Api, Ec2Error};
use super::ecs::{describe_into, EcsApi, EcsError, Knowledge};
use super::plan::{looks_like_instance_id, Instance};

/// How an owner of records looks in this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Its instance is alive (ECS says so, or EC2 reports it running).
    Alive,
    /// Its instance is gone; the reason is for logs.
    Dead(&'static str),
    /// No verdict: nothing changes, and its grace clock starts over.
    Unknown,
}

/// What ECS alone says about one owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsView {
    /// Registered, not INACTIVE, agent connected.
    Alive,
    /// ECS says gone and there is no EC2 instance to ask about.
    Gone(&'static str),
    /// ECS cannot vouch for it (agent disconnected, or INACTIVE): EC2 decides.
    Suspect {
        /// Its EC2 instance.
        ec2_instance_id: String,
        /// Why ECS cannot vouch: `inactive` or `agent disconnected`.
        inactive: bool,
    },
    /// No verdict.
    Unknown,
}

/// What ECS's description (or its `MISSING` failure) says about one owner.
pub fn ecs_view(described: Option<&Instance>, missing: bool) -> EcsView {
    let Some(i) = described else {
        return match missing {
            true => EcsView::Gone("unknown to ECS"),
            false => EcsView::Unknown,
        };
    };
    let inactive = i.status == "INACTIVE";
    if !inactive && i.agent_connected {
        return EcsView::Alive;
    }
    match (&i.ec2_instance_id, inactive) {
        (Some(id), _) => EcsView::Suspect {
            ec2_instance_id: id.clone(),
            inactive,
        },
        (None, true) => EcsView::Gone("inactive"),
        (None, false) => EcsView::Unknown,
    }
}

/// The verdict from ECS's view and EC2's answer (`Err`: EC2 could not be asked).
pub fn liveness(view: &EcsView, ec2: Result<&BTreeMap<String, String>, ()>) -> Liveness {
    let (id, inactive) = match view {
        EcsView::Alive => return Liveness::Alive,
        EcsView::Gone(reason) => return Liveness::Dead(reason),
        EcsView::Unknown => return Liveness::Unknown,
        EcsView::Suspect {
            ec2_instance_id,
            inactive,
        } => (ec2_instance_id, *inactive),
    };
    let Ok(states) = ec2 else {
        return Liveness::Unknown;
    };
    let state = states.get(id).map(String::as_str);
    match (state, inactive) {
        (Some("running" | "pending"), _) => Liveness::Alive,
        (Some("terminated"), true) => Liveness::Dead("inactive, EC2 instance terminated"),
        (Some("terminated"), false) => {
            Liveness::Dead("agent disconnected, EC2 instance terminated")
        }
        (Some("stopped"), true) => Liveness::Dead("inactive, EC2 instance stopped"),
        (Some("stopped"), false) => Liveness::Dead("agent disconnected, EC2 instance stopped"),
        (None, true) => Liveness::Dead("inactive, no such EC2 instance"),
        (None, false) => Liveness::Dead("agent disconnected, no such EC2 instance"),
        (Some(_), _) => Liveness::Unknown,
    }
}

/// The verdicts of one judgement, and the EC2 error that left some owners without one.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// Every owner asked about, with its verdict.
    pub by_owner: BTreeMap<String, Liveness>,
    /// Set when EC2 could not be asked: owners that needed it have no verdict.
    pub ec2_error: Option<Ec2Error>,
    /// EC2 `DescribeInstances` calls made (0 when ECS vouched for everyone).
    pub ec2_calls: usize,
}

/// Who is judged: this cluster's other owners holding records, and those of them whose records are all in the
/// legacy format ([`super::plan::legacy_only`]).
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// The owners.
    pub owners: &'a [String],
    /// Those with legacy records only: `MISSING` gives them no verdict.
    pub legacy: &'a BTreeSet<String>,
}

/// Judges the owners: describes those shaped like container instance ids and not in `known` yet (an ECS error
/// ends the judgement), then asks EC2 about the suspects in one paged read. Owners of another shape get no verdict.
pub async fn verdicts(
    ecs: &dyn EcsApi,
    ec2: &dyn Ec2Api,
    cluster: &str,
    judged: Judged<'_>,
    known: &mut Knowledge,
) -> Result<Verdicts, EcsError> {
    let Judged { owners, legacy } = judged;
    let judged: Vec<String> = owners
        .iter()
        .filter(|o| looks_like_instance_id(o))
        .cloned()
        .collect();
    describe_into(ecs, cluster, &judged, known).await?;
    let views: BTreeMap<&String, EcsView> = owners
        .iter()
        .map(|o| {
            let judge = looks_like_instance_id(o);
            let missing = judge && known.missing.contains(o) && !legacy.contains(o);
            let described = known.instances.get(o).filter(|_| judge);
            (o, ecs_view(described, missing))
        })
        .collect();
    let mut suspects: Vec<String> = views
        .values()
        .filter_map(|v| match v {
            EcsView::Suspect {
                ec2_instance_id, ..
            } => Some(ec2_instance_id.clone()),
            _ => None,
        })
        .collect();
    suspects.sort();
    suspects.dedup();
    let mut out = Verdicts::default();
    let answer = match suspects.is_empty() {
        true => Ok(BTreeMap::new()),
        false => {
            out.ec2_calls = suspects.len().div_ceil(super::ec2::IDS_PER_CALL);
            states(ec2, &suspects).await
        }
    };
    let answer = answer.map_err(|e| out.ec2_error = Some(e));
    for (owner, view) in views {
        let l = liveness(&view, answer.as_ref().map_err(|_| ()));
        out.by_owner.insert(owner.clone(), l);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(status: &str, connected: bool, ec2: Option<&str>) -> Instance {
        Instance {
            id: "ci".into(),
            status: status.into(),
            agent_connected: connected,
            ec2_instance_id: ec2.map(str::to_string),
            janitor_for: None,
        }
    }

    fn ec2(state: Option<&str>) -> BTreeMap<String, String> {
        state
            .map(|s| BTreeMap::from([("i-1".to_string(), s.to_string())]))
            .unwrap_or_default()
    }

    /// The verdict for an instance as ECS describes it and EC2's state of `i-1` (`None`: unknown to EC2).
    fn verdict(i: Instance, state: Option<&str>) -> Liveness {
        liveness(&ecs_view(Some(&i), false), Ok(&ec2(state)))
    }

    #[test]
    fn a_connected_agent_is_alive_whatever_ec2_would_say() {
        for status in ["ACTIVE", "DRAINING", "REGISTERING"] {
            let v = ecs_view(Some(&inst(status, true, Some("i-1"))), false);
            assert_eq!(v, EcsView::Alive, "{status}");
            assert_eq!(liveness(&v, Err(())), Liveness::Alive, "EC2 not needed");
        }
    }

    #[test]
    fn a_disconnected_agent_on_a_running_instance_is_alive() {
        let d = || inst("ACTIVE", false, Some("i-1"));
        assert_eq!(verdict(d(), Some("running")), Liveness::Alive);
        assert_eq!(
            verdict(d(), Some("pending")),
            Liveness::Alive,
            "starting again"
        );
        assert_eq!(
            verdict(inst("DRAINING", false, Some("i-1")), Some("running")),
            Liveness::Alive
        );
    }

    #[test]
    fn a_disconnected_agent_is_dead_only_when_ec2_confirms_its_instance_is_gone() {
        let d = || inst("ACTIVE", false, Some("i-1"));
        assert_eq!(
            verdict(d(), Some("terminated")),
            Liveness::Dead("agent disconnected, EC2 instance terminated")
        );
        assert_eq!(
            verdict(d(), Some("stopped")),
            Liveness::Dead("agent disconnected, EC2 instance stopped")
        );
        assert_eq!(
            verdict(d(), None),
            Liveness::Dead("agent disconnected, no such EC2 instance")
        );
        for settling in ["shutting-down", "stopping", "something-new"] {
            assert_eq!(
                verdict(d(), Some(settling)),
                Liveness::Unknown,
                "{settling}"
            );
        }
    }

    #[test]
    fn an_ec2_failure_gives_no_verdict_for_suspects_only() {
        let suspect = ecs_view(Some(&inst("ACTIVE", false, Some("i-1"))), false);
        assert_eq!(liveness(&suspect, Err(())), Liveness::Unknown);
        let inactive = ecs_view(Some(&inst("INACTIVE", false, Some("i-1"))), false);
        assert_eq!(liveness(&inactive, Err(())), Liveness::Unknown);
        let missing = ecs_view(None, true);
        assert_eq!(
            liveness(&missing, Err(())),
            Liveness::Dead("unknown to ECS")
        );
    }

    #[test]
    fn an_inactive_instance_that_ec2_reports_running_keeps_its_records() {
        let i = || inst("INACTIVE", true, Some("i-1"));
        assert_eq!(verdict(i(), Some("running")), Liveness::Alive);
        assert_eq!(
            verdict(i(), Some("terminated")),
            Liveness::Dead("inactive, EC2 instance terminated")
        );
        assert_eq!(
            verdict(i(), None),
            Liveness::Dead("inactive, no such EC2 instance")
        );
        assert_eq!(
            verdict(inst("INACTIVE", false, None), None),
            Liveness::Dead("inactive")
        );
    }

    #[test]
    fn without_an_instance_id_a_disconnected_agent_gets_no_verdict() {
        let v = ecs_view(Some(&inst("ACTIVE", false, None)), false);
        assert_eq!(v, EcsView::Unknown);
        assert_eq!(ecs_view(None, false), EcsView::Unknown, "ECS said nothing");
    }

    use crate::janitor::fake::FakeEcs;

    const IDS: [&str; 4] = [
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "cccccccccccccccccccccccccccccccc",
        "dddddddddddddddddddddddddddddddd",
    ];

    async fn judge(ecs: &FakeEcs, owners: &[&str]) -> Verdicts {
        let owners: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
        let mut known = Knowledge::default();
        let legacy = BTreeSet::from([IDS[3].to_string()]);
        let judged = Judged {
            owners: &owners,
            legacy: &legacy,
        };
        verdicts(ecs, ecs, "prod", judged, &mut known)
            .await
            .unwrap()
    }

    #[actix_rt::test]
    async fn a_healthy_cluster_makes_no_ec2_call() {
        let ecs = FakeEcs::new("prod", 10);
        IDS.iter().for_each(|id| ecs.register(id));
        let v = judge(&ecs, &IDS).await;
        assert!(v.by_owner.values().all(|l| *l == Liveness::Alive), "{v:?}");
        assert_eq!((v.ec2_calls, ecs.ec2_calls()), (0, 0));
    }

    #[actix_rt::test]
    async fn ec2_is_asked_once_about_every_suspect_and_decides_for_them() {
        let ecs = FakeEcs::new("prod", 10);
        IDS.iter().for_each(|id| ecs.register(id));
        ecs.set(IDS[0], "ACTIVE", false);
        ecs.set(IDS[1], "ACTIVE", false);
        ecs.set_ec2(IDS[1], Some("terminated"));
        ecs.set(IDS[2], "ACTIVE", false);
        ecs.set_ec2(IDS[2], None);
        let v = judge(&ecs, &[IDS[0], IDS[1], IDS[2], IDS[3], "host-1"]).await;
        let got: Vec<&Liveness> = v.by_owner.values().collect();
        assert_eq!(
            got,
            [
                &Liveness::Alive,
                &Liveness::Dead("agent disconnected, EC2 instance terminated"),
                &Liveness::Dead("agent disconnected, no such EC2 instance"),
                &Liveness::Alive,
                &Liveness::Unknown,
            ]
        );
        assert_eq!(
            (v.ec2_calls, ecs.ec2_calls()),
            (1, 1),
            "one call for three suspects"
        );
    }

    #[actix_rt::test]
    async fn with_ec2_failing_the_suspects_get_no_verdict_and_the_rest_are_judged() {
        let ecs = FakeEcs::new("prod", 10);
        IDS.iter().for_each(|id| ecs.register(id));
        ecs.set(IDS[0], "ACTIVE", false);
        ecs.set_ec2(IDS[0], Some("terminated"));
        ecs.remove(IDS[1]);
        ecs.set_ec2_down(true);
        let v = judge(&ecs, &IDS[..3]).await;
        assert!(
            v.ec2_error.as_ref().is_some_and(Ec2Error::is_transient),
            "{v:?}"
        );
        let got: Vec<&Liveness> = v.by_owner.values().collect();
        assert_eq!(
            got,
            [
                &Liveness::Unknown,
                &Liveness::Dead("unknown to ECS"),
                &Liveness::Alive
            ]
        );
    }

    #[actix_rt::test]
    async fn an_owner_unknown_to_ecs_with_only_legacy_records_gets_no_verdict() {
        let ecs = FakeEcs::new("prod", 10);
        ecs.register(IDS[0]);
        // IDS[2] and IDS[3] are unknown to ECS; IDS[3]'s records are all legacy (see `judge`).
        let v = judge(&ecs, &[IDS[2], IDS[3]]).await;
        let got: Vec<&Liveness> = v.by_owner.values().collect();
        assert_eq!(got, [&Liveness::Dead("unknown to ECS"), &Liveness::Unknown]);
    }
}
