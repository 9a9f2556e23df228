# Shared settings for bench/meta/run.sh (and profile.sh). Sourced, not run; callers set
# `set -euo pipefail`. The process helpers (start_bg, stop_one, stop_all, wait_port,
# require_free_ports, build_courier, log, die) are bench/tcp/lib.sh's, and watch_list and the
# Dubbo ports are bench/dubbo/lib.sh's, all sourced here unchanged.
# shellcheck shell=bash disable=SC2034  # the variables set here are used by run.sh and profile.sh
# shellcheck source=../dubbo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dubbo/lib.sh"
DUBBO_BENCH_DIR=$BENCH_DIR   # bench/dubbo: loadgen.mjs, fast-provider.mjs, cpu.mjs and the dubbo_proxy configs
META_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Fixed loopback ports. The Dubbo providers run on bench/dubbo's ports (PORT_REAL_PROVIDER
# 25301, PORT_FAST_PROVIDER 25302) so that bench/dubbo/courier-exclusive.yaml and
# courier-multiplexed-1.yaml can be used unchanged for the dubbo_proxy rows. The rest is
# 25501-25549; bench/meta/courier-meta.yaml contains the same numbers literally.
PORT_THRIFT_FAST=25501     # node bench/meta/thrift-fast-server.mjs
PORT_THRIFT_REAL=25502     # node bench/meta/thrift-real-server.mjs (npm thrift)
# courier-meta.yaml, multiplexing false
PORT_META_EXCL_DUBBO_REAL=25511; PORT_META_EXCL_DUBBO_FAST=25512
PORT_META_EXCL_THRIFT_REAL=25531; PORT_META_EXCL_THRIFT_FAST=25532
# courier-meta.yaml, multiplexing true
PORT_META_MUX_DUBBO_REAL=25521; PORT_META_MUX_DUBBO_FAST=25522
PORT_META_MUX_THRIFT_REAL=25541; PORT_META_MUX_THRIFT_FAST=25542
PORT_META_ADMIN=25519

META_PORTS=("$PORT_REAL_PROVIDER" "$PORT_FAST_PROVIDER" "$PORT_THRIFT_FAST" "$PORT_THRIFT_REAL"
  "$PORT_META_EXCL_DUBBO_REAL" "$PORT_META_EXCL_DUBBO_FAST" "$PORT_META_EXCL_THRIFT_REAL" "$PORT_META_EXCL_THRIFT_FAST"
  "$PORT_META_MUX_DUBBO_REAL" "$PORT_META_MUX_DUBBO_FAST" "$PORT_META_MUX_THRIFT_REAL" "$PORT_META_MUX_THRIFT_FAST"
  "$PORT_META_ADMIN"
  "$PORT_EXCL_REAL" "$PORT_EXCL_FAST" "$PORT_EXCL_ADMIN" "$PORT_MUX1_REAL" "$PORT_MUX1_FAST" "$PORT_MUX1_ADMIN")

# Copy the working tree as it is now (tracked and untracked files, not the git-ignored ones:
# no node_modules, dist/ or results) into $1, symlink node_modules, and npm run build there.
# The MetaProtocol proxy may not be committed yet, so bench/dubbo's --snapshot (git archive
# HEAD) cannot measure it; this freezes the tree instead, so that edits or rebuilds of dist/
# by others during the run do not change what is measured. Sets COURIER_BUILD_OK and
# WORKTREE_HASH (sha256 over the copied files' paths and contents, first 12 hex digits);
# returns non-zero if the copy's CLI is not usable.
build_worktree_copy() {
  local dir=$1
  log "copying the working tree (HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD) + uncommitted changes) to $dir and building it"
  mkdir -p "$dir"
  (cd "$REPO_DIR" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -e $f ]] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -x -C "$dir"
  ln -s "$REPO_DIR/node_modules" "$dir/node_modules"
  WORKTREE_HASH=$( (cd "$dir" && find src test proto bin package.json tsconfig.json -type f -print0 2>/dev/null | sort -z \
    | xargs -0 sha256sum) | sha256sum | cut -c1-12) || WORKTREE_HASH=unknown
  COURIER_BUILD_OK=true
  (cd "$dir" && timeout 180 npm run build --silent) >"$RUN_DIR/courier-build.log" 2>&1 || {
    COURIER_BUILD_OK=false
    log "WARNING: npm run build reported errors; log tail:"; tail -n 10 "$RUN_DIR/courier-build.log" >&2; }
  timeout 20 node "$dir/bin/courier.js" --help >/dev/null 2>"$RUN_DIR/courier-help.log" || {
    log "the copy's bin/courier.js --help failed"; tail -n 5 "$RUN_DIR/courier-help.log" >&2; return 1; }
}

# quiet_run BASE WHAT CMD...: bench/dubbo/run.sh's noise handling, for a client (a load
# generator) whose JSON line goes to BASE.json. A failed run leaves the file missing or empty;
# report.mjs says so. When something else kept more than NOISY_PCT % of a core busy during the
# measured window ("other" in the client's JSON), wait 10 s and measure again, up to
# NOISY_RETRIES times (and RETRY_BUDGET for the whole run), keeping the quietest attempt
# (BASE.attempts says how many there were). Uses LOAD_TIMEOUT and RUN_DIR.
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
