//! The AWS SDK implementation of [`DnsApi`]: `GetHostedZone`, `ChangeResourceRecordSets`, `ListResourceRecordSets`.
//!
//! Credentials, region and endpoint come from the caller's `aws_config` (the default chain, plus `endpoint_url`
//! for emulators). Request bodies are never logged.
//! Credentials that Route53 rejects as expired are resolved afresh for the next request ([`FreshIdentity`]).

use async_trait::async_trait;
use aws_sdk_route53::client::customize::CustomizableOperation;
use aws_sdk_route53::config::http::HttpResponse;
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{self as t, ChangeAction, RrType};
use aws_sdk_route53::Client;

use super::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::aws_credentials::FreshIdentity;
use crate::core::plan::Change;
use crate::core::record::RecordSet;
use crate::error_chain::display_chain;

/// Route53 through `aws-sdk-route53`.
#[derive(Debug, Clone)]
pub struct SdkDns {
    client: Client,
    /// Renewed each time Route53 rejects the credentials as expired.
    fresh_identity: FreshIdentity,
}

impl SdkDns {
    /// Wraps a configured client.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            fresh_identity: FreshIdentity::default(),
        }
    }

    /// `op` with the fresh identity cache, once there is one.
    fn prepared<T, E, B>(
        &self,
        op: CustomizableOperation<T, E, B>,
    ) -> CustomizableOperation<T, E, B> {
        match self.fresh_identity.cache() {
            Some(cache) => {
                op.config_override(aws_sdk_route53::Config::builder().identity_cache(cache))
            }
            None => op,
        }
    }

    /// Classifies a failure. Credentials rejected as expired are dropped here, so that whoever retries gets new
    /// ones without having to ask.
    fn failed<E>(&self, zone_id: &str, err: SdkError<E, HttpResponse>) -> DnsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let err = classify(err);
        if matches!(err, DnsError::CredentialsExpired { .. }) {
            tracing::warn!(zone_id, error = %err, "Route53 rejected the credentials as expired; refreshing them.");
            self.fresh_identity.renew();
        }
        err
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
        let op = self.client.get_hosted_zone().id(zone_id).customize();
        let out = self
            .prepared(op)
            .send()
            .await
            .map_err(|e| self.failed(zone_id, e))?;
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
        self.prepared(req.customize())
            .send()
            .await
            .map_err(|e| self.failed(zone_id, e))?;
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
        let out = self
            .prepared(req.customize())
            .send()
            .await
            .map_err(|e| self.failed(zone_id, e))?;
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

#[cfg(test)]
mod tests {
    use aws_sdk_route53::config::{BehaviorVersion, IdentityCache, Region};
    use aws_smithy_runtime_api::client::http::{http_client_fn, SharedHttpConnector};

    use super::*;
    use crate::aws_credentials::scripted::{Counting, Scripted};
    use crate::route53::api::ErrorClass;

    const EXPIRED: &str = r#"<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>t</RequestId></ErrorResponse>"#;
    const ZONE: &str = r#"<?xml version="1.0"?><GetHostedZoneResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZone><Id>/hostedzone/Z1</Id><Name>example.com.</Name><CallerReference>t</CallerReference></HostedZone></GetHostedZoneResponse>"#;

    /// The client as `aws_config` builds it (a lazy identity cache, no SDK retries) in front of `route53`.
    fn sdk_dns(route53: &Scripted) -> SdkDns {
        let connector = route53.clone();
        let config = aws_sdk_route53::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Counting::default())
            .identity_cache(IdentityCache::lazy().build())
            .retry_config(aws_sdk_route53::config::retry::RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }))
            .build();
        SdkDns::new(Client::from_conf(config))
    }

    #[actix_rt::test]
    async fn credentials_rejected_as_expired_are_resolved_anew_for_the_retry() {
        let route53 = Scripted::default();
        let replies = [(200, ZONE), (403, EXPIRED), (200, ZONE)];
        route53.replies.lock().unwrap().extend(replies);
        let dns = sdk_dns(&route53);
        assert_eq!(dns.zone_name("Z1").await.unwrap(), "example.com.");
        let err = dns.zone_name("Z1").await.unwrap_err();
        assert!(
            matches!(err, DnsError::CredentialsExpired { .. }),
            "{err:?}"
        );
        assert_eq!(err.class(), ErrorClass::Transient);
        assert_eq!(dns.zone_name("Z1").await.unwrap(), "example.com.");
        assert_eq!(
            *route53.signed_by.lock().unwrap(),
            ["AKID1", "AKID1", "AKID2"],
            "cached credentials until Route53 rejects them, then new ones"
        );
    }
}
