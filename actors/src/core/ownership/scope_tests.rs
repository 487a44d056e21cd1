//! The scoped SetIdentifier format (`<cluster>@<region>.<account>`) beside the legacy one.

use super::*;

const SCOPE: &str = "us-west-2.111122223333";
const OWNER: &str = "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70";

fn task(id: &str) -> InstanceId {
    InstanceId::Task(id.into())
}

#[test]
fn a_scoped_owner_writes_region_and_account_and_parses_back() {
    let me = Owner::scoped("prod", OWNER, SCOPE).unwrap();
    let id = me.set_identifier(&task("158d"));
    assert_eq!(id, format!("r53d:prod@{SCOPE}:{OWNER}:t-158d"));
    let p = parse(&id).unwrap();
    assert_eq!(
        (p.cluster_tag, p.scope, p.owner, p.instance),
        ("prod", Some(SCOPE), OWNER, "t-158d")
    );
    assert_eq!(me.scope(), Some(SCOPE));
    assert!(me.owns(&id));
}

#[test]
fn the_same_cluster_and_owner_in_another_scope_is_not_this_owner() {
    let me = Owner::scoped("prod", OWNER, SCOPE).unwrap();
    let east = Owner::scoped("prod", OWNER, "us-east-1.111122223333").unwrap();
    let other_account = Owner::scoped("prod", OWNER, "us-west-2.444455556666").unwrap();
    for other in [east, other_account] {
        let id = other.set_identifier(&task("158d"));
        assert!(!me.owns(&id), "{id}");
        assert!(!other.owns(&me.set_identifier(&task("158d"))));
    }
}

#[test]
fn a_legacy_record_of_this_owner_is_its_own_and_maps_to_its_scoped_form() {
    let me = Owner::scoped("prod", OWNER, SCOPE).unwrap();
    let legacy = Owner::new("prod", OWNER)
        .unwrap()
        .set_identifier(&task("158d"));
    assert_eq!(legacy, format!("r53d:prod:{OWNER}:t-158d"));
    assert!(me.owns(&legacy), "recognised, to migrate");
    assert_eq!(
        legacy_form(&me.set_identifier(&task("158d"))),
        Some(legacy.clone())
    );
    assert_eq!(legacy_form(&legacy), None, "already legacy");
    // A legacy agent does not take scoped records for its own.
    assert!(!Owner::new("prod", OWNER)
        .unwrap()
        .owns(&me.set_identifier(&task("158d"))));
}

#[test]
fn a_scoped_identifier_still_fits_128_with_the_longest_parts() {
    let scope = "s".repeat(MAX_SCOPE);
    let owner = Owner::scoped(&"c".repeat(255), &"o".repeat(MAX_OWNER), &scope).unwrap();
    let id = owner.set_identifier(&task(&"f".repeat(36)));
    assert!(id.len() <= MAX_SET_IDENTIFIER, "{} > 128", id.len());
    assert!(owner.owns(&id));
    let written = parse(&id).unwrap().scope.unwrap();
    assert!(
        written.starts_with('~') && is_scope_of(written, &scope),
        "short form {written}"
    );
    assert!(!is_scope_of(written, SCOPE));
    // A 32-digit instance id and a long region keep the scope readable.
    let long = Owner::scoped("prod", OWNER, "ap-southeast-2.111122223333").unwrap();
    assert_eq!(long.scope(), Some("ap-southeast-2.111122223333"));
    let short = Owner::scoped("prod", OWNER, "ap-southeast-2.111122223333").unwrap();
    assert_eq!(
        short.cluster_tag(),
        "prod",
        "a short name is never shortened"
    );
}

#[test]
fn bad_scopes_and_scope_parts_are_rejected() {
    for bad in ["", "US-WEST-2.1", "a:b", "a@b", &"s".repeat(MAX_SCOPE + 1)] {
        assert!(Owner::scoped("prod", OWNER, bad).is_err(), "{bad:?}");
    }
    assert!(
        parse(&format!("r53d:prod@:{OWNER}:t-1")).is_none(),
        "an empty scope"
    );
    assert!(
        parse(&format!("r53d:@{SCOPE}:{OWNER}:t-1")).is_none(),
        "an empty cluster tag"
    );
}

#[test]
fn an_owner_id_override_is_tagged_with_its_host_so_copies_on_two_hosts_differ() {
    let (a, b) = (
        host_tag("i-0aaaaaaaaaaaaaaaa"),
        host_tag("i-0bbbbbbbbbbbbbbbb"),
    );
    assert_ne!(a, b);
    let on_a = Owner::on_host("prod", "web-host", None, &a).unwrap();
    let on_b = Owner::on_host("prod", "web-host", None, &b).unwrap();
    let id_a = on_a.set_identifier(&task("1"));
    assert_eq!(id_a, format!("r53d:prod:web-host~{a}:t-1"));
    assert_eq!(on_a.base_owner(), "web-host");
    assert!(on_a.owns(&id_a));
    assert!(!on_b.owns(&id_a), "the other host's");
    assert!(
        !on_a.owns("r53d:prod:web-host:t-1"),
        "the untagged owner id is not this host's alone"
    );
    assert!(on_a.owns_untagged("r53d:prod:web-host:t-1"));
    assert!(!on_a.owns_untagged(&on_b.set_identifier(&task("1"))));
    assert!(!on_a.owns_untagged("r53d:prod:other:t-1"));
    assert!(
        !Owner::new("prod", "web-host")
            .unwrap()
            .owns_untagged("r53d:prod:web-host:t-1"),
        "an untagged owner has no untagged records apart from its own"
    );
    let scoped = Owner::on_host("prod", "web-host", Some(SCOPE), &a).unwrap();
    assert_eq!(
        scoped.set_identifier(&task("1")),
        format!("r53d:prod@{SCOPE}:web-host~{a}:t-1")
    );
    let long = Owner::on_host(&"c".repeat(255), &"o".repeat(MAX_OWNER), Some(SCOPE), &a).unwrap();
    assert!(long.set_identifier(&task(&"f".repeat(36))).len() <= MAX_SET_IDENTIFIER);
    assert!(Owner::on_host("prod", "web-host", None, "xyz").is_err());
    assert!(
        parse("r53d:prod:web-host~zzzzzzzz:t-1").is_none(),
        "a tag is 8 hex digits"
    );
}
