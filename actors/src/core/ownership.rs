//! Ownership lives in the SetIdentifier.
//!
//! Format (≤ 128 characters, the Route53 limit):
//!
//! ```text
//! r53d:<cluster>@<scope>:<owner>:t-<task id>          a container that belongs to an ECS task
//! r53d:<cluster>@<scope>:<owner>:c-<container id[..32]>  a labelled container that is not an ECS task
//! r53d:<cluster>@<scope>:<owner>:h-host               the owner's per-instance SRV target (its A/AAAA records)
//! ```
//!
//! * `cluster` is the ECS cluster name. ECS allows 255 characters; when the name does not fit the budget left by
//!   the other parts it is shortened to a prefix, `~` and the CRC-32 of the full name in 8 hex digits, so it still
//!   tells clusters apart and a janitor can compute the same tag from its own cluster name.
//! * `scope` is `<region>.<account>` of the cluster (from the container instance ARN), so two clusters of one
//!   name in different regions or accounts sharing a zone never take each other's records for their own.
//!   Without it (`r53d:<cluster>:<owner>:…`, the **unscoped** or legacy format) the identifier is written by an
//!   agent that knows no scope (both `agent.owner_id` and `agent.cluster` set, no ECS agent asked); the janitor
//!   never judges such records, since which account's EC2 knows their host cannot be told. A scoped agent
//!   recognises its own unscoped records as its own and replaces them by scoped ones at the launch sync.
//! * `owner` is the owning host: by default its EC2 instance id (from instance metadata), which the janitor asks
//!   EC2 about; else `agent.owner_id` (an ECS Anywhere host's managed instance id, or any name).
//! * The last part makes the identifier unique per task (one record per task and name).
//!
//! The agent only ever changes records whose SetIdentifier parses and names its own cluster tag and owner.

use std::fmt;

/// Prefix of every SetIdentifier this agent writes.
pub const PREFIX: &str = "r53d";
/// Route53's maximum SetIdentifier length.
pub const MAX_SET_IDENTIFIER: usize = 128;
/// Longest owner id we accept, so the cluster keeps a useful share of the budget.
pub const MAX_OWNER: usize = 48;
/// Longest instance part: `t-` + a 36-character old-style task id (UUID).
const MAX_INSTANCE: usize = 2 + 36;

/// Why an owner or cluster cannot be used in a SetIdentifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnershipError {
    /// The owner id is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
    #[error("owner id {0:?} must be 1-{MAX_OWNER} characters of A-Z a-z 0-9 _ . -")]
    BadOwner(String),
    /// The cluster name is empty or has characters outside `[A-Za-z0-9_.-]`.
    #[error("cluster name {0:?} must be non-empty and use only A-Z a-z 0-9 _ . -")]
    BadCluster(String),
    /// The scope is not 1-28 characters of `[a-z0-9.-]`.
    #[error("scope {0:?} must be 1-28 characters of a-z 0-9 . - (<region>.<account>)")]
    BadScope(String),
}

/// Longest scope: `<region>.<account>` (the longest regions have 14 or 15 characters, accounts 12).
pub const MAX_SCOPE: usize = 28;
/// The fewest characters left for the cluster tag before the scope is written short (`~` and its CRC-32).
const MIN_TAG: usize = 13;

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// An owner part: a token, optionally followed by `~` and a host tag of 8 lowercase hex digits.
fn is_owner(s: &str) -> bool {
    match s.split_once('~') {
        None => is_token(s),
        Some((base, tag)) => is_token(base) && is_host_tag(tag),
    }
}

fn is_host_tag(tag: &str) -> bool {
    tag.len() == 8
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when `id` is shaped like an EC2 instance id: `i-` and 8 or 17 lowercase hex digits. Such an owner is a host
/// EC2 can be asked about; any other owner id (an ECS Anywhere host's `mi-…`, a configured name) is not.
pub fn is_ec2_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|h| {
        matches!(h.len(), 8 | 17)
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The host tag of an `agent.owner_id` override: the CRC-32 of the host's EC2 instance id in 8 hex digits, so two
/// hosts given the same owner id still write distinct owners (`<owner_id>~<tag>`).
pub fn host_tag(ec2_instance_id: &str) -> String {
    format!("{:08x}", crc32fast::hash(ec2_instance_id.as_bytes()))
}

/// This agent's identity: which cluster (and where) and host its records belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    cluster_tag: String,
    owner: String,
    /// The scope as written in SetIdentifiers (in full or short).
    scope: Option<String>,
    /// `<region>.<account>` in full.
    region_account: Option<String>,
}

impl Owner {
    /// An owner that writes the legacy format (no scope): validates the parts and computes the cluster tag.
    pub fn new(cluster: &str, owner: &str) -> Result<Self, OwnershipError> {
        Self::build(cluster, owner, None)
    }

    /// An owner of a cluster in `scope` (`<region>.<account>`): writes the scoped format.
    pub fn scoped(cluster: &str, owner: &str, scope: &str) -> Result<Self, OwnershipError> {
        let ok = !scope.is_empty()
            && scope.len() <= MAX_SCOPE
            && scope
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !scope.starts_with('~');
        if !ok {
            return Err(OwnershipError::BadScope(scope.to_string()));
        }
        Self::build(cluster, owner, Some(scope))
    }

    fn build(cluster: &str, owner: &str, scope: Option<&str>) -> Result<Self, OwnershipError> {
        if !is_token(owner) || owner.len() > MAX_OWNER {
            return Err(OwnershipError::BadOwner(owner.to_string()));
        }
        Self::build_checked(cluster, owner, scope)
    }

    /// [`Self::build`] for an owner part already checked (a token, or a token with a host tag).
    fn build_checked(
        cluster: &str,
        owner: &str,
        scope: Option<&str>,
    ) -> Result<Self, OwnershipError> {
        if !is_token(cluster) {
            return Err(OwnershipError::BadCluster(cluster.to_string()));
        }
        let region_account = scope.map(str::to_string);
        let budget = MAX_SET_IDENTIFIER - PREFIX.len() - 3 - owner.len() - MAX_INSTANCE;
        // The scope as written: in full, or `~<crc32>` when the full one would leave the tag too little room.
        let scope = scope.map(|s| match budget.saturating_sub(s.len() + 1) >= MIN_TAG {
            true => s.to_string(),
            false => format!("~{:08x}", crc32fast::hash(s.as_bytes())),
        });
        let budget = budget - scope.as_ref().map_or(0, |s| s.len() + 1);
        Ok(Self {
            cluster_tag: cluster_tag(cluster, budget),
            owner: owner.to_string(),
            scope,
            region_account,
        })
    }

    /// An owner whose id (an `agent.owner_id` override) is tagged with this host's [`host_tag`]: its owner part
    /// is `<owner id>~<tag>`, so an owner id copied to several hosts names a distinct owner on each.
    pub fn on_host(
        cluster: &str,
        owner: &str,
        scope: Option<&str>,
        tag: &str,
    ) -> Result<Self, OwnershipError> {
        if !is_host_tag(tag) {
            return Err(OwnershipError::BadOwner(format!("{owner}~{tag}")));
        }
        let base = match scope {
            Some(scope) => Self::scoped(cluster, owner, scope)?,
            None => Self::new(cluster, owner)?,
        };
        let tagged = format!("{owner}~{tag}");
        Self::build_checked(cluster, &tagged, base.region_account.as_deref())
    }

    /// The owner id without its host tag (the configured `agent.owner_id`, or the instance id).
    pub fn base_owner(&self) -> &str {
        self.owner
            .split_once('~')
            .map_or(&self.owner, |(base, _)| base)
    }

    /// `<region>.<account>` in full, when this owner writes the scoped format (a janitor matches other owners'
    /// scopes against it with [`is_scope_of`]).
    pub fn region_account(&self) -> Option<&str> {
        self.region_account.as_deref()
    }

    /// `<region>.<account>` as this owner writes it (or its short form), when it writes the scoped format.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The cluster as it appears in SetIdentifiers.
    pub fn cluster_tag(&self) -> &str {
        &self.cluster_tag
    }

    /// The owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The SetIdentifier for one task or container of this owner.
    pub fn set_identifier(&self, instance: &InstanceId) -> String {
        match &self.scope {
            Some(scope) => format!(
                "{PREFIX}:{}@{scope}:{}:{instance}",
                self.cluster_tag, self.owner
            ),
            None => format!("{PREFIX}:{}:{}:{instance}", self.cluster_tag, self.owner),
        }
    }

    /// True when `set_identifier` was written by this owner: same cluster tag and owner, and this owner's scope
    /// or none (a legacy record of this owner, to migrate).
    pub fn owns(&self, set_identifier: &str) -> bool {
        parse(set_identifier).is_some_and(|p| {
            p.cluster_tag == self.cluster_tag
                && p.owner == self.owner
                && (p.scope.is_none() || p.scope == self.scope.as_deref())
        })
    }
}

impl Owner {
    /// True when `set_identifier` is a record of this owner's id without its host tag (an owner tagged by
    /// [`Self::on_host`]): not this host's alone, so it is only ever deleted when the same task's record here
    /// replaces it.
    pub fn owns_untagged(&self, set_identifier: &str) -> bool {
        self.base_owner() != self.owner
            && parse(set_identifier).is_some_and(|p| {
                p.cluster_tag == self.cluster_tag
                    && p.owner == self.base_owner()
                    && (p.scope.is_none() || p.scope == self.scope.as_deref())
            })
    }
}

/// True when `written` (the scope part of a SetIdentifier) stands for `scope`: the scope itself, or its short
/// form `~<crc32>` (written when an owner's long id leaves too little room).
pub fn is_scope_of(written: &str, scope: &str) -> bool {
    written == scope || written == format!("~{:08x}", crc32fast::hash(scope.as_bytes()))
}

/// The legacy form of a scoped SetIdentifier (`@<scope>` left out), which an earlier version of the same
/// owner wrote for the same task; `None` for an identifier that is not scoped.
pub fn legacy_form(set_identifier: &str) -> Option<String> {
    let p = parse(set_identifier)?;
    p.scope?;
    Some(format!(
        "{PREFIX}:{}:{}:{}",
        p.cluster_tag, p.owner, p.instance
    ))
}

/// The cluster name, or a shortened `prefix~crc32` form when it does not fit `budget` characters.
pub fn cluster_tag(cluster: &str, budget: usize) -> String {
    if cluster.len() <= budget {
        return cluster.to_string();
    }
    let crc = crc32fast::hash(cluster.as_bytes());
    let keep = budget.saturating_sub(9);
    format!("{}~{crc:08x}", &cluster[..keep])
}

/// True when `tag` (the cluster part of a SetIdentifier) was made from `cluster` by any agent of this kind.
///
/// The tag is the name itself, or — when an agent had to shorten it, which depends on that agent's owner id
/// length — a prefix of the name, `~` and the CRC-32 of the *full* name in 8 hex digits. Parsing instead of
/// recomputing matches the shortened tags of every owner id length.
pub fn is_cluster_tag_of(tag: &str, cluster: &str) -> bool {
    if tag == cluster {
        return true;
    }
    let Some((prefix, crc)) = tag.rsplit_once('~') else {
        return false;
    };
    crc.len() == 8
        && cluster.starts_with(prefix)
        && prefix.len() < cluster.len()
        && crc == format!("{:08x}", crc32fast::hash(cluster.as_bytes()))
}

/// What a record stands for: an ECS task, or a container that is not part of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceId {
    /// The task id (last part of the task ARN).
    Task(String),
    /// The first 32 hex digits of the Docker container id.
    Container(String),
    /// The owning instance itself: the per-instance name that bridge and host SRV records point at.
    Host,
}

impl InstanceId {
    /// The task id from a task ARN (`arn:...:task/<id>` or `arn:...:task/<cluster>/<id>`), if it is well-formed.
    pub fn from_task_arn(arn: &str) -> Option<Self> {
        let (_, path) = arn.split_once(":task/")?;
        let id = path.rsplit('/').next()?;
        let ok = !id.is_empty()
            && id.len() <= 36
            && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        ok.then(|| Self::Task(id.to_ascii_lowercase()))
    }

    /// The instance id for a container that is not an ECS task.
    pub fn from_container_id(container_id: &str) -> Self {
        Self::Container(container_id.chars().take(32).collect())
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Task(id) => write!(f, "t-{id}"),
            Self::Container(id) => write!(f, "c-{id}"),
            Self::Host => f.write_str("h-host"),
        }
    }
}

/// A SetIdentifier of this agent's format, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSetIdentifier<'a> {
    /// Cluster tag (the name, or its shortened form).
    pub cluster_tag: &'a str,
    /// `<region>.<account>`; `None` in the legacy format.
    pub scope: Option<&'a str>,
    /// Owning host.
    pub owner: &'a str,
    /// `t-<task id>`, `c-<container id>` or `h-host`.
    pub instance: &'a str,
}

/// Parses a SetIdentifier written by any agent of this kind; `None` for anything else.
pub fn parse(set_identifier: &str) -> Option<ParsedSetIdentifier<'_>> {
    let mut parts = set_identifier.split(':');
    let (prefix, cluster, owner, instance) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let (cluster_tag, scope) = match cluster.split_once('@') {
        Some((tag, scope)) => (tag, Some(scope).filter(|s| !s.is_empty())?.into()),
        None => (cluster, None),
    };
    let valid = prefix == PREFIX
        && parts.next().is_none()
        && !cluster_tag.is_empty()
        && is_owner(owner)
        && (instance.starts_with("t-") || instance.starts_with("c-") || instance == "h-host")
        && instance.len() > 2;
    valid.then_some(ParsedSetIdentifier {
        cluster_tag,
        scope,
        owner,
        instance,
    })
}

#[cfg(test)]
#[path = "ownership/scope_tests.rs"]
mod scope_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const TASK_ARN: &str =
        "arn:aws:ecs:us-west-2:111122223333:task/prod/158d1c8083dd49d6b527399fd6414f5c";

    #[test]
    fn set_identifier_names_cluster_owner_and_task() {
        let owner = Owner::new("prod", "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70").unwrap();
        let task = InstanceId::from_task_arn(TASK_ARN).unwrap();
        let id = owner.set_identifier(&task);
        assert_eq!(
            id,
            "r53d:prod:0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70:t-158d1c8083dd49d6b527399fd6414f5c"
        );
        assert!(owner.owns(&id));
        let parsed = parse(&id).unwrap();
        assert_eq!(
            (parsed.cluster_tag, parsed.instance),
            ("prod", "t-158d1c8083dd49d6b527399fd6414f5c")
        );
    }

    #[test]
    fn old_style_task_arn_and_plain_containers() {
        let old = InstanceId::from_task_arn(
            "arn:aws:ecs:us-east-1:1:task/3f2b7c1e-0d6e-4b7b-9c1e-2a6f0e1d9b7a",
        );
        assert_eq!(
            old,
            Some(InstanceId::Task(
                "3f2b7c1e-0d6e-4b7b-9c1e-2a6f0e1d9b7a".into()
            ))
        );
        assert_eq!(InstanceId::from_task_arn("not-an-arn"), None);
        assert_eq!(
            InstanceId::from_task_arn("arn:aws:ecs:r:1:task/prod/zz!"),
            None
        );
        let c = InstanceId::from_container_id(&"ab".repeat(32));
        assert_eq!(c.to_string(), format!("c-{}", "ab".repeat(16)));
    }

    #[test]
    fn never_owns_other_owners_clusters_or_foreign_identifiers() {
        let me = Owner::new("prod", "i1").unwrap();
        let task = InstanceId::Task("abc".into());
        assert!(!me.owns(&Owner::new("prod", "i2").unwrap().set_identifier(&task)));
        assert!(!me.owns(&Owner::new("staging", "i1").unwrap().set_identifier(&task)));
        for foreign in [
            "web",
            "r53d:prod:i1",
            "r53d:prod:i1:x-abc",
            "r53d:prod:i1:t-abc:extra",
            "R53D:prod:i1:t-abc",
        ] {
            assert!(!me.owns(foreign), "{foreign}");
        }
    }

    #[test]
    fn every_identifier_fits_128_even_with_the_longest_parts() {
        let cluster = "c".repeat(255);
        let owner = Owner::new(&cluster, &"o".repeat(MAX_OWNER)).unwrap();
        let id = owner.set_identifier(&InstanceId::Task("f".repeat(36)));
        assert!(id.len() <= MAX_SET_IDENTIFIER, "{} > 128", id.len());
        assert!(owner.cluster_tag().contains('~'));
        assert!(owner.owns(&id));
        // Two long clusters with the same prefix still differ.
        let other = Owner::new(&format!("{}x", "c".repeat(254)), &"o".repeat(MAX_OWNER)).unwrap();
        assert_ne!(owner.cluster_tag(), other.cluster_tag());
    }

    #[test]
    fn cluster_tags_match_by_parsing_whatever_the_owner_length() {
        let cluster = format!("team-{}", "c".repeat(200));
        for owner_len in [1, 20, MAX_OWNER] {
            let tag = Owner::new(&cluster, &"o".repeat(owner_len)).unwrap();
            assert!(
                is_cluster_tag_of(tag.cluster_tag(), &cluster),
                "{owner_len}"
            );
        }
        assert!(is_cluster_tag_of("prod", "prod"));
        assert!(!is_cluster_tag_of("prod", "prod2"));
        assert!(!is_cluster_tag_of("prod2", "prod"));
        let crc = |c: &str| format!("{:08x}", crc32fast::hash(c.as_bytes()));
        assert!(is_cluster_tag_of(&format!("pr~{}", crc("prod")), "prod"));
        assert!(
            !is_cluster_tag_of(&format!("pr~{}", crc("prodx")), "prod"),
            "the CRC is of the full name"
        );
        assert!(
            !is_cluster_tag_of(&format!("px~{}", crc("prod")), "prod"),
            "the prefix must be ours"
        );
        assert!(!is_cluster_tag_of("prod~", "prod"));
        assert!(!is_cluster_tag_of(&format!("prod~{}", crc("prod")), "prod"));
    }

    #[test]
    fn bad_parts_are_rejected() {
        assert!(Owner::new("prod", "").is_err());
        assert!(Owner::new("prod", "has:colon").is_err());
        assert!(Owner::new("prod", &"o".repeat(MAX_OWNER + 1)).is_err());
        assert!(Owner::new("", "i1").is_err());
        assert!(Owner::new("a:b", "i1").is_err());
    }
}
