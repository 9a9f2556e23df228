#!/usr/bin/env bash
# CPU profile of Courier's meta_protocol_proxy under bench/meta's load, against a canned server.
#
#   bash bench/meta/profile.sh [--protocol dubbo|thrift] [--mode mux|excl] [--duration 5]
#                              [--skip-build] [--copy | --snapshot]
#
# Courier runs in-process (bench/dubbo/profile-server.mjs, reused: Server.start({inProcess: true}),
# main and one worker in one process, i.e. the --concurrency 1 paths) with
# bench/meta/courier-meta.yaml, profiled with V8's sampling profiler for --duration seconds after
# a 1 s warm-up of the protocol's load generator (bench/dubbo/loadgen.mjs or
# bench/meta/thrift-loadgen.mjs, 4 connections × 16 in flight, 1 KiB strings) against the canned
# server (bench/dubbo/fast-provider.mjs or bench/meta/thrift-fast-server.mjs). About 20 s.
# Writes bench/results/meta-profile-<protocol>-<mode>-<timestamp>.cpuprofile (Chrome DevTools,
# speedscope) and, in .md next to it and on stdout, the loadgen result and a self-time table.
# --copy profiles a frozen copy of the working tree, --snapshot a clean build of HEAD (see run.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROTOCOL=dubbo
MODE=mux
DURATION=5
SKIP_BUILD=false
COPY=false
SNAPSHOT=false
while (($#)); do
  case $1 in
    --protocol) PROTOCOL=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --copy) COPY=true; shift ;;
    --snapshot) SNAPSHOT=true; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $PROTOCOL.$MODE in
  dubbo.excl) PORT=$PORT_META_EXCL_DUBBO_FAST ;;
  dubbo.mux) PORT=$PORT_META_MUX_DUBBO_FAST ;;
  thrift.excl) PORT=$PORT_META_EXCL_THRIFT_FAST ;;
  thrift.mux) PORT=$PORT_META_MUX_THRIFT_FAST ;;
  *) die "unknown --protocol/--mode: $PROTOCOL/$MODE (dubbo|thrift, mux|excl)" ;;
esac
if [[ $PROTOCOL == dubbo ]]; then
  SERVER_PORT=$PORT_FAST_PROVIDER; SERVER=("$DUBBO_BENCH_DIR/fast-provider.mjs"); LOADGEN=$DUBBO_BENCH_DIR/loadgen.mjs
else
  SERVER_PORT=$PORT_THRIFT_FAST; SERVER=("$META_DIR/thrift-fast-server.mjs"); LOADGEN=$META_DIR/thrift-loadgen.mjs
fi

TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$REPO_DIR/bench/results"
PROFILE="$RESULTS_DIR/meta-profile-$PROTOCOL-$MODE-$TIMESTAMP.cpuprofile"
mkdir -p "$RESULTS_DIR"
RUN_DIR=$(mktemp -d /tmp/courier-bench-meta-prof.XXXXXX)
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

require_free_ports "$SERVER_PORT" "$PORT" "$PORT_META_ADMIN"
COURIER_DIR=$REPO_DIR
COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n $(git -C "$REPO_DIR" status --porcelain -- src proto 2>/dev/null) ]]; then COURIER_VERSION+=" + uncommitted src/proto"; fi
if $SNAPSHOT; then
  COURIER_DIR=$RUN_DIR/courier
  COURIER_VERSION="$(git -C "$REPO_DIR" rev-parse --short HEAD) (clean snapshot)"
  build_snapshot "$COURIER_DIR" || die "the snapshot of HEAD does not build/start"
elif $COPY; then
  COURIER_DIR=$RUN_DIR/courier
  build_worktree_copy "$COURIER_DIR" || die "the copy of the working tree does not build/start"
  COURIER_VERSION+=" (frozen copy of the working tree, content hash $WORKTREE_HASH)"
elif ! $SKIP_BUILD; then
  build_courier || die "Courier does not build/start"
fi

start_bg server-fast node "${SERVER[@]}" --port "$SERVER_PORT" --size 1024
wait_port "$SERVER_PORT" "$LAST_PID" server-fast 10 || die "canned $PROTOCOL server did not start"
start_bg courier-profiled node "$DUBBO_BENCH_DIR/profile-server.mjs" --courier-dir "$COURIER_DIR" --config "$META_DIR/courier-meta.yaml" --out "$PROFILE"
SERVER_PID=$LAST_PID
if ! { wait_port "$PORT" "$SERVER_PID" courier-profiled 20 && wait_port "$PORT_META_ADMIN" "$SERVER_PID" courier-profiled 10; }; then
  die "profiled Courier did not start"
fi

log "$PROTOCOL loadgen -> Courier meta_protocol_proxy $MODE (:$PORT), profiling ${DURATION}s after 1s warm-up; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# The load runs 2 s longer than the profile, so the profile sees only steady load.
timeout $((DURATION + 25)) node "$LOADGEN" --port "$PORT" --warmup 1 --duration $((DURATION + 2)) \
  --watch "courier:$SERVER_PID" >"$RUN_DIR/loadgen.json" 2>"$RUN_DIR/loadgen.log" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 1.5
kill -USR2 "$SERVER_PID"   # start profiling
sleep "$DURATION"
kill -USR2 "$SERVER_PID"   # stop profiling, write it, print the summary
wait "$LOAD_PID" 2>/dev/null || true
stop_all   # SIGTERM: profile-server shuts Courier down

SUMMARY=${PROFILE%.cpuprofile}.md
{
  echo "Courier $COURIER_VERSION, meta_protocol_proxy $PROTOCOL codec, multiplexing $([[ $MODE == mux ]] && echo true || echo false), in-process, canned server, $TIMESTAMP"
  echo
  echo "loadgen: $(cat "$RUN_DIR/loadgen.json")"
  echo
  grep -v '^READY$' "$RUN_DIR/courier-profiled.log"
} | tee "$SUMMARY"
[[ -s $PROFILE ]] || die "no profile written"
log "wrote $PROFILE and $SUMMARY"
