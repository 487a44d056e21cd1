//! The Route53 side of the tests: the real `aws-sdk-route53` talking to `moto_server` on loopback.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

/// The TTL the agent writes with the default configuration (`route53.ttl`).
pub const AGENT_TTL: i64 = 30;

/// A record set as the tests compare them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    /// Name with trailing dot.
    pub name: String,
    /// SetIdentifier.
    pub set_identifier: String,
    /// Weight.
    pub weight: i64,
    /// TTL.
    pub ttl: i64,
    /// Values.
    pub values: Vec<String>,
}

/// Any record set of the zone with a SetIdentifier, with its type (A, AAAA, SRV, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Typed {
    /// Name with trailing dot.
    pub name: String,
    /// Record type.
    pub rtype: String,
    /// SetIdentifier.
    pub set_identifier: String,
    /// Values.
    pub values: Vec<String>,
}

fn values_of(s: &ResourceRecordSet) -> Vec<String> {
    s.resource_records()
        .iter()
        .map(|v| v.value().to_string())
        .collect()
}

/// A client of moto_server with its own runtime.
pub struct Moto {
    rt: tokio::runtime::Runtime,
    client: Client,
    /// moto's URL, for the agent's `route53.endpoint_url`.
    pub url: String,
}

/// A runtime for blocking SDK calls, the SDK configuration pointed at the moto_server `scripts/test` started
/// (static test credentials and region come from the environment), and its URL.
pub fn sdk_config() -> (tokio::runtime::Runtime, aws_config::SdkConfig, String) {
    let url = super::env("R53D_E2E_MOTO_URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&url)
            .load(),
    );
    (rt, config, url)
}

impl Moto {
    /// Connects to the moto_server `scripts/test` started.
    pub fn connect() -> Self {
        let (rt, config, url) = sdk_config();
        Self {
            client: Client::new(&config),
            rt,
            url,
        }
    }

    /// Creates a hosted zone; returns its id (without `/hostedzone/`).
    pub fn create_zone(&self, name: &str) -> String {
        let req = self
            .client
            .create_hosted_zone()
            .name(name)
            .caller_reference(super::unique(name));
        let out = self.rt.block_on(req.send()).expect("CreateHostedZone");
        out.hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string()
    }

    /// Every weighted A record set of the zone, sorted.
    pub fn records(&self, zone_id: &str) -> Vec<Rec> {
        let mut recs: Vec<Rec> = self
            .list(zone_id)
            .iter()
            .filter(|s| *s.r#type() == RrType::A && s.set_identifier().is_some())
            .map(|s| Rec {
                name: s.name().to_string(),
                set_identifier: s.set_identifier().unwrap().to_string(),
                weight: s.weight().unwrap_or(-1),
                ttl: s.ttl().unwrap_or(-1),
                values: values_of(s),
            })
            .collect();
        recs.sort();
        recs
    }

    /// The zone's record sets, every page.
    fn list(&self, zone_id: &str) -> Vec<ResourceRecordSet> {
        let mut out = Vec::new();
        let mut start: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut req = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .max_items(300);
            if let Some((name, rtype, id)) = start.take() {
                req = req.start_record_name(name).start_record_type(rtype);
                req = req.set_start_record_identifier(id);
            }
            let page = self
                .rt
                .block_on(req.send())
                .expect("ListResourceRecordSets");
            out.extend(page.resource_record_sets().iter().cloned());
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(name), Some(rtype)) => {
                    let id = page.next_record_identifier().map(str::to_string);
                    start = Some((name.to_string(), rtype.clone(), id));
                }
                _ => break,
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|s| {
            seen.insert((
                s.name().to_string(),
                s.r#type().clone(),
                s.set_identifier().map(str::to_string),
            ))
        });
        out
    }

    /// Every record set of the zone that has a SetIdentifier (weighted), of any type, sorted.
    pub fn typed_records(&self, zone_id: &str) -> Vec<Typed> {
        let mut recs: Vec<Typed> = self
            .list(zone_id)
            .iter()
            .filter(|s| s.set_identifier().is_some())
            .map(|s| Typed {
                name: s.name().to_string(),
                rtype: s.r#type().as_str().to_string(),
                set_identifier: s.set_identifier().unwrap().to_string(),
                values: values_of(s),
            })
            .collect();
        recs.sort();
        recs
    }

    /// The weighted record sets of one name (any type), read from that name on: one request even in a zone of
    /// thousands of records, for polling a big zone.
    pub fn typed_at(&self, zone_id: &str, name: &str) -> Vec<Typed> {
        let req = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .max_items(100);
        let page = self
            .rt
            .block_on(req.send())
            .expect("ListResourceRecordSets");
        let mut recs: Vec<Typed> = page
            .resource_record_sets()
            .iter()
            .filter(|s| s.name().eq_ignore_ascii_case(name) && s.set_identifier().is_some())
            .map(|s| Typed {
                name: s.name().to_string(),
                rtype: s.r#type().as_str().to_string(),
                set_identifier: s.set_identifier().unwrap().to_string(),
                values: values_of(s),
            })
            .collect();
        recs.sort();
        recs
    }

    /// Creates a weighted record of any type directly (weight 1, the agent's default TTL).
    pub fn put_typed(&self, zone_id: &str, rec: &Typed) {
        let rtype = RrType::from(rec.rtype.as_str());
        let set = weighted_set(
            &rec.name,
            rtype,
            &rec.set_identifier,
            (1, AGENT_TTL),
            &rec.values,
        );
        self.upsert(zone_id, set);
    }

    /// Creates a weighted A record directly (a record of another owner, or a stale one of ours).
    pub fn put(&self, zone_id: &str, rec: &Rec) {
        let set = a_set(rec);
        self.upsert(zone_id, set);
    }

    /// Deletes a weighted A record directly, as an operator would by hand.
    pub fn delete(&self, zone_id: &str, rec: &Rec) {
        let set = a_set(rec);
        self.change(zone_id, ChangeAction::Delete, set);
    }

    /// Creates many weighted A records directly, up to 500 a request (a zone full of others' records).
    pub fn put_many(&self, zone_id: &str, recs: &[Rec]) {
        for chunk in recs.chunks(500) {
            let changes = chunk.iter().map(|rec| {
                let set = a_set(rec);
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .unwrap()
            });
            self.send_batch(zone_id, changes.collect());
        }
    }

    fn upsert(&self, zone_id: &str, set: ResourceRecordSet) {
        self.change(zone_id, ChangeAction::Upsert, set);
    }

    fn change(&self, zone_id: &str, action: ChangeAction, set: ResourceRecordSet) {
        let change = Change::builder()
            .action(action)
            .resource_record_set(set)
            .build()
            .unwrap();
        self.send_batch(zone_id, vec![change]);
    }

    fn send_batch(&self, zone_id: &str, changes: Vec<Change>) {
        let batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .build()
            .unwrap();
        let req = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch);
        self.rt
            .block_on(req.send())
            .expect("ChangeResourceRecordSets");
    }
}

/// The weighted A record set of `rec`.
fn a_set(rec: &Rec) -> ResourceRecordSet {
    weighted_set(
        &rec.name,
        RrType::A,
        &rec.set_identifier,
        (rec.weight, rec.ttl),
        &rec.values,
    )
}

/// A weighted record set with these values and (weight, TTL).
fn weighted_set(
    name: &str,
    rtype: RrType,
    set_identifier: &str,
    (weight, ttl): (i64, i64),
    values: &[String],
) -> ResourceRecordSet {
    let records = values
        .iter()
        .map(|v| ResourceRecord::builder().value(v).build().unwrap())
        .collect();
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .set_identifier(set_identifier)
        .weight(weight)
        .ttl(ttl)
        .set_resource_records(Some(records))
        .build()
        .unwrap()
}
