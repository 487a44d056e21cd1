//! The real `ImdsClient` (aws-config's IMDSv2 client underneath) against the loopback fake IMDS: dual-stack,
//! IPv6-only, 403, garbage and a hung endpoint, plus the fake's own refusal of IMDSv1. No Docker or moto needed,
//! and nothing leaves 127.0.0.1: every client is pointed at the fake explicitly.

use std::time::{Duration, Instant};

use route53_discovery_actors::core::instance::InstanceAddresses;
use route53_discovery_actors::metadata::imds::{ImdsClient, ImdsError, ImdsSource};

use crate::support::imds::{Counts, FakeImds, Mode, INSTANCE_ID};

fn read(fake: &FakeImds) -> (Result<InstanceAddresses, ImdsError>, Duration) {
    let source = ImdsSource::Endpoint(Some(fake.url.clone()));
    let client = ImdsClient::new(&source).expect("the fake's URL is valid");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let out = rt.block_on(client.read());
    (out, start.elapsed())
}

/// The client asked for a token before any GET and never sent an IMDSv1 GET.
fn assert_imdsv2_only(fake: &FakeImds) {
    let seen = fake.requests();
    assert_eq!(
        seen.first().map(|r| r.method.as_str()),
        Some("PUT"),
        "{seen:#?}"
    );
    let c = fake.counts();
    assert_eq!((c.gets_without_token, c.v1_answered), (0, 0), "{seen:#?}");
}

#[test]
fn a_dual_stack_instance_gives_both_addresses_and_its_id() {
    let fake = FakeImds::start();
    let (out, _) = read(&fake);
    let a = out.unwrap();
    assert_eq!(a.ipv4, Some("10.0.1.23".parse().unwrap()));
    assert_eq!(a.ipv6, Some("2600:1f18:abcd::23".parse().unwrap()));
    assert_eq!(a.instance_id.as_deref(), Some(INSTANCE_ID));
    assert_eq!(a.unavailable, None);
    assert_imdsv2_only(&fake);
    let c = fake.counts();
    assert_eq!(
        (c.token_puts, c.gets_with_token),
        (1, 3),
        "one token, cached for the three reads: {:#?}",
        fake.requests()
    );
}

#[test]
fn an_ipv6_only_instance_has_no_ipv4_and_that_is_no_error() {
    let fake = FakeImds::start();
    fake.set_ipv4(None);
    let a = read(&fake).0.unwrap();
    assert_eq!(a.ipv4, None);
    assert_eq!(a.ipv6, Some("2600:1f18:abcd::23".parse().unwrap()));
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/latest/meta-data/local-ipv4" && r.status == 404));
    fake.set_ipv6(None);
    let err = read(&fake).0.unwrap_err();
    assert_eq!(err, ImdsError::NoAddress);
}

#[test]
fn imds_turned_off_is_denied_and_permanent() {
    let fake = FakeImds::start();
    fake.set_mode(Mode::Forbidden);
    let err = read(&fake).0.unwrap_err();
    assert!(
        matches!(err, ImdsError::Denied { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(fake.counts().token_puts, 1, "403 is not retried");
}

#[test]
fn a_non_address_body_is_garbage() {
    let fake = FakeImds::start();
    fake.set_mode(Mode::Garbage);
    let err = read(&fake).0.unwrap_err();
    assert!(
        matches!(&err, ImdsError::Garbage { path, value, .. } if path.ends_with("local-ipv4") && value.contains("not an address")),
        "{err:?}"
    );
    fake.set_mode(Mode::Normal);
    fake.set_instance_id("web-1");
    let err = read(&fake).0.unwrap_err();
    assert!(
        matches!(&err, ImdsError::Garbage { path, .. } if path.ends_with("instance-id")),
        "{err:?}"
    );
}

#[test]
fn a_hung_endpoint_is_unreachable_within_seconds() {
    let fake = FakeImds::start();
    fake.set_mode(Mode::Hang);
    let (out, took) = read(&fake);
    let err = out.unwrap_err();
    assert!(
        matches!(err, ImdsError::Unreachable { .. }),
        "{err:?}: {err}"
    );
    assert!(err.is_transient());
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn the_fake_refuses_an_imdsv1_get_and_checks_the_token_ttl() {
    let fake = FakeImds::start();
    let url = format!("{}/latest/meta-data/local-ipv4", fake.url);
    let status = |r: Result<ureq::Response, ureq::Error>| match r {
        Ok(resp) => resp.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status(ureq::get(&url).call()), 401);
    assert_eq!(
        status(
            ureq::get(&url)
                .set("X-aws-ec2-metadata-token", "forged")
                .call()
        ),
        401
    );
    let token_url = format!("{}/latest/api/token", fake.url);
    assert_eq!(status(ureq::put(&token_url).call()), 400);
    for bad in ["0", "21601", "six"] {
        let r = ureq::put(&token_url)
            .set("X-aws-ec2-metadata-token-ttl-seconds", bad)
            .call();
        assert_eq!(status(r), 400, "ttl {bad:?}");
    }
    let token = ureq::put(&token_url)
        .set("X-aws-ec2-metadata-token-ttl-seconds", "60")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let ip = ureq::get(&url)
        .set("X-aws-ec2-metadata-token", &token)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(ip, "10.0.1.23");
    let unknown = format!("{}/latest/meta-data/no-such-thing", fake.url);
    let r = ureq::get(&unknown)
        .set("X-aws-ec2-metadata-token", &token)
        .call();
    assert_eq!(status(r), 404);
    let c = fake.counts();
    assert_eq!(
        c,
        Counts {
            token_puts: 5,
            gets_with_token: 2,
            gets_without_token: 2,
            v1_answered: 0
        }
    );
}
