//! `--version` names the release version and the git revision the binary was built from.

use std::process::Command;

/// `git rev-parse --short=12 HEAD` of this checkout, or `unknown` outside one (what the build script records).
fn checkout_revision() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

#[test]
fn version_names_the_cargo_version_and_the_checkouts_revision() {
    let out = Command::new(env!("CARGO_BIN_EXE_route53-discovery"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(
            "route53-discovery {} (revision {})",
            env!("CARGO_PKG_VERSION"),
            checkout_revision()
        )
    );
}
