//! IMDSv2 client: reads the container instance's own addresses (`local-ipv4`, `ipv6`) and its `instance-id`,
//! which bridge and host tasks are reached on (`shared/reference/addressing.md` §0, §2.5, §3).
//!
//! Built on `aws_config::imds::Client` (IMDSv2 only: a `PUT /latest/api/token` first, the token cached by the SDK),
//! with short timeouts so a host without IMDS costs seconds. The raw SDK client ignores
//! `AWS_EC2_METADATA_DISABLED`; [`ImdsSource::resolve`] honours it. A 404 on `local-ipv4` or `ipv6` means the
//! instance has no address of that family; every other failure is an [`ImdsError`] that knows whether it is
//! worth retrying soon. [`with_overrides`] folds in `agent.host_ip` / `agent.host_ipv6`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use aws_config::imds::Client;

use crate::backoff::FullJitter;
use crate::core::instance::InstanceAddresses;
use crate::error_chain::display_chain;

mod error;

use self::error::classify;
pub use self::error::ImdsError;

/// Set to `true` (any case) to switch instance metadata off.
pub const DISABLED_ENV: &str = "AWS_EC2_METADATA_DISABLED";
/// The SDK's endpoint override variable.
pub const ENDPOINT_ENV: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// [`InstanceAddresses::unavailable`] when metadata is switched off.
pub const DISABLED_REASON: &str = "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true)";

/// The token path (IMDSv2 `PUT`).
pub(crate) const TOKEN: &str = "/latest/api/token";
const LOCAL_IPV4: &str = "/latest/meta-data/local-ipv4";
const IPV6: &str = "/latest/meta-data/ipv6";
const INSTANCE_ID: &str = "/latest/meta-data/instance-id";
/// Longest excerpt of a bad value kept in an error.
const EXCERPT: usize = 64;

/// Where instance metadata comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImdsSource {
    /// Switched off: nothing is asked.
    Disabled,
    /// This endpoint (`http://host[:port]`); `None`: the SDK default (`http://169.254.169.254`, or the profile's).
    Endpoint(Option<String>),
}

impl ImdsSource {
    /// `AWS_EC2_METADATA_DISABLED=true` wins; then `configured` (`agent.imds_endpoint`), then
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the SDK default. Empty values count as unset.
    pub fn resolve(configured: Option<&str>, env: impl Fn(&str) -> Option<String>) -> ImdsSource {
        if env(DISABLED_ENV).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return ImdsSource::Disabled;
        }
        let endpoint = configured
            .map(str::to_owned)
            .or_else(|| env(ENDPOINT_ENV))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        ImdsSource::Endpoint(endpoint)
    }

    /// [`ImdsSource::resolve`] with the process environment.
    pub fn from_env(configured: Option<&str>) -> ImdsSource {
        Self::resolve(configured, |k| std::env::var(k).ok())
    }
}

/// Timeouts and attempts of one IMDS read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImdsTimeouts {
    /// TCP connect.
    pub connect: Duration,
    /// Waiting for response bytes.
    pub read: Duration,
    /// One attempt, all included.
    pub attempt: Duration,
    /// One `get`, all attempts included.
    pub operation: Duration,
    /// Attempts per `get` (5xx and 401 are retried by the SDK; timeouts and 403/404 are not).
    pub attempts: u32,
}

impl Default for ImdsTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(1),
            attempt: Duration::from_secs(3),
            operation: Duration::from_secs(8),
            attempts: 3,
        }
    }
}

/// Reads this instance's addresses from IMDSv2.
#[derive(Debug, Clone)]
pub struct ImdsClient {
    inner: Option<Client>,
}

impl ImdsClient {
    /// A client for `source` with [`ImdsTimeouts::default`].
    pub fn new(source: &ImdsSource) -> Result<Self, ImdsError> {
        Self::with_timeouts(source, ImdsTimeouts::default())
    }

    /// A client for `source`; an endpoint the SDK cannot parse is [`ImdsError::BadEndpoint`].
    pub fn with_timeouts(source: &ImdsSource, t: ImdsTimeouts) -> Result<Self, ImdsError> {
        let ImdsSource::Endpoint(endpoint) = source else {
            return Ok(Self { inner: None });
        };
        let mut builder = Client::builder()
            .max_attempts(t.attempts.max(1))
            .connect_timeout(t.connect)
            .read_timeout(t.read)
            .operation_attempt_timeout(t.attempt)
            .operation_timeout(t.operation);
        if let Some(ep) = endpoint {
            builder = builder.endpoint(ep).map_err(|e| ImdsError::BadEndpoint {
                endpoint: ep.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(Self {
            inner: Some(builder.build()),
        })
    }

    /// True when metadata is switched off.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_none()
    }

    /// The instance's `local-ipv4`, `ipv6` and `instance-id`. Disabled: no addresses, with the reason.
    pub async fn read(&self) -> Result<InstanceAddresses, ImdsError> {
        let Some(client) = &self.inner else {
            return Ok(disabled());
        };
        let ipv4 = match get(client, LOCAL_IPV4).await? {
            Some(v) => Some(parse_ipv4(&v)?),
            None => None,
        };
        let ipv6 = match get(client, IPV6).await? {
            Some(v) => Some(parse_ipv6(&v)?),
            None => None,
        };
        if ipv4.is_none() && ipv6.is_none() {
            return Err(ImdsError::NoAddress);
        }
        let instance_id = match get(client, INSTANCE_ID).await? {
            Some(v) => Some(parse_instance_id(&v)?),
            None => None,
        };
        tracing::debug!(?ipv4, ?ipv6, ?instance_id, "instance metadata read");
        Ok(InstanceAddresses {
            ipv4,
            ipv6,
            instance_id,
            unavailable: None,
        })
    }
}

/// What a disabled source yields: no address, and why.
pub fn disabled() -> InstanceAddresses {
    InstanceAddresses {
        unavailable: Some(DISABLED_REASON.into()),
        ..Default::default()
    }
}

/// The trimmed value at `path`; `None` on 404.
async fn get(client: &Client, path: &'static str) -> Result<Option<String>, ImdsError> {
    match client.get(path).await {
        Ok(v) => Ok(Some(v.as_ref().trim().to_owned())),
        Err(e) => {
            let out = classify(path, &e);
            if let Err(err) = &out {
                tracing::debug!(path, error = %display_chain(&e), transient = err.is_transient(), "IMDS get failed");
            }
            out.map(|()| None)
        }
    }
}

fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

fn garbage(path: &'static str, value: &str, expected: &'static str) -> ImdsError {
    ImdsError::Garbage {
        path,
        value: excerpt(value),
        expected,
    }
}

/// A usable `local-ipv4` (a unicast address, not 0.0.0.0 or loopback).
pub fn parse_ipv4(value: &str) -> Result<Ipv4Addr, ImdsError> {
    match value.trim().parse::<Ipv4Addr>() {
        Ok(ip)
            if !ip.is_unspecified()
                && !ip.is_loopback()
                && !ip.is_multicast()
                && !ip.is_broadcast() =>
        {
            Ok(ip)
        }
        _ => Err(garbage(LOCAL_IPV4, value, "an IPv4 unicast address")),
    }
}

/// A usable `ipv6` (a unicast address, not :: or ::1).
pub fn parse_ipv6(value: &str) -> Result<Ipv6Addr, ImdsError> {
    match value.trim().parse::<Ipv6Addr>() {
        Ok(ip) if !ip.is_unspecified() && !ip.is_loopback() && !ip.is_multicast() => Ok(ip),
        _ => Err(garbage(IPV6, value, "an IPv6 unicast address")),
    }
}

/// An EC2 instance id: `i-` and 8 to 17 lowercase hex digits.
pub fn parse_instance_id(value: &str) -> Result<String, ImdsError> {
    let v = value.trim();
    let ok = v.strip_prefix("i-").is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(v.to_owned())
    } else {
        Err(garbage(
            INSTANCE_ID,
            value,
            "an instance id (i- and hex digits)",
        ))
    }
}

/// Folds the operator's overrides into what IMDS gave: an override wins for its family; an error (or a disabled
/// source) leaves the reason in `unavailable` unless an override supplies an address.
pub fn with_overrides(
    found: Result<InstanceAddresses, ImdsError>,
    host_ip: Option<Ipv4Addr>,
    host_ipv6: Option<Ipv6Addr>,
) -> InstanceAddresses {
    let (base, reason) = match found {
        Ok(mut a) => {
            let reason = a.unavailable.take();
            (a, reason)
        }
        Err(e) => (InstanceAddresses::default(), Some(e.to_string())),
    };
    let mut out = InstanceAddresses {
        ipv4: host_ip.or(base.ipv4),
        ipv6: host_ipv6.or(base.ipv6),
        instance_id: base.instance_id,
        unavailable: None,
    };
    if !out.has_address() {
        out.unavailable = Some(reason.unwrap_or_else(|| ImdsError::NoAddress.to_string()));
    }
    out
}

/// When to read IMDS again: `every` after a success or a permanent failure (no hammering of a refused
/// endpoint), full-jitter backoff from 1 s to `every` (at most 60 s) after transient ones.
#[derive(Debug)]
pub struct RefreshSchedule {
    every: Duration,
    backoff: FullJitter,
}

impl RefreshSchedule {
    /// A schedule with `every` between good reads.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            backoff: Self::fresh_backoff(every),
        }
    }

    fn fresh_backoff(every: Duration) -> FullJitter {
        let cap = every
            .min(Duration::from_secs(60))
            .max(Duration::from_secs(1));
        FullJitter::new(Duration::from_secs(1), cap)
    }

    /// The delay before the next read, given how the last one went.
    pub fn after<T>(&mut self, outcome: &Result<T, ImdsError>) -> Duration {
        match outcome {
            Err(e) if e.is_transient() => self.backoff.next().unwrap_or(self.every),
            _ => {
                self.backoff = Self::fresh_backoff(self.every);
                self.every
            }
        }
    }
}

#[cfg(test)]
mod tests;
