#!/usr/bin/env bash
# Benchmark of pushway-apns (issue 4), per shared/BENCHMARKING.md: in one run, against one APNs
# simulator process (pushway-mock's apns_sim example, recording off) and one ~300-byte payload
# (the provider's own payload for the bench notification, fed byte for byte to the others):
#   (the simulator plays the production environment, as the provider sends production tokens)
#   h2load   -c1 -m100          the limit tool
#   provider pushway-apns, one connection, 100 and 1000 sends in flight (crates/apns/examples/apns_bench.rs)
#   node-apn @parse/node-apn 8, one connection, 1000 in flight, TLS (bench/apns_node_apn.js)
# TLS (all three) and h2c (h2load and the provider). Three rounds, medians. Client CPU per
# notification = user+sys of the sending process ÷ notifications: the whole process (/usr/bin/time)
# and the timed phase only (self-reported). Server CPU from /proc/<pid>/stat; "others" = machine
# CPU minus client and server during the run (a run where others > 15% of a core is flagged).
# Then memory per in-flight send (apns_bench --memory against a server that never answers).
# Loopback only; every step bounded by count and `timeout`; every process started is killed by PID.
#
# Usage: bench/apns.sh        (env: N=20000 ROUNDS=3 RUN_TIMEOUT=120 SKIP_BUILD=0 PEERS=/tmp/pushway_apns_peers)
# A run where everything else used > 15% of a core is run once more (bench/lib.sh); with
# BENCH_RESULTS=<file> every kept run is also appended there as a JSON line (bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
PEERS=${PEERS:-/tmp/pushway_apns_peers}
TOKEN=4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8

if ! command -v h2load >/dev/null; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nghttp2-client
fi
if [ ! -d "$PEERS/node_modules/@parse/node-apn" ]; then
  mkdir -p "$PEERS" && (cd "$PEERS" && npm init -y >/dev/null && timeout 300 npm install --no-audit --no-fund @parse/node-apn@8 >npm.log 2>&1)
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p pushway-mock --example apns_sim
  cargo build --release -p pushway-apns --example apns_bench
fi
BIN=target/release/examples

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/apns_provider_bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN/apns_bench" --print-payload | tr -d '\n' > "$WORK/payload.json"
echo "payload: $(wc -c < "$WORK/payload.json") bytes"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/sim.line" "$1"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

# start MODE: one simulator process for the whole mode
start() {
  local tlsflag=""
  [ "$1" = tls ] && tlsflag=--tls
  PORT=$(free_port)
  : > "$WORK/sim.line"
  "$BIN/apns_sim" --port "$PORT" --dir "$WORK" --production $tlsflag > "$WORK/sim.line" & SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 100); do [ -s "$WORK/sim.line" ] && break; sleep 0.1; done
  JWT=$(field jwt); KEY=$(field key_path); KID=$(field key_id); TEAM=$(field team_id); TOPIC=$(field topic)
  CERT=$(field cert_path)
}

# measure NAME MODE INFLIGHT CMD... -> one JSON line in results (run once more if others were busy)
measure() {
  local name=$1 mode=$2 inflight=$3; shift 3
  local s0 m0 s1 m1 t0 t1 attempt
  for attempt in 1 2; do
    s0=$(cpu_ticks "$SPID"); m0=$(machine_ticks); t0=$(bench_now)
    /usr/bin/time -f '%U %S' -o "$WORK/time" timeout "$RUN_TIMEOUT" "$@" > "$WORK/out" 2>&1 || true
    s1=$(cpu_ticks "$SPID"); m1=$(machine_ticks); t1=$(bench_now)
    python3 - "$WORK/out" "$WORK/time" "$name" "$mode" "$inflight" "$N" "$s0" "$s1" "$m0" "$m1" "$t0" "$t1" > "$WORK/row" <<'PY'
import json, re, sys, os
sys.path.insert(0, "bench")
from parse_runs import parse_h2load
out, tm, name, mode, inflight, n, s0, s1, m0, m1, t0, t1 = sys.argv[1:]
n = int(n); hz = os.sysconf("SC_CLK_TCK")
text = open(out).read()
u, s = (float(x) for x in open(tm).read().split()[-2:])
row = {"client": name, "mode": mode, "inflight": int(inflight), "n": n}
if name == "h2load":
    # per_s, ok (2xx answers), failed / errored / timeout: any of them voids the run.
    row.update(parse_h2load(text))
    row["phase_cpu_us"] = None
else:
    line = [l for l in text.splitlines() if l.startswith("{")]
    d = json.loads(line[-1]) if line else {}
    row["per_s"] = d.get("per_s", 0.0); row["ok"] = d.get("ok", 0)
    if d.get("failed"): row["failed"] = d["failed"]
    row["phase_cpu_us"] = d.get("cpu_us_per_notification")
    if not line: row["error"] = text[-300:]
client_ticks = (u + s) * hz
row["process_cpu_us"] = round((u + s) * 1e6 / n, 2)
row["server_cpu_us"] = round((int(s1) - int(s0)) / hz * 1e6 / n, 2)
others = (int(m1) - int(m0)) - (int(s1) - int(s0)) - client_ticks
row["others_ticks"] = round(others, 1)
row["others_share"] = round(max(0.0, others) / hz / max(float(t1) - float(t0), 1e-3), 3)
print(json.dumps(row))
PY
    bench_keep "$WORK/row" "$attempt" "$WORK/results" "${ROUND:-1}" && break
  done
}

for mode in tls h2c; do
  start "$mode"
  if [ "$mode" = tls ]; then SCHEME=https; CA=(--ca-cert "$CERT"); else SCHEME=http; CA=(); fi
  URL="$SCHEME://127.0.0.1:$PORT"
  for ROUND in $(seq "$ROUNDS"); do
    measure h2load "$mode" 100 h2load -c1 -m100 -n"$N" -d "$WORK/payload.json" \
      -H "authorization: bearer $JWT" -H "apns-topic: $TOPIC" -H 'apns-push-type: alert' \
      -H 'apns-priority: 10' "$URL/3/device/$TOKEN"
    for inflight in 100 1000; do
      measure pushway-apns "$mode" "$inflight" "$BIN/apns_bench" --base-url "$URL" "${CA[@]}" \
        --key-path "$KEY" --key-id "$KID" --team-id "$TEAM" --topic "$TOPIC" --n "$N" --inflight "$inflight"
    done
    if [ "$mode" = tls ]; then
      measure node-apn "$mode" 1000 node bench/apns_node_apn.js "$PEERS/node_modules" "$WORK/payload.json" \
        "$KEY" "$KID" "$TEAM" "$TOPIC" "$PORT" "$N" 1000
    fi
  done
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
done

for k in 1000 10000; do
  timeout 60 "$BIN/apns_bench" --memory --inflight "$k" | tee -a "$WORK/memory"
  if [ -n "${BENCH_RESULTS:-}" ]; then
    tail -1 "$WORK/memory" | python3 -c 'import json,os,sys
d = json.loads(sys.stdin.read()); d.update(client="memory", section=os.environ.get("BENCH_SECTION", ""))
print(json.dumps(d))' >> "$BENCH_RESULTS"
  fi
done

# Exit 3 when a kept run had failures: the figures built on it are invalid (bench/run.sh says so).
python3 - "$WORK/results" "$WORK/memory" <<'PY'
import json, sys, statistics, os
sys.path.insert(0, "bench")
from parse_runs import failures_text, run_failures
rows = [json.loads(l) for l in open(sys.argv[1])]
def valid(client, mode):
    return not failures_text([r for r in rows if (r["client"], r["mode"]) == (client, mode)])
hz = os.sysconf("SC_CLK_TCK")
def med(client, mode, inflight, key):
    v = [r[key] for r in rows if (r["client"], r["mode"], r["inflight"]) == (client, mode, inflight) and r.get(key) is not None]
    return statistics.median(v) if v else None
print("\nmedians of the rounds: rate, client CPU per notification (timed phase / whole process), server CPU per request")
print("%-5s %-13s %5s %10s %10s %10s %8s" % ("mode", "client", "W", "per_s", "phase_us", "proc_us", "srv_us"))
for mode in ("tls", "h2c"):
    for client, w in (("h2load", 100), ("pushway-apns", 100), ("pushway-apns", 1000), ("node-apn", 1000)):
        r = med(client, mode, w, "per_s")
        if r is None: continue
        fmt = lambda x: "-" if x is None else "%.2f" % x
        print("%-5s %-13s %5d %10.0f %10s %10s %8s" % (mode, client, w, r, fmt(med(client, mode, w, "phase_cpu_us")),
              fmt(med(client, mode, w, "process_cpu_us")), fmt(med(client, mode, w, "server_cpu_us"))))
for mode in ("tls", "h2c"):
    h = med("h2load", mode, 100, "per_s"); nd = med("node-apn", mode, 1000, "per_s")
    for w in (100, 1000):
        p = med("pushway-apns", mode, w, "per_s")
        if not (valid("pushway-apns", mode) and valid("h2load", mode)):
            print("%s W=%d: provider/h2load = invalid (runs with failures)" % (mode, w))
        elif p and h:
            print("%s W=%d: provider/h2load = %.2f (target >= 0.5)" % (mode, w, p / h) +
                  (("; provider/node-apn = %.1f (target >= 5)" % (p / nd) if valid("node-apn", mode)
                    else "; provider/node-apn = invalid") if nd else ""))
bad = [r for r in rows if run_failures(r)]
print("runs with failures:", len(bad), [(r["client"], r["mode"], r["inflight"], run_failures(r)) for r in bad][:6])
noisy = [r for r in rows if r["others_share"] > 0.15]
print("kept runs where everything else used > 15%% of a core (after one rerun): %d" % len(noisy))
for l in open(sys.argv[2]):
    d = json.loads(l); print("memory: %d in flight: %.0f bytes per in-flight send" % (d["inflight"], d["bytes_per_inflight_send"]))
sys.exit(3 if bad else 0)
PY
echo "raw results: $WORK/results"
