#!/usr/bin/env bash
# CPU profile of Courier's HTTP connection manager under wrk, in front of the nginx backend.
#
#   bash bench/http/profile.sh [--duration 10] [--routes 10] [--connections 50] [--skip-build]
#        [--courier-dir DIR]   (a built Courier to profile, e.g. a copy of another version;
#                               implies --skip-build; default: this repo, built first)
#
# Courier runs in-process (bench/dubbo/profile-server.mjs: main and one worker in one process,
# the --concurrency 1 code paths) on a bench/http/gen-courier-config.mjs config, profiled with
# V8's sampling profiler for --duration seconds after 2 s of warm-up under
# `wrk -t1 -c<connections> --latency` (keep-alive, GET /bench/hello; wrk runs 3 s longer than
# the profile). Ports 25441-25449, apart from run.sh's, so both can run at once (they should
# not: each disturbs the other's numbers). About 20 s.
# Writes bench/results/http-profile-<timestamp>.cpuprofile (Chrome DevTools, speedscope) and,
# in .md next to it and on stdout, the load average, the wrk result and a self-time table.
# Re-read a saved profile: node bench/dubbo/profile-server.mjs --summarize FILE.
set -euo pipefail
HTTP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HTTP_DIR/../tcp/lib.sh"

DURATION=10
ROUTES=10
CONNECTIONS=50
SKIP_BUILD=false
COURIER_DIR=$REPO_DIR
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --routes) ROUTES=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --courier-dir) COURIER_DIR=$(cd "$2" && pwd); SKIP_BUILD=true; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

PORT_BACKEND=25441
PORT_COURIER=25442
PORT_ADMIN=25449

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
PROFILE="$RESULTS_DIR/http-profile-$TIMESTAMP.cpuprofile"
mkdir -p "$RESULTS_DIR"
RUN_DIR=$(mktemp -d /tmp/courier-http-prof.XXXXXX)
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

ensure_packages iproute2 wrk nginx
require_free_ports "$PORT_BACKEND" "$PORT_COURIER" "$PORT_ADMIN"
COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src')"
[[ $COURIER_DIR == "$REPO_DIR" ]] || COURIER_VERSION="built in $COURIER_DIR"
if ! $SKIP_BUILD; then build_courier || die "Courier does not build/start"; fi

sed "s/127\.0\.0\.1:25401/127.0.0.1:$PORT_BACKEND/" "$HTTP_DIR/nginx-backend.conf" >"$RUN_DIR/nginx-backend.conf"
timeout 30 node "$HTTP_DIR/gen-courier-config.mjs" --routes "$ROUTES" --port "$PORT_COURIER" --admin-port "$PORT_ADMIN" \
  --backend-port "$PORT_BACKEND" --out "$RUN_DIR/courier.yaml"

start_bg nginx-backend nginx -p "$RUN_DIR" -e stderr -c "$RUN_DIR/nginx-backend.conf"
wait_port "$PORT_BACKEND" "$LAST_PID" nginx-backend 10 || die "nginx backend did not start"
start_bg courier-profiled node "$REPO_DIR/bench/dubbo/profile-server.mjs" --courier-dir "$COURIER_DIR" --config "$RUN_DIR/courier.yaml" --out "$PROFILE"
SERVER_PID=$LAST_PID
wait_port "$PORT_COURIER" "$SERVER_PID" courier-profiled 20 || die "profiled Courier did not start"

URL="http://127.0.0.1:$PORT_COURIER/bench/hello"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$URL") == 200 ]] || die "probe of $URL did not return 200"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "wrk -t1 -c$CONNECTIONS -d$((DURATION + 3))s $URL; profiling ${DURATION}s after 2s (load before: $LOAD_BEFORE)"
timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d$((DURATION + 3))s --latency "$URL" >"$RUN_DIR/wrk.txt" 2>&1 &
WRK_PID=$!
STARTED_PIDS+=("$WRK_PID")
sleep 2
kill -USR2 "$SERVER_PID"   # start profiling
sleep "$DURATION"
kill -USR2 "$SERVER_PID"   # stop profiling, write it, print the summary
wait "$WRK_PID" 2>/dev/null || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stop_all

SUMMARY=${PROFILE%.cpuprofile}.md
{
  echo "Courier $COURIER_VERSION, HTTP, $ROUTES routes, in-process (--concurrency 1 paths), nginx backend, $TIMESTAMP"
  echo "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
  echo
  echo '```'
  cat "$RUN_DIR/wrk.txt"
  echo '```'
  echo
  grep -v '^READY$' "$RUN_DIR/courier-profiled.log"
} | tee "$SUMMARY"
[[ -s $PROFILE ]] || die "no profile written"
log "wrote $PROFILE and $SUMMARY"
