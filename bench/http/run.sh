#!/usr/bin/env bash
# HTTP reverse-proxy benchmark: Courier's HTTP connection manager against nginx proxy_pass,
# HAProxy mode http, node's http-proxy (npm) and no proxy at all.
#
#   bash bench/http/run.sh [--paths "direct courier10 courier10k nginx haproxy httpproxy"] [--warmup 2]
#
# A benchmark, not a test: never run it from the test suite. About 1.5 minutes, all on 127.0.0.1:
#   backend   nginx `return 200 "hello world\n"`, 1 worker, keepalive_requests 1000000 (:25401)
#   per path  --warmup seconds of the same load, not measured (default 2; 0 = none, as runs
#             before 20261125T225818Z had: Courier's JIT then counts in its first seconds), then
#             wrk -t1 -c50 -d5s --latency http://127.0.0.1:<port>/bench/hello (keep-alive), req/s
# Courier runs twice (--concurrency 2): 10 and 10,000 unmatched prefix routes before the matched one.
# Results: bench/results/http-<timestamp>.json, and a markdown table on stdout.
# Method and caveats: docs/benchmarks.md ("HTTP").
set -euo pipefail
HTTP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Shared helpers (start_bg, stop_all, wait_port, ensure_packages, build_courier, ...).
source "$HTTP_DIR/../tcp/lib.sh"

PATHS="direct courier10 courier10k nginx haproxy httpproxy"
WARMUP=2
while (($#)); do
  case $1 in
    --paths) PATHS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

# Fixed loopback ports; nginx-*.conf and haproxy.cfg contain the same numbers literally.
PORT_BACKEND=25401            # nginx-backend.conf
PORT_COURIER10=25411          # generated; admin 25419
PORT_COURIER10_ADMIN=25419
PORT_COURIER10K=25421         # generated; admin 25429
PORT_COURIER10K_ADMIN=25429
PORT_NGINX_PROXY=25431        # nginx-proxy.conf
PORT_HAPROXY=25432            # haproxy.cfg
PORT_HTTPPROXY=25433          # http-proxy-server.mjs
URL_PATH=/bench/hello         # matched by Courier's last route; nginx answers any path

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
OUT="$RESULTS_DIR/http-$TIMESTAMP.json"
mkdir -p "$RESULTS_DIR"

RUN_DIR=$(mktemp -d /tmp/courier-http-bench.XXXXXX)
RAW="$RUN_DIR/raw"; mkdir -p "$RAW"
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

ensure_packages iproute2 curl wrk haproxy nginx
require_free_ports "$PORT_BACKEND" "$PORT_COURIER10" "$PORT_COURIER10_ADMIN" "$PORT_COURIER10K" \
  "$PORT_COURIER10K_ADMIN" "$PORT_NGINX_PROXY" "$PORT_HAPROXY" "$PORT_HTTPPROXY"

COURIER_BUILD_OK=false
if [[ " $PATHS " == *" courier"* ]]; then
  if build_courier; then
    for n in 10 10000; do
      [[ $n == 10 ]] && p=$PORT_COURIER10 a=$PORT_COURIER10_ADMIN name=courier10 || p=$PORT_COURIER10K a=$PORT_COURIER10K_ADMIN name=courier10k
      timeout 30 node "$HTTP_DIR/gen-courier-config.mjs" --routes "$n" --port "$p" --admin-port "$a" \
        --backend-port "$PORT_BACKEND" --out "$RUN_DIR/$name.yaml"
    done
  else
    echo "Courier CLI not usable (node bin/courier.js --help failed)" | tee "$RAW/courier10.skipped" >"$RAW/courier10k.skipped"
  fi
fi
if [[ " $PATHS " == *" httpproxy "* ]] && ! (cd "$REPO_DIR" && node -e "import('http-proxy')" 2>/dev/null); then
  echo "npm package http-proxy not installed (npm install)" >"$RAW/httpproxy.skipped"
fi

# --- backend --------------------------------------------------------------------------
start_bg nginx-backend nginx -p "$RUN_DIR" -e stderr -c "$HTTP_DIR/nginx-backend.conf"
wait_port "$PORT_BACKEND" "$LAST_PID" nginx-backend 10 || die "nginx backend did not start"

# --- measurement ----------------------------------------------------------------------
measure() {
  local name=$1 port=$2 url="http://127.0.0.1:$2$URL_PATH"
  # One request first: a path that answers wrongly is reported, not measured as fast errors.
  timeout 5 curl -sS -o /dev/null -w '%{http_code}' "$url" >"$RAW/$name.probe" 2>>"$RUN_DIR/$name-client.log" || true
  if ((WARMUP > 0)); then
    log "$name: warm-up, wrk -t1 -c50 -d${WARMUP}s (not measured)"
    timeout $((WARMUP + 25)) wrk -t1 -c50 -d"${WARMUP}s" "$url" >/dev/null 2>>"$RUN_DIR/$name-client.log" || true
  fi
  log "$name: wrk -t1 -c50 -d5s $url (probe status $(cat "$RAW/$name.probe"))"
  cut -d' ' -f1-3 /proc/loadavg >"$RAW/$name.load"
  timeout 30 wrk -t1 -c50 -d5s --latency "$url" \
    >"$RAW/$name.wrk.txt" 2>>"$RUN_DIR/$name-client.log" || log "WARNING: $name wrk failed"
  cut -d' ' -f1-3 /proc/loadavg >>"$RAW/$name.load"
}

for path in $PATHS; do
  [[ -e $RAW/$path.skipped ]] && continue
  case $path in
    direct) measure direct "$PORT_BACKEND"; continue ;;
    courier10|courier10k)
      cmd=(node "$REPO_DIR/bin/courier.js" -c "$RUN_DIR/$path.yaml" --concurrency 2 -l warning)
      [[ $path == courier10 ]] && port=$PORT_COURIER10 || port=$PORT_COURIER10K ;;
    nginx)
      cmd=(nginx -p "$RUN_DIR" -e stderr -c "$HTTP_DIR/nginx-proxy.conf"); port=$PORT_NGINX_PROXY ;;
    haproxy)
      cmd=(haproxy -db -f "$HTTP_DIR/haproxy.cfg"); port=$PORT_HAPROXY ;;
    httpproxy)
      # Resolve http-proxy from the repo's node_modules: run from the repo directory.
      cmd=(node "$HTTP_DIR/http-proxy-server.mjs" "$PORT_HTTPPROXY" "$PORT_BACKEND"); port=$PORT_HTTPPROXY ;;
    *) die "unknown path: $path" ;;
  esac
  start_bg "$path" "${cmd[@]}"
  PROXY_PID=$LAST_PID
  if wait_port "$port" "$PROXY_PID" "$path" 60; then
    measure "$path" "$port"
    kill -0 "$PROXY_PID" 2>/dev/null || log "WARNING: $path exited during the run; log tail: $(tail -n 3 "$RUN_DIR/$path.log")"
  else
    echo "$path did not start: $(tail -n 1 "$RUN_DIR/$path.log" 2>/dev/null)" >"$RAW/$path.skipped"
  fi
  stop_one "$PROXY_PID"
done
stop_all

# --- report ---------------------------------------------------------------------------
BENCH_TIMESTAMP=$TIMESTAMP \
BENCH_WARMUP_S=$WARMUP \
BENCH_CORES=$(nproc) \
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) \
BENCH_KERNEL=$(uname -r) \
BENCH_NODE=$(node --version) \
BENCH_COURIER="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src')" \
BENCH_COURIER_BUILD_OK=$COURIER_BUILD_OK \
BENCH_WRK=$(wrk -v 2>&1 | head -n 1 || true) \
BENCH_HAPROXY=$(haproxy -v | head -n 1) \
BENCH_NGINX=$(nginx -v 2>&1) \
BENCH_HTTP_PROXY=$(cd "$REPO_DIR" && node -p "require('http-proxy/package.json').version" 2>/dev/null || echo 'not installed') \
  node "$HTTP_DIR/report.mjs" --raw "$RAW" --out "$OUT"
log "wrote $OUT"
