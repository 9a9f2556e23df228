#!/usr/bin/env bash
# Dubbo proxy benchmark: Courier's dubbo_proxy against no proxy at all, calls/s and p50/p99
# latency with 64 requests in flight and 1 KiB string arguments.
#
#   bash bench/dubbo/run.sh [--paths "direct exclusive-c1 ..."] [--duration 5] [--warmup 1]
#                           [--connections 4] [--depth 16] [--skip-consumer] [--skip-build] [--snapshot]
#                           [--noisy-retries 2]
#
# --snapshot: measure the committed HEAD, not the working tree: `git archive HEAD` into the
# run's scratch dir, npm run build there, run that copy's bin/courier.js. Use it when src/ has
# uncommitted edits, or when something else may rebuild dist/ during the run.
#
# A benchmark, not a test: never run it from the test suite. About 2.5 minutes, all on 127.0.0.1:
#   providers  the real npm provider (test/support/dubbo-provider-main.cjs, :25301) and a fast
#              canned-response provider (bench/dubbo/fast-provider.mjs, :25302)
#   warm-up    unrecorded load on each provider first (fast 3 s, real 10 s)
#   paths      direct, then Courier in EXCLUSIVE mode (--concurrency 1, 2) and MULTIPLEXED mode
#              (connections_per_host 1 and 2, --concurrency 1 and 2), then direct again
#   per path   bench/dubbo/loadgen.mjs (connections × depth in flight, --warmup s, then --duration s)
#              against each provider; the real JS consumer (consumer-load.mjs, 64 in flight)
#              once direct and once through Courier EXCLUSIVE --concurrency 1, fast provider
# A measurement during which other processes kept more than 20% of a core busy is repeated
# (10 s later, up to --noisy-retries times, at most 5 retries per run) and the quietest
# attempt kept.
# Results: bench/results/dubbo-<timestamp>.json, and a markdown table on stdout.
# Method and caveats: docs/benchmarks.md, section "Dubbo".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_PATHS="direct exclusive-c1 exclusive-c2 multiplexed1-c1 multiplexed1-c2 multiplexed2-c1 multiplexed2-c2 direct-again"
PATHS=$ALL_PATHS
DURATION=5
WARMUP=1
CONNECTIONS=4
DEPTH=16
SKIP_CONSUMER=false
SKIP_BUILD=false
SNAPSHOT=false
NOISY_PCT=20
NOISY_RETRIES=2
RETRY_BUDGET=5   # retries for the whole run, so a busy box cannot stretch it much past 4 minutes
while (($#)); do
  case $1 in
    --paths) PATHS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --skip-consumer) SKIP_CONSUMER=true; shift ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --snapshot) SNAPSHOT=true; shift ;;
    --noisy-retries) NOISY_RETRIES=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
OUT="$RESULTS_DIR/dubbo-$TIMESTAMP.json"
mkdir -p "$RESULTS_DIR"

RUN_DIR=$(mktemp -d /tmp/courier-bench-dubbo.XXXXXX)
RAW="$RUN_DIR/raw"; mkdir -p "$RAW"
# Whatever happens (error, Ctrl-C), stop exactly the processes started here, by PID.
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

require_free_ports "${ALL_PORTS[@]}"
[[ -d $REPO_DIR/node_modules/hessian.js && -d $REPO_DIR/node_modules/apache-dubbo-service ]] \
  || die "node_modules lacks hessian.js / apache-dubbo-service: run npm install in $REPO_DIR"

# Build once (Courier's dist/, and dist/test/support/dubbo-peers.js for consumer-load.mjs).
# A Courier that cannot start only costs its rows (marked "skipped").
COURIER_BUILD_OK=true
COURIER_USABLE=true
COURIER_DIR=$REPO_DIR
COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src')"
if $SNAPSHOT; then
  COURIER_DIR=$RUN_DIR/courier
  COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD) (clean snapshot)"
  build_snapshot "$COURIER_DIR" || COURIER_USABLE=false
elif $SKIP_BUILD; then
  [[ -f $REPO_DIR/dist/src/server/server.js ]] || die "--skip-build, but dist/ is missing"
else
  build_courier || COURIER_USABLE=false
fi

# Each load run is bounded: warm-up + duration + 2 s drain + startup, with slack.
LOAD_TIMEOUT=$((WARMUP + DURATION + 20))

# --- providers ------------------------------------------------------------------------
start_bg provider-real node "$REPO_DIR/test/support/dubbo-provider-main.cjs" --name real --port "$PORT_REAL_PROVIDER"
REAL_PID=$LAST_PID
wait_port "$PORT_REAL_PROVIDER" "$REAL_PID" provider-real 10 || die "real provider did not start"
start_bg provider-fast node "$BENCH_DIR/fast-provider.mjs" --port "$PORT_FAST_PROVIDER" --size 1024
FAST_PID=$LAST_PID
wait_port "$PORT_FAST_PROVIDER" "$FAST_PID" provider-fast 10 || die "fast provider did not start"

# Warm the providers up before anything is measured: a fresh node process runs its hot
# paths unoptimised at first, and the first path measured (direct) would pay for it.
# The real provider takes about 8 s of load to reach its steady rate (measured: 15.8k, 20.1k,
# 23.2k, 22.0k calls/s in four 3 s runs on a fresh process).
for target in "fast:$PORT_FAST_PROVIDER:3" "real:$PORT_REAL_PROVIDER:10"; do
  IFS=: read -r who port secs <<<"$target"
  log "warming up the $who provider (${secs} s, not recorded)"
  timeout $((secs + 20)) node "$BENCH_DIR/loadgen.mjs" --port "$port" --connections "$CONNECTIONS" --depth "$DEPTH" \
    --warmup 0 --duration "$secs" --size 1024 >"$RUN_DIR/warmup-$who.json" 2>&1 || log "WARNING: warm-up of the $who provider failed"
done

# --- measurement ----------------------------------------------------------------------
# quiet_run BASE WHAT CMD...: run a client (loadgen.mjs or consumer-load.mjs) whose JSON line
# goes to BASE.json. A failed run leaves the file missing or empty; report.mjs says so.
# The box is shared: when something else kept more than NOISY_PCT % of a core busy during the
# measured window ("other" in the client's JSON), wait 10 s and measure again, up to
# NOISY_RETRIES times, and keep the quietest attempt (BASE.attempts says how many there were;
# report.mjs shows it and flags rows that stayed noisy).
quiet_run() {
  local base=$1 what=$2 attempt other best=0 best_other=1000000; shift 2
  for ((attempt = 0; attempt <= NOISY_RETRIES; attempt++)); do
    if ((attempt > 0)); then
      if ((RETRY_BUDGET <= 0)); then log "$what: ${other}% of a core busy elsewhere, but the run's retry budget is spent"; break; fi
      RETRY_BUDGET=$((RETRY_BUDGET - 1))
      log "$what: ${other}% of a core busy elsewhere; measuring again in 10 s"
      sleep 10
    fi
    log "$what"
    timeout "$LOAD_TIMEOUT" "$@" >"$base.try$attempt" 2>>"$RUN_DIR/clients.log" || log "WARNING: $what failed"
    other=$(grep -o '"other":[0-9.]*' "$base.try$attempt" | cut -d: -f2 || true)
    [[ -n $other ]] || other=0
    if awk -v o="$other" -v b="$best_other" 'BEGIN { exit !(o < b) }'; then best=$attempt; best_other=$other; fi
    awk -v o="$other" -v t="$NOISY_PCT" 'BEGIN { exit !(o <= t) }' && break
  done
  cp "$base.try$best" "$base.json"
  local tries=("$base".try*)
  echo "${#tries[@]}" >"$base.attempts"
}

# load NAME PROVIDER PORT WATCH: one loadgen run, to $RAW/NAME.PROVIDER.json.
load() {
  local name=$1 provider=$2 port=$3 watch=$4
  quiet_run "$RAW/$name.$provider" "$name: loadgen -> $provider provider (:$port), $CONNECTIONS connections × $DEPTH in flight" \
    node "$BENCH_DIR/loadgen.mjs" --port "$port" --connections "$CONNECTIONS" --depth "$DEPTH" \
    --warmup "$WARMUP" --duration "$DURATION" --size 1024 --watch "$watch"
}

# consumer NAME PORT WATCH: the real JS consumer, 64 in flight, against the fast provider,
# to $RAW/consumer.NAME.fast.json.
consumer() {
  local name=$1 port=$2 watch=$3
  $SKIP_CONSUMER && return 0
  quiet_run "$RAW/consumer.$name.fast" "$name: apache-dubbo-consumer, 64 in flight -> fast provider (:$port)" \
    node "$BENCH_DIR/consumer-load.mjs" --courier-dir "$COURIER_DIR" --port "$port" --inflight 64 \
    --warmup "$WARMUP" --duration "$DURATION" --size 1024 --watch "$watch"
}

for path in $PATHS; do
  case $path in
    direct|direct-again)
      load "$path" fast "$PORT_FAST_PROVIDER" "provider:$FAST_PID"
      load "$path" real "$PORT_REAL_PROVIDER" "provider:$REAL_PID"
      [[ $path == direct ]] && consumer direct "$PORT_FAST_PROVIDER" "provider:$FAST_PID"
      continue ;;
    exclusive-c1)    yaml=courier-exclusive.yaml;     conc=1; ports=("$PORT_EXCL_FAST" "$PORT_EXCL_REAL" "$PORT_EXCL_ADMIN") ;;
    exclusive-c2)    yaml=courier-exclusive.yaml;     conc=2; ports=("$PORT_EXCL_FAST" "$PORT_EXCL_REAL" "$PORT_EXCL_ADMIN") ;;
    multiplexed1-c1) yaml=courier-multiplexed-1.yaml; conc=1; ports=("$PORT_MUX1_FAST" "$PORT_MUX1_REAL" "$PORT_MUX1_ADMIN") ;;
    multiplexed1-c2) yaml=courier-multiplexed-1.yaml; conc=2; ports=("$PORT_MUX1_FAST" "$PORT_MUX1_REAL" "$PORT_MUX1_ADMIN") ;;
    multiplexed2-c1) yaml=courier-multiplexed-2.yaml; conc=1; ports=("$PORT_MUX2_FAST" "$PORT_MUX2_REAL" "$PORT_MUX2_ADMIN") ;;
    multiplexed2-c2) yaml=courier-multiplexed-2.yaml; conc=2; ports=("$PORT_MUX2_FAST" "$PORT_MUX2_REAL" "$PORT_MUX2_ADMIN") ;;
    *) die "unknown path: $path (known: $ALL_PATHS)" ;;
  esac
  if ! $COURIER_USABLE; then
    echo "Courier CLI not usable (see npm run build / node bin/courier.js --help)" >"$RAW/$path.skipped"
    continue
  fi
  start_bg "courier-$path" node "$COURIER_DIR/bin/courier.js" -c "$BENCH_DIR/$yaml" --concurrency "$conc" --log-level warn
  COURIER_PID=$LAST_PID
  # Admin opens only once every worker has applied the listeners, so all workers take connections.
  if wait_port "${ports[0]}" "$COURIER_PID" "courier-$path" 20 && wait_port "${ports[1]}" "$COURIER_PID" "courier-$path" 5 \
    && wait_port "${ports[2]}" "$COURIER_PID" "courier-$path" 10; then
    courier_watch=$(watch_list courier "$COURIER_PID")
    load "$path" fast "${ports[0]}" "$courier_watch,provider:$FAST_PID"
    load "$path" real "${ports[1]}" "$courier_watch,provider:$REAL_PID"
    [[ $path == exclusive-c1 ]] && consumer "$path" "${ports[0]}" "$courier_watch,provider:$FAST_PID"
    kill -0 "$COURIER_PID" 2>/dev/null || log "WARNING: Courier exited during $path; log tail: $(tail -n 3 "$RUN_DIR/courier-$path.log")"
    # Anything Courier logged at warn or above (errors, worker restarts) goes in the results.
    [[ -s $RUN_DIR/courier-$path.log ]] && tail -n 20 "$RUN_DIR/courier-$path.log" >"$RAW/$path.courier-log"
  else
    echo "Courier did not start: $(tail -n 1 "$RUN_DIR/courier-$path.log" 2>/dev/null)" >"$RAW/$path.skipped"
  fi
  stop_one "$COURIER_PID"
done

stop_all

# --- report ---------------------------------------------------------------------------
BENCH_TIMESTAMP=$TIMESTAMP \
BENCH_CORES=$(nproc) \
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) \
BENCH_KERNEL=$(uname -r) \
BENCH_NODE=$(node --version) \
BENCH_COURIER="$COURIER_VERSION" \
BENCH_COURIER_BUILD_OK=$COURIER_BUILD_OK \
BENCH_LOAD="connections=$CONNECTIONS depth=$DEPTH warmup=${WARMUP}s duration=${DURATION}s size=1024" \
BENCH_PATHS="$PATHS" \
  node "$BENCH_DIR/report.mjs" --raw "$RAW" --out "$OUT"
log "wrote $OUT"
