#!/usr/bin/env bash
# Xiaomi benchmark (shared/BENCHMARKING.md): in one run, against one simulator process with
# 1,000-token requests, compare
#   - a limit tool (wrk, one connection per in-flight request) posting the identical prepared body,
#   - pushway-xiaomi (crates/xiaomi/examples/bench_client.rs),
#   - the npm peer push-xiaomi 0.1.6 (installed in a scratch dir),
# three rounds, medians. Client CPU = user+sys of the sending process over its sending phase
# (wrk: whole process, which only sends); server CPU from /proc/<pid>/stat.
#
#   bench/xiaomi.sh [--rounds 3] [--n 1000000] [--window 16] [--wrk-seconds 5] [--single]
#
# --single adds the 20,000 single-token requests part. Loopback only; every load step is bounded
# in count or time; the simulator is stopped by PID on exit. Env: SKIP_BUILD=1 (bench/run.sh built it),
# PUSHWAY_BENCH_DIR (scratch), BENCH_RESULTS=<file> (kept runs appended as JSON lines, bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=3 N=1000000 WINDOW=16 WRK_SECONDS=5 SINGLE=0 SINGLE_N=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
    --single) SINGLE=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

SCRATCH=${PUSHWAY_BENCH_DIR:-/tmp/pushway-bench-xiaomi}
mkdir -p "$SCRATCH/peer"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v node >/dev/null || { echo "node is required for the peer" >&2; exit 2; }
if [ ! -d "$SCRATCH/peer/node_modules/push-xiaomi" ]; then
  (cd "$SCRATCH/peer" && npm install --silent --no-audit --no-fund push-xiaomi@0.1.6)
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -q -p pushway-xiaomi --example bench_simulator --example bench_client
fi
BIN=target/release/examples

# The peer driver (after shared/bench-peers/drive_push_vendor_npm.js), measuring its own CPU
# over the sending phase with process.cpuUsage().
cat > "$SCRATCH/peer/drive.js" <<'JS'
'use strict';
const a = process.argv.slice(2);
const opt = (k, d) => { const i = a.indexOf('--' + k); return i < 0 ? d : a[i + 1]; };
const N = parseInt(opt('n', '1000000'), 10), B = parseInt(opt('batch', '1000'), 10);
const W = parseInt(opt('window', '16'), 10), base = opt('base', 'http://127.0.0.1:18081');
const Xiaomi = require(__dirname + '/node_modules/push-xiaomi');
const client = new Xiaomi({ appSecret: 'secret', appPkgName: 'com.example.app', pushUrl: base + '/v3/message/regid', maxLength: B });
const tok = (i) => Buffer.from(i.toString(16).padStart(32, '0'), 'hex').toString('base64').padEnd(44, 'x');
const msg = { title: 'Benchmark title', content: 'x'.repeat(120), payload: JSON.stringify({ k: 'v' }) };
const push = (list) => new Promise((resolve) => client.push({ ...msg, list, sleep: 0, finish: resolve }));
(async () => {
  await push([tok(999999999)]);
  const tokens = Array.from({ length: N }, (_, i) => tok(i));
  let ok = 0, failed = 0;
  const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
  if (B > 1) { const r = await push(tokens); ok = r.success_total; failed = r.fail_total; }
  else {
    let next = 0;
    const worker = async () => { while (next < N) { const r = await push([tokens[next++]]); ok += r.success_total; failed += r.fail_total; } };
    await Promise.all(Array.from({ length: Math.min(W, N) }, worker));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  console.log(JSON.stringify({ tool: 'push-xiaomi 0.1.6', n: N, batch: B, delivered: ok, failed, seconds: +secs.toFixed(3),
    per_s: +(N / secs).toFixed(0), cpu_s: +cpu.toFixed(2), cpu_us_per_token: +(cpu * 1e6 / N).toFixed(3),
    process_cpu_s: +((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2) }));
})().catch((e) => { console.error(e); process.exit(2); });
JS

SIM_LOG="$SCRATCH/sim.log"
rm -f "$SIM_LOG"
"$BIN/bench_simulator" --threads 1 >"$SIM_LOG" &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -qs listening "$SIM_LOG" && break; sleep 0.1; done
BASE=$(sed -n 's/^listening //p' "$SIM_LOG")
[ -n "$BASE" ] || { echo "simulator did not start" >&2; exit 1; }
echo "simulator $BASE (pid $SIM_PID)"

# ticks (1/100 s) of a process: utime+stime
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# jiffies of the whole machine: busy (non-idle) time
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# Prepare the identical body the provider sends, and check the simulator accepts it.
prepare() { # $1 batch
  "$BIN/bench_client" --base-url "$BASE" --n "$1" --batch "$1" --dump-body "$SCRATCH/body_$1.form"
  local answer
  answer=$(curl -s -m 5 -H 'Authorization: key=secret' \
    -H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' \
    --data-binary "@$SCRATCH/body_$1.form" "$BASE/v3/message/regid") || answer="curl failed"
  case "$answer" in *'"code":0'*) ;; *) echo "body refused: $answer" >&2; exit 1 ;; esac
}

RESULTS="$SCRATCH/results.jsonl"
: >"$RESULTS"

# run <label> <batch> <command...>: runs a client, records client/server/other CPU; a run where
# others used > 15% of a core is run once more (bench/lib.sh).
run() {
  local label=$1 batch=$2; shift 2
  local s0 b0 t0 out s1 b1 t1 attempt
  for attempt in 1 2; do
    s0=$(ticks "$SIM_PID"); b0=$(busy); t0=$(date +%s.%N)
    out=$("$@")
    s1=$(ticks "$SIM_PID"); b1=$(busy); t1=$(date +%s.%N)
    python3 - "$label" "$batch" "$out" "$s0" "$s1" "$b0" "$b1" "$t0" "$t1" >"$SCRATCH/row" <<'PY'
import json, sys
label, batch, out, s0, s1, b0, b1, t0, t1 = sys.argv[1:]
r = json.loads(out.strip().splitlines()[-1])
wall = float(t1) - float(t0)
server = (int(s1) - int(s0)) / 100
busy = (int(b1) - int(b0)) / 100
r.update(label=label, batch=int(batch), server_cpu_s=round(server, 2),
         other_cpu_share=round(max(0.0, busy - server - r.get("process_cpu_s", r["cpu_s"])) / wall, 3))
r["others_share"] = r["other_cpu_share"]
print(json.dumps(r))
PY
    bench_keep "$SCRATCH/row" "$attempt" "$RESULTS" "${ROUND:-1}" && break
  done
}

# wrk as a client: prints the same JSON fields (tokens = requests x batch). bench/wrk_post.lua
# counts answers without code 0 as rejected: Xiaomi answers its errors with HTTP 200, so wrk's own
# non-2xx count would not see them.
wrk_client() { # $1 batch
  BODY="$SCRATCH/body_$1.form" CT='application/x-www-form-urlencoded;charset=UTF-8' \
    AUTH='key=secret' EXPECT='"code":0,' /usr/bin/time -f '%U %S' -o "$SCRATCH/wrk.time" \
    wrk -t1 -c"$WINDOW" -d"${WRK_SECONDS}s" -s "$repo/bench/wrk_post.lua" \
    "$BASE/v3/message/regid" >"$SCRATCH/wrk.out" 2>"$SCRATCH/wrk.err" || true
  python3 bench/report.py wrk "$1" "$SCRATCH/wrk.out" "$SCRATCH/wrk.err" "$SCRATCH/wrk.time"
}

prepare 1000
[ "$SINGLE" = 1 ] && prepare 1
for ROUND in $(seq "$ROUNDS"); do
  echo "== round $ROUND"
  run limit 1000 wrk_client 1000
  run pushway 1000 "$BIN/bench_client" --base-url "$BASE" --n "$N" --batch 1000 --window "$WINDOW"
  run peer 1000 node "$SCRATCH/peer/drive.js" --base "$BASE" --n "$N" --batch 1000
  if [ "$SINGLE" = 1 ]; then
    run limit 1 wrk_client 1
    run pushway 1 "$BIN/bench_client" --base-url "$BASE" --n "$SINGLE_N" --batch 1 --window "$WINDOW"
    run peer 1 node "$SCRATCH/peer/drive.js" --base "$BASE" --n "$SINGLE_N" --batch 1 --window "$WINDOW"
  fi
done

# Medians; a ratio only from runs without a failed request (bench/parse_runs.py run_failures).
# Exit 3 when a kept run had failures: its figures are invalid (bench/run.sh says so).
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
sys.path.insert(0, "bench")
from parse_runs import failures_text
rows = [json.loads(l) for l in open(sys.argv[1])]
invalid = False
for batch in sorted({r["batch"] for r in rows}, reverse=True):
    med, bad = {}, {}
    print(f"\n-- {batch}-token requests (medians of {len([r for r in rows if r['batch']==batch and r['label']=='pushway'])} rounds)")
    print(f"{'client':8} {'tokens/s':>12} {'client CPU µs/token':>20} {'server CPU s':>13} {'others':>7}")
    for label in ("limit", "pushway", "peer"):
        rs = [r for r in rows if r["batch"] == batch and r["label"] == label]
        if not rs: continue
        bad[label] = failures_text(rs)
        m = {k: statistics.median(r.get(k) or 0 for r in rs) for k in ("per_s", "cpu_us_per_token", "server_cpu_s", "other_cpu_share")}
        med[label] = m
        print(f"{label:8} {m['per_s']:>12,.0f} {m['cpu_us_per_token']:>20.3f} {m['server_cpu_s']:>13.2f} {m['other_cpu_share']:>7.0%}"
              + ("  INVALID" if bad[label] else ""))
    def ratio(a, b, key, text):
        if bad[a] or bad[b]:
            return "invalid (runs with failures)"
        return text.format(med[a][key] / med[b][key])
    if {"limit", "pushway", "peer"} <= med.keys():
        print(f"pushway/limit tokens/s = {ratio('pushway', 'limit', 'per_s', '{:.2f} (target >= 0.5)')}")
        print(f"pushway/peer  tokens/s = {ratio('pushway', 'peer', 'per_s', '{:.2f} (target >= 2)')}")
        print(f"peer/pushway CPU per token = {ratio('peer', 'pushway', 'cpu_us_per_token', '{:.1f}x')}")
    for label, why in bad.items():
        if why:
            invalid = True
            print(f"WARNING: invalid {label} runs ({batch}-token requests): {why}")
sys.exit(3 if invalid else 0)
PY
