//! Unit tests of the IMDS source resolution, value parsing, overrides and refresh schedule. None of them sends a
//! packet: the network paths are covered against a loopback fake in `tests/e2e/imds.rs`.

use std::collections::HashMap;

use super::error::by_status;
use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn disabled_wins_over_every_endpoint() {
    for v in ["true", "TRUE", "True", " true "] {
        let e = env(&[(DISABLED_ENV, v), (ENDPOINT_ENV, "http://127.0.0.1:1")]);
        assert_eq!(
            ImdsSource::resolve(Some("http://127.0.0.1:2"), e),
            ImdsSource::Disabled,
            "{v:?}"
        );
    }
}

#[test]
fn configured_then_env_then_sdk_default() {
    let both = env(&[
        (DISABLED_ENV, "false"),
        (ENDPOINT_ENV, "http://127.0.0.1:1"),
    ]);
    assert_eq!(
        ImdsSource::resolve(Some("http://127.0.0.1:2"), &both),
        ImdsSource::Endpoint(Some("http://127.0.0.1:2".into()))
    );
    assert_eq!(
        ImdsSource::resolve(None, &both),
        ImdsSource::Endpoint(Some("http://127.0.0.1:1".into()))
    );
    assert_eq!(
        ImdsSource::resolve(None, env(&[(ENDPOINT_ENV, "")])),
        ImdsSource::Endpoint(None)
    );
    assert_eq!(
        ImdsSource::resolve(None, env(&[(DISABLED_ENV, "1")])),
        ImdsSource::Endpoint(None),
        "only \"true\" disables, as in the SDK"
    );
}

#[tokio::test]
async fn a_disabled_client_sends_nothing_and_says_why() {
    let c = ImdsClient::new(&ImdsSource::Disabled).unwrap();
    assert!(c.is_disabled());
    let a = c.read().await.unwrap();
    assert!(!a.has_address());
    assert_eq!(a.unavailable.as_deref(), Some(DISABLED_REASON));
}

#[test]
fn a_bad_endpoint_is_a_permanent_construction_error() {
    let err = ImdsClient::new(&ImdsSource::Endpoint(Some("not a url at all".into()))).unwrap_err();
    assert!(matches!(err, ImdsError::BadEndpoint { .. }), "{err:?}");
    assert!(!err.is_transient());
}

#[test]
fn values_are_trimmed_and_checked() {
    assert_eq!(
        parse_ipv4(" 10.0.1.23\n").unwrap(),
        Ipv4Addr::new(10, 0, 1, 23)
    );
    assert_eq!(
        parse_ipv6("2600:1f18::1\n").unwrap(),
        "2600:1f18::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        parse_instance_id("i-0123456789abcdef0\n").unwrap(),
        "i-0123456789abcdef0"
    );
    assert_eq!(parse_instance_id("i-1234abcd").unwrap(), "i-1234abcd");
    for bad in [
        "",
        "0.0.0.0",
        "127.0.0.1",
        "10.0.0.256",
        "<html>",
        "2600::1",
    ] {
        assert!(
            matches!(
                parse_ipv4(bad),
                Err(ImdsError::Garbage {
                    path: LOCAL_IPV4,
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "::", "::1", "10.0.0.1", "2600::1\n2600::2"] {
        assert!(parse_ipv6(bad).is_err(), "{bad:?}");
    }
    for bad in [
        "",
        "i-",
        "i-xyz12345",
        "i-0123456789ABCDEF0",
        "0123456789",
        "i-123",
    ] {
        assert!(parse_instance_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn garbage_is_truncated_on_a_char_boundary() {
    let long = "é".repeat(500);
    let ImdsError::Garbage { value, .. } = parse_ipv4(&long).unwrap_err() else {
        panic!("not garbage");
    };
    assert_eq!(value.chars().count(), EXCERPT + 1);
    assert!(value.ends_with('…'));
}

#[test]
fn transient_and_permanent_errors() {
    let transient = [
        ImdsError::Unreachable {
            path: TOKEN,
            detail: "timed out".into(),
        },
        ImdsError::Server {
            path: LOCAL_IPV4,
            status: 503,
        },
        ImdsError::Unexpected {
            path: IPV6,
            detail: "?".into(),
        },
    ];
    let permanent = [
        ImdsError::Denied {
            path: TOKEN,
            status: 403,
        },
        ImdsError::Rejected {
            path: TOKEN,
            status: 400,
            detail: "bad".into(),
        },
        parse_ipv4("x").unwrap_err(),
        ImdsError::NoAddress,
        ImdsError::BadEndpoint {
            endpoint: "x".into(),
            reason: "y".into(),
        },
    ];
    assert!(transient.iter().all(ImdsError::is_transient));
    assert!(!permanent.iter().any(ImdsError::is_transient));
    let denied = permanent[0].to_string();
    assert!(
        denied.contains("HTTP 403") && denied.contains("agent.host_ip"),
        "{denied}"
    );
}

#[test]
fn status_classification() {
    assert_eq!(by_status(LOCAL_IPV4, 404, ""), Ok(()));
    assert!(matches!(
        by_status(TOKEN, 404, ""),
        Err(ImdsError::Rejected { .. })
    ));
    assert!(matches!(
        by_status(IPV6, 401, ""),
        Err(ImdsError::Denied { status: 401, .. })
    ));
    assert!(matches!(
        by_status(IPV6, 403, ""),
        Err(ImdsError::Denied { status: 403, .. })
    ));
    assert!(matches!(
        by_status(IPV6, 502, ""),
        Err(ImdsError::Server { status: 502, .. })
    ));
}

fn found(v4: Option<&str>, v6: Option<&str>) -> InstanceAddresses {
    InstanceAddresses {
        ipv4: v4.map(|s| s.parse().unwrap()),
        ipv6: v6.map(|s| s.parse().unwrap()),
        instance_id: Some("i-0123456789abcdef0".into()),
        unavailable: None,
    }
}

#[test]
fn overrides_win_per_family() {
    let ip: Ipv4Addr = "192.0.2.7".parse().unwrap();
    let ip6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let a = with_overrides(Ok(found(Some("10.0.0.1"), Some("2600::1"))), Some(ip), None);
    assert_eq!(
        (a.ipv4, a.ipv6),
        (Some(ip), Some("2600::1".parse().unwrap()))
    );
    assert_eq!(a.instance_id.as_deref(), Some("i-0123456789abcdef0"));
    let a = with_overrides(Ok(found(Some("10.0.0.1"), None)), None, Some(ip6));
    assert_eq!(
        (a.ipv4, a.ipv6),
        (Some("10.0.0.1".parse().unwrap()), Some(ip6))
    );
    assert_eq!(a.unavailable, None);
}

#[test]
fn an_error_is_the_reason_unless_an_override_gives_an_address() {
    let err = || {
        Err(ImdsError::Denied {
            path: TOKEN,
            status: 403,
        })
    };
    let a = with_overrides(err(), None, None);
    assert!(!a.has_address());
    assert!(
        a.unavailable.as_deref().unwrap().contains("HTTP 403"),
        "{a:?}"
    );
    let ip6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let a = with_overrides(err(), None, Some(ip6));
    assert_eq!((a.ipv4, a.ipv6, a.unavailable), (None, Some(ip6), None));
    let a = with_overrides(Ok(disabled()), None, None);
    assert_eq!(a.unavailable.as_deref(), Some(DISABLED_REASON));
    let a = with_overrides(Ok(disabled()), Some("192.0.2.7".parse().unwrap()), None);
    assert!(a.has_address() && a.unavailable.is_none());
}

#[test]
fn refresh_backs_off_on_transient_failures_only() {
    let every = Duration::from_secs(300);
    let mut s = RefreshSchedule::new(every);
    assert_eq!(s.after(&Ok(())), every);
    let unreachable: Result<(), _> = Err(ImdsError::Unreachable {
        path: TOKEN,
        detail: "x".into(),
    });
    for _ in 0..20 {
        assert!(s.after(&unreachable) <= Duration::from_secs(60));
    }
    let denied: Result<(), _> = Err(ImdsError::Denied {
        path: TOKEN,
        status: 403,
    });
    assert_eq!(s.after(&denied), every);
    assert!(
        s.after(&unreachable) <= Duration::from_secs(1),
        "backoff starts over"
    );
}
