//! The seam between the janitor and the EC2 API: a narrow trait (one page of `DescribeInstances` filtered on
//! instance ids), its error classes, and the paged read the verdicts use.
//!
//! EC2 is the authority on whether an owner's host lives: the janitor asks it about every owner that is an EC2
//! instance, 100 ids a call, once a cycle. Two implementations: `aws-sdk-ec2` ([`super::sdk`]) and an in-memory
//! fake ([`super::fake::FakeEc2`]).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::ecs::EcsError;

/// Instance ids per `DescribeInstances` call (values of one `instance-id` filter).
pub const IDS_PER_CALL: usize = 100;

/// A failed EC2 call: no verdict for any owner that needed it (their clocks start over), never a delete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ec2Error {
    /// Unreachable endpoint, timeout, throttling (`RequestLimitExceeded`), 5xx.
    #[error("EC2 API unavailable: {0}")]
    Transient(String),
    /// Access denied (no `ec2:DescribeInstances`), invalid parameters: an operator has to fix something.
    #[error("EC2 API error {code}: {message}")]
    Permanent {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
}

impl Ec2Error {
    /// True when retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// Classifies a service error by its code and HTTP status (the same rules as ECS's).
    pub fn from_code(code: &str, message: &str, status: Option<u16>) -> Self {
        EcsError::from_code(code, message, status).into()
    }
}

/// The same classes: the SDKs' errors are classified once ([`super::sdk`]).
impl From<EcsError> for Ec2Error {
    fn from(e: EcsError) -> Self {
        match e {
            EcsError::Transient(m) => Self::Transient(m),
            EcsError::Permanent { code, message } => Self::Permanent { code, message },
        }
    }
}

/// One page of `DescribeInstances`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ec2Page {
    /// (instance id, state name: `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`).
    pub states: Vec<(String, String)>,
    /// Token of the next page.
    pub next: Option<String>,
}

/// The EC2 operation the janitor uses.
#[async_trait(?Send)]
pub trait Ec2Api {
    /// One page of `DescribeInstances` filtered on `instance-id` ∈ `ids` (at most [`IDS_PER_CALL`]). Ids EC2 does
    /// not know are absent from the answer (a filter, unlike `InstanceIds`, does not fail on them).
    async fn describe_page(&self, ids: &[String], next: Option<&str>) -> Result<Ec2Page, Ec2Error>;
}

/// The state of each of `ids` EC2 knows, following `nextToken` over chunks of [`IDS_PER_CALL`]. An id absent
/// from the result does not exist. Any failed page, or a repeated token, fails the whole read: a partial answer
/// would make a live instance look absent.
pub async fn states(
    api: &dyn Ec2Api,
    ids: &[String],
) -> Result<BTreeMap<String, String>, Ec2Error> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_CALL) {
        let mut seen = BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            let page = api.describe_page(chunk, next.as_deref()).await?;
            out.extend(page.states);
            let Some(token) = page.next else {
                break;
            };
            if !seen.insert(token.clone()) {
                return Err(Ec2Error::Transient(
                    "DescribeInstances repeated a nextToken".into(),
                ));
            }
            next = Some(token);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// Two pages per chunk, the second failing when `fail_second` is set; or the same token forever.
    struct Paged {
        fail_second: bool,
        looping: bool,
        calls: Cell<usize>,
    }

    #[async_trait(?Send)]
    impl Ec2Api for Paged {
        async fn describe_page(
            &self,
            ids: &[String],
            next: Option<&str>,
        ) -> Result<Ec2Page, Ec2Error> {
            self.calls.set(self.calls.get() + 1);
            let half = ids.len() / 2;
            let (part, next) = match next {
                None => (&ids[..half], Some("2".to_string())),
                Some(_) if self.looping => (&ids[..0], Some("2".to_string())),
                Some(_) if self.fail_second => return Err(Ec2Error::Transient("503".into())),
                Some(_) => (&ids[half..], None),
            };
            let states = part.iter().map(|i| (i.clone(), "running".into())).collect();
            Ok(Ec2Page { states, next })
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i-{i:04}")).collect()
    }

    fn paged(fail_second: bool, looping: bool) -> Paged {
        Paged {
            fail_second,
            looping,
            calls: Cell::new(0),
        }
    }

    #[actix_rt::test]
    async fn every_page_of_every_chunk_is_read() {
        let api = paged(false, false);
        let got = states(&api, &ids(150)).await.unwrap();
        assert_eq!(got.len(), 150);
        assert_eq!(api.calls.get(), 4, "two chunks (100 + 50), two pages each");
    }

    #[actix_rt::test]
    async fn a_failed_page_fails_the_read_rather_than_leaving_instances_out() {
        let e = states(&paged(true, false), &ids(10)).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
    }

    #[actix_rt::test]
    async fn a_repeated_token_fails_the_read() {
        let e = states(&paged(false, true), &ids(10)).await.unwrap_err();
        assert!(e.to_string().contains("repeated a nextToken"), "{e}");
    }

    #[test]
    fn errors_are_classified_like_ecs_errors() {
        let e = |c, s| Ec2Error::from_code(c, "m", s);
        assert!(e("RequestLimitExceeded", Some(503)).is_transient());
        assert!(e("InternalError", Some(500)).is_transient());
        assert!(!e("UnauthorizedOperation", Some(403)).is_transient());
        assert!(
            e("RequestExpired", Some(400)).is_transient(),
            "new credentials"
        );
        assert!(
            e("ExpiredToken", Some(400)).is_transient(),
            "new credentials"
        );
        assert!(!e("AuthFailure", Some(401)).is_transient());
    }
}
