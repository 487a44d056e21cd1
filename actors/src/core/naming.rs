//! Label value → record name, with DNS validation.
//!
//! A service label value `web` in zone `example.com.` becomes `web.example.com.`. A value that already ends in
//! the zone name (`web.example.com` or `web.example.com.`) is taken as the full name. Names are lower-cased.
//! Each label must be 1–63 characters of `a-z 0-9 - _` that neither starts nor ends with `-`; the whole name at
//! most 253 characters (without the final dot). Non-ASCII (unicode) values are rejected, not converted: write
//! them in punycode (`xn--...`) so that what is in the label is exactly what is in DNS.
//!
//! SRV names follow RFC 2782 `_<service>._<proto>.<domain>`: the first label of the record name is the service and
//! the rest the domain, so `web.example.com.` → `_web._tcp.example.com.` and a dotted value `api.v2` →
//! `_api._tcp.v2.example.com.`. SRV targets are names below the zone ([`child_name`]).

/// Why a label value cannot become a record name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The label value is empty (or only dots).
    #[error("the service name is empty")]
    Empty,
    /// The value has non-ASCII characters.
    #[error("the service name {0:?} is not ASCII; write it in punycode (xn--...)")]
    NotAscii(String),
    /// A DNS label is empty (`a..b`), too long, or has a bad character or hyphen position.
    #[error("the service name {name:?} has an invalid DNS label {label:?}: {why}")]
    BadLabel {
        /// The whole value.
        name: String,
        /// The offending label.
        label: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The full name is longer than DNS allows.
    #[error("the record name {0:?} is longer than 253 characters")]
    TooLong(String),
    /// The value names the zone apex itself.
    #[error("the service name {0:?} names the zone apex; use a name below the zone")]
    Apex(String),
}

/// A hosted zone name: lower-case, with a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneName(String);

impl ZoneName {
    /// Validates and normalises a zone name (`Example.COM` → `example.com.`).
    pub fn new(name: &str) -> Result<Self, NameError> {
        let bare = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        check_labels(name, &bare)?;
        Ok(Self(format!("{bare}.")))
    }

    /// The name with its trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_label(whole: &str, label: &str) -> Result<(), NameError> {
    let bad = |why| NameError::BadLabel {
        name: whole.to_string(),
        label: label.to_string(),
        why,
    };
    if label.is_empty() {
        return Err(bad("empty label"));
    }
    if label.len() > 63 {
        return Err(bad("longer than 63 characters"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(bad("starts or ends with '-'"));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(bad("only a-z, 0-9, '-' and '_' are allowed"));
    }
    Ok(())
}

fn check_labels(whole: &str, bare: &str) -> Result<(), NameError> {
    if bare.is_empty() {
        return Err(NameError::Empty);
    }
    if !whole.is_ascii() {
        return Err(NameError::NotAscii(whole.to_string()));
    }
    if bare.len() > 253 {
        return Err(NameError::TooLong(bare.to_string()));
    }
    bare.split('.')
        .try_for_each(|label| check_label(whole, label))
}

/// The record name (with trailing dot) for a service label value in `zone`.
pub fn record_name(label_value: &str, zone: &ZoneName) -> Result<String, NameError> {
    let value = label_value
        .strip_suffix('.')
        .unwrap_or(label_value)
        .to_ascii_lowercase();
    if !label_value.is_ascii() {
        return Err(NameError::NotAscii(label_value.to_string()));
    }
    let zone_bare = zone.as_str().trim_end_matches('.');
    if value == zone_bare {
        return Err(NameError::Apex(label_value.to_string()));
    }
    let full = if value.ends_with(&format!(".{zone_bare}")) {
        value
    } else {
        format!("{value}.{zone_bare}")
    };
    let service_part = &full[..full.len() - zone_bare.len() - 1];
    if service_part.is_empty() {
        return Err(NameError::Empty);
    }
    check_labels(label_value, &full)?;
    Ok(format!("{full}."))
}

/// The RFC 2782 SRV name for the record name `name` (as [`record_name`] made it) and `protocol` (`tcp`/`udp`).
pub fn srv_name(name: &str, protocol: &str) -> Result<String, NameError> {
    let (service, domain) = name.split_once('.').ok_or(NameError::Empty)?;
    let full = format!("_{service}._{protocol}.{domain}");
    let bare = full.trim_end_matches('.');
    check_labels(name, bare)?;
    Ok(format!("{bare}."))
}

/// `label` (lower-cased) as the first label below `parent` (a name with a trailing dot), validated.
pub fn child_name(label: &str, parent: &str) -> Result<String, NameError> {
    let full = format!(
        "{}.{}",
        label.to_ascii_lowercase(),
        parent.trim_end_matches('.')
    );
    check_labels(&full, &full)?;
    Ok(format!("{full}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_names_follow_rfc_2782() {
        assert_eq!(
            srv_name("web.example.com.", "tcp").unwrap(),
            "_web._tcp.example.com."
        );
        assert_eq!(
            srv_name("api.v2.example.com.", "udp").unwrap(),
            "_api._udp.v2.example.com."
        );
        let long = format!("{}.example.com.", "a".repeat(63));
        assert!(
            matches!(srv_name(&long, "tcp"), Err(NameError::BadLabel { .. })),
            "a 63-character service label has no room for its underscore"
        );
        assert_eq!(
            child_name("I-0ABC", "hosts.example.com.").unwrap(),
            "i-0abc.hosts.example.com."
        );
        assert!(child_name("a b", "example.com.").is_err());
    }

    fn zone() -> ZoneName {
        ZoneName::new("Example.com").unwrap()
    }

    #[test]
    fn short_and_full_values_become_the_same_name() {
        assert_eq!(zone().as_str(), "example.com.");
        for v in ["web", "WEB", "web.example.com", "web.example.com."] {
            assert_eq!(record_name(v, &zone()).unwrap(), "web.example.com.", "{v}");
        }
        assert_eq!(
            record_name("api.v2", &zone()).unwrap(),
            "api.v2.example.com."
        );
        assert_eq!(
            record_name("_grpc-svc", &zone()).unwrap(),
            "_grpc-svc.example.com."
        );
        assert_eq!(
            record_name(&"a".repeat(63), &zone()).unwrap(),
            format!("{}.example.com.", "a".repeat(63))
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert_eq!(record_name("", &zone()), Err(NameError::Empty));
        assert_eq!(record_name(".", &zone()), Err(NameError::Empty));
        assert!(matches!(
            record_name("café", &zone()),
            Err(NameError::NotAscii(_))
        ));
        assert!(matches!(
            record_name("a..b", &zone()),
            Err(NameError::BadLabel {
                why: "empty label",
                ..
            })
        ));
        assert!(matches!(
            record_name(&"a".repeat(64), &zone()),
            Err(NameError::BadLabel { .. })
        ));
        assert!(matches!(
            record_name("-web", &zone()),
            Err(NameError::BadLabel { .. })
        ));
        assert!(matches!(
            record_name("web service", &zone()),
            Err(NameError::BadLabel { .. })
        ));
        assert!(matches!(
            record_name("web/1", &zone()),
            Err(NameError::BadLabel { .. })
        ));
        assert!(matches!(
            record_name("example.com", &zone()),
            Err(NameError::Apex(_))
        ));
        let long = vec!["a".repeat(60); 4].join(".");
        assert!(matches!(
            record_name(&long, &zone()),
            Err(NameError::TooLong(_))
        ));
    }

    #[test]
    fn punycode_is_accepted() {
        assert_eq!(
            record_name("xn--caf-dma", &zone()).unwrap(),
            "xn--caf-dma.example.com."
        );
    }
}
