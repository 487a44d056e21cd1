//! Least privilege, enforced: the agent holds the Docker socket (root on the host) and may only read from it.
//!
//! This test reads bollard's own source (found with `cargo metadata`) to learn every method of `bollard::Docker`,
//! then scans the agent's code (`src/`, `actors/src/`) for calls of those methods. Anything beyond the read-only
//! allowlist — events, list containers, inspect container (and version negotiation) — fails the test, naming the
//! file. Tests and benches are not scanned: they drive Docker on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Docker calls the agent may make (and client settings that send no request).
const ALLOWED: &[&str] = &[
    "events",
    "list_containers",
    "inspect_container",
    "ping",
    "version",
    "negotiate_version",
    "timeout",
    "with_timeout",
    "set_timeout",
    "client_version",
];

fn bollard_src() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bollard")
        .expect("bollard is a dependency");
    Path::new(pkg["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Names of the functions defined inside `impl Docker { ... }` blocks.
fn docker_methods(src: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = src;
    while let Some(at) = rest.find("impl Docker {") {
        let body = &rest[at + "impl Docker {".len()..];
        let mut depth = 1usize;
        let end = body
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(body.len(), |(i, _)| i);
        for line in body[..end].lines() {
            let line = line.trim_start();
            let Some(sig) = line.strip_prefix("pub ") else {
                continue;
            };
            let sig = sig.strip_prefix("async ").unwrap_or(sig);
            if let Some(name) = sig.strip_prefix("fn ") {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
        rest = &body[end..];
    }
    names
}

/// Method calls `.name(` (or `.name::<`) in `code`.
fn method_calls(code: &str) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for (i, _) in code.match_indices('.') {
        let name: String = code[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = &code[i + 1 + name.len()..];
        if !name.is_empty() && (after.starts_with('(') || after.starts_with("::<")) {
            calls.insert(name);
        }
    }
    calls
}

#[test]
fn the_agent_only_reads_from_docker() {
    let mut bollard_files = Vec::new();
    rust_files(&bollard_src(), &mut bollard_files);
    let methods: BTreeSet<String> = bollard_files
        .iter()
        .flat_map(|f| docker_methods(&std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        methods.contains("start_container") && methods.contains("events"),
        "bollard's Docker methods were not found: {methods:?}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ours = Vec::new();
    rust_files(&root.join("src"), &mut ours);
    rust_files(&root.join("actors/src"), &mut ours);
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &ours {
        for call in method_calls(&std::fs::read_to_string(file).unwrap()) {
            if methods.contains(&call) {
                let rel = file.strip_prefix(root).unwrap().display().to_string();
                used.entry(call).or_default().insert(rel);
            }
        }
    }
    let forbidden: BTreeMap<_, _> = used
        .iter()
        .filter(|(name, _)| !ALLOWED.contains(&name.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "the agent must only read from Docker (events, list, inspect); these calls are not allowed: {forbidden:#?}"
    );
    for needed in ["events", "list_containers", "inspect_container"] {
        assert!(
            used.contains_key(needed),
            "{needed} is no longer called? {used:?}"
        );
    }
}

#[test]
fn the_scanner_sees_a_forbidden_call() {
    let methods = docker_methods("impl Docker {\n    pub async fn stop_container(&self) {}\n    pub fn events(&self) {}\n}\n");
    assert_eq!(
        methods,
        BTreeSet::from(["events".to_string(), "stop_container".to_string()])
    );
    let calls =
        method_calls("docker.stop_container(&id, None).await; docker.events::<String>(None)");
    assert!(calls.contains("stop_container") && calls.contains("events"));
}
