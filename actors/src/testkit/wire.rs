//! The [`FakeEngine`] as the agent sees it: its `DockerSource` (listings, event streams filtered by the service
//! label as dockerd filters them) and the metadata actor's `Sources` (inspect, introspection with the fault a
//! test set, instance metadata).

use std::rc::Rc;

use bollard::models::{ContainerInspectResponse, EventMessage};
use futures::future::LocalBoxFuture;
use futures::stream::{LocalBoxStream, StreamExt};

use super::engine::{FakeEngine, TaskFault};
use crate::core::instance::InstanceAddresses;
use crate::core::introspection::{parse_task, TaskInfo};
use crate::event_watcher::source::{DockerSource, Running};
use crate::metadata::client::IntrospectionError;
use crate::metadata::imds::ImdsError;
use crate::metadata::{MetadataError, Sources};

impl DockerSource for Rc<FakeEngine> {
    fn list_running(&self, label_key: &str) -> LocalBoxFuture<'static, Result<Running, String>> {
        let running: Running = self
            .running()
            .into_iter()
            .filter(|c| c.labels.contains_key(label_key))
            .map(|c| (c.id, c.labels))
            .collect();
        let gate = self.listing_gate();
        Box::pin(async move {
            if let Some(rx) = gate {
                let _ = rx.await;
            }
            Ok(running)
        })
    }

    fn events(
        &self,
        label_key: &str,
        since: i64,
    ) -> LocalBoxStream<'static, Result<EventMessage, String>> {
        let key = label_key.to_string();
        let labelled = move |r: &Result<EventMessage, String>| {
            let Ok(e) = r else { return true };
            let attrs = e.actor.as_ref().and_then(|a| a.attributes.as_ref());
            attrs.is_some_and(|a| a.contains_key(&key))
        };
        self.subscribe(since)
            .filter(move |r| futures::future::ready(labelled(r)))
            .boxed_local()
    }

    fn describe(&self) -> String {
        "fake engine".into()
    }
}

impl Sources for Rc<FakeEngine> {
    fn inspect(
        &self,
        id: &str,
    ) -> LocalBoxFuture<'static, Result<Option<ContainerInspectResponse>, MetadataError>> {
        let found = self.inspect_json(id);
        Box::pin(async move { Ok(found) })
    }

    fn task(
        &self,
        id: &str,
    ) -> Option<LocalBoxFuture<'static, Result<TaskInfo, IntrospectionError>>> {
        let fault = self.take_fault(id);
        let (engine, id) = (self.clone(), id.to_string());
        Some(Box::pin(async move {
            match fault {
                Some(TaskFault::Fail(_)) => {
                    return Err(IntrospectionError::Unavailable("connection refused".into()))
                }
                Some(TaskFault::Slow(d)) => actix_rt::time::sleep(d).await,
                None => {}
            }
            // Asked after the wait: a slow answer reflects the task as it is when it is sent.
            let body = engine.task_json(&id).ok_or(IntrospectionError::NotFound)?;
            parse_task(body.as_bytes(), &id)
                .map_err(|e| IntrospectionError::Unavailable(e.to_string()))
        }))
    }

    fn instance(&self) -> LocalBoxFuture<'static, Result<InstanceAddresses, ImdsError>> {
        let found = self.instance_answer();
        Box::pin(async move {
            found.ok_or(ImdsError::Unreachable {
                path: "/latest/meta-data/local-ipv4",
                detail: "connection timed out".into(),
            })
        })
    }

    fn instance_disabled(&self) -> bool {
        false
    }
}
