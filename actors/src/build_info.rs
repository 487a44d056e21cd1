//! What this binary is: its release version and the git revision it was built from.

/// The release version (SemVer, from `Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binary was built from (12 hex digits), or `unknown` when built outside a git checkout
/// without `R53D_GIT_REVISION` set.
pub const REVISION: &str = env!("R53D_GIT_REVISION");

/// `VERSION (revision REVISION)`, as `--version` prints it.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("R53D_GIT_REVISION"),
    ")"
);
