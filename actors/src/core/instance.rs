//! The container instance's own addresses, as EC2 instance metadata (or the operator's overrides) gives them.
//!
//! Bridge and host tasks are reached on these addresses (with the host port), never on Docker's on-host bridge
//! address: `shared/reference/addressing.md` §0 and §2.5.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What is known about this host's addresses right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceAddresses {
    /// The instance's primary private IPv4 (IMDS `local-ipv4`, or `agent.host_ip`).
    pub ipv4: Option<Ipv4Addr>,
    /// The instance's first IPv6 on eth0 (IMDS `ipv6`, or `agent.host_ipv6`).
    pub ipv6: Option<Ipv6Addr>,
    /// The EC2 instance id (IMDS `instance-id`), which names the per-instance SRV target.
    pub instance_id: Option<String>,
    /// Why no address is known (IMDS off, unreachable, 403, ...), for the log line of a container skipped for it.
    pub unavailable: Option<String>,
}

impl InstanceAddresses {
    /// True when at least one address is known.
    pub fn has_address(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }
}
