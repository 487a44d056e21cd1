//! The documentation's links: every relative link in README.md, CHANGELOG.md and docs/, and every alert's
//! `runbook_url`, names a file of the repository, and every `#anchor` a heading of its target; the README's deploy
//! command names the template's parameters.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, CHANGELOG.md and every markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("CHANGELOG.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    docs
}

/// The targets of the markdown links `[text](target)` in `text`, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", doc.display()));
            } else if !anchor.is_empty() && !anchors(&target).iter().any(|a| a == anchor) {
                broken.push(format!("{}: {link} (no such heading)", doc.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_alerts_runbook_names_a_heading_of_the_troubleshooting_doc() {
    let rules = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yaml")).unwrap();
    let runbooks: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runbook_url:"))
        .map(|v| v.trim().trim_matches('"'))
        .collect();
    assert!(!runbooks.is_empty(), "no runbook_url in alerts.yaml");
    for runbook in runbooks {
        let (file, anchor) = runbook
            .split_once('#')
            .expect("a runbook_url with an anchor");
        let target = root().join(file);
        assert!(
            target.exists() && anchors(&target).iter().any(|a| a == anchor),
            "{runbook}: no such heading"
        );
    }
}

#[test]
fn the_readmes_deploy_command_names_parameters_of_the_template() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let template =
        std::fs::read_to_string(root().join("deploy/cloudformation/route53-discovery.yaml"))
            .unwrap();
    let parameters =
        &template[template.find("\nParameters:").unwrap()..template.find("\nResources:").unwrap()];
    let overrides = readme
        .split("--parameter-overrides")
        .nth(1)
        .expect("the README's deploy command");
    let names: Vec<&str> = overrides
        .lines()
        .take_while(|l| !l.contains("```"))
        .filter_map(|l| l.trim().split_once('=').map(|(name, _)| name))
        .collect();
    assert!(
        names.contains(&"HostedZoneId"),
        "parameters read: {names:?}"
    );
    for name in names {
        assert!(
            parameters.contains(&format!("\n  {name}:\n")),
            "README passes {name}, which the template does not declare"
        );
    }
}

#[test]
fn the_link_reader_finds_links_and_anchors() {
    assert_eq!(
        links("see [a](docs/a.md#x-y) and [b](b.md)\n```\n[c](c.md)\n```"),
        ["docs/a.md#x-y", "b.md"]
    );
    assert_eq!(
        slug(" Janitor: records of dead hosts"),
        "janitor-records-of-dead-hosts"
    );
}
