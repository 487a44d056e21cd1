//! What the watcher needs from Docker, as a trait: list the running labelled containers, and stream container
//! events from an instant on. [`BollardSource`] is the Docker Engine over its unix socket; actor and model tests
//! give the watcher an in-memory engine instead.

use std::collections::HashMap;

use bollard::models::{ContainerSummary, EventMessage};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;
use futures::future::LocalBoxFuture;
use futures::stream::{LocalBoxStream, StreamExt};

use crate::core::events::{event_filters, since_param};

/// Running labelled containers: id and labels.
pub type Running = Vec<(String, HashMap<String, String>)>;

/// The Docker Engine as the watcher uses it. Errors are messages: the watcher logs them and reconnects.
pub trait DockerSource: 'static {
    /// The running containers that carry `label_key`.
    fn list_running(&self, label_key: &str) -> LocalBoxFuture<'static, Result<Running, String>>;

    /// Container events of containers that carry `label_key`, from `since` (Unix nanoseconds, inclusive) on.
    fn events(
        &self,
        label_key: &str,
        since: i64,
    ) -> LocalBoxStream<'static, Result<EventMessage, String>>;

    /// Where Docker is reached, for log lines.
    fn describe(&self) -> String;
}

/// The Docker Engine at a unix socket; every listing and stream connects anew (dockerd may have restarted).
#[derive(Debug, Clone)]
pub struct BollardSource {
    socket: String,
}

impl BollardSource {
    /// Docker at `socket`.
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    fn connect(&self) -> Result<Docker, String> {
        Docker::connect_with_unix(&self.socket, 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| e.to_string())
    }
}

impl DockerSource for BollardSource {
    fn list_running(&self, label_key: &str) -> LocalBoxFuture<'static, Result<Running, String>> {
        let docker = self.connect();
        let filters = HashMap::from([("label".to_string(), vec![label_key.to_string()])]);
        Box::pin(async move {
            let opts = ListContainersOptions {
                all: false,
                filters: Some(filters),
                ..Default::default()
            };
            let list: Vec<ContainerSummary> = docker?
                .list_containers(Some(opts))
                .await
                .map_err(|e| e.to_string())?;
            Ok(list
                .into_iter()
                .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
                .collect())
        })
    }

    fn events(
        &self,
        label_key: &str,
        since: i64,
    ) -> LocalBoxStream<'static, Result<EventMessage, String>> {
        let docker = match self.connect() {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed_local(),
        };
        let opts = EventsOptions {
            since: Some(since_param(since)),
            filters: Some(event_filters(label_key)),
            ..Default::default()
        };
        docker
            .events(Some(opts))
            .map(|r| r.map_err(|e| e.to_string()))
            .boxed_local()
    }

    fn describe(&self) -> String {
        self.socket.clone()
    }
}
