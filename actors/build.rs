//! Build script: records the git revision the binary is built from as `R53D_GIT_REVISION`, for `--version`,
//! the start log line and `r53d_build_info`. An image build passes it in (the Docker build context has no `.git`).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=R53D_GIT_REVISION");
    let revision = std::env::var("R53D_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=R53D_GIT_REVISION={}", revision.trim());
}

/// `git rev-parse --short=12 HEAD`, with the files that change when HEAD moves watched for a rebuild.
fn git_revision() -> Option<String> {
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let git_dir = Path::new(&git_dir);
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_dir.join(reference));
    }
    // A file that does not exist (a ref only in packed-refs) would make cargo run this script at every build.
    for file in watched.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}
