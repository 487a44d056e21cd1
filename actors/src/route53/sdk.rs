//! The AWS SDK implementation of [`DnsApi`]: `GetHostedZone`, `ChangeResourceRecordSets`, `ListResourceRecordSets`.
//!
//! Credentials, region and endpoint come from the caller's `aws_config` (the default chain, plus `endpoint_url`
//! for emulators). Request bodies are never logged.

use async_trait::async_trait;
use aws_sdk_route53::config::http::HttpResponse;
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{self as t, ChangeAction, RrType};
use aws_sdk_route53::Client;

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::core::plan::Change;
use crate::core::record::RecordSet;
use crate::error_chain::display_chain;

/// Route53 through `aws-sdk-route53`.
#[derive(Debug, Clone)]
pub struct SdkDns {
    client: Client,
}

impl SdkDns {
    /// Wraps a configured client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Maps any SDK failure to a [`DnsError`] by its service code, HTTP status, or kind of transport failure.
fn classify<E>(err: SdkError<E, HttpResponse>) -> DnsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = Some(se.raw().status().as_u16());
            DnsError::from_code(e.code().unwrap_or(""), e.message().unwrap_or(""), status)
        }
        // The request may have reached Route53: the caller re-reads before it retries.
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            DnsError::Ambiguous(display_chain(&err))
        }
        SdkError::ConstructionFailure(_) => DnsError::Permanent {
            code: "ConstructionFailure".into(),
            message: display_chain(&err),
        },
        _ => DnsError::Transient(display_chain(&err)),
    }
}

fn to_sdk_change(change: &Change) -> Result<t::Change, DnsError> {
    let r = change.record();
    let bad = |e: aws_sdk_route53::error::BuildError| DnsError::Permanent {
        code: "BuildError".into(),
        message: e.to_string(),
    };
    let value = t::ResourceRecord::builder()
        .value(r.value_string())
        .build()
        .map_err(bad)?;
    let set = t::ResourceRecordSet::builder()
        .name(&r.key.name)
        .r#type(RrType::from(r.key.record_type.as_str()))
        .set_identifier(&r.key.set_identifier)
        .weight(r.weight)
        .ttl(r.ttl)
        .resource_records(value)
        .build()
        .map_err(bad)?;
    let action = match change {
        Change::Upsert(_) => ChangeAction::Upsert,
        Change::Delete(_) => ChangeAction::Delete,
    };
    t::Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(bad)
}

fn from_sdk_set(s: &t::ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: s.name().to_ascii_lowercase(),
        record_type: s.r#type().as_str().to_string(),
        set_identifier: s.set_identifier().map(str::to_string),
        weight: s.weight(),
        ttl: s.ttl(),
        values: s
            .resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect(),
        has_extras: s.alias_target().is_some()
            || s.health_check_id().is_some()
            || s.region().is_some()
            || s.failover().is_some()
            || s.geo_location().is_some()
            || s.multi_value_answer().is_some(),
    }
}

#[async_trait(?Send)]
impl DnsApi for SdkDns {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        let out = self
            .client
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .map_err(classify)?;
        let zone = out
            .hosted_zone()
            .ok_or_else(|| DnsError::Transient("GetHostedZone returned no zone".into()))?;
        Ok(zone.name().to_string())
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        let changes = changes
            .iter()
            .map(to_sdk_change)
            .collect::<Result<Vec<_>, _>>()?;
        let batch = t::ChangeBatch::builder()
            .set_changes(Some(changes))
            .build()
            .map_err(|e| DnsError::Permanent {
                code: "BuildError".into(),
                message: e.to_string(),
            })?;
        let req = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch);
        req.send().await.map_err(classify)?;
        Ok(())
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError> {
        let mut req = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(max_items);
        if let Some(s) = start {
            req = req
                .start_record_name(&s.name)
                .start_record_type(RrType::from(s.record_type.as_str()));
            if let Some(id) = &s.identifier {
                req = req.start_record_identifier(id);
            }
        }
        let out = req.send().await.map_err(classify)?;
        let next = match (
            out.is_truncated(),
            out.next_record_name(),
            out.next_record_type(),
        ) {
            (true, Some(name), Some(rtype)) => Some(ListStart {
                name: name.to_string(),
                record_type: rtype.as_str().to_string(),
                identifier: out.next_record_identifier().map(str::to_string),
            }),
            _ => None,
        };
        Ok(ListPage {
            sets: out
                .resource_record_sets()
                .iter()
                .map(from_sdk_set)
                .collect(),
            next,
        })
    }
}
