# Shared set-up of scripts/test and scripts/bench: a Docker Engine, the offline test image, moto_server on a free
# loopback port, and the environment that points the tests at them. Source it from the repository root.
# scripts/lib/images.sh (sourced below) adds ensure_agent_image: the agent's own image, built offline.
ROOT=$PWD
WORK="$ROOT/.test-work"
MOTO_VERSION="5.2.5"
IMAGE="r53d-test/busybox:2"
mkdir -p "$WORK"

log() { printf '[scripts/test] %s\n' "$*" >&2; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then log "Docker Engine answers."; return; fi
  command -v dockerd >/dev/null 2>&1 || { log "Installing docker.io"; apt_install docker.io iptables; }
  # A dockerd that was killed (or ended with the session that started it) can leave its pid file behind.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  log "Starting dockerd"
  nohup dockerd >"$WORK/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  log "dockerd did not start:"; tail -n 30 "$WORK/dockerd.log" >&2; exit 1
}

ensure_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then return; fi
  [ -x /bin/busybox ] || { log "Installing busybox-static"; apt_install busybox-static; }
  local root="$WORK/rootfs"
  rm -rf "$root"; mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh sleep true false kill test touch rm; do ln -sf busybox "$root/bin/$applet"; done
  tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
  log "Built $IMAGE offline."
}

MOTO_PID=""
start_moto() {
  local venv="$WORK/moto-venv"
  # (No `pip show | grep -q`: with pipefail, grep's early exit makes pip die of SIGPIPE, and moto is reinstalled.)
  if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 \
    || [ "$("$venv/bin/pip" show moto 2>/dev/null | sed -n 's/^Version: //p')" != "$MOTO_VERSION" ]; then
    log "Installing moto[server]==$MOTO_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION"
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 60); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      export R53D_E2E_MOTO_URL="http://127.0.0.1:$port"; log "moto_server on $R53D_E2E_MOTO_URL"; return
    fi
    sleep 0.5
  done
  log "moto_server did not start:"; tail -n 30 "$WORK/moto.log" >&2; exit 1
}

CFN_LINT_VERSION="1.58.0"
# cfn-lint (pinned, from PyPI, in its own venv: it bundles the CloudFormation resource schemas and runs offline).
ensure_cfn_lint() {
  local venv="$WORK/cfn-lint-venv"
  if [ "$("$venv/bin/cfn-lint" --version 2>/dev/null)" != "cfn-lint $CFN_LINT_VERSION" ]; then
    log "Installing cfn-lint==$CFN_LINT_VERSION into $venv"
    rm -rf "$venv"; python3 -m venv "$venv"
    "$venv/bin/pip" install -q "cfn-lint==$CFN_LINT_VERSION"
  fi
  export R53D_E2E_CFN_LINT="$venv/bin/cfn-lint"
}

PARLIAMENT_VERSION="1.6.4"
# parliament (pinned, from PyPI, in its own venv): lints IAM policies against its bundled list of actions, resource
# ARN shapes and condition keys, offline.
ensure_parliament() {
  local venv="$WORK/parliament-venv"
  if [ "$("$venv/bin/pip" show parliament 2>/dev/null | sed -n 's/^Version: //p')" != "$PARLIAMENT_VERSION" ]; then
    log "Installing parliament==$PARLIAMENT_VERSION into $venv"
    rm -rf "$venv"; python3 -m venv "$venv"
    "$venv/bin/pip" install -q "parliament==$PARLIAMENT_VERSION"
  fi
  export R53D_E2E_PARLIAMENT="$venv/bin/parliament"
}

# promtool, from Debian's prometheus package: only the one binary is unpacked (dpkg -x), nothing is installed or
# started.
ensure_promtool() {
  local dir="$WORK/promtool"
  if ! "$dir/usr/bin/promtool" --version >/dev/null 2>&1; then
    log "Unpacking promtool from Debian's prometheus package into $dir"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    rm -rf "$dir"; mkdir -p "$dir/debs"
    (cd "$dir/debs" && apt-get download -qq -o APT::Sandbox::User=root prometheus)
    dpkg -x "$dir"/debs/prometheus_*.deb "$dir"
    rm -rf "$dir/debs" "$dir/usr/share"
  fi
  export R53D_E2E_PROMTOOL="$dir/usr/bin/promtool"
}

cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  docker ps -aq --filter label=r53d-test=1 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

source "$ROOT/scripts/lib/images.sh"

ensure_docker
ensure_image
start_moto
ensure_cfn_lint
ensure_parliament
ensure_promtool

# Static test credentials and no instance-metadata probing: the SDK talks to moto on loopback only.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export R53D_E2E_IMAGE="$IMAGE"
# Python with boto3 (moto's venv), for the tests that drive CloudFormation.
export R53D_E2E_PYTHON="$WORK/moto-venv/bin/python"

