//! The janitor standing's file: kept across a restart, ignored (with nothing lost) when it is not this agent's.

use super::*;

const ME: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn standing(rank: Option<usize>) -> Standing {
    let mut s = Standing::after_election(Some("0a".repeat(16)), rank, true, 2000);
    s.candidate = true;
    s
}

fn same(a: &Standing, b: &Standing) -> bool {
    (&a.janitor, a.rank, a.listed, a.instances, a.candidate)
        == (&b.janitor, b.rank, b.listed, b.instances, b.candidate)
}

#[test]
fn a_saved_standing_is_resumed_by_the_same_agent_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
    assert!(store.load().is_none(), "none yet");
    let s = standing(Some(2));
    store.save(&s);
    let again = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
    assert!(same(&again.load().unwrap(), &s));
    for (zone, cluster, owner) in [
        ("Z2", "prod", ME),
        ("Z1", "staging", ME),
        ("Z1", "prod", "0c"),
    ] {
        let other = StandingStore::open(dir.path(), zone, cluster, owner).unwrap();
        if zone == "Z1" {
            assert!(other.load().is_none(), "{cluster} {owner}: another key");
        } else {
            assert!(other.load().is_none(), "another zone's file name");
        }
    }
}

#[test]
fn a_corrupt_truncated_or_older_file_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
    store.save(&standing(None));
    let good = fs::read(store.path()).unwrap();
    let older = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"format\": 1", "\"format\": 0");
    let cases: [&[u8]; 4] = [b"", b"{not json", &good[..good.len() / 2], older.as_bytes()];
    for bytes in cases {
        fs::write(store.path(), bytes).unwrap();
        let fresh = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
        assert!(
            fresh.load().is_none(),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // A new election's standing replaces the bad file.
    let fresh = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
    fresh.save(&standing(Some(0)));
    assert_eq!(fresh.load().unwrap().rank, Some(0));
}

#[test]
fn an_unchanged_standing_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = StandingStore::open(dir.path(), "Z1", "prod", ME).unwrap();
    store.save(&standing(Some(1)));
    fs::remove_file(store.path()).unwrap();
    store.save(&standing(Some(1)));
    assert!(!store.path().exists(), "same standing: no write");
    store.save(&standing(Some(2)));
    assert!(store.path().exists(), "a changed one is written");
}

#[test]
fn a_failing_save_keeps_the_agent_going() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("state");
    let store = StandingStore::open(&sub, "Z1", "prod", ME).unwrap();
    fs::remove_dir_all(&sub).unwrap();
    store.save(&standing(Some(1)));
    assert!(store.failing.get());
    fs::create_dir_all(&sub).unwrap();
    store.save(&standing(Some(1)));
    assert!(!store.failing.get(), "saved again");
    assert!(store.path().exists());
}
