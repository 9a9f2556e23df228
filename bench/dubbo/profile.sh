#!/usr/bin/env bash
# CPU profile of Courier's dubbo_proxy under the benchmark's load, against the fast provider.
#
#   bash bench/dubbo/profile.sh [--mode exclusive|multiplexed] [--duration 5] [--skip-build] [--snapshot]
#
# Courier runs in-process (bench/dubbo/profile-server.mjs: Server.start({inProcess: true}),
# main and one worker in one process, --concurrency 1 paths), profiled with V8's sampling
# profiler for --duration seconds after a 1 s warm-up of bench/dubbo/loadgen.mjs
# (4 connections × 16 in flight, 1 KiB strings). About 15 s.
# Writes bench/results/dubbo-profile-<mode>-<timestamp>.cpuprofile (Chrome DevTools, speedscope)
# and, in .md next to it and on stdout, the Courier version, the loadgen result (its window
# is 2 s longer than the profile's) and a self-time table. --snapshot profiles a clean build
# of HEAD (see run.sh). Re-read a saved profile: node bench/dubbo/profile-server.mjs --summarize F.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=exclusive
DURATION=5
SKIP_BUILD=false
SNAPSHOT=false
while (($#)); do
  case $1 in
    --mode) MODE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --snapshot) SNAPSHOT=true; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $MODE in
  exclusive) YAML=courier-exclusive.yaml; PORT=$PORT_EXCL_FAST; ADMIN=$PORT_EXCL_ADMIN ;;
  multiplexed) YAML=courier-multiplexed-1.yaml; PORT=$PORT_MUX1_FAST; ADMIN=$PORT_MUX1_ADMIN ;;
  *) die "unknown mode: $MODE (exclusive|multiplexed)" ;;
esac

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
PROFILE="$RESULTS_DIR/dubbo-profile-$MODE-$TIMESTAMP.cpuprofile"
mkdir -p "$RESULTS_DIR"
RUN_DIR=$(mktemp -d /tmp/courier-bench-dubbo-prof.XXXXXX)
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

require_free_ports "$PORT_FAST_PROVIDER" "$PORT" "$ADMIN"
COURIER_DIR=$REPO_DIR
COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src')"
if $SNAPSHOT; then
  COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD) (clean snapshot)"
  COURIER_DIR=$RUN_DIR/courier
  build_snapshot "$COURIER_DIR" || die "the snapshot of HEAD does not build/start"
elif ! $SKIP_BUILD; then
  build_courier || die "Courier does not build/start"
fi

start_bg provider-fast node "$BENCH_DIR/fast-provider.mjs" --port "$PORT_FAST_PROVIDER" --size 1024
wait_port "$PORT_FAST_PROVIDER" "$LAST_PID" provider-fast 10 || die "fast provider did not start"
start_bg courier-profiled node "$BENCH_DIR/profile-server.mjs" --courier-dir "$COURIER_DIR" --config "$BENCH_DIR/$YAML" --out "$PROFILE"
SERVER_PID=$LAST_PID
if ! { wait_port "$PORT" "$SERVER_PID" courier-profiled 20 && wait_port "$ADMIN" "$SERVER_PID" courier-profiled 10; }; then
  die "profiled Courier did not start"
fi

log "loadgen -> Courier $MODE (:$PORT), profiling ${DURATION}s after 1s warm-up"
# The load runs 2 s longer than the profile, so the profile sees only steady load.
timeout $((DURATION + 25)) node "$BENCH_DIR/loadgen.mjs" --port "$PORT" --warmup 1 --duration $((DURATION + 2)) \
  --watch "courier:$SERVER_PID" >"$RUN_DIR/loadgen.json" 2>"$RUN_DIR/loadgen.log" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
# The loadgen needs a moment to start and encode its frames; then 1 s of warm-up.
sleep 1.5
kill -USR2 "$SERVER_PID"   # start profiling
sleep "$DURATION"
kill -USR2 "$SERVER_PID"   # stop profiling, write it, print the summary
wait "$LOAD_PID" 2>/dev/null || true
stop_all   # SIGTERM: profile-server shuts Courier down

SUMMARY=${PROFILE%.cpuprofile}.md
{
  echo "Courier $COURIER_VERSION, $MODE mode (${YAML}), in-process, fast provider, $TIMESTAMP"
  echo
  echo "loadgen: $(cat "$RUN_DIR/loadgen.json")"
  echo
  grep -v '^READY$' "$RUN_DIR/courier-profiled.log"
} | tee "$SUMMARY"
[[ -s $PROFILE ]] || die "no profile written"
log "wrote $PROFILE and $SUMMARY"
