//! The journal's format and every way a journal is rejected.

use std::net::Ipv4Addr;

use super::*;
use crate::core::ownership::InstanceId;
use crate::core::record::RecordValue;

const SCOPE: &str = "us-east-1.123456789012";

fn me() -> Owner {
    Owner::scoped("prod", "me", SCOPE).unwrap()
}

fn journal(owner: &Owner) -> Journal {
    let record = Record::new(
        "web.example.com.".into(),
        owner.set_identifier(&InstanceId::Task("1".into())),
        RecordValue::A(Ipv4Addr::new(10, 0, 0, 5)),
        60,
        1,
    );
    Journal {
        key: JournalKey::of("Z1", owner),
        zone_name: "example.com.".into(),
        cluster_owners: 7,
        records: vec![record],
        shared_ttls: Some(BTreeMap::from([(
            ("web.example.com.".to_string(), RecordType::A),
            300,
        )])),
        unsure: BTreeSet::from(["api.example.com.".to_string()]),
    }
}

#[test]
fn a_journal_reads_back_as_written() {
    let j = journal(&me());
    assert_eq!(decode(&encode(&j), "Z1", &me()), Ok(j));
}

#[test]
fn torn_truncated_empty_or_foreign_bytes_are_corrupt() {
    let bytes = encode(&journal(&me()));
    for bad in [
        &bytes[..bytes.len() / 2],
        &bytes[..bytes.len() - 1],
        b"".as_slice(),
        b"\0\0\0\0".as_slice(),
        br#"{"format": 1}"#.as_slice(),
        br#"[1, 2, 3]"#.as_slice(),
    ] {
        assert!(
            matches!(decode(bad, "Z1", &me()), Err(Rejected::Corrupt(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn another_format_is_rejected_before_its_shape_is_read() {
    let text = String::from_utf8(encode(&journal(&me()))).unwrap();
    let old = text.replacen("\"format\": 2", "\"format\": 0", 1);
    assert_eq!(
        decode(old.as_bytes(), "Z1", &me()),
        Err(Rejected::Format { found: 0 })
    );
    let newer = br#"{"format": 3, "something": "else"}"#;
    assert_eq!(
        decode(newer, "Z1", &me()),
        Err(Rejected::Format { found: 3 })
    );
}

#[test]
fn a_journal_of_the_format_without_shared_ttls_is_read_without_them() {
    let written = journal(&me());
    let text = String::from_utf8(encode(&written)).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    file["format"] = 1.into();
    file.as_object_mut().unwrap().remove("shared_ttls");
    let old = serde_json::to_vec(&file).unwrap();
    let read = decode(&old, "Z1", &me()).unwrap();
    assert_eq!(read.shared_ttls, None, "unknown, not empty");
    assert_eq!(read.records, written.records);
}

#[test]
fn a_shared_ttl_of_an_unknown_type_makes_the_journal_corrupt() {
    let text = String::from_utf8(encode(&journal(&me()))).unwrap();
    let bad = text.replacen(
        "\"type\": \"A\",\n      \"ttl\"",
        "\"type\": \"MX\",\n      \"ttl\"",
        1,
    );
    assert_ne!(bad, text);
    assert!(matches!(
        decode(bad.as_bytes(), "Z1", &me()),
        Err(Rejected::Corrupt(_))
    ));
}

#[test]
fn another_zones_clusters_scopes_or_owners_journal_is_rejected() {
    let bytes = encode(&journal(&me()));
    let others = [
        ("Z2", me()),
        ("Z1", Owner::scoped("staging", "me", SCOPE).unwrap()),
        (
            "Z1",
            Owner::scoped("prod", "me", "us-west-2.123456789012").unwrap(),
        ),
        ("Z1", Owner::new("prod", "me").unwrap()),
        ("Z1", Owner::scoped("prod", "other", SCOPE).unwrap()),
    ];
    for (zone, owner) in others {
        assert!(
            matches!(decode(&bytes, zone, &owner), Err(Rejected::OtherKey(_))),
            "{zone} {owner:?}"
        );
    }
}

#[test]
fn a_record_this_owner_would_not_write_rejects_the_whole_journal() {
    let text = String::from_utf8(encode(&journal(&me()))).unwrap();
    let foreign = text.replacen(":me:t-1", ":other:t-1", 1);
    assert!(matches!(
        decode(foreign.as_bytes(), "Z1", &me()),
        Err(Rejected::BadRecord(_))
    ));
    let bad_value = text.replacen("10.0.0.5", "not-an-ip", 1);
    assert!(matches!(
        decode(bad_value.as_bytes(), "Z1", &me()),
        Err(Rejected::BadRecord(_))
    ));
}
