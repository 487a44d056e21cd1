//! Unit tests of settings loading and validation; they build settings from strings, never from the process env.

use super::*;

const MINIMAL: &str = "[route53]\nhosted_zone_id = \"Z123ABC\"\n";

#[test]
fn defaults_plus_a_zone_id_are_valid() {
    let s = from_toml(MINIMAL).unwrap();
    assert_eq!(s.route53.hosted_zone_id, "Z123ABC");
    assert_eq!(s.docker.label, "discovery.service.name");
    assert_eq!(s.agent.mode, Mode::Route53);
    assert_eq!(s.route53.ttl, 30);
    assert_eq!(s.health.listen, "127.0.0.1:9253".parse().unwrap());
    assert_eq!(
        s.ecs.introspection_url.as_deref(),
        Some("http://127.0.0.1:51678")
    );
}

#[test]
fn the_shipped_config_files_are_valid() {
    for f in ["local.toml", "prod.toml", "staging.toml"] {
        let text =
            std::fs::read_to_string(format!("{}/config/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        if let Err(e) = from_toml(&text) {
            panic!("{f}: {e}");
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = r#"
[docker]
lable = "x"
[route53]
hosted_zone_id = "Z1"
weight = 300
ttl = "sixty"
[agent]
mode = "live"
workers = 0
host_ip = "10.0.0.256"
[bogus]
x = 1
"#;
    let err = from_toml(bad).unwrap_err().0;
    let text = err.join("\n");
    for needle in [
        "docker.lable: unknown key",
        "bogus: unknown section",
        "route53.weight",
        "route53.ttl",
        "agent.mode",
        "agent.workers",
        "agent.host_ip",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.len(), 7, "{text}");
}

#[test]
fn route53_mode_needs_a_zone_id_and_dry_run_needs_a_zone_name() {
    let err = from_toml("").unwrap_err().0;
    assert_eq!(err, vec!["route53.hosted_zone_id: required (set it in the config file or as R53D__ROUTE53__HOSTED_ZONE_ID)".to_string()]);
    let err = from_toml("[agent]\nmode = \"dry-run\"\n").unwrap_err().0;
    assert!(err[0].starts_with("route53.zone_name: required"), "{err:?}");
}

#[test]
fn no_ecs_agent_means_the_cluster_is_required_and_the_owner_comes_from_instance_metadata() {
    let err = from_toml(&format!("{MINIMAL}[ecs]\nintrospection_url = \"\"\n"))
        .unwrap_err()
        .0;
    assert_eq!(
        err,
        ["agent.cluster: required when ecs.introspection_url is \"\" (no ECS agent to ask)"]
    );
    let s = from_toml(&format!(
        "{MINIMAL}[ecs]\nintrospection_url = \"\"\n[agent]\ncluster = \"prod\"\n"
    ))
    .unwrap();
    assert_eq!(
        (s.agent.cluster.as_deref(), s.agent.owner_id),
        (Some("prod"), None)
    );
}

#[test]
fn environment_overrides_files() {
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "/hostedzone/ZENV1".to_string(),
        ),
        ("R53D__AGENT__WORKERS".to_string(), "7".to_string()),
        ("R53D__AGENT__OWNER_ID".to_string(), "0123".to_string()),
        ("OTHER".to_string(), "ignored".to_string()),
    ]);
    let s = load_from(None, env).unwrap();
    assert_eq!(s.route53.hosted_zone_id, "ZENV1");
    assert_eq!(s.agent.workers, 7);
    assert_eq!(
        s.agent.owner_id.as_deref(),
        Some("0123"),
        "numeric-looking ids keep their leading zero"
    );
}

#[test]
fn unknown_environment_keys_are_reported() {
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "Z1".to_string(),
        ),
        ("R53D__ROUTE53__ZONE".to_string(), "x".to_string()),
    ]);
    let err = load_from(None, env).unwrap_err().0;
    assert!(err[0].starts_with("route53.zone: unknown key"), "{err:?}");
}

#[test]
fn request_shaping_has_conservative_defaults_and_bounds() {
    let s = from_toml(MINIMAL).unwrap();
    assert_eq!((s.route53.max_requests_per_sec, s.route53.burst), (1.0, 2));
    assert_eq!(s.route53.startup_jitter, Duration::from_secs(10));
    assert_eq!(
        s.route53.verify_reads_per_hour, 4.0,
        "an idle agent: 4 reads an hour"
    );
    let err = from_toml(&format!(
        "{MINIMAL}max_requests_per_sec = 0.0\nburst = 0\nverify_reads_per_hour = 0.0\n"
    ))
    .unwrap_err()
    .0;
    assert_eq!(err.len(), 3, "{err:?}");
}

#[test]
fn the_janitor_has_documented_timings() {
    let s = from_toml(MINIMAL).unwrap();
    assert_eq!(s.janitor.interval, Duration::from_secs(300));
    assert_eq!(s.janitor.grace, Duration::from_secs(600));
    assert_eq!(
        s.janitor.max_owners_per_cycle, 5,
        "the brake is on by default"
    );
    assert_eq!(
        s.janitor.zone_pace,
        Duration::from_secs(5),
        "0.2 pages/s: 4 % of a 5/s account"
    );
    assert_eq!(s.ecs.api_endpoint_url, None);
    assert_eq!(s.ecs.ec2_endpoint_url, None);
    let s = from_toml(&format!(
        "{MINIMAL}[janitor]\ninterval_secs = 2\ngrace_secs = 5\n[ecs]\napi_endpoint_url = \"http://127.0.0.1:5000\"\n[ec2]\napi_endpoint_url = \"http://127.0.0.1:5001\"\n"
    ))
    .unwrap();
    assert_eq!(
        s.ecs.ec2_endpoint_url.as_deref(),
        Some("http://127.0.0.1:5001")
    );
    assert_eq!(
        (s.janitor.interval, s.janitor.grace),
        (Duration::from_secs(2), Duration::from_secs(5))
    );
    assert_eq!(
        s.ecs.api_endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
}

#[test]
fn bad_janitor_settings_are_reported_together() {
    let bad = format!(
        "{MINIMAL}[janitor]\nenabled = false\ninterval_secs = 0\ngrace_secs = -1\nlease = 3\nmax_owners_per_cycle = -2\nzone_read_per_sec = 0\n[ecs]\napi_endpoint_url = \"ecs.local\"\n[ec2]\napi_endpoint_url = \"ec2.local\"\nregion = 1\n"
    );
    let err = from_toml(&bad).unwrap_err().0;
    let text = err.join("\n");
    for needle in [
        "janitor.lease: unknown key",
        "janitor.enabled: unknown key",
        "janitor.interval_secs",
        "janitor.grace_secs",
        "janitor.max_owners_per_cycle",
        "janitor.zone_read_per_sec",
        "ecs.api_endpoint_url",
        "ec2.api_endpoint_url",
        "ec2.region: unknown key",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.len(), 9, "{text}");
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "Z1".to_string(),
        ),
        ("R53D__JANITOR__GRACE_SECS".to_string(), "900".to_string()),
    ]);
    assert_eq!(
        load_from(None, env).unwrap().janitor.grace,
        Duration::from_secs(900)
    );
}

#[test]
fn every_key_is_documented_in_the_default_file_and_the_configuration_doc() {
    let doc = include_str!("../../docs/configuration.md");
    for (section, keys) in KNOWN {
        for key in *keys {
            let full = format!("{section}.{key}");
            assert!(
                DEFAULTS.contains(&format!("\n{key} ="))
                    || DEFAULTS.contains(&format!("\n# {key} =")),
                "{full} is not in config/default.toml"
            );
            assert!(
                documented_default(doc, &full).is_some(),
                "{full} is not in docs/configuration.md's table"
            );
        }
    }
}

#[test]
fn the_configuration_doc_gives_the_defaults_of_config_default_toml() {
    let doc = include_str!("../../docs/configuration.md");
    let defaults = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .build()
        .unwrap();
    for (section, keys) in KNOWN {
        for key in *keys {
            let full = format!("{section}.{key}");
            let (Ok(value), Some(documented)) =
                (defaults.get_string(&full), documented_default(doc, &full))
            else {
                continue;
            };
            if let Some(literal) = documented
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
            {
                let same = literal == value
                    || matches!((literal.parse::<f64>(), value.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
                assert!(
                    same,
                    "{full}: documented default {literal}, config/default.toml {value}"
                );
            }
        }
    }
}

/// The default column of `key`'s row in the configuration table.
fn documented_default<'a>(doc: &'a str, key: &str) -> Option<&'a str> {
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| `{key}` |")))?;
    row.split('|').nth(2).map(str::trim)
}

#[test]
fn addressing_keys_have_documented_defaults() {
    let s = from_toml(MINIMAL).unwrap();
    assert_eq!(s.docker.port_label, "discovery.service.port");
    assert_eq!(s.docker.records_label, "discovery.service.records");
    assert_eq!(s.route53.record_types, RecordTypeSet::default());
    assert_eq!(
        (
            s.agent.host_ipv6,
            s.agent.imds_endpoint,
            s.agent.container_address
        ),
        (None, None, false)
    );
}

#[test]
fn addressing_keys_take_good_values() {
    let s = from_toml(&format!(
        "{MINIMAL}record_types = [\"srv\", \"a\"]\n[agent]\nhost_ipv6 = \"2600:1f18:abcd::23\"\nimds_endpoint = \"http://[fd00:ec2::254]:80/\"\ncontainer_address = true\n[docker]\nport_label = \"svc.port\"\nrecords_label = \"svc.records\"\n"
    ))
    .unwrap();
    assert_eq!(
        s.route53.record_types,
        RecordTypeSet {
            a: true,
            aaaa: false,
            srv: true
        }
    );
    assert_eq!(
        s.agent.host_ipv6,
        Some("2600:1f18:abcd::23".parse().unwrap())
    );
    assert_eq!(
        s.agent.imds_endpoint.as_deref(),
        Some("http://[fd00:ec2::254]:80/")
    );
    assert!(s.agent.container_address);
    assert_eq!(
        (
            s.docker.port_label.as_str(),
            s.docker.records_label.as_str()
        ),
        ("svc.port", "svc.records")
    );
    for ok in [
        "http://169.254.169.254",
        "https://imds.local:8443",
        "http://127.0.0.1:1/",
    ] {
        let s = from_toml(&format!("{MINIMAL}[agent]\nimds_endpoint = \"{ok}\"\n"));
        assert!(s.is_ok(), "{ok}: {:?}", s.err());
    }
}

#[test]
fn record_types_come_from_the_environment_as_a_comma_separated_list() {
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "Z1".to_string(),
        ),
        (
            "R53D__ROUTE53__RECORD_TYPES".to_string(),
            "AAAA, srv".to_string(),
        ),
        (
            "R53D__AGENT__HOST_IPV6".to_string(),
            "2001:db8::1".to_string(),
        ),
    ]);
    let s = load_from(None, env).unwrap();
    assert_eq!(
        s.route53.record_types,
        RecordTypeSet {
            a: false,
            aaaa: true,
            srv: true
        }
    );
    assert_eq!(s.agent.host_ipv6, Some("2001:db8::1".parse().unwrap()));
}

#[test]
fn every_bad_addressing_value_is_reported_at_once() {
    let bad = format!(
        "{MINIMAL}record_types = [\"A\", \"MX\", \"a\"]\n[agent]\nhost_ipv6 = \"10.0.0.1\"\nimds_endpoint = \"ftp://imds\"\ncontainer_address = \"maybe\"\n[docker]\nport_label = \"a b\"\nrecords_label = \"discovery.service.name\"\n"
    );
    let err = from_toml(&bad).unwrap_err().0;
    let text = err.join("\n");
    for needle in [
        "agent.host_ipv6: \"10.0.0.1\" is not an IPv6 address",
        "agent.imds_endpoint: \"ftp://imds\" must be http://host[:port]",
        "agent.container_address",
        "docker.port_label: \"a b\" is not a Docker label key",
        "docker.label and docker.records_label: both are \"discovery.service.name\"",
        "route53.record_types: \"MX\" is not a record type",
        "route53.record_types: \"a\" is listed twice",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.len(), 7, "{text}");
}

#[test]
fn record_types_must_not_be_empty() {
    let err = from_toml(&format!("{MINIMAL}record_types = []\n"))
        .unwrap_err()
        .0;
    assert_eq!(
        err,
        vec![
            "route53.record_types: must list at least one of \"A\", \"AAAA\", \"SRV\"".to_string()
        ]
    );
}

#[test]
fn an_imds_endpoint_is_only_scheme_host_and_port() {
    for bad in [
        "169.254.169.254",
        "http://",
        "http:///x",
        "http://host/latest",
        "http://host?x=1",
        "http://user@host",
        "http://host:0",
        "http://host:70000",
        "http://host:",
        "http://[fd00:ec2::254",
        "http://[not-v6]:80",
        "http://[::1]x",
    ] {
        let err = from_toml(&format!("{MINIMAL}[agent]\nimds_endpoint = \"{bad}\"\n"))
            .unwrap_err()
            .0;
        assert_eq!(err.len(), 1, "{bad}: {err:?}");
        assert!(err[0].starts_with("agent.imds_endpoint:"), "{bad}: {err:?}");
    }
}
