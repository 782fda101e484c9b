#!/usr/bin/env bash
# The benchmark suite: one command that installs what is missing, builds release once, runs every
# comparison in rounds and writes BENCHMARKS.md (method: shared/BENCHMARKING.md).
#
#   bench/run.sh                      every section, 3 rounds, writes BENCHMARKS.md
#   bench/run.sh render xiaomi        a subset (sections: render apns_sim apns xiaomi huawei fcm daemon router gateway cluster cluster_e2e)
#   bench/run.sh --quick              1 round, smaller N: a smoke test (writes bench-out/BENCHMARKS.quick.md)
#   options: --rounds N, --out FILE, --no-install, --no-build,
#            --wait-idle (wait up to 10 minutes for the 1-minute load average to fall below 0.5)
#
# Sections: render (criterion), apns_sim (bench/apns_sim.sh), apns (bench/apns.sh), xiaomi
# (bench/xiaomi.sh), huawei (bench/huawei.sh), fcm (bench/fcm.sh), daemon (pushway-daemon's idle_rss and roundtrip
# benches), router (examples/router_e2e.rs), gateway (examples/gateway_bench.rs: `pushway serve`'s
# durable accept rate against examples/accept_limit.rs, end to end against router_e2e in the same
# round, memory), cluster (examples/cluster_bench: the outbox's claim-and-complete on a private
# Postgres against pgbench running the same SQL; the daemon's cross-node push→ack latency), cluster_e2e (gateway_bench e2e on SQLite, on Postgres
# with one node and with three nodes, same round). Each appends JSON lines to one results file
# (BENCH_RESULTS); bench/report.py turns them into BENCHMARKS.md: value, target, ratio and verdict
# per figure, medians of the rounds (a ratio: the median of the ratios measured within each round),
# and the CPU others used during each run (a run where others used > 15% of a core is run once
# more, at most once: bench/lib.sh).
#
# Installs (when missing): apt packages nghttp2-client nghttp2-server wrk postgresql; the npm peers
# and a Python venv for hpa under bench-out/ (git-ignored; the section scripts install them there).
# Loopback only; every command runs under `timeout` in its own process group, which is killed by
# its id if this script exits early; the section scripts stop their own servers by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh

ALL=(render apns_sim apns xiaomi huawei fcm daemon router gateway cluster cluster_e2e)
QUICK=0 ROUNDS="" OUT="" INSTALL=1 BUILD=1 WAIT_IDLE=0 SECTIONS=() ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --wait-idle) WAIT_IDLE=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *)
      case " ${ALL[*]} " in *" $1 "*) SECTIONS+=("$1") ;; *) echo "unknown section $1 (one of: ${ALL[*]})" >&2; exit 2 ;; esac
      shift ;;
  esac
done
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=("${ALL[@]}")
if [ -z "$ROUNDS" ]; then if [ "$QUICK" = 1 ]; then ROUNDS=1; else ROUNDS=3; fi; fi
if [ -z "$OUT" ]; then if [ "$QUICK" = 1 ]; then OUT=bench-out/BENCHMARKS.quick.md; else OUT=BENCHMARKS.md; fi; fi

# Sizes: full (shared/BENCHMARKING.md) or quick.
if [ "$QUICK" = 1 ]; then
  SIM_N=20000 APNS_N=5000 FCM_N=5000 VENDOR_N=100000 WRK_SECONDS=2 IDLE_CONNS=2000 RECIPIENTS=2000 PENDING=100000
  CRITERION=(--warm-up-time 0.5 --measurement-time 1) XIAOMI_SINGLE=()
  CLUSTER_ROWS=100000 CLUSTER_SECONDS=3 CLUSTER_HOLD=10 CLUSTER_OPEN_ROWS=400000 CROSS_SECONDS=3
else
  SIM_N=${SIM_N:-200000} APNS_N=${APNS_N:-20000} FCM_N=${FCM_N:-20000} VENDOR_N=${VENDOR_N:-1000000} WRK_SECONDS=${WRK_SECONDS:-5}
  IDLE_CONNS=${IDLE_CONNS:-10000} RECIPIENTS=${RECIPIENTS:-10000} PENDING=${PENDING:-1000000}
  CRITERION=(--warm-up-time 2 --measurement-time 5) XIAOMI_SINGLE=(--single)
  CLUSTER_ROWS=${CLUSTER_ROWS:-400000} CLUSTER_SECONDS=${CLUSTER_SECONDS:-10}
  CLUSTER_HOLD=${CLUSTER_HOLD:-60} CLUSTER_OPEN_ROWS=${CLUSTER_OPEN_ROWS:-2000000} CROSS_SECONDS=${CROSS_SECONDS:-10}
fi

SCRATCH=${PUSHWAY_BENCH_DIR:-$repo/bench-out}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export BENCH_TMP="$SCRATCH/tmp-$STAMP"
export BENCH_RESULTS="$SCRATCH/results-$STAMP.jsonl"
LOGS="$SCRATCH/logs-$STAMP"
mkdir -p "$BENCH_TMP" "$LOGS"
: >"$BENCH_RESULTS"
declare -A STATUS=() LOADS=()
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

CURRENT=""
cleanup() {
  if [ -n "$CURRENT" ]; then
    kill -TERM -- "-$CURRENT" 2>/dev/null || kill -TERM "$CURRENT" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bounded SECONDS LOG CMD...: runs CMD under `timeout` (its own process group) with output to LOG;
# returns CMD's status.
bounded() {
  local seconds=$1 log=$2 status=0; shift 2
  timeout --kill-after=10 "$seconds" "$@" >"$log" 2>&1 &
  CURRENT=$!
  wait "$CURRENT" || status=$?
  CURRENT=""
  return "$status"
}

# section_script NAME SECONDS CMD...: runs a section script; its kept runs land in BENCH_RESULTS.
section_script() {
  local name=$1 seconds=$2 status=0; shift 2
  local log="$LOGS/$name.log"
  echo "   log: $log"
  BENCH_SECTION=$name bounded "$seconds" "$log" "$@" || status=$?
  sed -n '/^medians\|^-- \|^mode \|^tls\|^h2c\|^pushway\|^peer\|^limit\|^runs \|^kept \|^memory\|^WARNING\|^W=\|^h2load\|^firebase/p' "$log" | tail -n 30 || true
  case "$status" in
    0) STATUS[$name]="complete" ;;
    # The section scripts exit 3 when a kept run had a failed request (bench/parse_runs.py).
    3) STATUS[$name]="**runs with failed requests**: the figures built on them are marked invalid; re-run the section; log $log" ;;
    *) STATUS[$name]="**script failed (exit $status)**; partial results; log $log" ;;
  esac
}

# measured SECTION KIND ROUND SECONDS CMD...: one run of a bench run.sh parses itself (report.py
# parse KIND); run once more if others used > 15% of a core.
measured() {
  local section=$1 kind=$2 round=$3 seconds=$4; shift 4
  local attempt b0 b1 t0 t1 status log
  for attempt in 1 2; do
    log="$LOGS/$section-$kind-$round-$attempt.log"
    status=0
    b0=$(bench_busy); t0=$(bench_now)
    bounded "$seconds" "$log" /usr/bin/time -f '%U %S' -o "$BENCH_TMP/time" "$@" || status=$?
    b1=$(bench_busy); t1=$(bench_now)
    [ -s "$BENCH_TMP/time" ] || echo "0 0" >"$BENCH_TMP/time"
    if [ "$status" != 0 ]; then
      echo "   $kind round $round: exit $status (log $log)"
      tail -n 5 "$log" | sed 's/^/     /'
      STATUS[$section]="**a run failed (exit $status)**; log $log"
    fi
    # The exit status goes into the rows: a run that failed makes its figures invalid.
    python3 bench/report.py parse "$kind" "$log" "$BENCH_TMP/time" "$b0" "$b1" "$t0" "$t1" "$status" >"$BENCH_TMP/rows"
    BENCH_SECTION=$section bench_keep "$BENCH_TMP/rows" "$attempt" "$BENCH_TMP/$section.jsonl" "$round" \
      | python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l); keep = ("bench","mode","per_s","ns_per_iter","bytes_per_connection","p99_ms","seconds","ok","others_share","exit_status","error")
    print("   " + json.dumps({k: d[k] for k in keep if k in d}, ensure_ascii=False)[:400])' && break
  done
}

# ------------------------------------------------------------------------------------------ setup
echo "== pushway benchmarks: sections ${SECTIONS[*]}; $ROUNDS round(s)$([ "$QUICK" = 1 ] && echo ', quick')"
echo "   results: $BENCH_RESULTS"
wants() { case " ${SECTIONS[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ "$INSTALL" = 1 ]; then
  missing=()
  if wants apns_sim || wants apns || wants fcm; then
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    command -v nghttpd >/dev/null || missing+=(nghttp2-server)
  fi
  if wants xiaomi || wants huawei || wants gateway; then command -v wrk >/dev/null || missing+=(wrk); fi
  if wants cluster || wants cluster_e2e; then compgen -G '/usr/lib/postgresql/*/bin/pgbench' >/dev/null || missing+=(postgresql); fi
  if { wants apns || wants xiaomi || wants fcm; } && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
fi

BIN=target/release/examples
declare -A BENCH_BIN=()
if [ "$BUILD" = 1 ]; then
  echo "== building (release, once)"
  cargo build --release -q -p pushway-mock -p pushway-apns -p pushway-xiaomi -p pushway-fcm --bins --examples
  cargo build --release -q --example router_e2e
  if wants gateway; then
    cargo build --release -q -p pushway --bins --example gateway_bench --example accept_limit
  fi
  if wants cluster; then cargo build --release -q -p pushway --example cluster_bench; fi
  if wants cluster_e2e; then cargo build --release -q -p pushway --bins --example gateway_bench; fi
fi
# The criterion/bench executables (built by `cargo bench --no-run`, or found fresh when --no-build).
while IFS=' ' read -r name exe; do BENCH_BIN[$name]=$exe; done < <(
  cargo bench -q --no-run --message-format=json -p pushway-core -p pushway-daemon -p pushway-huawei --benches 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])')
for b in render idle_rss roundtrip throughput $(wants cluster && echo cross_node); do
  [ -x "${BENCH_BIN[$b]:-}" ] || { echo "bench executable $b not built" >&2; exit 1; }
done

if [ "$WAIT_IDLE" = 1 ]; then
  waited=0
  while awk '{exit !($1 >= 0.5)}' /proc/loadavg && [ "$waited" -lt 600 ]; do
    [ "$waited" = 0 ] && echo "== waiting (up to 10 min) for the load average to fall below 0.5: $(cut -d' ' -f1-3 /proc/loadavg)"
    sleep 15; waited=$((waited + 15))
  done
  BENCH_NOTES="${BENCH_NOTES:+$BENCH_NOTES|}Waited ${waited} s (at most 600) for the 1-minute load average to fall below 0.5; it was $(cut -d' ' -f1-3 /proc/loadavg) when the sections started."
  export BENCH_NOTES
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ----------------------------------------------------------------------------------------- sections
run_render() {
  for round in $(seq "$ROUNDS"); do
    measured render render "$round" 300 "${BENCH_BIN[render]}" --bench "${CRITERION[@]}"
  done
  STATUS[render]=${STATUS[render]:-complete}
}

run_apns_sim() {
  section_script apns_sim 1200 env SKIP_BUILD=1 N="$SIM_N" ROUNDS="$ROUNDS" bench/apns_sim.sh
}

run_apns() {
  section_script apns 1200 env SKIP_BUILD=1 N="$APNS_N" ROUNDS="$ROUNDS" PEERS="$SCRATCH/peers-apns" bench/apns.sh
}

run_xiaomi() {
  section_script xiaomi 1200 env SKIP_BUILD=1 PUSHWAY_BENCH_DIR="$SCRATCH/xiaomi" \
    bench/xiaomi.sh --rounds "$ROUNDS" --n "$VENDOR_N" --wrk-seconds "$WRK_SECONDS" "${XIAOMI_SINGLE[@]}"
}

run_huawei() {
  section_script huawei 1200 env SKIP_BUILD=1 HUAWEI_BENCH_BIN="${BENCH_BIN[throughput]}" \
    PUSHWAY_BENCH_DIR="$SCRATCH/huawei" PUSHWAY_HPA_VENV="$SCRATCH/hpa-venv" \
    bench/huawei.sh --rounds "$ROUNDS" --n "$VENDOR_N" --wrk-seconds "$WRK_SECONDS"
}

run_fcm() {
  section_script fcm 1200 env SKIP_BUILD=1 N="$FCM_N" ROUNDS="$ROUNDS" PEERS="$SCRATCH/peers-fcm" bench/fcm.sh
}

run_daemon() {
  for round in $(seq "$ROUNDS"); do
    measured daemon idle_rss "$round" 300 "${BENCH_BIN[idle_rss]}" --bench "$IDLE_CONNS"
    measured daemon roundtrip "$round" 300 "${BENCH_BIN[roundtrip]}" --bench
  done
  STATUS[daemon]=${STATUS[daemon]:-complete}
}

run_router() {
  for round in $(seq "$ROUNDS"); do
    measured router router "$round" 300 "$BIN/router_e2e" --recipients "$RECIPIENTS" \
      --mock-bin target/release/pushway-mock
  done
  STATUS[router]=${STATUS[router]:-complete}
}

# The gateway (examples/gateway_bench.rs, method at its top): per round, wrk against the limit
# server then `pushway serve` (accept), router_e2e then the gateway end to end (the ratio's two
# sides in the same round), memory (idle; 1,000 and PENDING pending rows).
run_gateway() {
  local rel=${CARGO_TARGET_DIR:-target}/release
  local bins=(--pushway-bin "$rel/pushway" --mock-bin "$rel/pushway-mock" --scratch "$BENCH_TMP")
  for round in $(seq "$ROUNDS"); do
    measured gateway gateway_accept "$round" 300 "$rel/examples/gateway_bench" accept "${bins[@]}" \
      --seconds "$WRK_SECONDS" --limit-bin "$rel/examples/accept_limit" --wrk-script bench/wrk_post.lua
    measured gateway router "$round" 300 "$rel/examples/router_e2e" --recipients "$RECIPIENTS" \
      --modes per-recipient,by-badge --mock-bin "$rel/pushway-mock"
    # The accept runs leave hundreds of MB of dirty pages (their SQLite files): flushed first,
    # so the end to end's commits do not wait behind that writeback in their fsync.
    sync
    measured gateway gateway_e2e "$round" 600 "$rel/examples/gateway_bench" e2e "${bins[@]}" \
      --recipients "$RECIPIENTS"
    measured gateway gateway_memory "$round" 900 "$rel/examples/gateway_bench" memory "${bins[@]}" \
      --pending "$PENDING"
  done
  STATUS[gateway]=${STATUS[gateway]:-complete}
}

# The outbox on Postgres (examples/cluster_bench/main.rs, method at its top): per round, a private
# Postgres (default durability), the outbox refilled before each run; pgbench running the gateway's
# claim and record SQL, then the gateway's own claim-and-complete loop; both again during a
# CLUSTER_HOLD-second run with another session's transaction held open. One JSON line per run.
# One round unless CLUSTER_ROUNDS says more: a round takes about 4 minutes (two 60 s runs, four
# refills), and its figures are ratios of runs in the same round.
run_cluster() {
  local rel=${CARGO_TARGET_DIR:-target}/release
  for round in $(seq "${CLUSTER_ROUNDS:-1}"); do
    measured cluster cluster "$round" 900 "$rel/examples/cluster_bench" --rows "$CLUSTER_ROWS" \
      --seconds "$CLUSTER_SECONDS" --hold-secs "$CLUSTER_HOLD" --open-rows "$CLUSTER_OPEN_ROWS" \
      --workers 4 --batch 100
  done
  # Cross-node daemon push→ack (crates/daemon/benches/cross_node.rs): every round, ~15 s each.
  for round in $(seq "$ROUNDS"); do
    # The outbox runs leave hundreds of MB of dirty pages: flushed first, so this run's commits
    # do not wait behind that writeback in their fsync.
    sync
    measured cluster cross_node "$round" 300 env BENCH_SECONDS="$CROSS_SECONDS" "${BENCH_BIN[cross_node]}" --bench
  done
  STATUS[cluster]=${STATUS[cluster]:-complete}
}

# End to end on Postgres against SQLite (examples/gateway_bench/cluster.rs): per round, the gateway
# section's e2e workload on SQLite, then on a private Postgres (default durability) with one node, then
# with three nodes on one database (the POST to node 0, the daemon clients spread over the nodes).
run_cluster_e2e() {
  local rel=${CARGO_TARGET_DIR:-target}/release
  local bins=(--pushway-bin "$rel/pushway" --mock-bin "$rel/pushway-mock" --scratch "$BENCH_TMP")
  local setup store nodes
  for round in $(seq "$ROUNDS"); do
    for setup in "sqlite 1" "postgres 1" "postgres 3"; do
      read -r store nodes <<<"$setup"
      measured cluster_e2e gateway_e2e "$round" 600 "$rel/examples/gateway_bench" e2e "${bins[@]}" \
        --recipients "$RECIPIENTS" --store "$store" --nodes "$nodes"
    done
  done
  STATUS[cluster_e2e]=${STATUS[cluster_e2e]:-complete}
}

for section in "${SECTIONS[@]}"; do
  LOADS[$section]=$(cut -d' ' -f1-3 /proc/loadavg)
  started=$(date +%s)
  echo "== $section (load ${LOADS[$section]})"
  "run_$section"
  echo "   $section: $(( $(date +%s) - started )) s"
done

# ------------------------------------------------------------------------------------------- report
META="$SCRATCH/meta-$STAMP.json"
status_json=$(for k in "${!STATUS[@]}"; do printf '%s\t%s\n' "$k" "${STATUS[$k]}"; done)
loads_json=$(for k in "${!LOADS[@]}"; do printf '%s\t%s\n' "$k" "${LOADS[$k]}"; done)
python3 - "$META" "$ARGS" "$ROUNDS" "$QUICK" "$LOAD_BEFORE" "${SECTIONS[*]}" "$status_json" "$loads_json" <<'PY'
import json, os, platform, re, subprocess, sys
meta_path, args, rounds, quick, load_before, sections, status, loads = sys.argv[1:]
cpuinfo = open("/proc/cpuinfo").read()
model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
mem = re.search(r"MemTotal:\s*(\d+) kB", open("/proc/meminfo").read())
pairs = lambda text: dict(l.split("\t", 1) for l in text.splitlines() if "\t" in l)
meta = {
    "args": args, "rounds": int(rounds), "quick": quick == "1",
    "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip(),
    "cpu": model.group(1).strip() if model else "?", "nproc": os.cpu_count(),
    "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?",
    "kernel": platform.release(),
    "rustc": subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip(),
    "load_before": load_before, "load_after": " ".join(open("/proc/loadavg").read().split()[:3]),
    "sections": sections.split(), "status": pairs(status), "loads": pairs(loads),
    "notes": [n for n in os.environ.get("BENCH_NOTES", "").split("|") if n],
}
json.dump(meta, open(meta_path, "w"), indent=1)
PY
mkdir -p "$(dirname "$OUT")"  # bench-out/ is not there when PUSHWAY_BENCH_DIR points elsewhere
python3 bench/report.py write "$BENCH_RESULTS" "$META" "$OUT"
rm -rf "$BENCH_TMP"
echo "== done: $OUT (logs: $LOGS)"
