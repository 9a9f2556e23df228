# Shared settings for bench/dubbo/run.sh. Sourced, not run; callers set `set -euo pipefail`.
# The process helpers (start_bg, stop_one, stop_all, wait_port, require_free_ports,
# build_courier, log, die) are bench/tcp/lib.sh's, sourced here unchanged.
# shellcheck shell=bash disable=SC2034  # the variables set here are used by run.sh and profile.sh
# shellcheck source=../tcp/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tcp/lib.sh"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Fixed loopback ports, 25301-25340. The YAML files in bench/dubbo/ contain the same numbers
# literally, so change both together.
PORT_REAL_PROVIDER=25301   # node test/support/dubbo-provider-main.cjs (apache-dubbo-service)
PORT_FAST_PROVIDER=25302   # node bench/dubbo/fast-provider.mjs
# courier-exclusive.yaml        (upstream_mode EXCLUSIVE)
PORT_EXCL_REAL=25311; PORT_EXCL_FAST=25312; PORT_EXCL_ADMIN=25319
# courier-multiplexed-1.yaml    (upstream_mode MULTIPLEXED, connections_per_host 1)
PORT_MUX1_REAL=25321; PORT_MUX1_FAST=25322; PORT_MUX1_ADMIN=25329
# courier-multiplexed-2.yaml    (upstream_mode MULTIPLEXED, connections_per_host 2)
PORT_MUX2_REAL=25331; PORT_MUX2_FAST=25332; PORT_MUX2_ADMIN=25339

ALL_PORTS=("$PORT_REAL_PROVIDER" "$PORT_FAST_PROVIDER"
  "$PORT_EXCL_REAL" "$PORT_EXCL_FAST" "$PORT_EXCL_ADMIN"
  "$PORT_MUX1_REAL" "$PORT_MUX1_FAST" "$PORT_MUX1_ADMIN"
  "$PORT_MUX2_REAL" "$PORT_MUX2_FAST" "$PORT_MUX2_ADMIN")

# --watch argument for loadgen.mjs: a process and its direct children (Courier's workers),
# as name:pid pairs: "<name>:<pid>,<name>-w1:<child1>,..."
watch_list() {
  local name=$1 pid=$2 i=0 kid out="$1:$2"
  for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
    i=$((i + 1)); out+=",$name-w$i:$kid"
  done
  printf '%s' "$out"
}

# Build a clean copy of the committed HEAD in $1 (git archive, node_modules symlinked,
# npm run build), so a run measures exactly the commit it names even while src/ has
# uncommitted edits or something else rebuilds dist/. Sets COURIER_BUILD_OK like build_courier;
# returns non-zero if the copy's CLI is not usable.
build_snapshot() {
  local dir=$1
  log "building a clean snapshot of HEAD ($(git -C "$REPO_DIR" rev-parse --short HEAD)) in $dir"
  mkdir -p "$dir"
  git -C "$REPO_DIR" archive HEAD | tar -x -C "$dir"
  ln -s "$REPO_DIR/node_modules" "$dir/node_modules"
  COURIER_BUILD_OK=true
  (cd "$dir" && timeout 180 npm run build --silent) >"$RUN_DIR/courier-build.log" 2>&1 || {
    COURIER_BUILD_OK=false
    log "WARNING: npm run build reported errors; log tail:"; tail -n 10 "$RUN_DIR/courier-build.log" >&2; }
  timeout 20 node "$dir/bin/courier.js" --help >/dev/null 2>"$RUN_DIR/courier-help.log" || {
    log "the snapshot's bin/courier.js --help failed"; tail -n 5 "$RUN_DIR/courier-help.log" >&2; return 1; }
}
