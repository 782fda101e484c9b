#!/usr/bin/env bash
# Benchmark of pushway-fcm (issue 18), per shared/BENCHMARKING.md: in one run, against one FCM
# simulator process (`pushway-mock fcm`, TLS, recording off) and one body (the provider's own for
# the bench notification, ~440 bytes, fed byte for byte to h2load):
#   h2load          -c1 -m100, POST of the identical body with the provider's headers and a valid
#                   Bearer token obtained first (fcm_bench --print-token)      the limit tool
#   pushway-fcm     one HTTP/2 connection, 100 and 1,000 sends in flight (crates/fcm/examples/fcm_bench.rs)
#   firebase-admin  Google's Node SDK 13.10, messaging.send(), 100 in flight (bench/fcm_firebase_admin.js;
#                   HTTP/1.1 through its httpAgent: its HTTP/2 sendEach is refused by the simulator,
#                   crates/fcm/tests/firebase_admin)
# Rounds: h2load, pushway (100, 1000), firebase-admin; medians. Client CPU per notification = user+sys
# of the sending process ÷ notifications: the timed phase (self-reported) and the whole process
# (/usr/bin/time). Server CPU from /proc/<pid>/stat; "others" = machine CPU minus client and server
# during the run (a run where others > 15% of a core is run once more: bench/lib.sh).
# Any failed request makes a run invalid (its figures are never a ratio; exit 3).
# Loopback only; every step bounded by count and `timeout`; every process started is killed by PID.
#
# Usage: bench/fcm.sh   (env: N=20000 PEER_N=$N ROUNDS=3 RUN_TIMEOUT=180 SKIP_BUILD=0
#                        PEERS=bench-out/peers-fcm)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
N=${N:-20000}
PEER_N=${PEER_N:-$N}
ROUNDS=${ROUNDS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
PEERS=${PEERS:-bench-out/peers-fcm}
KEY=crates/mock/fixtures/fcm/test-service-account.json
LOCK=crates/fcm/tests/firebase_admin

if ! command -v h2load >/dev/null; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nghttp2-client
fi
if [ ! -f "$PEERS/node_modules/firebase-admin/package.json" ]; then
  # The version the independent check pins (package-lock.json).
  mkdir -p "$PEERS" && cp "$LOCK/package.json" "$LOCK/package-lock.json" "$PEERS/"
  (cd "$PEERS" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1)
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p pushway-mock -p pushway-fcm --bin pushway-mock --example fcm_bench
fi
BIN=${FCM_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/fcm_bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN/examples/fcm_bench" --print-body | tr -d '\n' > "$WORK/body.json"
echo "body: $(wc -c < "$WORK/body.json") bytes"

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

"$BIN/pushway-mock" fcm --recording off --no-control --fcm-ca-out "$WORK/ca.pem" > "$WORK/sim.line" & SPID=$!
PIDS+=("$SPID")
for _ in $(seq 100); do [ -s "$WORK/sim.line" ] && break; sleep 0.1; done
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/sim.line" "$1"; }
BASE=$(field base_url); TOKEN_URL=$(field token_url); PORT=${BASE##*:}
CONN=(--base-url "$BASE" --token-url "$TOKEN_URL" --ca-cert "$WORK/ca.pem" --key-file "$KEY")
BEARER=$(timeout 60 "$BIN/examples/fcm_bench" --print-token "${CONN[@]}")
SEND_URL="$BASE/v1/projects/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["project_id"])' "$KEY")/messages:send"
USER_AGENT="pushway-fcm/$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "pushway-fcm"))' || echo 0)"

# measure NAME INFLIGHT N CMD... -> one JSON line in results (run once more if others were busy)
measure() {
  local name=$1 inflight=$2 n=$3; shift 3
  local s0 m0 s1 m1 t0 t1 attempt status
  for attempt in 1 2; do
    status=0
    s0=$(cpu_ticks "$SPID"); m0=$(machine_ticks); t0=$(bench_now)
    /usr/bin/time -f '%U %S' -o "$WORK/time" timeout "$RUN_TIMEOUT" "$@" > "$WORK/out" 2>&1 || status=$?
    s1=$(cpu_ticks "$SPID"); m1=$(machine_ticks); t1=$(bench_now)
    [ -s "$WORK/time" ] && tail -1 "$WORK/time" | grep -q '^[0-9.]* [0-9.]*$' || echo "0 0" > "$WORK/time"
    python3 - "$WORK/out" "$WORK/time" "$name" "$inflight" "$n" "$s0" "$s1" "$m0" "$m1" "$t0" "$t1" "$status" > "$WORK/row" <<'PY'
import json, sys, os
sys.path.insert(0, "bench")
from parse_runs import parse_h2load
out, tm, name, inflight, n, s0, s1, m0, m1, t0, t1, status = sys.argv[1:]
n = int(n); hz = os.sysconf("SC_CLK_TCK")
text = open(out, errors="replace").read()
u, s = (float(x) for x in open(tm).read().split()[-2:])
row = {"client": name, "mode": "tls", "inflight": int(inflight), "n": n}
if int(status):
    row["exit_status"] = int(status)
if name == "h2load":
    # per_s, ok (2xx answers), failed / errored / timeout: any of them voids the run.
    row.update(parse_h2load(text))
    row["phase_cpu_us"] = None
else:
    line = [l for l in text.splitlines() if l.startswith("{")]
    d = json.loads(line[-1]) if line else {}
    row["per_s"] = d.get("per_s", 0.0); row["ok"] = d.get("ok", 0)
    if d.get("failed"): row["failed"] = d["failed"]
    if d.get("first_error"): row["first_error"] = d["first_error"][:200]
    row["phase_cpu_us"] = d.get("cpu_us_per_notification")
    if not line: row["error"] = text[-300:]
row["process_cpu_us"] = round((u + s) * 1e6 / n, 2)
row["server_cpu_us"] = round((int(s1) - int(s0)) / hz * 1e6 / n, 2)
others = (int(m1) - int(m0)) - (int(s1) - int(s0)) - (u + s) * hz
row["others_share"] = round(max(0.0, others) / hz / max(float(t1) - float(t0), 1e-3), 3)
print(json.dumps(row))
PY
    bench_keep "$WORK/row" "$attempt" "$WORK/results" "${ROUND:-1}" && break
  done
}

for ROUND in $(seq "$ROUNDS"); do
  measure h2load 100 "$N" h2load -c1 -m100 -n"$N" -d "$WORK/body.json" \
    -H "authorization: Bearer $BEARER" -H 'content-type: application/json' -H "user-agent: $USER_AGENT" \
    "$SEND_URL"
  for inflight in 100 1000; do
    measure pushway-fcm "$inflight" "$N" "$BIN/examples/fcm_bench" "${CONN[@]}" --n "$N" --inflight "$inflight"
  done
  measure firebase-admin 100 "$PEER_N" node bench/fcm_firebase_admin.js "$PEERS/node_modules" "$KEY" "$PORT" \
    "$WORK/ca.pem" "$WORK/body.json" "$PEER_N" 100
done
kill "$SPID"; wait "$SPID" 2>/dev/null || true

# Exit 3 when a kept run had failures: the figures built on it are invalid (bench/run.sh says so).
python3 - "$WORK/results" <<'PY'
import json, sys, statistics
sys.path.insert(0, "bench")
from parse_runs import failures_text, run_failures
rows = [json.loads(l) for l in open(sys.argv[1])]
def runs(client, w=None):
    return [r for r in rows if r["client"] == client and (w is None or r["inflight"] == w)]
def med(client, w, key):
    v = [r[key] for r in runs(client, w) if r.get(key) is not None]
    return statistics.median(v) if v else None
fmt = lambda x: "-" if x is None else "%.2f" % x
print("\nmedians of the rounds: rate, client CPU per notification (timed phase / whole process), server CPU per request")
print("%-15s %5s %10s %10s %10s %8s" % ("client", "W", "per_s", "phase_us", "proc_us", "srv_us"))
for client, w in (("h2load", 100), ("pushway-fcm", 100), ("pushway-fcm", 1000), ("firebase-admin", 100)):
    r = med(client, w, "per_s")
    if r is not None:
        print("%-15s %5d %10.0f %10s %10s %8s" % (client, w, r, fmt(med(client, w, "phase_cpu_us")),
              fmt(med(client, w, "process_cpu_us")), fmt(med(client, w, "server_cpu_us"))))
h, fa = med("h2load", 100, "per_s"), med("firebase-admin", 100, "per_s")
for w in (100, 1000):
    p = med("pushway-fcm", w, "per_s")
    if failures_text(runs("pushway-fcm", w) + runs("h2load")):
        print("W=%d: pushway/h2load = invalid (runs with failures)" % w)
    elif p and h:
        print("W=%d: pushway/h2load = %.2f (target >= 0.5)" % (w, p / h), end="")
        if failures_text(runs("firebase-admin")) or failures_text(runs("pushway-fcm", w)):
            print("; pushway/firebase-admin = invalid")
        elif fa:
            print("; pushway/firebase-admin = %.1f (target >= 5)" % (p / fa))
        else:
            print()
bad = [r for r in rows if run_failures(r)]
print("runs with failures:", len(bad), [(r["client"], r["inflight"], run_failures(r)) for r in bad][:6])
print("kept runs where everything else used > 15%% of a core (after one rerun): %d"
      % sum(1 for r in rows if r["others_share"] > 0.15))
sys.exit(3 if bad else 0)
PY
echo "raw results: $WORK/results"
