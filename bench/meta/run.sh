#!/usr/bin/env bash
# MetaProtocol benchmark: Courier's courier.meta_protocol_proxy (built-in dubbo and thrift codecs,
# protocol.multiplexing false and true) against no proxy at all, and for Dubbo against the
# dedicated dubbo_proxy: calls/s and p50/p99 latency with 64 calls in flight and 1 KiB strings.
#
#   bash bench/meta/run.sh [--paths "direct meta-excl-c1 ..."] [--protocols "dubbo thrift"]
#                          [--duration 5] [--warmup 1] [--connections 4] [--depth 16]
#                          [--skip-build] [--copy | --snapshot] [--noisy-retries 2]
#
# --copy: measure a frozen copy of the working tree (tracked + untracked files, as they are now)
# built in the run's scratch dir, instead of building and running this checkout's dist/. Use
# it when others may edit src/ or rebuild dist/ during the run.
# --snapshot: the same with the committed HEAD only (git archive, as bench/dubbo/run.sh --snapshot).
#
# A benchmark, not a test: never run it from the test suite. About 5 minutes (each busy-box retry
# adds about 17 s, at most 5 per run), all on 127.0.0.1:
#   servers   Dubbo: the real npm provider (test/support/dubbo-provider-main.cjs, :25301) and
#             bench/dubbo/fast-provider.mjs (canned responses, :25302);
#             Thrift (framed, binary): the real npm thrift server (bench/meta/thrift-real-server.mjs,
#             i.e. test/support/thrift-peers.ts's startThriftServer, :25502) and
#             bench/meta/thrift-fast-server.mjs (canned replies, :25501)
#   warm-up   unrecorded load on each server first (fast 3 s, real 10 s Dubbo / 5 s Thrift)
#   paths     direct; Courier meta_protocol_proxy multiplexing false/true at --concurrency 1
#             (meta-excl-c1, meta-mux-c1); dubbo_proxy EXCLUSIVE and MULTIPLEXED ×1 conn at
#             --concurrency 1 with bench/dubbo's configs (dubbo-excl-c1, dubbo-mux-c1; Dubbo only);
#             meta at --concurrency 2 (meta-excl-c2, meta-mux-c2); direct again
#   per path  each selected protocol × {fast, real} server: bench/dubbo/loadgen.mjs (Dubbo, reused
#             by path) or bench/meta/thrift-loadgen.mjs (Thrift), connections × depth in flight,
#             --warmup s, then --duration s
# A measurement during which other processes kept more than 20% of a core busy is repeated
# (10 s later, up to --noisy-retries times, at most 5 retries per run) and the quietest
# attempt kept (bench/dubbo's noise handling).
# Results: bench/results/meta-<timestamp>.json, and a markdown table on stdout.
# Method and caveats: docs/benchmarks.md, section "MetaProtocol".
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_PATHS="direct meta-excl-c1 meta-mux-c1 dubbo-excl-c1 dubbo-mux-c1 meta-excl-c2 meta-mux-c2 direct-again"
PATHS=$ALL_PATHS
PROTOCOLS="dubbo thrift"
DURATION=5
WARMUP=1
CONNECTIONS=4
DEPTH=16
SKIP_BUILD=false
COPY=false
SNAPSHOT=false
NOISY_PCT=20
NOISY_RETRIES=2
RETRY_BUDGET=5   # retries for the whole run, so a busy box cannot stretch it much past 6 minutes
while (($#)); do
  case $1 in
    --paths) PATHS=$2; shift 2 ;;
    --protocols) PROTOCOLS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --copy) COPY=true; shift ;;
    --snapshot) SNAPSHOT=true; shift ;;
    --noisy-retries) NOISY_RETRIES=$2; shift 2 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
for p in $PATHS; do [[ " $ALL_PATHS " == *" $p "* ]] || die "unknown path: $p (known: $ALL_PATHS)"; done
for p in $PROTOCOLS; do [[ $p == dubbo || $p == thrift ]] || die "unknown protocol: $p (dubbo, thrift)"; done
has_protocol() { [[ " $PROTOCOLS " == *" $1 "* ]]; }

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
OUT="$RESULTS_DIR/meta-$TIMESTAMP.json"
mkdir -p "$RESULTS_DIR"

RUN_DIR=$(mktemp -d /tmp/courier-bench-meta.XXXXXX)
RAW="$RUN_DIR/raw"; mkdir -p "$RAW"
# Whatever happens (error, Ctrl-C), stop exactly the processes started here, by PID.
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

require_free_ports "${META_PORTS[@]}"
[[ -d $REPO_DIR/node_modules/hessian.js && -d $REPO_DIR/node_modules/apache-dubbo-service && -d $REPO_DIR/node_modules/thrift ]] \
  || die "node_modules lacks hessian.js / apache-dubbo-service / thrift: run npm install in $REPO_DIR"
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average at start: $LOAD_AVG_START"

# Build once (Courier's dist/, and dist/test/support/thrift-peers.js for the real thrift server).
# A Courier that cannot start only costs its rows (marked "skipped").
COURIER_BUILD_OK=true
COURIER_USABLE=true
COURIER_DIR=$REPO_DIR
COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n $(git -C "$REPO_DIR" status --porcelain -- src proto 2>/dev/null) ]]; then COURIER_VERSION+=" + uncommitted src/proto"; fi
if $SNAPSHOT; then
  COURIER_DIR=$RUN_DIR/courier
  COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD) (clean snapshot)"
  build_snapshot "$COURIER_DIR" || COURIER_USABLE=false
elif $COPY; then
  COURIER_DIR=$RUN_DIR/courier
  build_worktree_copy "$COURIER_DIR" || COURIER_USABLE=false
  COURIER_VERSION+=" (frozen copy of the working tree, content hash $WORKTREE_HASH)"
elif $SKIP_BUILD; then
  [[ -f $REPO_DIR/dist/src/server/server.js ]] || die "--skip-build, but dist/ is missing"
else
  build_courier || COURIER_USABLE=false
fi
if has_protocol thrift && [[ ! -f $COURIER_DIR/dist/test/support/thrift-peers.js ]]; then
  log "WARNING: no $COURIER_DIR/dist/test/support/thrift-peers.js: the real thrift server will not start"
fi

# Each load run is bounded: warm-up + duration + 2 s drain + startup, with slack.
LOAD_TIMEOUT=$((WARMUP + DURATION + 20))

# --- servers --------------------------------------------------------------------------
declare -A SERVER_PID
if has_protocol dubbo; then
  start_bg dubbo-real node "$REPO_DIR/test/support/dubbo-provider-main.cjs" --name real --port "$PORT_REAL_PROVIDER"
  SERVER_PID[dubbo.real]=$LAST_PID
  wait_port "$PORT_REAL_PROVIDER" "$LAST_PID" dubbo-real 10 || die "real Dubbo provider did not start"
  start_bg dubbo-fast node "$DUBBO_BENCH_DIR/fast-provider.mjs" --port "$PORT_FAST_PROVIDER" --size 1024
  SERVER_PID[dubbo.fast]=$LAST_PID
  wait_port "$PORT_FAST_PROVIDER" "$LAST_PID" dubbo-fast 10 || die "fast Dubbo provider did not start"
fi
if has_protocol thrift; then
  start_bg thrift-real node "$META_DIR/thrift-real-server.mjs" --courier-dir "$COURIER_DIR" --port "$PORT_THRIFT_REAL"
  SERVER_PID[thrift.real]=$LAST_PID
  wait_port "$PORT_THRIFT_REAL" "$LAST_PID" thrift-real 10 || die "real thrift server did not start"
  start_bg thrift-fast node "$META_DIR/thrift-fast-server.mjs" --port "$PORT_THRIFT_FAST" --size 1024
  SERVER_PID[thrift.fast]=$LAST_PID
  wait_port "$PORT_THRIFT_FAST" "$LAST_PID" thrift-fast 10 || die "fast thrift server did not start"
fi

# loadgen_cmd PROTO: the load generator for a protocol.
loadgen_for() { if [[ $1 == dubbo ]]; then echo "$DUBBO_BENCH_DIR/loadgen.mjs"; else echo "$META_DIR/thrift-loadgen.mjs"; fi; }
server_port() {
  case $1.$2 in
    dubbo.real) echo "$PORT_REAL_PROVIDER" ;; dubbo.fast) echo "$PORT_FAST_PROVIDER" ;;
    thrift.real) echo "$PORT_THRIFT_REAL" ;; thrift.fast) echo "$PORT_THRIFT_FAST" ;;
  esac
}

# Warm the servers up before anything is measured: a fresh node process runs its hot paths
# unoptimised at first, and the first path measured (direct) would pay for it. The real Dubbo
# provider takes about 8 s of load to reach its steady rate (bench/dubbo/run.sh).
for proto in $PROTOCOLS; do
  for server in fast real; do
    secs=3
    [[ $server == real ]] && { [[ $proto == dubbo ]] && secs=10 || secs=5; }
    log "warming up the $server $proto server (${secs} s, not recorded)"
    timeout $((secs + 20)) node "$(loadgen_for "$proto")" --port "$(server_port "$proto" "$server")" --connections "$CONNECTIONS" \
      --depth "$DEPTH" --warmup 0 --duration "$secs" --size 1024 >"$RUN_DIR/warmup-$proto-$server.json" 2>&1 \
      || log "WARNING: warm-up of the $server $proto server failed"
  done
done

# --- measurement ----------------------------------------------------------------------
# load PATH PROTO SERVER PORT WATCH: one load generator run, to $RAW/PATH.PROTO.SERVER.json.
load() {
  local path=$1 proto=$2 server=$3 port=$4 watch=$5
  quiet_run "$RAW/$path.$proto.$server" "$path: $proto loadgen -> $server server (:$port), $CONNECTIONS connections × $DEPTH in flight" \
    node "$(loadgen_for "$proto")" --port "$port" --connections "$CONNECTIONS" --depth "$DEPTH" \
    --warmup "$WARMUP" --duration "$DURATION" --size 1024 --watch "$watch"
}

# The Courier a path needs: "yaml conc admin-port", or "" for direct.
courier_for() {
  case $1 in
    meta-excl-c1|meta-mux-c1) echo "$META_DIR/courier-meta.yaml 1 $PORT_META_ADMIN" ;;
    meta-excl-c2|meta-mux-c2) echo "$META_DIR/courier-meta.yaml 2 $PORT_META_ADMIN" ;;
    dubbo-excl-c1) echo "$DUBBO_BENCH_DIR/courier-exclusive.yaml 1 $PORT_EXCL_ADMIN" ;;
    dubbo-mux-c1) echo "$DUBBO_BENCH_DIR/courier-multiplexed-1.yaml 1 $PORT_MUX1_ADMIN" ;;
    *) echo "" ;;
  esac
}
# The port a path listens on for PROTO SERVER ("" if the path does not carry that protocol).
path_port() {
  local path=$1 proto=$2 server=$3
  case $path in
    direct|direct-again) server_port "$proto" "$server" ;;
    meta-excl-*) local v="PORT_META_EXCL_${proto^^}_${server^^}"; echo "${!v}" ;;
    meta-mux-*) local v="PORT_META_MUX_${proto^^}_${server^^}"; echo "${!v}" ;;
    dubbo-excl-c1|dubbo-mux-c1)
      [[ $proto == dubbo ]] || return 0
      case $path.$server in
        dubbo-excl-c1.real) echo "$PORT_EXCL_REAL" ;; dubbo-excl-c1.fast) echo "$PORT_EXCL_FAST" ;;
        dubbo-mux-c1.real) echo "$PORT_MUX1_REAL" ;; dubbo-mux-c1.fast) echo "$PORT_MUX1_FAST" ;;
      esac ;;
  esac
}

CURRENT_COURIER=""   # "yaml conc admin" of the running Courier
COURIER_PID=""
COURIER_OK=false
stop_courier() {
  [[ -n $COURIER_PID ]] || return 0
  kill -0 "$COURIER_PID" 2>/dev/null || log "WARNING: Courier ($CURRENT_COURIER) had exited; log tail: $(tail -n 3 "$RUN_DIR/$COURIER_LOG.log")"
  # Anything Courier logged at warn or above (errors, worker restarts) goes in the results.
  [[ -s $RUN_DIR/$COURIER_LOG.log ]] && tail -n 20 "$RUN_DIR/$COURIER_LOG.log" >"$RAW/$COURIER_LOG.courier-log"
  stop_one "$COURIER_PID"
  COURIER_PID=""; CURRENT_COURIER=""
}
# ensure_courier "yaml conc admin": start it unless it is the one running; sets COURIER_OK.
ensure_courier() {
  local want=$1 yaml conc admin
  [[ $want == "$CURRENT_COURIER" ]] && return 0
  stop_courier
  read -r yaml conc admin <<<"$want"
  CURRENT_COURIER=$want
  COURIER_LOG="courier-$(basename "$yaml" .yaml)-c$conc"
  start_bg "$COURIER_LOG" node "$COURIER_DIR/bin/courier.js" -c "$yaml" --concurrency "$conc" --log-level warn
  COURIER_PID=$LAST_PID
  # Admin opens only once every worker has applied the listeners, so all workers take connections.
  COURIER_OK=false
  wait_port "$admin" "$COURIER_PID" "$COURIER_LOG" 30 && COURIER_OK=true
  $COURIER_OK || echo "Courier did not start: $(tail -n 1 "$RUN_DIR/$COURIER_LOG.log" 2>/dev/null)" >"$RUN_DIR/courier-failed"
}

for path in $PATHS; do
  want=$(courier_for "$path")
  if [[ -z $want ]]; then
    stop_courier
  elif ! $COURIER_USABLE; then
    echo "Courier CLI not usable (see npm run build / node bin/courier.js --help)" >"$RAW/$path.skipped"; continue
  else
    ensure_courier "$want"
    if ! $COURIER_OK; then cp "$RUN_DIR/courier-failed" "$RAW/$path.skipped"; continue; fi
  fi
  for proto in $PROTOCOLS; do
    for server in fast real; do
      port=$(path_port "$path" "$proto" "$server")
      [[ -n $port ]] || continue
      watch="provider:${SERVER_PID[$proto.$server]}"
      [[ -n $want ]] && watch="$(watch_list courier "$COURIER_PID"),$watch"
      load "$path" "$proto" "$server" "$port" "$watch"
    done
  done
done
stop_courier
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
stop_all

# --- report ---------------------------------------------------------------------------
BENCH_TIMESTAMP=$TIMESTAMP \
BENCH_CORES=$(nproc) \
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) \
BENCH_KERNEL=$(uname -r) \
BENCH_NODE=$(node --version) \
BENCH_THRIFT=$(node -p "require('$REPO_DIR/node_modules/thrift/package.json').version" 2>/dev/null || echo unknown) \
BENCH_COURIER="$COURIER_VERSION" \
BENCH_COURIER_BUILD_OK=$COURIER_BUILD_OK \
BENCH_LOAD="connections=$CONNECTIONS depth=$DEPTH warmup=${WARMUP}s duration=${DURATION}s size=1024" \
BENCH_LOADAVG="start $LOAD_AVG_START, end $LOAD_AVG_END" \
BENCH_PATHS="$PATHS" \
BENCH_PROTOCOLS="$PROTOCOLS" \
  node "$META_DIR/report.mjs" --raw "$RAW" --out "$OUT"
log "wrote $OUT"
