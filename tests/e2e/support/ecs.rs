//! A fake ECS agent introspection server that follows the v1 contract of `shared/reference/ecs-and-docker.md` §1:
//! exact casing, omitted optional fields, the 404 body, short-id prefix matching with 400 on ambiguity, 400 for
//! both parameters, the all-tasks list without a parameter, and the 200 `AvailableCommands` catch-all.
//!
//! It runs on 127.0.0.1 in its own thread and actix system, and knows the real containers a test registers.

use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// One task as the fake agent knows it.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// Task ARN.
    pub arn: String,
    /// `KnownStatus`.
    pub known_status: String,
    /// `DesiredStatus` (omitted when `None`).
    pub desired_status: Option<String>,
    /// (docker id, container name) of the app containers, listed in `Containers`.
    pub containers: Vec<(String, String)>,
    /// Docker ids of internal containers (the pause container): found by lookup, never listed.
    pub internal: Vec<String>,
    /// The ENI address of an awsvpc task; `None` for bridge/host tasks (no `Networks`, unless `awsvpc_ipv6`).
    pub awsvpc_ip: Option<String>,
    /// The ENI's IPv6 addresses (an IPv6-only task has these and no `awsvpc_ip`).
    pub awsvpc_ipv6: Vec<String>,
    /// `Ports` of the app containers: (container port, host port; 0 = omitted, as v1 omits zero values).
    pub ports: Vec<(u16, u16)>,
}

#[derive(Default)]
struct State {
    tasks: Vec<Task>,
    metadata_up: bool,
    tasks_down: bool,
    tasks_garbage: bool,
    /// `/v1/tasks` lookups do not answer (the ECS agent hung), for the listed docker ids.
    hanging: Vec<String>,
    /// (cluster, container instance ARN) `/v1/metadata` reports.
    identity: (String, String),
}

/// The running fake agent.
pub struct FakeEcsAgent {
    /// Base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// Cluster name the fake agent reports.
pub const CLUSTER: &str = "e2e";
/// Container instance id the fake agent reports.
pub const INSTANCE_ID: &str = "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70";
/// Region and account of the container instance ARN the fake agent reports: the SetIdentifiers' scope.
pub const SCOPE: &str = "us-east-1.123456789012";

/// The ARN of container instance `id` of `cluster` in `region` (moto's account).
pub fn instance_arn(region: &str, cluster: &str, id: &str) -> String {
    format!("arn:aws:ecs:{region}:123456789012:container-instance/{cluster}/{id}")
}

const EMPTY_TASK: &str =
    r#"{"Arn":"","KnownStatus":"","Family":"","Version":"","Containers":null}"#;

fn task_json(t: &Task) -> Value {
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|(id, name)| {
            let mut c = json!({"DockerId": id, "DockerName": format!("ecs-e2e-1-{name}-a0e7dba5aca6d8cb2e00"), "Name": name});
            if t.awsvpc_ip.is_some() || !t.awsvpc_ipv6.is_empty() {
                let mut net = json!({"NetworkMode": "awsvpc"});
                if let Some(ip) = &t.awsvpc_ip {
                    net["IPv4Addresses"] = json!([ip]);
                }
                if !t.awsvpc_ipv6.is_empty() {
                    net["IPv6Addresses"] = json!(t.awsvpc_ipv6);
                }
                c["Networks"] = json!([net]);
            }
            if !t.ports.is_empty() {
                let ports: Vec<Value> = t.ports.iter().map(|(cp, hp)| {
                    let mut p = json!({"ContainerPort": cp, "Protocol": "tcp"});
                    if *hp != 0 {
                        p["HostPort"] = json!(hp);
                    }
                    p
                }).collect();
                c["Ports"] = json!(ports);
            }
            c
        })
        .collect();
    let mut v = json!({"Arn": t.arn, "KnownStatus": t.known_status, "Family": "e2e", "Version": "1", "Containers": containers});
    if let Some(d) = &t.desired_status {
        v["DesiredStatus"] = json!(d);
    }
    v
}

fn json_response(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body)
}

fn ids(t: &Task) -> impl Iterator<Item = &String> {
    t.containers
        .iter()
        .map(|(id, _)| id)
        .chain(t.internal.iter())
}

async fn tasks(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let query: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let hang = get("dockerid").is_some_and(|id| state.lock().unwrap().hanging.contains(&id));
    if hang {
        actix_web::rt::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    let state = state.lock().unwrap();
    if state.tasks_garbage {
        return json_response(
            200,
            r#"{"Arn":"arn:aws:ecs:us-east-1:1:task/e2e/x","Containers":[{"Docker"#.into(),
        );
    }
    if state.tasks_down {
        return HttpResponse::ServiceUnavailable().body("");
    }
    let found: Vec<&Task> = match (get("dockerid"), get("taskarn")) {
        (Some(_), Some(_)) => return json_response(400, EMPTY_TASK.into()),
        (Some(id), None) if id.len() > 12 => state
            .tasks
            .iter()
            .filter(|t| ids(t).any(|c| *c == id))
            .collect(),
        (Some(id), None) => state
            .tasks
            .iter()
            .filter(|t| ids(t).any(|c| c.starts_with(&id)))
            .collect(),
        (None, Some(arn)) => state.tasks.iter().filter(|t| t.arn == arn).collect(),
        (None, None) => {
            let all: Vec<Value> = state.tasks.iter().map(task_json).collect();
            return json_response(200, json!({"Tasks": all}).to_string());
        }
    };
    match found.as_slice() {
        [] => json_response(404, EMPTY_TASK.into()),
        [t] => json_response(200, task_json(t).to_string()),
        _ => json_response(400, EMPTY_TASK.into()),
    }
}

async fn metadata(state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if !state.lock().unwrap().metadata_up {
        return HttpResponse::InternalServerError().body("");
    }
    let (cluster, arn) = state.lock().unwrap().identity.clone();
    json_response(200, json!({"Cluster": cluster, "ContainerInstanceArn": arn, "Version": "Amazon ECS Agent - v1.89.0 (e2e)"}).to_string())
}

async fn catch_all() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(r#"{"AvailableCommands":["/v1/metadata","/v1/tasks","/license"]}"#)
}

impl FakeEcsAgent {
    /// Starts the fake agent on a free loopback port.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            tasks: Vec::new(),
            metadata_up: true,
            tasks_down: false,
            tasks_garbage: false,
            hanging: Vec::new(),
            identity: (
                CLUSTER.into(),
                instance_arn("us-east-1", CLUSTER, INSTANCE_ID),
            ),
        }));
        let data = web::Data::new(state.clone());
        let url = super::serve(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone())
                .route("/v1/tasks", web::get().to(tasks))
                .route("/v1/metadata", web::get().to(metadata))
                .default_service(web::to(catch_all));
        });
        Self { url, state }
    }

    /// Reports container instance `id` of `cluster` in `region` from now on.
    pub fn set_identity(&self, region: &str, cluster: &str, id: &str) {
        self.state.lock().unwrap().identity = (cluster.into(), instance_arn(region, cluster, id));
    }

    /// Adds a task.
    pub fn add_task(&self, task: Task) {
        self.state.lock().unwrap().tasks.push(task);
    }

    /// Makes `/v1/tasks` answer 503 (the agent restarting) or normally.
    pub fn set_tasks_down(&self, down: bool) {
        self.state.lock().unwrap().tasks_down = down;
    }

    /// Makes `/v1/tasks` answer 200 with a truncated JSON body, or normally.
    pub fn set_tasks_garbage(&self, garbage: bool) {
        self.state.lock().unwrap().tasks_garbage = garbage;
    }

    /// Sets the `DesiredStatus` of the task `arn` (ECS stopping it: `STOPPED`).
    pub fn set_desired(&self, arn_suffix: &str, desired: &str) {
        let mut state = self.state.lock().unwrap();
        for t in state
            .tasks
            .iter_mut()
            .filter(|t| t.arn.ends_with(arn_suffix))
        {
            t.desired_status = Some(desired.to_string());
        }
    }

    /// Makes `/v1/tasks?dockerid=<id>` hang (no answer for a minute), like an ECS agent stuck on that task.
    pub fn hang_lookups_of(&self, docker_id: &str) {
        self.state
            .lock()
            .unwrap()
            .hanging
            .push(docker_id.to_string());
    }

    /// Makes `/v1/metadata` answer 500 (agent starting) or normally.
    pub fn set_metadata_up(&self, up: bool) {
        self.state.lock().unwrap().metadata_up = up;
    }
}
