# Offline images for the agent's container image, sourced by scripts/lib/setup.sh (uses its log, apt_install, WORK):
#   - the builder base: Debian bookworm (debootstrap: minbase plus a C compiler) with this host's Rust toolchain;
#   - the builder: that base plus the crates of Cargo.lock in its cargo registry, with CARGO_NET_OFFLINE=true;
#   - the runtime: a distroless-like root filesystem from `dpkg -x` of libc6, libgcc-s1 and ca-certificates;
#   - the agent image itself, built from ./Dockerfile with those two as its base images.
# No image registry is used: Debian packages come from the Debian mirror, crates from crates.io (or the host's
# cargo cache). Every base image is tagged with a hash of what went into it, so a rerun finds it and does nothing.

DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${R53D_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BUILDER_PACKAGES="gcc,g++,libc6-dev,ca-certificates"
RUNTIME_PACKAGES=(libc6 libgcc-s1 ca-certificates)
AGENT_IMAGE="r53d-test/route53-discovery:test"
SYSTEM_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# stdin → a 16-hex content tag.
content_tag() { sha256sum | cut -c1-16; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Removes the other tags of repository $1 (older content), keeping tag $2; images in use are kept.
drop_stale_tags() {
  docker images --format '{{.Repository}}:{{.Tag}}' "$1" | grep -vx "$1:$2" | xargs -r docker rmi >/dev/null 2>&1 || true
}

# Deletes a scratch root filesystem without crossing into anything still mounted below it.
remove_root() { [ -e "$1" ] && rm -rf --one-file-system "$1"; return 0; }

# The builder base image → $RUST_BASE.
rust_base_image() {
  local sysroot tag
  sysroot=$(rustc --print sysroot)
  tag=$({ rustc -vV; "$sysroot/bin/cargo" -V; echo "$DEBIAN_SUITE $BUILDER_PACKAGES"; declare -f rust_base_image; } | content_tag)
  RUST_BASE="r53d-test/rust-base:$tag"
  if image_exists "$RUST_BASE"; then log "Builder base $RUST_BASE is there."; return; fi
  command -v debootstrap >/dev/null 2>&1 || { log "Installing debootstrap"; apt_install debootstrap; }
  local root="$WORK/rust-base-root" start=$SECONDS
  remove_root "$root"
  log "Building $RUST_BASE: debootstrap $DEBIAN_SUITE (+$BUILDER_PACKAGES) and the Rust toolchain at $sysroot"
  # A mirror caught mid-sync answers with index files that do not match its Release file: try again.
  local try
  for try in 1 2 3 4; do
    debootstrap --variant=minbase --include="$BUILDER_PACKAGES" "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" \
      >"$WORK/debootstrap.log" 2>&1 && break
    remove_root "$root"
    if [ "$try" = 4 ]; then log "debootstrap failed:"; tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; fi
    log "debootstrap failed (try $try), retrying in $((try * 10)) s:"; grep '^E:' "$WORK/debootstrap.log" | head -n 3 >&2
    sleep $((try * 10))
  done
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info,locale}
  rm -rf "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*
  # The toolchain without its 800 MB of HTML docs; rustc finds its sysroot next to its own binary.
  mkdir -p "$root/usr/local/rust" "$root/usr/local/cargo"
  tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$root/usr/local/rust" -x
  tar -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:$SYSTEM_PATH" \
    --change "ENV CARGO_HOME=/usr/local/cargo" \
    - "$RUST_BASE" >/dev/null
  remove_root "$root"
  drop_stale_tags r53d-test/rust-base "$tag"
  log "Built $RUST_BASE in $((SECONDS - start)) s."
}

# The offline builder image → $BUILDER_IMAGE: the base plus every crate of Cargo.lock in its cargo registry.
rust_builder_image() {
  local tag
  tag=$({ echo "$RUST_BASE"; cat Cargo.lock; declare -f rust_builder_image; } | content_tag)
  BUILDER_IMAGE="r53d-test/rust-builder:$tag"
  if image_exists "$BUILDER_IMAGE"; then log "Builder $BUILDER_IMAGE is there."; return; fi
  local start=$SECONDS ctx="$WORK/rust-builder-context" home="${CARGO_HOME:-$HOME/.cargo}"
  log "Building $BUILDER_IMAGE: cargo fetch --locked (crates.io only for crates the host does not have yet)"
  cargo fetch --locked --quiet
  rm -rf "$ctx"; mkdir -p "$ctx/cargo/registry"
  # The sparse index cache and the .crate files are what an offline `cargo build --locked` reads.
  cp -r "$home/registry/index" "$home/registry/cache" "$ctx/cargo/registry/"
  printf 'FROM %s\nCOPY cargo /usr/local/cargo\nENV CARGO_NET_OFFLINE=true\n' "$RUST_BASE" >"$ctx/Dockerfile"
  if ! DOCKER_BUILDKIT=0 docker build -q -t "$BUILDER_IMAGE" "$ctx" >"$WORK/rust-builder.log" 2>&1; then
    log "docker build of $BUILDER_IMAGE failed:"; tail -n 30 "$WORK/rust-builder.log" >&2; exit 1
  fi
  rm -rf "$ctx"
  drop_stale_tags r53d-test/rust-builder "$tag"
  log "Built $BUILDER_IMAGE in $((SECONDS - start)) s."
}

# The content tag of the runtime image: the package versions apt would download, and the recipe.
runtime_tag() {
  { apt-cache show --no-all-versions "${RUNTIME_PACKAGES[@]}" | grep -E '^(Package|Version|SHA256):'
    declare -f runtime_image; } | content_tag
}

# The runtime base image → $RUNTIME_IMAGE: what gcr.io/distroless/cc-debian12 holds that the agent needs.
runtime_image() {
  local tag
  tag=$(runtime_tag 2>/dev/null || true)
  RUNTIME_IMAGE="r53d-test/runtime:$tag"
  if image_exists "$RUNTIME_IMAGE"; then log "Runtime $RUNTIME_IMAGE is there."; return; fi
  # Package lists may be missing or old (the mirror keeps only current versions): refresh, then tag again.
  apt-get update -qq; APT_UPDATED=1
  tag=$(runtime_tag)
  RUNTIME_IMAGE="r53d-test/runtime:$tag"
  if image_exists "$RUNTIME_IMAGE"; then log "Runtime $RUNTIME_IMAGE is there."; return; fi
  local start=$SECONDS debs="$WORK/runtime-debs" root="$WORK/runtime-root"
  log "Building $RUNTIME_IMAGE from ${RUNTIME_PACKAGES[*]}"
  rm -rf "$debs"; mkdir -p "$debs"; remove_root "$root"; mkdir -p "$root"
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "${RUNTIME_PACKAGES[@]}")
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
  rm -rf "$root"/usr/share/{doc,man,info,lintian,locale}
  # update-ca-certificates (a maintainer script, not run by dpkg -x) would build this bundle the same way.
  mkdir -p "$root/etc/ssl/certs" "$root/tmp"
  cat "$root"/usr/share/ca-certificates/*/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  # The binary's dynamic dependencies (ldd target/release/route53-discovery): the loader, libc, libm, libgcc_s.
  local lib
  for lib in lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6 lib/x86_64-linux-gnu/libm.so.6 \
    lib/x86_64-linux-gnu/libgcc_s.so.1; do
    [ -e "$root/$lib" ] || { log "runtime root filesystem lacks /$lib"; exit 1; }
  done
  tar -C "$root" -c . | docker import \
    --change "ENV PATH=$SYSTEM_PATH" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    - "$RUNTIME_IMAGE" >/dev/null
  remove_root "$root"; rm -rf "$debs"
  drop_stale_tags r53d-test/runtime "$tag"
  log "Built $RUNTIME_IMAGE in $((SECONDS - start)) s."
}

# `docker build` of ./Dockerfile on the offline base images, arguments added (tag, target); output appended to
# $AGENT_BUILD_LOG.
AGENT_BUILD_LOG="$WORK/agent-image.log"
agent_build() {
  DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BUILDER_IMAGE=$BUILDER_IMAGE" \
    --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" --build-arg "REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null)" \
    "$@" . >>"$AGENT_BUILD_LOG" 2>&1
}

# The agent image from ./Dockerfile → $AGENT_IMAGE, exported as R53D_E2E_AGENT_IMAGE for the tests. Its skeleton
# and build stages are tagged as well, so that the layers of the previous build (a build-stage chain holds a
# gigabyte of dependencies) are removed once a new build replaces them, not left behind untagged.
ensure_agent_image() {
  rust_base_image
  rust_builder_image
  runtime_image
  local start=$SECONDS repo="${AGENT_IMAGE%:*}" stage size
  local -A before=()
  for stage in test skeleton build; do
    before[$stage]=$(docker image inspect -f '{{.Id}}' "$repo:$stage" 2>/dev/null || true)
  done
  log "Building $AGENT_IMAGE with ./Dockerfile (log: $AGENT_BUILD_LOG)"
  : >"$AGENT_BUILD_LOG"
  if ! agent_build -t "$AGENT_IMAGE"; then
    log "docker build failed:"; tail -n 40 "$AGENT_BUILD_LOG" >&2; exit 1
  fi
  size=$(docker image inspect -f '{{.Size}}' "$AGENT_IMAGE")
  log "Built $AGENT_IMAGE in $((SECONDS - start)) s: $((size / 1000)) kB."
  # Fully cached, so instant: they only name the stages' last layers.
  (AGENT_BUILD_LOG="$WORK/agent-image-stages.log"
    agent_build --target skeleton -t "$repo:skeleton" && agent_build --target build -t "$repo:build") || true
  local now
  for stage in test skeleton build; do
    now=$(docker image inspect -f '{{.Id}}' "$repo:$stage" 2>/dev/null || true)
    if [ -n "${before[$stage]}" ] && [ "${before[$stage]}" != "$now" ]; then
      docker rmi "${before[$stage]}" >/dev/null 2>&1 || true
    fi
  done
  docker run --rm "$AGENT_IMAGE" --version >/dev/null || { log "$AGENT_IMAGE does not start"; exit 1; }
  export R53D_E2E_AGENT_IMAGE="$AGENT_IMAGE"
}
