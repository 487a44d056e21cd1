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

cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  docker ps -aq --filter label=r53d-test=1 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

source "$ROOT/scripts/lib/images.sh"

ensure_docker
ensure_image
start_moto

# Static test credentials and no instance-metadata probing: the SDK talks to moto on loopback only.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export R53D_E2E_IMAGE="$IMAGE"

