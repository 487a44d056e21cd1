//! `route53-discovery janitor --once`: the operator's one clean-up, without the grace period. It reads the zone,
//! asks EC2 about every owner of this cluster and scope holding records, and deletes the records of those judged
//! dead *now* ([`super::verdict`]) as exact DELETEs in batches (a second read keeps only their records). The brake
//! applies as in the janitor service ([`removal_limit`]) unless the operator approves a larger clean-up with
//! `--allow-mass-delete`. Records of other clusters, scopes and writers are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::ec2::{Ec2Api, Ec2Error};
use super::plan::removal_limit;
use super::purge::{purge, PurgeOutcome};
use super::verdict::{verdicts, Liveness};
use super::zone::{read_owners, Reader};
use crate::route53::api::{DnsApi, DnsError};

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Once {
    /// Full ECS cluster name.
    pub cluster: String,
    /// The cluster's `<region>.<account>`.
    pub scope: String,
    /// Hosted zone id.
    pub zone_id: String,
    /// `janitor.max_owners_per_cycle`.
    pub max_owners: usize,
    /// `--allow-mass-delete`: lift the brake.
    pub allow_mass_delete: bool,
}

/// What the clean-up found and did.
#[derive(Debug, Default)]
pub struct OnceReport {
    /// Owners of this cluster holding records.
    pub owners: usize,
    /// Owners no authority can judge (left alone).
    pub unjudged: usize,
    /// Owners dead now, with their record counts.
    pub dead: BTreeMap<String, usize>,
    /// The brake's limit.
    pub limit: usize,
    /// True when the brake held (nothing deleted).
    pub braked: bool,
    /// What the deletes did, when any were sent.
    pub purge: Option<PurgeOutcome>,
}

/// Why the clean-up could not judge.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// EC2 could not be asked: nothing is deleted rather than judging without it.
    #[error("EC2: {0}")]
    Ec2(#[from] Ec2Error),
    /// The zone could not be read.
    #[error("Route53: {0}")]
    Zone(#[from] DnsError),
}

/// Runs the clean-up once.
pub async fn run_once(
    ec2: &dyn Ec2Api,
    dns: &dyn DnsApi,
    o: &Once,
) -> Result<OnceReport, OnceError> {
    let reader = Reader {
        zone_id: &o.zone_id,
        cluster: &o.cluster,
        scope: &o.scope,
        pace: Duration::ZERO,
    };
    let counts = read_owners(dns, reader, &BTreeSet::new(), || true)
        .await?
        .counts;
    let v = verdicts(ec2, counts.keys()).await;
    if let Some(e) = v.ec2_error {
        return Err(OnceError::Ec2(e));
    }
    let dead: BTreeSet<String> = v
        .by_owner
        .iter()
        .filter(|(_, l)| matches!(l, Liveness::Dead(_)))
        .map(|(o, _)| o.clone())
        .collect();
    let limit = removal_limit(o.max_owners, counts.len());
    let mut report = OnceReport {
        owners: counts.len(),
        unjudged: v.unjudged,
        dead: dead.iter().map(|id| (id.clone(), counts[id])).collect(),
        limit,
        braked: dead.len() > limit && !o.allow_mass_delete,
        purge: None,
    };
    if report.braked || dead.is_empty() {
        return Ok(report);
    }
    let kept = read_owners(dns, reader, &dead, || true).await?.kept;
    let records = kept.into_values().flatten().collect();
    report.purge = Some(purge(dns, &o.zone_id, records).await);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Change;
    use crate::core::record::{Record, RecordValue};
    use crate::janitor::fake::FakeEc2;
    use crate::route53::fake::FakeRoute53;

    const SCOPE: &str = "us-east-1.111122223333";
    const IDS: [&str; 4] = [
        "i-0000000a",
        "i-0000000b",
        "i-0000000c",
        "mi-0123456789abcdef0",
    ];

    /// Owners a (running), b (terminated), c (unknown to EC2), an ECS Anywhere host, one record each; a record of
    /// c in the legacy format, one of another region, and a foreign one.
    async fn world() -> (FakeEc2, FakeRoute53) {
        let ec2 = FakeEc2::new(10);
        ec2.set(IDS[0], Some("running"));
        ec2.set(IDS[1], Some("terminated"));
        let zone = FakeRoute53::new("Z1", "z.");
        let rec = |id: String, i: u8| {
            let value = RecordValue::A([10, 0, 0, i].into());
            Change::Upsert(Record::new("web.z.".into(), id, value, 60, 1))
        };
        let mut ups: Vec<Change> = IDS
            .iter()
            .enumerate()
            .map(|(i, id)| rec(format!("r53d:prod@{SCOPE}:{id}:t-{i}"), i as u8))
            .collect();
        ups.push(rec(format!("r53d:prod:{}:t-7", IDS[2]), 7));
        ups.push(rec(
            format!("r53d:prod@us-west-2.111122223333:{}:t-8", IDS[2]),
            8,
        ));
        ups.push(rec("hand-made".into(), 9));
        zone.change("Z1", &ups).await.unwrap();
        (ec2, zone)
    }

    fn once(allow_mass_delete: bool) -> Once {
        Once {
            cluster: "prod".into(),
            scope: SCOPE.into(),
            zone_id: "Z1".into(),
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
        let (ec2, zone) = world().await;
        let before = ids(&zone);
        let r = run_once(&ec2, &zone, &once(false)).await.unwrap();
        assert_eq!(
            (r.owners, r.unjudged, r.dead.len(), r.limit, r.braked),
            (4, 1, 2, 1, true)
        );
        assert!(r.purge.is_none());
        assert_eq!(ids(&zone), before, "braked: nothing deleted");
        let r = run_once(&ec2, &zone, &once(true)).await.unwrap();
        assert_eq!(r.purge.unwrap().removed, 2);
        let left = ids(&zone);
        assert_eq!(left.len(), before.len() - 2);
        for kept in [
            IDS[0],
            IDS[3],
            "r53d:prod:i-0000000c",
            "us-west-2",
            "hand-made",
        ] {
            assert!(
                left.iter().any(|s| s.contains(kept)),
                "{kept} went: {left:?}"
            );
        }
    }

    #[actix_rt::test]
    async fn with_ec2_failing_the_one_shot_deletes_nothing() {
        let (ec2, zone) = world().await;
        ec2.set_down(true);
        let before = ids(&zone);
        let e = run_once(&ec2, &zone, &once(true)).await.unwrap_err();
        assert!(matches!(e, OnceError::Ec2(_)), "{e}");
        assert_eq!(ids(&zone), before);
    }
}
