#!/usr/bin/env bash
# Huawei benchmark (shared/BENCHMARKING.md): in one run, against one simulator process
# (`pushway-mock huawei`, recording off) with 1,000-token requests, compare
#   - a limit tool (wrk, one connection per in-flight request) posting the identical prepared body
#     (written by the provider's own `build_request`),
#   - pushway-huawei (crates/huawei/benches/throughput.rs `send`),
#   - the PyPI peer `hpa` 1.0 (Huawei's Push Kit v1 Python demo, packaged; venv under /tmp),
# three rounds, medians. Client CPU = user+sys of the sending process over its sending phase
# (wrk: the whole process, which only sends); server CPU from /proc/<pid>/stat; "others" = the
# machine's busy time minus the client's whole process and the server, as a share of one core
# (BENCHMARKING.md: rerun when it is above 15%).
#
#   bench/huawei.sh [--rounds 3] [--n 1000000] [--window 4] [--wrk-seconds 5] [--hpa-threads 1]
#
# Loopback only; every load step is bounded in count or time; the simulator is stopped by PID.
# Env: SKIP_BUILD=1 and HUAWEI_BENCH_BIN=<throughput bench executable> (bench/run.sh built them),
# PUSHWAY_BENCH_DIR (scratch), PUSHWAY_HPA_VENV, BENCH_RESULTS=<file> (kept runs as JSON lines).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=3 N=1000000 WINDOW=4 WRK_SECONDS=5 HPA_THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
    --hpa-threads) HPA_THREADS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

SCRATCH=${PUSHWAY_BENCH_DIR:-/tmp/pushway-bench-huawei}
VENV=${PUSHWAY_HPA_VENV:-/tmp/pushway-hpa-venv}
mkdir -p "$SCRATCH"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hpa, six' 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q hpa six
fi

[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -q -p pushway-mock --bin pushway-mock
CLIENT=${HUAWEI_BENCH_BIN:-}
[ -n "$CLIENT" ] || CLIENT=$(cargo bench -q -p pushway-huawei --bench throughput --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "throughput" and m.get("executable"):
        print(m["executable"])' | tail -1)
[ -x "$CLIENT" ] || { echo "bench client not built" >&2; exit 1; }

# The peer driver (after shared/bench-peers/drive_hpa.py), same notification text, measuring its
# own CPU over the sending phase with getrusage.
cat > "$SCRATCH/drive_hpa.py" <<'PY'
import argparse, json, resource, time
from concurrent.futures import ThreadPoolExecutor
import hpa
from hpa import messaging
ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=1000000); ap.add_argument("--batch", type=int, default=1000)
ap.add_argument("--base", default="http://127.0.0.1:18081"); ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
hpa.initialize_app("12345", "app-secret", token_server=a.base + "/oauth2/v3/token", push_open_url=a.base)
notification = messaging.AndroidNotification(title="Benchmark title", body="x" * 120,
                                             click_action=messaging.AndroidClickAction(action_type=3))
android = messaging.AndroidConfig(notification=notification, urgency=messaging.AndroidConfig.HIGH_PRIORITY)
tokens = [("IQAAAACy0kYkAABwsc%0112x" % i)[:130] for i in range(a.n)]
batches = [tokens[i:i + a.batch] for i in range(0, a.n, a.batch)]
def send(b):
    r = messaging.send_message(messaging.Message(android=android, token=b))
    return len(b) if r.code == "80000000" else 0
send(tokens[:1])  # warm-up: OAuth token fetch
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF); return u.ru_utime + u.ru_stime
c0, t0 = cpu(), time.perf_counter()
if a.threads > 1:
    with ThreadPoolExecutor(a.threads) as ex: ok = sum(ex.map(send, batches))
else:
    ok = sum(send(b) for b in batches)
secs, c = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"lib": "hpa 1.0.0", "n": a.n, "batch": a.batch, "threads": a.threads, "ok": ok, "failed": a.n - ok,
                  "seconds": round(secs, 3), "per_s": round(a.n / secs), "cpu_s": round(c, 3),
                  "cpu_us_per_token": round(c * 1e6 / a.n, 4)}))
PY

SIM_LOG="$SCRATCH/sim.log"
target/release/pushway-mock huawei --recording off --huawei-app-id 12345 \
  --huawei-client-secret app-secret >"$SIM_LOG" 2>&1 &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q base_url "$SIM_LOG" && break; sleep 0.1; done
BASE=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if "base_url" in l: print(json.loads(l)["base_url"])' "$SIM_LOG")
[ -n "$BASE" ] || { echo "simulator did not start: $(cat "$SIM_LOG")" >&2; exit 1; }
echo "simulator $BASE (pid $SIM_PID)"

ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# The identical body the provider sends, and a bearer for wrk; check the simulator accepts them.
"$CLIENT" body --tokens 1000 --out "$SCRATCH/body_1000.json"
BEARER=$(curl -s -m 5 --data 'grant_type=client_credentials&client_id=12345&client_secret=app-secret' \
  "$BASE/oauth2/v3/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
answer=$(curl -s -m 5 -H "Authorization: Bearer $BEARER" -H 'Content-Type: application/json;charset=utf-8' \
  --data-binary "@$SCRATCH/body_1000.json" "$BASE/v1/12345/messages:send")
case "$answer" in *'"code":"80000000"'*) ;; *) echo "body refused: $answer" >&2; exit 1 ;; esac

RESULTS="$SCRATCH/results.jsonl"
: >"$RESULTS"

run() { # run <label> <command...>: runs a client, records client/server/other CPU; once more if others > 15%
  local label=$1; shift
  local s0 b0 t0 out s1 b1 t1 attempt
  local total="$SCRATCH/client.time"
  for attempt in 1 2; do
    echo "0 0" >"$total"
    s0=$(ticks "$SIM_PID"); b0=$(busy); t0=$(date +%s.%N)
    if [ "$1" = wrk_client ]; then out=$("$@"); else out=$(/usr/bin/time -f '%U %S' -o "$total" "$@"); fi
    s1=$(ticks "$SIM_PID"); b1=$(busy); t1=$(date +%s.%N)
    python3 - "$label" "$out" "$s0" "$s1" "$b0" "$b1" "$t0" "$t1" "$(tail -n 1 "$total")" >"$SCRATCH/row" <<'PY'
import json, sys
label, out, s0, s1, b0, b1, t0, t1, total = sys.argv[1:]
r = json.loads(out.strip().splitlines()[-1])
wall = float(t1) - float(t0)
server = (int(s1) - int(s0)) / 100
busy = (int(b1) - int(b0)) / 100
# The client's whole process (setup included) is not "others"; wrk's cpu_s is already whole.
client_total = max(r["cpu_s"], sum(float(x) for x in total.split()))
r.update(label=label, server_cpu_s=round(server, 2),
         other_cpu_share=round(max(0.0, busy - server - client_total) / wall, 3))
r["others_share"] = r["other_cpu_share"]
print(json.dumps(r))
PY
    bench_keep "$SCRATCH/row" "$attempt" "$RESULTS" "${ROUND:-1}" && break
  done
}

# wrk as a client, printing the same fields (tokens = requests x 1000). The POST script is the
# repository's own (bench/wrk_post.lua): the run that reported 44.8 M tokens/s had used
# ../shared/bench-peers/wrk_post.lua, absent beside that checkout, and wrk without its script sends
# GETs (405 in microseconds). It also counts answers without code 80000000 ("Rejected answers").
wrk_client() {
  BODY="$SCRATCH/body_1000.json" CT='application/json;charset=utf-8' AUTH="Bearer $BEARER" \
    EXPECT='"code":"80000000"' /usr/bin/time -f '%U %S' -o "$SCRATCH/wrk.time" \
    wrk -t1 -c"$WINDOW" -d"${WRK_SECONDS}s" -s "$repo/bench/wrk_post.lua" \
    "$BASE/v1/12345/messages:send" >"$SCRATCH/wrk.out" 2>"$SCRATCH/wrk.err" || true
  python3 bench/report.py wrk 1000 "$SCRATCH/wrk.out" "$SCRATCH/wrk.err" "$SCRATCH/wrk.time"
}

for ROUND in $(seq "$ROUNDS"); do
  echo "== round $ROUND"
  run limit wrk_client
  run pushway "$CLIENT" send --base-url "$BASE" --n "$N" --batch 1000 --concurrency "$WINDOW"
  run peer timeout 600 "$VENV/bin/python" "$SCRATCH/drive_hpa.py" --base "$BASE" --n "$N" --threads "$HPA_THREADS"
done

# Medians; a ratio only from runs without a failed request (bench/parse_runs.py run_failures).
# Exit 3 when a kept run had failures: its figures are invalid (bench/run.sh says so).
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
sys.path.insert(0, "bench")
from parse_runs import failures_text
rows = [json.loads(l) for l in open(sys.argv[1])]
med, bad = {}, {}
print(f"\n-- 1000-token requests, medians of {sum(r['label'] == 'pushway' for r in rows)} rounds")
print(f"{'client':8} {'tokens/s':>12} {'client CPU µs/token':>20} {'server CPU s':>13} {'others':>7}")
for label in ("limit", "pushway", "peer"):
    rs = [r for r in rows if r["label"] == label]
    bad[label] = failures_text(rs)
    m = {k: statistics.median(r.get(k) or 0 for r in rs) for k in ("per_s", "cpu_us_per_token", "server_cpu_s", "other_cpu_share")}
    med[label] = m
    print(f"{label:8} {m['per_s']:>12,.0f} {m['cpu_us_per_token']:>20.3f} {m['server_cpu_s']:>13.2f} {m['other_cpu_share']:>7.0%}"
          + ("  INVALID" if bad[label] else ""))
def ratio(a, b, target):
    if bad[a] or bad[b]:
        return "invalid (runs with failures)"
    return f"{med[a]['per_s'] / med[b]['per_s']:.2f} (target {target})"
print(f"pushway/limit tokens/s = {ratio('pushway', 'limit', '>= 0.5')}")
print(f"pushway/peer  tokens/s = {ratio('pushway', 'peer', '>= 2')}")
print(f"pushway client CPU = {'invalid' if bad['pushway'] else format(med['pushway']['cpu_us_per_token'], '.3f') + ' µs/token'} (target <= 0.5)")
for label, why in bad.items():
    if why:
        print(f"WARNING: invalid {label} runs: {why}")
sys.exit(3 if any(bad.values()) else 0)
PY
