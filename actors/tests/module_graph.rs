//! No module cycles: reads the actors crate's sources, collects which top-level module uses which
//! (`crate::<module>` in any file under it; `core` and test-only code excluded from nothing but tests), and fails
//! naming the cycle when one module reaches itself. The pure `core` must use no other module at all.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level module → the top-level modules its non-test files use.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let is_test =
                rel.ends_with("tests.rs") || rel.contains("/tests/") || rel.starts_with("testkit");
            if !rel.ends_with(".rs") || rel == "lib.rs" || is_test {
                continue;
            }
            let module = rel.split(['/', '.']).next().unwrap().to_string();
            let text = fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap();
            let uses = out.entry(module.clone()).or_default();
            for used in code.split("crate::").skip(1) {
                let name: String = used
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    out
}

/// A path from `from` back to itself, if any.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        for next in g.get(last).into_iter().flatten() {
            if next == from {
                let mut p = path.clone();
                p.push(next.clone());
                return Some(p);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push(p);
            }
        }
    }
    None
}

#[test]
fn the_modules_form_no_cycle_and_the_core_uses_nothing_else() {
    let g = graph();
    assert!(g.len() > 8, "modules found: {:?}", g.keys());
    let core_uses = &g["core"];
    assert!(core_uses.is_empty(), "core uses {core_uses:?}");
    let cycles: Vec<String> = g
        .keys()
        .filter_map(|m| cycle(&g, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(
        cycles.is_empty(),
        "module cycles: {cycles:#?}\ngraph: {g:#?}"
    );
}
