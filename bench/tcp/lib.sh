# Shared helpers for bench/tcp/run.sh and bench/tcp/memory.sh. Sourced, not run.
# Callers set `set -euo pipefail` themselves.
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source this file

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/../.." && pwd)"

# Fixed loopback ports. The config files in bench/tcp/ contain the same numbers
# literally (nginx and HAProxy cannot read them from the environment), so change both together.
PORT_IPERF=25201          # iperf3 -s
PORT_HTTP=25202           # nginx HTTP backend
PORT_COURIER_IPERF=25211  # courier-bench.yaml
PORT_COURIER_HTTP=25212
PORT_COURIER_ADMIN=25219
PORT_HAPROXY_IPERF=25221  # haproxy-bench.cfg
PORT_HAPROXY_HTTP=25222
PORT_NGINX_IPERF=25231    # nginx-stream.conf
PORT_NGINX_HTTP=25232
PORT_ECHO=25241           # idle-connections.mjs --serve (memory.sh)
PORT_COURIER_IDLE=25242   # courier-idle.yaml
PORT_COURIER_IDLE_ADMIN=25249
PORT_HAPROXY_IDLE=25252   # haproxy-idle.cfg
PORT_NGINX_IDLE=25262     # nginx-idle.conf

NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# PIDs of everything this script started; the EXIT trap stops exactly these.
STARTED_PIDS=()

# Start a command in the background and remember its PID. Scripts run without job
# control, so $! is the command's own PID (no setsid/`set -m` fork in between;
# see node-ecosystem.md §1 harness notes). Output goes to a per-process log file.
start_bg() {
  local name=$1; shift
  "$@" >"$RUN_DIR/$name.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  log "started $name (pid $pid): $*"
  LAST_PID=$pid
}

# Stop one process we started: its direct children first (Courier and nginx fork
# workers; a SIGKILLed parent would orphan them), then the process itself.
# SIGTERM, up to ~3 s grace, then SIGKILL.
stop_pid() {
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still running 3 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  for i in $kids; do kill -KILL "$i" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  # Newest first: proxies before the backends they point at.
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED_PIDS[i]}"; done
  STARTED_PIDS=()
}

# Stop one process and forget it, so the EXIT trap does not try it again.
stop_one() {
  local pid=$1 keep=() p
  stop_pid "$pid"
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  STARTED_PIDS=("${keep[@]}")
}

# True if a TCP socket is listening on port $1 (any local address). This asks the kernel
# (ss, from iproute2) instead of connecting: a probe connection through a proxy would be
# forwarded to the backend, and iperf3 -s treats any connection as the start of a test.
port_listening() { [[ -n $(ss -Hltn "sport = :$1") ]]; }

# Refuse to run if a fixed port is taken: we would measure someone else's server.
require_free_ports() {
  local p
  for p in "$@"; do
    if port_listening "$p"; then die "port $p is already in use; stop whatever holds it or change the ports in bench/tcp/"; fi
  done
}

# Wait until a port is listening, or fail if the process died / time ran out.
wait_port() {
  local port=$1 pid=$2 name=$3 timeout_s=${4:-15} i
  for ((i = 0; i < timeout_s * 10; i++)); do
    port_listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { log "$name exited early; log:"; tail -n 20 "$RUN_DIR/$name.log" >&2 || true; return 1; }
    sleep 0.1
  done
  log "$name did not open port $port within ${timeout_s}s; log:"
  tail -n 20 "$RUN_DIR/$name.log" >&2 || true
  return 1
}

# Install the Debian packages this benchmark needs, only if something is missing.
# --no-install-recommends keeps it small; `apt-get update` runs only when needed.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing from Debian: ${missing[*]}"
  # Both commands are bounded: a stuck mirror must not hang the benchmark forever.
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# RSS in KiB of a process (the same number `ps -o rss=` prints).
rss_kib() { ps -o rss= -p "$1" | tr -d ' '; }

# Build Courier once (tsc -> dist/). Returns non-zero if the CLI is not usable,
# so callers can skip the Courier rows instead of aborting the whole benchmark.
build_courier() {
  log "building Courier (npm run build)"
  # tsc still writes dist/ when it reports type errors, so a failed build is only a warning
  # here (recorded in the results); whether the CLI starts is what decides.
  COURIER_BUILD_OK=true
  (cd "$REPO_DIR" && timeout 180 npm run build --silent) >"$RUN_DIR/courier-build.log" 2>&1 || {
    COURIER_BUILD_OK=false
    log "WARNING: npm run build reported errors; log tail:"; tail -n 10 "$RUN_DIR/courier-build.log" >&2; }
  timeout 20 node "$REPO_DIR/bin/courier.js" --help >/dev/null 2>"$RUN_DIR/courier-help.log" || {
    log "node bin/courier.js --help failed; Courier rows will be skipped"; tail -n 5 "$RUN_DIR/courier-help.log" >&2; return 1; }
}
