//! The CloudFormation template of `deploy/cloudformation/`, as the deploy tests see it: read as JSON, created as a
//! stack in moto_server through boto3 (`cfn_stack.py`), and a container definition read back from moto turned
//! into the `docker run` arguments that make Docker run it as the ECS agent would.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// The template under test.
pub const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/cloudformation/route53-discovery.yaml"
);

/// The boto3 side of these tests.
const HELPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/e2e/support/cfn_stack.py"
);

/// Runs `cfn_stack.py args` with `R53D_E2E_PYTHON` (moto's venv, which has boto3), `stdin` on its input; its
/// output parsed as JSON. Panics with its error output when it fails.
fn helper(args: &[&str], stdin: &str) -> Value {
    let out = super::run_with_input(
        Command::new(super::env("R53D_E2E_PYTHON"))
            .arg(HELPER)
            .args(args),
        stdin,
    );
    assert!(
        out.status.success(),
        "cfn_stack.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from cfn_stack.py")
}

/// The template as JSON, intrinsic functions in their long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`).
pub fn template() -> Value {
    helper(&["template", TEMPLATE], "")
}

/// A stack of the template, created in moto_server, and what moto made of it.
pub struct Stack {
    /// Stack name.
    pub name: String,
    /// The ECS cluster it was created for.
    pub cluster: String,
    /// `cfn_stack.py create`'s answer: status, outputs, resources and what moto's ECS, IAM and Logs read back.
    pub out: Value,
}

impl Stack {
    /// Creates the cluster `cluster` and stack `name` in moto with `parameters`; panics unless CREATE_COMPLETE.
    pub fn create(name: &str, cluster: &str, parameters: &BTreeMap<&str, String>) -> Self {
        let request = json!({
            "template": TEMPLATE,
            "stack": name,
            "cluster": cluster,
            "parameters": parameters,
        });
        let out = helper(&["create"], &request.to_string());
        assert_eq!(
            out["status"], "CREATE_COMPLETE",
            "stack {name}: {}",
            out["reason"]
        );
        Self {
            name: name.into(),
            cluster: cluster.into(),
            out,
        }
    }

    /// The task definition of logical id `logical`, as moto's DescribeTaskDefinition answers.
    pub fn task_definition(&self, logical: &str) -> &Value {
        let td = &self.out["task_definitions"][logical];
        assert!(td.is_object(), "no task definition {logical}");
        td
    }

    /// The one container definition of task definition `logical`.
    pub fn container(&self, logical: &str) -> &Value {
        let defs = self.task_definition(logical)["containerDefinitions"]
            .as_array()
            .unwrap();
        assert_eq!(defs.len(), 1, "containers of {logical}");
        &defs[0]
    }

    /// Service `logical`, as moto's DescribeServices answers.
    pub fn service(&self, logical: &str) -> &Value {
        &self.out["services"][logical]
    }

    /// Role `logical`: `{"arn", "trust", "policies": {name: document}}` from moto's IAM.
    pub fn role(&self, logical: &str) -> &Value {
        let role = &self.out["roles"][logical];
        assert!(role.is_object(), "no role {logical}");
        role
    }

    /// The statements of role `logical`'s inline policies, by Sid.
    pub fn statements(&self, logical: &str) -> BTreeMap<String, Value> {
        let mut by_sid = BTreeMap::new();
        for doc in self.role(logical)["policies"].as_object().unwrap().values() {
            for s in doc["Statement"].as_array().unwrap() {
                by_sid.insert(s["Sid"].as_str().unwrap().to_string(), s.clone());
            }
        }
        by_sid
    }
}

/// A container definition's `environment` as a map.
pub fn environment(container: &Value) -> BTreeMap<String, String> {
    container["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let value = e["value"].as_str().unwrap_or_default().to_string();
            (e["name"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

/// Container-definition keys that [`docker_run_args`] does not turn into arguments, each for a reason: `name` and
/// `image` (the image is the stack's `ImageUri`, passed as the last argument by the caller), `essential` (one
/// container a task), `logConfiguration` (awslogs needs CloudWatch: Docker's own log driver instead; the options
/// are checked against the stack's log group elsewhere), and the lists moto fills in, which must stay empty.
const NOT_MAPPED: [&str; 4] = ["name", "image", "essential", "logConfiguration"];
const EMPTY: [&str; 2] = ["portMappings", "volumesFrom"];

/// `docker run` arguments (without the image) for container definition `container` of task definition `td`, on
/// Docker network `network`, as the ECS agent would create it: command, user, environment (and `test_env`, which
/// adds variables and may replace only [`REPLACEABLE`] ones), the volumes' host paths (each replaced by
/// `host_paths` when listed), read-only mounts and root file system, memory, CPU shares, stop timeout. Panics on
/// a key it cannot map, so a setting added to the template cannot go untested.
pub fn docker_run_args(
    td: &Value,
    container: &Value,
    network: &str,
    host_paths: &BTreeMap<&str, &Path>,
    test_env: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut args = vec!["--network".to_string(), network.to_string()];
    for (key, value) in container.as_object().unwrap() {
        match key.as_str() {
            k if NOT_MAPPED.contains(&k) => {}
            k if EMPTY.contains(&k) => assert_eq!(value, &json!([]), "{k} is not mapped"),
            "environment" => args.extend(env_args(container, test_env)),
            "mountPoints" => args.extend(mount_args(td, value, host_paths)),
            "user" => args.extend(["--user".into(), text(value)]),
            "readonlyRootFilesystem" => {
                if value.as_bool().unwrap() {
                    args.push("--read-only".into());
                }
            }
            "memory" => args.push(format!("--memory={}m", value.as_u64().unwrap())),
            "memoryReservation" => {
                args.push(format!("--memory-reservation={}m", value.as_u64().unwrap()))
            }
            // ECS gives a container its `cpu` units as CPU shares (at least 2).
            "cpu" => args.push(format!("--cpu-shares={}", value.as_u64().unwrap().max(2))),
            "stopTimeout" => args.push(format!("--stop-timeout={}", value.as_u64().unwrap())),
            "healthCheck" => args.extend(health_args(value)),
            "command" => {} // after the image, see [`command`]
            other => panic!("container definition key {other} is not mapped to docker run"),
        }
    }
    args
}

/// The container definition's `command`: the arguments after the image (the image's entrypoint is the binary).
pub fn command(container: &Value) -> Vec<String> {
    container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().expect("a string").to_string()
}

/// The one setting of a container definition a test may replace: `0.0.0.0:9254` on the host network would make
/// parallel tests take each other's port.
const REPLACEABLE: [&str; 1] = ["R53D__HEALTH__METRICS_LISTEN"];

fn env_args(container: &Value, test_env: &BTreeMap<String, String>) -> Vec<String> {
    let mut env = environment(container);
    for (k, v) in test_env {
        assert!(
            !env.contains_key(k) || REPLACEABLE.contains(&k.as_str()),
            "the test would replace the template's {k}"
        );
        env.insert(k.clone(), v.clone());
    }
    env.iter()
        .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")])
        .collect()
}

fn mount_args(td: &Value, mounts: &Value, host_paths: &BTreeMap<&str, &Path>) -> Vec<String> {
    let mut args = Vec::new();
    for m in mounts.as_array().unwrap() {
        let volume = td["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == m["sourceVolume"])
            .unwrap_or_else(|| panic!("no volume {}", m["sourceVolume"]));
        let source = volume["host"]["sourcePath"]
            .as_str()
            .expect("a host volume");
        let source = host_paths
            .get(source)
            .map_or(source.to_string(), |p| p.display().to_string());
        let ro = if m["readOnly"] == json!(true) {
            ":ro"
        } else {
            ""
        };
        let target = m["containerPath"].as_str().unwrap();
        args.extend(["-v".to_string(), format!("{source}:{target}{ro}")]);
    }
    args
}

/// The health check's timing as Docker flags, except the interval: 1 s instead of the definition's, so a test
/// sees a verdict in seconds. The command cannot be given to `docker run` in exec form (`--health-cmd` is a
/// shell command and the image has no shell): the caller checks that it is the image's own HEALTHCHECK.
fn health_args(check: &Value) -> Vec<String> {
    let secs = |k: &str| {
        check[k]
            .as_u64()
            .unwrap_or_else(|| panic!("healthCheck.{k}"))
    };
    vec![
        "--health-interval=1s".into(),
        format!("--health-timeout={}s", secs("timeout")),
        format!("--health-retries={}", secs("retries")),
        format!("--health-start-period={}s", secs("startPeriod")),
    ]
}
