//! The seam between the Route53 writer and Route53: a narrow trait, its error classes, and targeted reads.
//!
//! Three implementations: the AWS SDK adapter ([`super::sdk`]), the dry-run sink ([`super::dry_run`]) and the strict
//! in-memory fake for tests ([`super::fake`]). The writer never knows which one it talks to.

use async_trait::async_trait;

use crate::aws_credentials::is_expired;
use crate::core::plan::Change;
use crate::core::record::{RecordSet, RecordType};

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry the same request later with backoff (throttling, 5xx, timeouts, connection errors, credentials
    /// rejected as expired).
    Transient,
    /// The batch conflicts with what is in the zone: re-read, re-plan, split.
    Conflict,
    /// Retrying cannot help (no such zone, access denied, invalid input): stop the agent.
    Permanent,
}

/// A failed Route53 call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// `Throttling` or `PriorRequestNotComplete`.
    #[error("Route53 throttled the request ({code}): {message}")]
    Throttled {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
    /// A 5xx, connection or other failure worth retrying; the request was not applied.
    #[error("Route53 request failed, will retry: {0}")]
    Transient(String),
    /// A timeout or a lost response: the request may or may not have been applied.
    #[error(
        "Route53 request outcome unknown (timeout or lost response), will re-read and retry: {0}"
    )]
    Ambiguous(String),
    /// `ExpiredToken`, `RequestExpired` and the like: Route53 rejected the request's credentials as expired before
    /// the client's cache thought they were (clock skew, a revoked session, a request signed too long ago). The
    /// SDK adapter has already dropped its cached credentials, so a retry signs with fresh ones.
    #[error("Route53 rejected the credentials as expired ({code}), will refresh them and retry: {message}")]
    CredentialsExpired {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
    /// `InvalidChangeBatch`: the change conflicts with the zone's current state.
    #[error("Route53 rejected the change batch: {0}")]
    InvalidChangeBatch(String),
    /// `NoSuchHostedZone`, `AccessDenied`, `InvalidInput`, `SignatureDoesNotMatch` and other errors retrying will
    /// not fix.
    #[error("Route53 error {code}: {message}")]
    Permanent {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
}

impl DnsError {
    /// The handling this error calls for.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Throttled { .. }
            | Self::Transient(_)
            | Self::Ambiguous(_)
            | Self::CredentialsExpired { .. } => ErrorClass::Transient,
            Self::InvalidChangeBatch(_) => ErrorClass::Conflict,
            Self::Permanent { .. } => ErrorClass::Permanent,
        }
    }

    /// Classifies a service error by its code (and HTTP status when the code is unknown).
    pub fn from_code(code: &str, message: &str, status: Option<u16>) -> Self {
        let (code_s, message_s) = (code.to_string(), message.to_string());
        match code {
            "Throttling"
            | "ThrottlingException"
            | "PriorRequestNotComplete"
            | "RequestLimitExceeded" => Self::Throttled {
                code: code_s,
                message: message_s,
            },
            _ if is_expired(code) => Self::CredentialsExpired {
                code: code_s,
                message: message_s,
            },
            "InvalidChangeBatch" => Self::InvalidChangeBatch(message_s),
            "NoSuchHostedZone"
            | "AccessDenied"
            | "AccessDeniedException"
            | "InvalidInput"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidDomainName" => Self::Permanent {
                code: code_s,
                message: message_s,
            },
            _ if status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
                && !code.is_empty() =>
            {
                Self::Permanent {
                    code: code_s,
                    message: message_s,
                }
            }
            _ => Self::Transient(format!("{code} {message} (HTTP {})", status.unwrap_or(0))),
        }
    }
}

/// Where a listing starts: Route53's (name, type, identifier) cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStart {
    /// `StartRecordName`.
    pub name: String,
    /// `StartRecordType`.
    pub record_type: String,
    /// `StartRecordIdentifier`, needed when the cursor is inside a weighted group.
    pub identifier: Option<String>,
}

/// One page of `ListResourceRecordSets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The record sets on this page.
    pub sets: Vec<RecordSet>,
    /// Where the next page starts, when the listing is truncated.
    pub next: Option<ListStart>,
}

/// The Route53 operations the writer uses.
#[async_trait(?Send)]
pub trait DnsApi {
    /// The zone's name (`GetHostedZone`), which also proves the zone exists and is readable.
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError>;
    /// One atomic `ChangeResourceRecordSets` request.
    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError>;
    /// One page of `ListResourceRecordSets` from `start` (the zone's beginning when `None`).
    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max_items: i32,
    ) -> Result<ListPage, DnsError>;
}

/// Page size for whole-zone reads (Route53's maximum).
pub const FULL_PAGE: i32 = 300;
/// Page size for targeted reads of one name: Route53's maximum, so a name holding a full weighted group of each
/// of two types (200 sets) is one request, as the verification's budget counts it.
pub const NAME_PAGE: i32 = 300;

/// Every record set of the types this agent writes (A, AAAA, SRV) under `name`, read with targeted paging that
/// stops once the listing passes the name.
pub async fn read_name(
    api: &dyn DnsApi,
    zone_id: &str,
    name: &str,
) -> Result<Vec<RecordSet>, DnsError> {
    let mut start = ListStart {
        name: name.to_string(),
        record_type: "A".into(),
        identifier: None,
    };
    let mut out = Vec::new();
    loop {
        let page = api.list(zone_id, Some(&start), NAME_PAGE).await?;
        let passed = page.sets.iter().any(|s| !s.name.eq_ignore_ascii_case(name));
        out.extend(page.sets.into_iter().filter(|s| {
            s.name.eq_ignore_ascii_case(name) && RecordType::parse(&s.record_type).is_some()
        }));
        match page.next {
            Some(next) if !passed && next != start => start = next,
            _ => return Ok(dedupe(out)),
        }
    }
}

/// Every record set of the zone (used once at launch to find this owner's records).
///
/// Emulators that ignore `StartRecordIdentifier` can repeat a page; a cursor that does not move ends the read with a
/// transient error instead of looping forever, and duplicates are removed.
pub async fn read_zone(api: &dyn DnsApi, zone_id: &str) -> Result<Vec<RecordSet>, DnsError> {
    let mut start: Option<ListStart> = None;
    let mut out = Vec::new();
    loop {
        let page = api.list(zone_id, start.as_ref(), FULL_PAGE).await?;
        out.extend(page.sets);
        match page.next {
            None => return Ok(dedupe(out)),
            Some(next) if Some(&next) == start.as_ref() => {
                return Err(DnsError::Transient(format!(
                    "listing did not advance past {}",
                    next.name
                )));
            }
            Some(next) => start = Some(next),
        }
    }
}

fn dedupe(mut sets: Vec<RecordSet>) -> Vec<RecordSet> {
    let mut seen = std::collections::HashSet::new();
    sets.retain(|s| {
        seen.insert((
            s.name.to_ascii_lowercase(),
            s.record_type.clone(),
            s.set_identifier.clone(),
        ))
    });
    sets
}

#[cfg(test)]
mod tests {
    #[actix_rt::test]
    async fn a_name_with_full_weighted_groups_of_two_types_is_read_in_one_request() {
        use crate::route53::fake::FakeRoute53;
        let fake = FakeRoute53::new("Z1", "example.com.");
        for (t, value) in [("A", "10.0.0.1"), ("AAAA", "2600::1")] {
            for n in 0..100 {
                fake.insert(RecordSet {
                    name: "web.example.com.".into(),
                    record_type: t.into(),
                    set_identifier: Some(format!("r53d:c:o{n}:t-{n}")),
                    weight: Some(1),
                    ttl: Some(60),
                    values: vec![value.into()],
                    has_extras: false,
                });
            }
        }
        let sets = read_name(&fake, "Z1", "web.example.com.").await.unwrap();
        assert_eq!((sets.len(), fake.list_requests()), (200, 1));
    }

    use super::*;

    #[test]
    fn codes_are_classified() {
        let c = |code, status| DnsError::from_code(code, "m", status).class();
        assert_eq!(c("Throttling", Some(400)), ErrorClass::Transient);
        assert_eq!(
            c("PriorRequestNotComplete", Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(c("InvalidChangeBatch", Some(400)), ErrorClass::Conflict);
        assert_eq!(c("NoSuchHostedZone", Some(404)), ErrorClass::Permanent);
        assert_eq!(c("AccessDenied", Some(403)), ErrorClass::Permanent);
        assert_eq!(c("InvalidInput", Some(400)), ErrorClass::Permanent);
        assert_eq!(c("InternalError", Some(500)), ErrorClass::Transient);
        assert_eq!(c("", None), ErrorClass::Transient);
        assert_eq!(c("SomethingNew", Some(429)), ErrorClass::Transient);
    }

    #[test]
    fn expired_credentials_are_transient_and_other_credential_errors_permanent() {
        for code in [
            "ExpiredToken",
            "ExpiredTokenException",
            "RequestExpired",
            "TokenRefreshRequired",
        ] {
            let e = DnsError::from_code(
                code,
                "The security token included in the request is expired",
                Some(403),
            );
            assert!(
                matches!(&e, DnsError::CredentialsExpired { code: c, .. } if c == code),
                "{e:?}"
            );
            assert_eq!(e.class(), ErrorClass::Transient, "{code}");
        }
        for code in [
            "SignatureDoesNotMatch",
            "InvalidClientTokenId",
            "AccessDenied",
            "UnrecognizedClientException",
        ] {
            let class = DnsError::from_code(code, "m", Some(403)).class();
            assert_eq!(class, ErrorClass::Permanent, "{code}");
        }
    }
}
