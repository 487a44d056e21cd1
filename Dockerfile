# route53-discovery: the agent's container image. Multi-stage: a Rust builder compiles the release binary, a
# distroless runtime (glibc, libgcc, CA certificates; no shell, no package manager) runs it.
#
#   docker build --build-arg REVISION=$(git rev-parse --short=12 HEAD) -t route53-discovery .
#   docker run -d --network host -v /var/run:/var/run:ro -v /var/lib/route53-discovery:/var/lib/route53-discovery \
#     -e R53D__ROUTE53__HOSTED_ZONE_ID=Z... route53-discovery
#
# The image holds no configuration file: the defaults are compiled in, and a deployment sets its keys as
# R53D__SECTION__KEY environment variables (or mounts a TOML file and names it in R53D_CONFIG).
#
# Base images are build arguments, so the build needs no registry: the tests make both offline (scripts/lib/
# images.sh: `docker import` of Debian packages plus the host's Rust toolchain) and pass them in. Any builder
# image with cargo/rustc 1.87+ and a C compiler (aws-lc-sys, ring) works; the runtime needs glibc and libgcc_s.
#
# Reproducible: `--locked` builds exactly Cargo.lock. The build works offline when the builder image carries the
# crates: the test builder has them in its CARGO_HOME registry and sets CARGO_NET_OFFLINE=true. With the default
# builder nothing changes: cargo downloads the locked crates from crates.io as usual.
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12

# Stage 1, skeleton: the manifests and every .rs file replaced by a stub. Its output changes only when a manifest,
# Cargo.lock or the set of source files changes, so the dependency layer below stays cached across code edits
# (the same idea as cargo-chef, without the extra tool).
FROM ${BUILDER_IMAGE} AS skeleton
WORKDIR /src
COPY . .
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name '*.rs' -delete \
 && find . -type f -name '*.rs' | while read -r f; do echo 'fn main() {}' >"$f"; done \
 && find . -type d -empty -delete

# Stage 2, build: dependencies first (cached while the skeleton is unchanged), then the real sources.
FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY --from=skeleton /src ./
RUN cargo build --release --locked --bin route53-discovery
COPY . .
# The git revision `--version` and r53d_build_info report (the build context has no .git). Declared after the
# dependency layer: a changed build argument misses the cache of every RUN below it.
ARG REVISION=unknown
# The stubs' build outputs are newer than the copied sources (COPY keeps their mtimes): touch the sources so
# cargo rebuilds the workspace crates instead of keeping the stub binary. Only the binary is kept: the layer stays
# small, and the dependency layer above is what the next build reuses.
RUN find . -path ./target -prune -o -type f -name '*.rs' -exec touch {} + \
 && R53D_GIT_REVISION="$REVISION" cargo build --release --locked --bin route53-discovery \
 && install -D target/release/route53-discovery /out/route53-discovery \
 && rm -rf target \
 && /out/route53-discovery --version

# Stage 3, runtime.
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/route53-discovery /usr/local/bin/route53-discovery
ENV R53D__LOG__FORMAT=json
# Root, on purpose (distroless's default user is root too; this makes it explicit). The agent's only privileged
# need is the Docker socket, which is root-owned on the ECS-optimized AMI (root:docker, mode 660), and the docker
# group's id differs between AMIs and hosts, so no fixed non-root uid/gid in the image can open it. Anyone who can
# use that socket is root on the host anyway, so a non-root uid in here would add little. The agent only reads
# from Docker (events, list, inspect) and never creates, changes or stops containers; the image has no shell.
# To run without root: docker run --user 65532:$(stat -c %g /var/run/docker.sock) ... (or the task
# definition's "user": "65532:<docker gid>"); the health listener's default port 9253 needs no privilege.
USER 0:0
# `healthcheck` GETs /healthz on health.listen (from the same environment and R53D_CONFIG as `run`); exit 0 when it
# answers 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/route53-discovery", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/route53-discovery"]
CMD ["run"]
