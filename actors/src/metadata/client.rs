//! HTTP client for the ECS agent introspection API (`awc`), with the bounded retry the contract calls for.
//!
//! `shared/reference/ecs-and-docker.md` §1.6: right after a container starts the agent may answer 404, refuse the
//! connection (restarting) or 5xx; retry with backoff (200 ms → 3.2 s, about 6 tries), then give up. A 200 whose
//! body is not a task counts as a failure too. A 404 that persists means "not an ECS task".

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::core::introspection::{parse_metadata, parse_task, AgentMetadata, TaskInfo};

/// Largest body accepted from the introspection API.
const MAX_BODY: usize = 4 << 20;

/// How the introspection API is reached.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// Base URL, e.g. `http://127.0.0.1:51678`.
    pub url: String,
    /// Per-request timeout (the agent's own is 5 s).
    pub timeout: Duration,
    /// Tries per lookup, at least 1.
    pub attempts: usize,
    /// Delay before the second try; it doubles up to 3.2 s.
    pub first_delay: Duration,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrospectionError {
    /// The agent does not know the container (404 on every try): not an ECS task, or cleaned up.
    #[error("the ECS agent does not know this container (404)")]
    NotFound,
    /// The agent answered 400: a bad query, which retrying will not fix.
    #[error("the ECS agent rejected the query (HTTP {0})")]
    Rejected(u16),
    /// Refused, timed out, 5xx or a malformed body on every try.
    #[error("the ECS agent introspection API is unavailable: {0}")]
    Unavailable(String),
}

enum Attempt<T> {
    Done(T),
    NotFound,
    Rejected(u16),
    Failed(String),
}

async fn get(client: &awc::Client, url: &str, timeout: Duration) -> Attempt<Vec<u8>> {
    let mut resp = match client.get(url).timeout(timeout).send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let status = resp.status().as_u16();
    match status {
        200 => match resp.body().limit(MAX_BODY).await {
            Ok(b) => Attempt::Done(b.to_vec()),
            Err(e) => Attempt::Failed(format!("reading body: {e}")),
        },
        404 => Attempt::NotFound,
        400 => Attempt::Rejected(status),
        _ => Attempt::Failed(format!("HTTP {status}")),
    }
}

/// GETs `path` and parses it, retrying what the contract says is transient.
async fn fetch<T>(
    client: &awc::Client,
    config: &IntrospectionConfig,
    path: &str,
    parse: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<T, IntrospectionError> {
    let url = format!("{}{path}", config.url.trim_end_matches('/'));
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(config.first_delay)
        .with_max_delay(Duration::from_millis(3200))
        .with_max_times(config.attempts.saturating_sub(1))
        .build();
    let mut last;
    loop {
        last = match get(client, &url, config.timeout).await {
            Attempt::Done(body) => match parse(&body) {
                Ok(v) => return Ok(v),
                Err(e) => IntrospectionError::Unavailable(e),
            },
            Attempt::Rejected(s) => return Err(IntrospectionError::Rejected(s)),
            Attempt::NotFound => IntrospectionError::NotFound,
            Attempt::Failed(e) => IntrospectionError::Unavailable(e),
        };
        let Some(delay) = delays.next() else {
            return Err(last);
        };
        tracing::debug!(%url, error = %last, ?delay, "Introspection lookup failed; retrying.");
        actix_rt::time::sleep(delay).await;
    }
}

/// The task of a container (`/v1/tasks?dockerid=<full id>`). Always send the full 64-hex id: shorter ids are
/// prefix-matched or looked up exactly, with different answers.
pub async fn task_of(
    client: &awc::Client,
    config: &IntrospectionConfig,
    docker_id: &str,
) -> Result<TaskInfo, IntrospectionError> {
    let path = format!("/v1/tasks?dockerid={docker_id}");
    fetch(client, config, &path, |b| {
        parse_task(b, docker_id).map_err(|e| e.to_string())
    })
    .await
}

/// The agent's cluster and container instance (`/v1/metadata`), with a client of its own.
pub async fn agent_metadata(
    config: &IntrospectionConfig,
) -> Result<AgentMetadata, IntrospectionError> {
    let client = awc::Client::default();
    fetch(&client, config, "/v1/metadata", |b| {
        parse_metadata(b).map_err(|e| e.to_string())
    })
    .await
}
