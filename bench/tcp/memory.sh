#!/usr/bin/env bash
# Idle-connection memory: how much a proxy worker grows per idle proxied TCP connection.
#
#   bash bench/tcp/memory.sh [--out FILE.json] [--proxies "courier haproxy nginx"]
#                            [--skip-install] [--skip-build]
#
# For each proxy: start it with one worker in front of an idle Node echo server
# (idle-connections.mjs --serve), read the worker's RSS, open ~10,000 connections through
# it (fewer if the fd limit does not allow it), let them sit, read RSS again, close all.
# run.sh calls this with --skip-install --skip-build --out <file> and merges the JSON.
# Standalone it writes bench/results/tcp-idle-<timestamp>.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=""
PROXIES="courier haproxy nginx"
SKIP_INSTALL=false
SKIP_BUILD=false
while (($#)); do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --proxies) PROXIES=$2; shift 2 ;;
    --skip-install) SKIP_INSTALL=true; shift ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

TIMESTAMP=${BENCH_TIMESTAMP:-$(date -u +%Y%m%dT%H%M%SZ)}
[[ -n $OUT ]] || { mkdir -p "$REPO_DIR/bench/results"; OUT="$REPO_DIR/bench/results/tcp-idle-$TIMESTAMP.json"; }

RUN_DIR=$(mktemp -d /tmp/courier-bench-idle.XXXXXX)
RAW="$RUN_DIR/raw"; mkdir -p "$RAW"
# Whatever happens (error, Ctrl-C), stop exactly the processes started here.
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

$SKIP_INSTALL || ensure_packages iproute2 haproxy nginx libnginx-mod-stream

# Each proxied connection costs the proxy 2 fds (client + upstream) and the client and the
# echo server 1 each. Ask for 65536; containers often cap the hard limit (20000 on the box
# this was written on, without CAP_SYS_RESOURCE), so fall back to the hard limit and size
# the connection count to fit: 1000 fds spare, rounded down to whole batches of 500.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)
COUNT=$(( (FD_LIMIT - 1000) / 2 / 500 * 500 ))
if ((COUNT > 10000)); then COUNT=10000; fi
if ((COUNT < 500)); then die "fd limit $FD_LIMIT is too low for this test"; fi
log "fd limit $FD_LIMIT -> $COUNT idle connections per proxy"
export IDLE_MAXCONN=$((COUNT + 100))   # read by haproxy-idle.cfg

require_free_ports "$PORT_ECHO" "$PORT_COURIER_IDLE" "$PORT_COURIER_IDLE_ADMIN" "$PORT_HAPROXY_IDLE" "$PORT_NGINX_IDLE"

if [[ " $PROXIES " == *" courier "* ]] && ! $SKIP_BUILD; then
  build_courier || echo "Courier CLI not usable (see log above)" >"$RAW/courier.skipped"
fi

start_bg echo node "$BENCH_DIR/idle-connections.mjs" --serve "$PORT_ECHO"
wait_port "$PORT_ECHO" "$LAST_PID" echo 10 || die "echo server did not start"

# measure NAME PORT PROXY_PID ROLE:PID... : open the connections through PORT and record
# the RSS of the listed processes (the first one is the worker).
measure() {
  local name=$1 port=$2 proxy_pid=$3; shift 3
  local roles=() pids=() rp
  for rp in "$@"; do roles+=("${rp%%:*}"); pids+=("${rp#*:}"); done
  (IFS=,; echo "${roles[*]}") >"$RAW/$name.roles"
  log "$name: opening $COUNT idle connections (measuring ${*})"
  # Bounded: 10,000 connects plus the settle time take well under a minute.
  if ! timeout 120 node "$BENCH_DIR/idle-connections.mjs" --connect "$port" --count "$COUNT" \
      --rss-pid "$(IFS=,; echo "${pids[*]}")" >"$RAW/$name.idle.json" 2>"$RUN_DIR/$name-client.log"; then
    echo "idle-connections.mjs failed: $(tail -n 1 "$RUN_DIR/$name-client.log")" >"$RAW/$name.skipped"
  fi
  kill -0 "$proxy_pid" 2>/dev/null || log "WARNING: $name exited during the test; log: $RUN_DIR/$name.log"
  stop_one "$proxy_pid"
}

# The first child of a process: Courier and nginx do the proxying in a worker child.
# The listening port can open before the worker is forked, so retry for up to 5 s;
# prints nothing if there is still no child.
first_child() {
  local i kid
  for ((i = 0; i < 50; i++)); do
    kid=$(ps -o pid= --ppid "$1" | head -n 1 | tr -d ' ')
    [[ -n $kid ]] && { echo "$kid"; return 0; }
    sleep 0.1
  done
}

for proxy in $PROXIES; do
  [[ -e $RAW/$proxy.skipped ]] && continue
  case $proxy in
    courier)
      start_bg courier node "$REPO_DIR/bin/courier.js" -c "$BENCH_DIR/courier-idle.yaml" --concurrency 1 --log-level warn
      pid=$LAST_PID
      if ! wait_port "$PORT_COURIER_IDLE" "$pid" courier 20; then
        echo "Courier did not start (see its log)" >"$RAW/courier.skipped"; stop_one "$pid"; continue
      fi
      worker=$(first_child "$pid")
      if [[ -n $worker ]]; then
        measure courier "$PORT_COURIER_IDLE" "$pid" "worker:$worker" "main:$pid"
      else
        # A single-process Courier proxies on its main process; measure that instead.
        measure courier "$PORT_COURIER_IDLE" "$pid" "worker:$pid"
      fi
      ;;
    haproxy)
      # -db: stay in the foreground, one process (its threads do the work), so $! is it.
      start_bg haproxy haproxy -db -f "$BENCH_DIR/haproxy-idle.cfg"
      pid=$LAST_PID
      wait_port "$PORT_HAPROXY_IDLE" "$pid" haproxy 10 || { echo "HAProxy did not start" >"$RAW/haproxy.skipped"; stop_one "$pid"; continue; }
      measure haproxy "$PORT_HAPROXY_IDLE" "$pid" "worker:$pid"
      ;;
    nginx)
      start_bg nginx nginx -p "$RUN_DIR" -e stderr -c "$BENCH_DIR/nginx-idle.conf"
      pid=$LAST_PID
      wait_port "$PORT_NGINX_IDLE" "$pid" nginx 10 || { echo "nginx did not start" >"$RAW/nginx.skipped"; stop_one "$pid"; continue; }
      worker=$(first_child "$pid")
      [[ -n $worker ]] || { echo "no nginx worker process found" >"$RAW/nginx.skipped"; stop_one "$pid"; continue; }
      measure nginx "$PORT_NGINX_IDLE" "$pid" "worker:$worker" "master:$pid"
      ;;
    *) die "unknown proxy: $proxy" ;;
  esac
done

BENCH_TIMESTAMP=$TIMESTAMP BENCH_IDLE_COUNT=$COUNT BENCH_FD_LIMIT=$FD_LIMIT \
  node "$BENCH_DIR/report.mjs" memory --raw "$RAW" --out "$OUT"
log "wrote $OUT"
