#!/usr/bin/env bash
# TCP proxy benchmark: Courier against HAProxy, nginx stream and no proxy at all.
#
#   bash bench/tcp/run.sh [--skip-memory] [--proxies "direct courier haproxy nginx"]
#
# A benchmark, not a test: never run it from the test suite. It takes about 2-3 minutes
# (plus package installation the first time), all on 127.0.0.1:
#   backends  iperf3 -s (:25201) and nginx `return 200 "hello world\n"`, 1 worker (:25202)
#   per path  iperf3 -t 5 -P 1, iperf3 -t 5 -P 4 (Gbps, sum_received), wrk -t1 -c50 -d5s (req/s)
#   memory    bench/tcp/memory.sh: RSS per idle proxied connection (skip with --skip-memory)
# Results: bench/results/tcp-<timestamp>.json, and a markdown table on stdout.
# Method and caveats: docs/benchmarks.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SKIP_MEMORY=false
PROXIES="direct courier haproxy nginx"
while (($#)); do
  case $1 in
    --skip-memory) SKIP_MEMORY=true; shift ;;
    --proxies) PROXIES=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
OUT="$RESULTS_DIR/tcp-$TIMESTAMP.json"
mkdir -p "$RESULTS_DIR"

RUN_DIR=$(mktemp -d /tmp/courier-bench.XXXXXX)
RAW="$RUN_DIR/raw"; mkdir -p "$RAW"
# Whatever happens (error, Ctrl-C), stop exactly the processes started here, by PID.
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

ensure_packages iproute2 iperf3 wrk haproxy nginx libnginx-mod-stream
[[ -f $NGINX_STREAM_MODULE ]] || die "$NGINX_STREAM_MODULE missing (libnginx-mod-stream)"

require_free_ports "$PORT_IPERF" "$PORT_HTTP" "$PORT_COURIER_IPERF" "$PORT_COURIER_HTTP" "$PORT_COURIER_ADMIN" \
  "$PORT_HAPROXY_IPERF" "$PORT_HAPROXY_HTTP" "$PORT_NGINX_IPERF" "$PORT_NGINX_HTTP"

# Build once, here; memory.sh reuses the build. A Courier that cannot start only costs
# its rows (marked "skipped"), not the whole run.
COURIER_BUILD_OK=false
if [[ " $PROXIES " == *" courier "* ]] || ! $SKIP_MEMORY; then
  build_courier || echo "Courier CLI not usable (node bin/courier.js --help failed)" >"$RAW/courier.skipped"
fi

# --- backends -------------------------------------------------------------------------
start_bg iperf3-server iperf3 -s -B 127.0.0.1 -p "$PORT_IPERF"
wait_port "$PORT_IPERF" "$LAST_PID" iperf3-server 10 || die "iperf3 server did not start"
# -p: nginx's prefix (pid file, temp dirs) is this run's scratch dir; -e: log to stderr
# instead of /var/log/nginx, which it would otherwise open before reading the config.
start_bg nginx-backend nginx -p "$RUN_DIR" -e stderr -c "$BENCH_DIR/nginx-backend.conf"
wait_port "$PORT_HTTP" "$LAST_PID" nginx-backend 10 || die "nginx backend did not start"

# --- measurement ----------------------------------------------------------------------
# measure NAME IPERF_PORT HTTP_PORT: the three loads, one after the other, each under a
# hard timeout. A failed load leaves its raw file missing or empty; report.mjs shows why.
measure() {
  local name=$1 iperf_port=$2 http_port=$3 streams
  for streams in 1 4; do
    log "$name: iperf3 -P $streams"
    timeout 30 iperf3 -c 127.0.0.1 -p "$iperf_port" -t 5 -P "$streams" -J \
      >"$RAW/$name.iperf-p$streams.json" 2>>"$RUN_DIR/$name-client.log" || log "WARNING: $name iperf3 -P $streams failed"
    # iperf3 -s serves one test at a time and needs a moment to accept the next one.
    sleep 0.5
  done
  log "$name: wrk -t1 -c50 -d5s"
  timeout 30 wrk -t1 -c50 -d5s "http://127.0.0.1:$http_port/" \
    >"$RAW/$name.wrk.txt" 2>>"$RUN_DIR/$name-client.log" || log "WARNING: $name wrk failed"
}

# start_proxy NAME PORT_A PORT_B CMD...: start a proxy, wait for both its listeners.
start_proxy() {
  local name=$1 pa=$2 pb=$3; shift 3
  start_bg "$name" "$@"
  PROXY_PID=$LAST_PID
  wait_port "$pa" "$PROXY_PID" "$name" 20 && wait_port "$pb" "$PROXY_PID" "$name" 5
}

for proxy in $PROXIES; do
  [[ -e $RAW/$proxy.skipped ]] && continue
  case $proxy in
    direct)
      measure direct "$PORT_IPERF" "$PORT_HTTP"
      continue ;;
    courier)
      cmd=(node "$REPO_DIR/bin/courier.js" -c "$BENCH_DIR/courier-bench.yaml" --concurrency 2 --log-level warn)
      ports=("$PORT_COURIER_IPERF" "$PORT_COURIER_HTTP") ;;
    haproxy)
      # -db: foreground, no daemon, so the PID we hold is HAProxy itself.
      cmd=(haproxy -db -f "$BENCH_DIR/haproxy-bench.cfg")
      ports=("$PORT_HAPROXY_IPERF" "$PORT_HAPROXY_HTTP") ;;
    nginx)
      cmd=(nginx -p "$RUN_DIR" -e stderr -c "$BENCH_DIR/nginx-stream.conf")
      ports=("$PORT_NGINX_IPERF" "$PORT_NGINX_HTTP") ;;
    *) die "unknown proxy: $proxy" ;;
  esac
  if start_proxy "$proxy" "${ports[@]}" "${cmd[@]}"; then
    measure "$proxy" "${ports[@]}"
    kill -0 "$PROXY_PID" 2>/dev/null || log "WARNING: $proxy exited during the run; log tail: $(tail -n 3 "$RUN_DIR/$proxy.log")"
  else
    echo "$proxy did not start: $(tail -n 1 "$RUN_DIR/$proxy.log" 2>/dev/null)" >"$RAW/$proxy.skipped"
  fi
  stop_one "$PROXY_PID"
done

# The backends are no longer needed; free the cores before the memory test.
stop_all

MEMORY_JSON="$RUN_DIR/memory.json"
if ! $SKIP_MEMORY; then
  mem_proxies="haproxy nginx"
  [[ -e $RAW/courier.skipped ]] || mem_proxies="courier $mem_proxies"
  # A failure here must not lose the throughput numbers above.
  BENCH_TIMESTAMP=$TIMESTAMP timeout 180 bash "$BENCH_DIR/memory.sh" --skip-install --skip-build \
    --proxies "$mem_proxies" --out "$MEMORY_JSON" >"$RUN_DIR/memory-table.md" || log "WARNING: memory.sh failed"
fi

# --- report ---------------------------------------------------------------------------
BENCH_TIMESTAMP=$TIMESTAMP \
BENCH_CORES=$(nproc) \
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) \
BENCH_KERNEL=$(uname -r) \
BENCH_NODE=$(node --version) \
BENCH_COURIER="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src')" \
BENCH_COURIER_BUILD_OK=$COURIER_BUILD_OK \
BENCH_IPERF3=$(iperf3 --version | head -n 1) \
BENCH_WRK=$(wrk -v 2>&1 | head -n 1 || true) \
BENCH_HAPROXY=$(haproxy -v | head -n 1) \
BENCH_NGINX=$(nginx -v 2>&1) \
  node "$BENCH_DIR/report.mjs" throughput --raw "$RAW" --memory "$MEMORY_JSON" --out "$OUT"
log "wrote $OUT"
