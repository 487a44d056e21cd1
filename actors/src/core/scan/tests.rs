//! The scan keeps exactly the groups of this owner's names, however the pages split them, and counts the cluster.

use super::*;

fn set(name: &str, rtype: &str, id: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        record_type: rtype.into(),
        set_identifier: Some(id.into()),
        weight: Some(1),
        ttl: Some(60),
        values: vec!["10.0.0.1".into()],
        has_extras: false,
    }
}

fn me() -> Owner {
    Owner::new("prod", "me").unwrap()
}

/// A zone in listing order: foreign names, an own name shared with others, an own SRV-only name, the cluster's
/// other owners and a foreign cluster.
fn zone() -> Vec<RecordSet> {
    vec![
        set("a.z.", "A", "hand-made-1"),
        set("a.z.", "A", "r53d:prod:b:t-1"),
        set("api.z.", "A", "someone-else"),
        set("api.z.", "A", "r53d:prod:me:t-2"),
        set("api.z.", "AAAA", "r53d:prod:c:t-3"),
        set("api.z.", "SRV", "r53d:prod:me:t-2"),
        set("b.z.", "A", "r53d:staging:x:t-4"),
        set("c.z.", "SRV", "r53d:prod:me:t-5"),
        set("d.z.", "A", "r53d:prod:d:t-6"),
    ]
}

fn scan(pages: &[usize]) -> Scanned {
    let me = me();
    let mut s = ZoneScan::new(&me);
    let mut rest = zone();
    for &n in pages {
        let tail = rest.split_off(n.min(rest.len()));
        s.feed(std::mem::replace(&mut rest, tail));
    }
    s.feed(rest);
    s.finish()
}

#[test]
fn only_the_groups_of_this_owners_names_are_kept_whole() {
    let got = scan(&[]);
    let names: BTreeSet<&str> = got.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["api.z.", "c.z."]));
    assert_eq!(
        got.sets.len(),
        5,
        "api.z.'s four sets (others' too) and c.z.'s"
    );
    assert_eq!(
        got.cluster_owners, 4,
        "b, c, d and me; staging's x is another cluster"
    );
    assert_eq!(got.seen, 9);
}

#[test]
fn a_group_split_across_pages_is_kept_whole_wherever_the_pages_break() {
    let whole = scan(&[]);
    for first in 0..=9 {
        for second in 0..=(9 - first) {
            assert_eq!(
                scan(&[first, second]),
                whole,
                "pages of {first}, {second}, rest"
            );
        }
    }
    assert_eq!(scan(&[1, 1, 1, 1, 1, 1, 1, 1, 1]), whole);
}

#[test]
fn untagged_records_of_a_tagged_owner_id_keep_their_group_and_other_hosts_are_named() {
    let tagged = Owner::on_host("prod", "web-host", None, "0000abcd").unwrap();
    let sets = vec![
        set("a.z.", "A", "r53d:prod:web-host:t-1"),
        set("b.z.", "A", "r53d:prod:web-host~1111beef:t-2"),
        set("c.z.", "A", "r53d:prod:web-host~0000abcd:t-3"),
    ];
    let mut s = ZoneScan::new(&tagged);
    s.feed(sets.clone());
    let got = s.finish();
    let names: Vec<&str> = got.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["a.z.", "c.z."],
        "untagged and own; the other host's is not ours"
    );
    assert_eq!(
        got.other_hosts,
        BTreeSet::from(["web-host~1111beef".to_string()])
    );
    assert_eq!(other_hosts(&tagged, &sets), got.other_hosts);
}

#[test]
fn an_empty_zone_is_one_owner_and_nothing_kept() {
    let me = me();
    let got = ZoneScan::new(&me).finish();
    assert_eq!(got.cluster_owners, 1);
    assert!(got.sets.is_empty() && got.other_hosts.is_empty());
}
