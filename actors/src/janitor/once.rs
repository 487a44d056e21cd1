//! `route53-discovery janitor --once`: the operator's one clean-up, outside the agent and without its election
//! or grace period. It reads the zone, asks ECS about every other owner of this cluster holding records, and
//! deletes the records of those judged dead *now* ([`super::verdict`]: ECS says gone, or EC2 confirms), as exact
//! DELETEs in batches. The brake applies as in the agent ([`removal_limit`]) unless the operator approves a larger
//! clean-up with `--allow-mass-delete`. Records of other clusters and other writers are never touched.

use std::collections::BTreeMap;

use super::ec2::{Ec2Api, Ec2Error};
use super::ecs::{EcsApi, EcsError, Knowledge};
use super::plan::{legacy_only, records_by_owner, removal_limit};
use super::verdict::{verdicts, Judged, Liveness};
use crate::core::record::Record;
use crate::route53::api::{read_zone, DnsApi, DnsError};
use crate::route53::{purge_records, PurgeOutcome};

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Once {
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>`, when known.
    pub scope: Option<String>,
    /// Hosted zone id.
    pub zone_id: String,
    /// The owner id of the host it runs on (its records are never judged); empty off an instance.
    pub me: String,
    /// `janitor.max_owners_per_cycle`.
    pub max_owners: usize,
    /// `--allow-mass-delete`: lift the brake.
    pub allow_mass_delete: bool,
}

/// What the clean-up found and did.
#[derive(Debug, Default)]
pub struct OnceReport {
    /// Owners of this cluster holding records (this host excluded).
    pub owners: usize,
    /// Owners ECS reports gone now, with their record counts.
    pub dead: BTreeMap<String, usize>,
    /// The brake's limit, and whether it held (nothing deleted).
    pub limit: usize,
    /// True when the brake held.
    pub braked: bool,
    /// What the deletes did, when any were sent.
    pub purge: Option<PurgeOutcome>,
}

/// Why the clean-up could not judge.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// ECS could not be asked.
    #[error("ECS: {0}")]
    Ecs(#[from] EcsError),
    /// EC2 could not be asked about an owner whose agent is disconnected (or that is INACTIVE): nothing is
    /// deleted rather than judging without it.
    #[error("EC2: {0}")]
    Ec2(#[from] Ec2Error),
    /// The zone could not be read.
    #[error("Route53: {0}")]
    Zone(#[from] DnsError),
}

/// Runs the clean-up once.
pub async fn run_once(
    ecs: &dyn EcsApi,
    ec2: &dyn Ec2Api,
    dns: &dyn DnsApi,
    o: &Once,
) -> Result<OnceReport, OnceError> {
    let sets = read_zone(dns, &o.zone_id).await?;
    let by_owner = records_by_owner(sets, &o.cluster, o.scope.as_deref(), &o.me);
    let owners: Vec<String> = by_owner.keys().cloned().collect();
    let legacy = legacy_only(&by_owner, o.scope.as_deref());
    let judged = Judged {
        owners: &owners,
        legacy: &legacy,
    };
    let v = verdicts(ecs, ec2, &o.cluster, judged, &mut Knowledge::default()).await?;
    if let Some(e) = v.ec2_error {
        return Err(OnceError::Ec2(e));
    }
    let dead: Vec<&String> = owners
        .iter()
        .filter(|id| matches!(v.by_owner[*id], Liveness::Dead(_)))
        .collect();
    let limit = removal_limit(o.max_owners, by_owner.len() + 1);
    let mut report = OnceReport {
        owners: by_owner.len(),
        dead: dead
            .iter()
            .map(|id| ((*id).clone(), by_owner[*id].len()))
            .collect(),
        limit,
        braked: dead.len() > limit && !o.allow_mass_delete,
        purge: None,
    };
    if report.braked || dead.is_empty() {
        return Ok(report);
    }
    let records: Vec<Record> = dead
        .iter()
        .flat_map(|id| by_owner[*id].iter().cloned())
        .collect();
    report.purge = Some(purge_records(dns, &o.zone_id, records).await);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::core::plan::Change;
    use crate::core::record::RecordValue;
    use crate::janitor::fake::FakeEcs;
    use crate::route53::fake::FakeRoute53;

    const IDS: [&str; 4] = [
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "cccccccccccccccccccccccccccccccc",
        "dddddddddddddddddddddddddddddddd",
    ];

    /// Owners a (this host), b (INACTIVE), c (unknown to ECS), d (alive), one record each, and a foreign one.
    async fn world() -> (Rc<FakeEcs>, Rc<FakeRoute53>) {
        let ecs = Rc::new(FakeEcs::new("prod", 10));
        IDS.iter().for_each(|id| ecs.register(id));
        ecs.set(IDS[1], "INACTIVE", false);
        ecs.remove(IDS[2]);
        let zone = Rc::new(FakeRoute53::new("Z1", "z."));
        let mut ups: Vec<Change> = IDS
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let value = RecordValue::A([10, 0, 0, i as u8].into());
                Change::Upsert(Record::new(
                    "web.z.".into(),
                    format!("r53d:prod@us-east-1.111122223333:{id}:t-{i}"),
                    value,
                    60,
                    1,
                ))
            })
            .collect();
        let foreign = Record::new(
            "web.z.".into(),
            "hand-made".into(),
            RecordValue::A([192, 0, 2, 1].into()),
            60,
            1,
        );
        ups.push(Change::Upsert(foreign));
        zone.change("Z1", &ups).await.unwrap();
        (ecs, zone)
    }

    fn once(allow_mass_delete: bool) -> Once {
        Once {
            cluster: "prod".into(),
            scope: Some("us-east-1.111122223333".into()),
            zone_id: "Z1".into(),
            me: IDS[0].into(),
            max_owners: 5,
            allow_mass_delete,
        }
    }

    fn ids(zone: &FakeRoute53) -> Vec<String> {
        zone.sets()
            .into_iter()
            .filter_map(|s| s.set_identifier)
            .collect()
    }

    #[actix_rt::test]
    async fn the_one_shot_is_braked_without_approval_and_removes_only_the_gone_owners_with_it() {
        let (ecs, zone) = world().await;
        let before = ids(&zone);
        let r = run_once(&*ecs, &*ecs, &*zone, &once(false)).await.unwrap();
        assert_eq!((r.owners, r.dead.len(), r.limit, r.braked), (3, 2, 1, true));
        assert!(r.purge.is_none());
        assert_eq!(ids(&zone), before, "braked: nothing deleted");
        let r = run_once(&*ecs, &*ecs, &*zone, &once(true)).await.unwrap();
        assert_eq!(r.purge.unwrap().removed, 2);
        let left = ids(&zone);
        assert_eq!(left.len(), before.len() - 2);
        for kept in [IDS[0], IDS[3], "hand-made"] {
            assert!(
                left.iter().any(|s| s.contains(kept)),
                "{kept} went: {left:?}"
            );
        }
    }

    #[actix_rt::test]
    async fn with_ecs_down_the_one_shot_deletes_nothing() {
        let (ecs, zone) = world().await;
        ecs.set_down(true);
        let before = ids(&zone);
        assert!(run_once(&*ecs, &*ecs, &*zone, &once(true)).await.is_err());
        assert_eq!(ids(&zone), before);
    }

    #[actix_rt::test]
    async fn a_disconnected_owner_goes_only_when_ec2_confirms_and_never_when_ec2_fails() {
        let (ecs, zone) = world().await;
        ecs.register(IDS[1]);
        ecs.set(IDS[3], "ACTIVE", false);
        let r = run_once(&*ecs, &*ecs, &*zone, &once(true)).await.unwrap();
        assert_eq!(r.dead.keys().collect::<Vec<_>>(), [IDS[2]], "d runs on EC2");
        ecs.set_ec2(IDS[3], Some("terminated"));
        ecs.set_ec2_down(true);
        let before = ids(&zone);
        let e = run_once(&*ecs, &*ecs, &*zone, &once(true))
            .await
            .unwrap_err();
        assert!(matches!(e, OnceError::Ec2(_)), "{e}");
        assert_eq!(ids(&zone), before, "EC2 failed: nothing deleted");
        ecs.set_ec2_down(false);
        let r = run_once(&*ecs, &*ecs, &*zone, &once(true)).await.unwrap();
        assert_eq!(r.dead.keys().collect::<Vec<_>>(), [IDS[3]]);
        assert!(!ids(&zone).iter().any(|s| s.contains(IDS[3])));
    }
}
