//! The record model: one weighted A record per task, keyed by (record name, SetIdentifier).

use std::fmt;
use std::net::Ipv4Addr;

/// The identity of one weighted record set in the zone: Route53 matches records on name + type + SetIdentifier,
/// and our records are all of type A, so name + SetIdentifier is the key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RecordKey {
    /// Fully qualified, lower-case record name with a trailing dot (`web.example.com.`).
    pub name: String,
    /// The SetIdentifier; see [`crate::core::ownership`] for its format.
    pub set_identifier: String,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.name, self.set_identifier)
    }
}

/// One weighted A record with exactly one value, as this agent writes it and as it exists in Route53.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ARecord {
    /// Name and SetIdentifier.
    pub key: RecordKey,
    /// The single value: the task's IPv4 address.
    pub ip: Ipv4Addr,
    /// Time to live in seconds (fleet-wide constant).
    pub ttl: i64,
    /// Routing weight 0–255 (fleet-wide constant).
    pub weight: i64,
}

/// A record set as Route53 lists it, before we decide whether it is one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// Name as Route53 returns it (lower-case, trailing dot, octal escapes left as they are).
    pub name: String,
    /// Record type (`A`, `TXT`, ...).
    pub record_type: String,
    /// SetIdentifier, for routing-policy records.
    pub set_identifier: Option<String>,
    /// Weight, for weighted records.
    pub weight: Option<i64>,
    /// TTL (absent for alias records).
    pub ttl: Option<i64>,
    /// The values.
    pub values: Vec<String>,
    /// True when the set has anything this agent never writes (alias target, health check, other policies).
    pub has_extras: bool,
}

impl RecordSet {
    /// The set as one of our A records, if it has our exact shape: type A, weighted, one IPv4 value, no extras.
    pub fn as_a_record(&self) -> Option<ARecord> {
        if self.record_type != "A" || self.has_extras || self.values.len() != 1 {
            return None;
        }
        Some(ARecord {
            key: RecordKey {
                name: self.name.to_ascii_lowercase(),
                set_identifier: self.set_identifier.clone()?,
            },
            ip: self.values[0].parse().ok()?,
            ttl: self.ttl?,
            weight: self.weight?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> RecordSet {
        RecordSet {
            name: "web.example.com.".into(),
            record_type: "A".into(),
            set_identifier: Some("r53d:c:i:t-1".into()),
            weight: Some(1),
            ttl: Some(60),
            values: vec!["10.0.0.1".into()],
            has_extras: false,
        }
    }

    #[test]
    fn a_weighted_single_value_set_is_an_a_record() {
        let r = set().as_a_record().unwrap();
        assert_eq!(r.ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(r.key.set_identifier, "r53d:c:i:t-1");
    }

    #[test]
    fn other_shapes_are_not_ours_to_model() {
        let mut s = set();
        s.set_identifier = None;
        assert!(s.as_a_record().is_none());
        let mut s = set();
        s.values.push("10.0.0.2".into());
        assert!(s.as_a_record().is_none());
        let mut s = set();
        s.has_extras = true;
        assert!(s.as_a_record().is_none());
        let mut s = set();
        s.record_type = "TXT".into();
        assert!(s.as_a_record().is_none());
    }
}
