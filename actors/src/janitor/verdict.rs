//! Dead means dead: an owner of records is a host, and the authority on whether a host lives is the service that
//! runs it. For an EC2 instance that is EC2, never ECS's bookkeeping: an instance deregistered from its cluster,
//! or re-registered under a new container instance id, keeps running and keeps its records. The rules are pure
//! ([`authority`], [`liveness`]); [`verdicts`] gathers EC2's answer (the janitor's cycle and `janitor --once`).
//!
//! | owner (from the SetIdentifier)            | EC2 says about it                        | verdict |
//! |-------------------------------------------|------------------------------------------|---------|
//! | an EC2 instance id (`i-…`)                | running or pending                       | alive   |
//! |                                           | terminated or stopped                    | dead    |
//! |                                           | no such instance                         | dead    |
//! |                                           | shutting-down, stopping, anything else   | none    |
//! |                                           | the call failed (or was throttled)       | none    |
//! | an SSM managed instance (`mi-…`, ECS Anywhere) | (not asked)                         | none    |
//! | anything else (an `agent.owner_id` override) | (not asked)                           | none    |
//!
//! "None" is no verdict: the owner's grace clock starts over and nothing of it is deleted. "Dead" deletes only
//! after the tracker has seen it on consecutive cycles spanning the grace period ([`super::tracker`]).

use std::collections::BTreeMap;

use super::ec2::{states, Ec2Api, Ec2Error, IDS_PER_CALL};
use crate::core::ownership::is_ec2_instance_id;

/// How an owner of records looks in this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Its host is alive.
    Alive,
    /// Its host is gone; the reason is for logs.
    Dead(&'static str),
    /// No verdict: nothing changes, and its grace clock starts over.
    Unknown,
}

/// Who can tell whether an owner's host lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority<'a> {
    /// EC2, about this instance id.
    Ec2(&'a str),
    /// Nobody the janitor asks: an SSM managed instance (ECS Anywhere) or an owner id given by configuration.
    None,
}

/// The authority on `owner`: EC2 for an id shaped like an EC2 instance id (`i-` and 8 or 17 lowercase hex
/// digits), nobody for anything else. An ECS Anywhere host's `mi-…` id is not EC2's: EC2 would call it unknown
/// although it runs, so it is never judged.
pub fn authority(owner: &str) -> Authority<'_> {
    match is_ec2_instance_id(owner) {
        true => Authority::Ec2(owner),
        false => Authority::None,
    }
}

/// The verdict on `owner` from EC2's states of the instances asked about (`Err`: EC2 could not be asked).
pub fn liveness(owner: &str, ec2: Result<&BTreeMap<String, String>, ()>) -> Liveness {
    let Authority::Ec2(id) = authority(owner) else {
        return Liveness::Unknown;
    };
    let Ok(states) = ec2 else {
        return Liveness::Unknown;
    };
    match states.get(id).map(String::as_str) {
        Some("running" | "pending") => Liveness::Alive,
        Some("terminated") => Liveness::Dead("EC2 instance terminated"),
        Some("stopped") => Liveness::Dead("EC2 instance stopped"),
        None => Liveness::Dead("no such EC2 instance"),
        Some(_) => Liveness::Unknown,
    }
}

/// The verdicts of one judgement, and the EC2 error that left owners without one.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// Every owner asked about, with its verdict.
    pub by_owner: BTreeMap<String, Liveness>,
    /// Owners no authority can judge (ECS Anywhere hosts, configured owner ids): never deleted.
    pub unjudged: usize,
    /// Set when EC2 could not be asked: its owners have no verdict.
    pub ec2_error: Option<Ec2Error>,
    /// `DescribeInstances` calls made.
    pub ec2_calls: usize,
}

/// Judges `owners`: asks EC2 about those that are EC2 instances, in one paged read of [`IDS_PER_CALL`] ids a
/// call; the others get no verdict.
pub async fn verdicts<'a>(
    ec2: &dyn Ec2Api,
    owners: impl IntoIterator<Item = &'a String>,
) -> Verdicts {
    let owners: Vec<&String> = owners.into_iter().collect();
    let ids: Vec<String> = owners
        .iter()
        .filter_map(|o| match authority(o) {
            Authority::Ec2(id) => Some(id.to_string()),
            Authority::None => None,
        })
        .collect();
    let mut out = Verdicts {
        unjudged: owners.len() - ids.len(),
        ..Verdicts::default()
    };
    let answer = match ids.is_empty() {
        true => Ok(BTreeMap::new()),
        false => {
            out.ec2_calls = ids.len().div_ceil(IDS_PER_CALL);
            states(ec2, &ids).await
        }
    };
    let answer = answer.map_err(|e| out.ec2_error = Some(e));
    for owner in owners {
        let l = liveness(owner, answer.as_ref().map_err(|_| ()));
        out.by_owner.insert(owner.clone(), l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::janitor::fake::FakeEc2;

    const I: &str = "i-0123456789abcdef0";

    fn ec2(state: Option<&str>) -> BTreeMap<String, String> {
        state
            .map(|s| BTreeMap::from([(I.to_string(), s.to_string())]))
            .unwrap_or_default()
    }

    #[test]
    fn an_ec2_instance_lives_while_ec2_runs_it_whatever_ecs_says() {
        // ECS is not asked at all: deregistered (MISSING), INACTIVE or disconnected make no difference.
        assert_eq!(liveness(I, Ok(&ec2(Some("running")))), Liveness::Alive);
        assert_eq!(liveness(I, Ok(&ec2(Some("pending")))), Liveness::Alive);
    }

    #[test]
    fn an_ec2_instance_is_dead_when_terminated_stopped_or_unknown_to_ec2() {
        let dead = |s| liveness(I, Ok(&ec2(s)));
        assert_eq!(
            dead(Some("terminated")),
            Liveness::Dead("EC2 instance terminated")
        );
        assert_eq!(
            dead(Some("stopped")),
            Liveness::Dead("EC2 instance stopped")
        );
        assert_eq!(dead(None), Liveness::Dead("no such EC2 instance"));
    }

    #[test]
    fn a_settling_state_or_a_failed_call_gives_no_verdict() {
        for settling in ["shutting-down", "stopping", "something-new"] {
            assert_eq!(
                liveness(I, Ok(&ec2(Some(settling)))),
                Liveness::Unknown,
                "{settling}"
            );
        }
        assert_eq!(liveness(I, Err(())), Liveness::Unknown);
    }

    #[test]
    fn an_ecs_anywhere_host_or_a_configured_owner_id_is_never_judged() {
        let nothing = BTreeMap::new();
        for owner in [
            "mi-0123456789abcdef0",
            "host-1",
            "host-1~0a1b2c3d",
            "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70",
            "i-0123",
            "i-0123456789ABCDEF0",
            "i-0123456789abcdef0~0a1b2c3d",
            "xi-0123456789abcdef0",
        ] {
            assert_eq!(authority(owner), Authority::None, "{owner}");
            assert_eq!(liveness(owner, Ok(&nothing)), Liveness::Unknown, "{owner}");
        }
        assert_eq!(
            authority("i-0123abcd"),
            Authority::Ec2("i-0123abcd"),
            "old 8-digit ids"
        );
    }

    fn owners(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[actix_rt::test]
    async fn ec2_is_asked_once_about_every_instance_and_nobody_about_the_rest() {
        let ec2 = FakeEc2::new(10);
        ec2.set("i-0000000a", Some("running"));
        ec2.set("i-0000000b", Some("terminated"));
        let all = owners(&[
            "i-0000000a",
            "i-0000000b",
            "i-0000000c",
            "mi-0123456789abcdef0",
            "host-1",
        ]);
        let v = verdicts(&ec2, &all).await;
        let got: Vec<&Liveness> = v.by_owner.values().collect();
        assert_eq!(
            got,
            [
                &Liveness::Unknown,
                &Liveness::Alive,
                &Liveness::Dead("EC2 instance terminated"),
                &Liveness::Dead("no such EC2 instance"),
                &Liveness::Unknown,
            ]
        );
        assert_eq!((v.ec2_calls, ec2.calls(), v.unjudged), (1, 1, 2));
    }

    #[actix_rt::test]
    async fn with_ec2_failing_nobody_gets_a_verdict() {
        let ec2 = FakeEc2::new(10);
        ec2.set("i-0000000b", Some("terminated"));
        ec2.set_down(true);
        let v = verdicts(&ec2, &owners(&["i-0000000a", "i-0000000b"])).await;
        assert!(
            v.ec2_error.as_ref().is_some_and(Ec2Error::is_transient),
            "{v:?}"
        );
        assert!(v.by_owner.values().all(|l| *l == Liveness::Unknown));
    }

    #[actix_rt::test]
    async fn without_ec2_owners_no_call_is_made() {
        let ec2 = FakeEc2::new(10);
        let v = verdicts(&ec2, &owners(&["host-1"])).await;
        assert_eq!((v.ec2_calls, ec2.calls()), (0, 0));
    }
}
