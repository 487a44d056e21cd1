//! Container ports and their protocol, as Docker (`"80/tcp"`), the ECS agent (`"Protocol":"udp"`) and the
//! `discovery.service.port` label (`8080`, `8080/udp`) write them.
//!
//! Shared by the introspection and docker-inspect parsers and by [`crate::core::address`].

use std::fmt;

/// A transport protocol a port can be published on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default when a protocol is not written.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` / `udp`, case-insensitive; anything else (`sctp`, empty) is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// A container port with its protocol (`80/tcp`). The port is never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    /// The port, 1..=65535.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// Why a port text is not a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Not a decimal number (`abc`, `80-90`, empty).
    #[error("{0:?} is not a port number")]
    NotANumber(String),
    /// Port 0.
    #[error("port 0 is not a usable port")]
    Zero,
    /// Above 65535.
    #[error("port {0} is out of range 1-65535")]
    OutOfRange(String),
    /// A protocol other than tcp or udp.
    #[error("protocol {0:?} is not tcp or udp")]
    BadProtocol(String),
}

impl PortSpec {
    /// Parses `8080`, `8080/tcp` or `8080/udp` (surrounding blanks ignored; no protocol means tcp).
    pub fn parse(s: &str) -> Result<Self, PortError> {
        let s = s.trim();
        let (num, proto) = match s.split_once('/') {
            Some((n, p)) => (n.trim(), Some(p)),
            None => (s, None),
        };
        let protocol = match proto {
            None => Protocol::Tcp,
            Some(p) => Protocol::parse(p).ok_or_else(|| PortError::BadProtocol(p.to_string()))?,
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PortError::NotANumber(num.to_string()));
        }
        let port = match num.parse::<u64>() {
            Ok(0) => return Err(PortError::Zero),
            Ok(n) => u16::try_from(n).map_err(|_| PortError::OutOfRange(num.to_string()))?,
            Err(_) => return Err(PortError::OutOfRange(num.to_string())),
        };
        Ok(Self { port, protocol })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_with_and_without_protocol() {
        let tcp = |port| PortSpec {
            port,
            protocol: Protocol::Tcp,
        };
        assert_eq!(PortSpec::parse("8080"), Ok(tcp(8080)));
        assert_eq!(PortSpec::parse(" 80/TCP "), Ok(tcp(80)));
        assert_eq!(
            PortSpec::parse("53/udp").map(|p| p.to_string()),
            Ok("53/udp".into())
        );
        assert_eq!(PortSpec::parse("65535"), Ok(tcp(65535)));
    }

    #[test]
    fn bad_ports_are_errors() {
        for (text, want) in [
            ("", PortError::NotANumber(String::new())),
            ("abc", PortError::NotANumber("abc".into())),
            ("-1", PortError::NotANumber("-1".into())),
            ("80-90/tcp", PortError::NotANumber("80-90".into())),
            ("0", PortError::Zero),
            ("70000", PortError::OutOfRange("70000".into())),
            (
                "99999999999999999999999",
                PortError::OutOfRange("99999999999999999999999".into()),
            ),
            ("80/sctp", PortError::BadProtocol("sctp".into())),
            ("80/", PortError::BadProtocol(String::new())),
        ] {
            assert_eq!(PortSpec::parse(text), Err(want), "{text:?}");
        }
    }
}
