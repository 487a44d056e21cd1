//! Writer tests of failures on the paths after a request: a re-read that fails for good, credentials rejected as
//! expired.

use std::time::Duration;

use super::api::DnsError;
use super::fake::FakeRoute53;
use super::tests::{rec, start, Harness};
use super::{Flush, Register};

/// A conflict makes the writer re-read; when that read fails for good (access revoked) the agent drains, and a
/// flush waiting for the conflicting change must still answer.
#[actix_rt::test]
async fn a_permanent_failure_of_the_conflict_re_read_still_answers_the_flush() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.warm().await;
    h.fake.fail_next([
        DnsError::InvalidChangeBatch("spurious".into()),
        DnsError::Permanent {
            code: "AccessDenied".into(),
            message: "not authorized".into(),
        },
    ]);
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: vec![rec("t1", [10, 0, 0, 1])],
    });
    flush_answers_and_access_denied_is_reported(&h).await;
}

/// The first write into a name this agent has never read reads it first (others' TTL, the group's size); when
/// that read fails for good the agent drains, and the flush waiting for the change must still answer.
#[actix_rt::test]
async fn a_permanent_failure_of_the_read_before_a_first_write_still_answers_the_flush() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.warm().await;
    h.fake.fail_next([DnsError::Permanent {
        code: "AccessDenied".into(),
        message: "not authorized".into(),
    }]);
    let mut r = rec("t1", [10, 0, 0, 1]);
    r.key.name = "api.example.com.".into();
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: vec![r],
    });
    flush_answers_and_access_denied_is_reported(&h).await;
}

/// Credentials Route53 rejects as expired are refreshed by the adapter; the writer retries with its backoff and
/// the agent keeps running.
#[actix_rt::test]
async fn a_change_rejected_for_expired_credentials_is_retried_and_lands() {
    let h = start(FakeRoute53::new("Z1", "example.com."));
    h.warm().await;
    let expired = |code: &str| DnsError::CredentialsExpired {
        code: code.into(),
        message: "The security token included in the request is expired".into(),
    };
    h.fake
        .fail_next([expired("ExpiredToken"), expired("RequestExpired")]);
    h.addr.do_send(Register {
        container_id: "c1".into(),
        records: vec![rec("t1", [10, 0, 0, 1])],
    });
    h.addr.send(Flush).await.unwrap();
    assert_eq!(h.fake.sets().len(), 1, "the record landed");
    assert!(h.failures().is_empty(), "{:?}", h.failures());
}

/// The flush answers within 5 s, and the agent was told of the permanent failure (it drains).
async fn flush_answers_and_access_denied_is_reported(h: &Harness) {
    let flushed = actix_rt::time::timeout(Duration::from_secs(5), h.addr.send(Flush)).await;
    assert!(flushed.is_ok(), "the flush waited for ever");
    let failures = h.failures();
    assert!(
        failures.iter().any(|f| f.contains("AccessDenied")),
        "{failures:?}"
    );
}
