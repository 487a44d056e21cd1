//! The record model: weighted A, AAAA and SRV records with one value each, keyed by (name, type, SetIdentifier).
//!
//! Route53 matches a record set on name + type + SetIdentifier, so that triple is the key. Every record this agent
//! writes is weighted and holds exactly one value; a task's A, AAAA and SRV records share its SetIdentifier (they are
//! separate weighted groups, `shared/reference/addressing.md` §4.4).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types this agent writes, in the order they are planned (address records before the SRV records
/// that point at them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service locator: priority, weight, port and target name (RFC 2782).
    Srv,
}

impl RecordType {
    /// Every type, in planning order.
    pub const ALL: [RecordType; 3] = [Self::A, Self::Aaaa, Self::Srv];

    /// The type as Route53 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Srv => "SRV",
        }
    }

    /// The type from Route53's spelling (case-insensitive); `None` for types this agent never writes.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for RecordType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The identity of one weighted record set in the zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RecordKey {
    /// Fully qualified, lower-case record name with a trailing dot (`web.example.com.`).
    pub name: String,
    /// The record type.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The SetIdentifier; see [`crate::core::ownership`] for its format.
    pub set_identifier: String,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}]",
            self.name, self.record_type, self.set_identifier
        )
    }
}

/// An SRV value: `<priority> <weight> <port> <target>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SrvValue {
    /// Priority (lower is preferred); the same for every task.
    pub priority: u16,
    /// Weight among records of one priority; the same for every task.
    pub weight: u16,
    /// The port clients connect to.
    pub port: u16,
    /// A name with A/AAAA records (never an IP address, RFC 2782), fully qualified with a trailing dot.
    pub target: String,
}

/// The one value of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service locator.
    Srv(SrvValue),
}

impl RecordValue {
    /// The record type this value belongs to.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Srv(_) => RecordType::Srv,
        }
    }

    /// Parses a Route53 value of type `record_type`; `None` when it does not have the shape this agent writes.
    pub fn parse(record_type: RecordType, value: &str) -> Option<Self> {
        match record_type {
            RecordType::A => value.parse().ok().map(Self::A),
            RecordType::Aaaa => value.parse().ok().map(Self::Aaaa),
            RecordType::Srv => {
                let mut parts = value.split_ascii_whitespace();
                let srv = SrvValue {
                    priority: parts.next()?.parse().ok()?,
                    weight: parts.next()?.parse().ok()?,
                    port: parts.next()?.parse().ok()?,
                    target: parts.next()?.to_ascii_lowercase(),
                };
                parts.next().is_none().then_some(Self::Srv(srv))
            }
        }
    }

    /// The port, for SRV values.
    pub fn port(&self) -> Option<u16> {
        match self {
            Self::Srv(s) => Some(s.port),
            _ => None,
        }
    }
}

impl fmt::Display for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A(ip) => write!(f, "{ip}"),
            Self::Aaaa(ip) => write!(f, "{ip}"),
            Self::Srv(s) => write!(f, "{} {} {} {}", s.priority, s.weight, s.port, s.target),
        }
    }
}

impl serde::Serialize for RecordValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One weighted record with exactly one value, as this agent writes it and as it exists in Route53.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// Name, type and SetIdentifier.
    #[serde(flatten)]
    pub key: RecordKey,
    /// The single value.
    pub value: RecordValue,
    /// Time to live in seconds (fleet-wide constant).
    pub ttl: i64,
    /// Routing weight 0–255 (fleet-wide constant).
    pub weight: i64,
}

impl Record {
    /// A record whose key type follows its value.
    pub fn new(
        name: String,
        set_identifier: String,
        value: RecordValue,
        ttl: i64,
        weight: i64,
    ) -> Self {
        Self {
            key: RecordKey {
                name,
                record_type: value.record_type(),
                set_identifier,
            },
            value,
            ttl,
            weight,
        }
    }

    /// The value as Route53 holds it.
    pub fn value_string(&self) -> String {
        self.value.to_string()
    }
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
    /// The set as one of our records, if it has our exact shape: A, AAAA or SRV, weighted, one well-formed value,
    /// no extras.
    pub fn as_record(&self) -> Option<Record> {
        let record_type = RecordType::parse(&self.record_type)?;
        if self.has_extras || self.values.len() != 1 {
            return None;
        }
        let value = RecordValue::parse(record_type, &self.values[0])?;
        Some(Record::new(
            self.name.to_ascii_lowercase(),
            self.set_identifier.clone()?,
            value,
            self.ttl?,
            self.weight?,
        ))
    }

    /// The set as Route53 would list the record.
    pub fn from_record(r: &Record) -> Self {
        Self {
            name: r.key.name.clone(),
            record_type: r.key.record_type.as_str().into(),
            set_identifier: Some(r.key.set_identifier.clone()),
            weight: Some(r.weight),
            ttl: Some(r.ttl),
            values: vec![r.value_string()],
            has_extras: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(record_type: &str, value: &str) -> RecordSet {
        RecordSet {
            name: "web.example.com.".into(),
            record_type: record_type.into(),
            set_identifier: Some("r53d:c:i:t-1".into()),
            weight: Some(1),
            ttl: Some(60),
            values: vec![value.into()],
            has_extras: false,
        }
    }

    #[test]
    fn weighted_single_value_sets_of_our_types_are_records() {
        let r = set("A", "10.0.0.1").as_record().unwrap();
        assert_eq!(r.value, RecordValue::A(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.key.set_identifier, "r53d:c:i:t-1");
        let r = set("AAAA", "2600:1f18::1").as_record().unwrap();
        assert_eq!(r.key.record_type, RecordType::Aaaa);
        let r = set("SRV", "1 1 32768 I-0ABC.hosts.example.com.")
            .as_record()
            .unwrap();
        assert_eq!(r.value.port(), Some(32768));
        assert_eq!(r.value_string(), "1 1 32768 i-0abc.hosts.example.com.");
        assert_eq!(
            RecordSet::from_record(&r).as_record().unwrap(),
            r,
            "a record survives the trip through its set"
        );
    }

    #[test]
    fn other_shapes_are_not_ours_to_model() {
        let mut s = set("A", "10.0.0.1");
        s.set_identifier = None;
        assert!(s.as_record().is_none());
        let mut s = set("A", "10.0.0.1");
        s.values.push("10.0.0.2".into());
        assert!(s.as_record().is_none());
        let mut s = set("A", "10.0.0.1");
        s.has_extras = true;
        assert!(s.as_record().is_none());
        assert!(set("TXT", "\"x\"").as_record().is_none());
        assert!(
            set("A", "2600::1").as_record().is_none(),
            "an IPv6 value in an A set"
        );
        assert!(set("AAAA", "10.0.0.1").as_record().is_none());
        assert!(set("SRV", "1 1 80").as_record().is_none());
        assert!(set("SRV", "1 1 80 a. extra").as_record().is_none());
        assert!(set("SRV", "1 1 99999 a.").as_record().is_none());
    }

    #[test]
    fn keys_order_address_records_before_srv() {
        assert!(RecordType::A < RecordType::Aaaa && RecordType::Aaaa < RecordType::Srv);
        assert_eq!(RecordType::parse("aaaa"), Some(RecordType::Aaaa));
        assert_eq!(RecordType::parse("CNAME"), None);
    }
}
