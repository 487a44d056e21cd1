//! Unit tests of settings loading and validation; they build settings from strings, never from the process env.

use super::*;

const MINIMAL: &str = "[route53]\nhosted_zone_id = \"Z123ABC\"\n";

#[test]
fn defaults_plus_a_zone_id_are_valid() {
    let s = from_toml(MINIMAL).unwrap();
    assert_eq!(s.route53.hosted_zone_id, "Z123ABC");
    assert_eq!(s.docker.label, "discovery.service.name");
    assert_eq!(s.agent.mode, Mode::Route53);
    assert_eq!(s.route53.ttl, 60);
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
fn no_ecs_agent_means_owner_and_cluster_are_required() {
    let err = from_toml(&format!("{MINIMAL}[ecs]\nintrospection_url = \"\"\n"))
        .unwrap_err()
        .0;
    assert!(
        err[0].contains("agent.owner_id and agent.cluster"),
        "{err:?}"
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
    let err = from_toml(&format!("{MINIMAL}max_requests_per_sec = 0.0\nburst = 0\n"))
        .unwrap_err()
        .0;
    assert_eq!(err.len(), 2, "{err:?}");
}

#[test]
fn the_janitor_is_on_by_default_with_documented_timings() {
    let s = from_toml(MINIMAL).unwrap();
    assert!(s.janitor.enabled);
    assert_eq!(s.janitor.interval, Duration::from_secs(300));
    assert_eq!(s.janitor.grace, Duration::from_secs(600));
    assert_eq!(s.ecs.api_endpoint_url, None);
    let s = from_toml(&format!(
        "{MINIMAL}[janitor]\nenabled = false\ninterval_secs = 2\ngrace_secs = 5\n[ecs]\napi_endpoint_url = \"http://127.0.0.1:5000\"\n"
    ))
    .unwrap();
    assert!(!s.janitor.enabled);
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
        "{MINIMAL}[janitor]\nenabled = \"maybe\"\ninterval_secs = 0\ngrace_secs = -1\nlease = 3\n[ecs]\napi_endpoint_url = \"ecs.local\"\n"
    );
    let err = from_toml(&bad).unwrap_err().0;
    let text = err.join("\n");
    for needle in [
        "janitor.lease: unknown key",
        "janitor.enabled",
        "janitor.interval_secs",
        "janitor.grace_secs",
        "ecs.api_endpoint_url",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.len(), 5, "{text}");
    let env = HashMap::from([
        (
            "R53D__ROUTE53__HOSTED_ZONE_ID".to_string(),
            "Z1".to_string(),
        ),
        ("R53D__JANITOR__ENABLED".to_string(), "false".to_string()),
    ]);
    assert!(!load_from(None, env).unwrap().janitor.enabled);
}

#[test]
fn every_key_is_documented_in_the_default_file_and_the_readme() {
    let readme = include_str!("../../README.md");
    for (section, keys) in KNOWN {
        for key in *keys {
            let full = format!("{section}.{key}");
            assert!(
                DEFAULTS.contains(&format!("\n{key} ="))
                    || DEFAULTS.contains(&format!("\n# {key} =")),
                "{full} is not in config/default.toml"
            );
            assert!(
                readme.contains(&format!("`{full}`")),
                "{full} is not in the README's configuration table"
            );
        }
    }
}
