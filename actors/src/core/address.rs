//! TEMPORARY stub of the address types (replaced by the addressing branch).
#![allow(missing_docs)]
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}
impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrvPort {
    pub port: u16,
    pub protocol: Protocol,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypes {
    pub a: bool,
    pub aaaa: bool,
    pub srv: bool,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Awsvpc,
    Bridge,
    ServiceConnectBridge,
    Host,
    ContainerAddress,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Instance,
    Task,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub mode: Mode,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub srv: Option<SrvPort>,
    pub types: RecordTypes,
    pub target: TargetKind,
    pub source: &'static str,
    pub notes: Vec<String>,
}
