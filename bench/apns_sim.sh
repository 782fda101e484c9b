#!/usr/bin/env bash
# Benchmark of pushway-mock's APNs simulator (issue 3): h2load against
#   sim   = pushway-mock's APNs simulator (every request fully checked: JWT, headers, token; recording off)
#   bare  = a bare hyper HTTP/2 server that reads the body and answers 200 (crates/mock/examples/apns_bare_h2.rs)
#   nghttpd = nghttp2's C server, for scale (answers an empty file with 200)
# in h2c and TLS, with 1 and 4 connections, -m100 streams each, N requests of a 300-byte POST body
# carrying the headers pushway's sender sends (bearer JWT, topic, push type, priority, its own apns-id).
# Rounds alternate the servers (bare, sim, nghttpd); the report gives medians and sim/bare ratios, plus
# the server's CPU per request (utime+stime from /proc/<pid>/stat) and h2load's own CPU.
# Loopback only; every run is bounded by -n and `timeout`; every server started is killed by PID.
#
# Usage: bench/apns_sim.sh            (env: N=200000 ROUNDS=3 RUN_TIMEOUT=120 SKIP_BUILD=0)
# A run where everything else used > 15% of a core is run once more (bench/lib.sh); with
# BENCH_RESULTS=<file> every kept run is also appended there as a JSON line (bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
TOKEN=4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8

if ! command -v h2load >/dev/null || ! command -v nghttpd >/dev/null; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nghttp2-client nghttp2-server
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p pushway-mock --example apns_sim --example apns_bare_h2
fi
BIN=target/release/examples

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/apns_bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The 300-byte APNs payload of shared/bench-peers/gen_bodies.py.
python3 - "$WORK/payload.json" <<'PY'
import json, sys
p = {"aps": {"alert": {"title": "Benchmark title", "body": "x"}, "badge": 1, "sound": "default", "mutable-content": 1}, "k": "v"}
pad = 300 - len(json.dumps(p, separators=(",", ":")))
p["aps"]["alert"]["body"] = "x" * (pad + 1)
s = json.dumps(p, separators=(",", ":")); assert len(s) == 300
open(sys.argv[1], "w").write(s)
PY
mkdir -p "$WORK/www/3/device" && : > "$WORK/www/3/device/$TOKEN"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME MODE -> sets PORT, SPID, JWT
start() {
  local name=$1 mode=$2 tlsflag=""
  [ "$mode" = tls ] && tlsflag=--tls
  PORT=$(free_port); JWT=""
  case $name in
    sim)  "$BIN/apns_sim" --port "$PORT" --dir "$WORK" $tlsflag > "$WORK/sim.line" & SPID=$! ;;
    bare) "$BIN/apns_bare_h2" --port "$PORT" $tlsflag > "$WORK/bare.line" & SPID=$! ;;
    nghttpd)
      if [ "$mode" = tls ]; then nghttpd -d "$WORK/www" "$PORT" "$WORK/key.pem" "$WORK/cert.pem" & SPID=$!
      else nghttpd --no-tls -d "$WORK/www" "$PORT" & SPID=$!; fi ;;
  esac
  PIDS+=("$SPID")
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2).close()" 2>/dev/null && break
    sleep 0.1
  done
  if [ "$name" = sim ]; then
    for _ in $(seq 50); do [ -s "$WORK/sim.line" ] && break; sleep 0.1; done
    JWT=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['jwt'])" "$WORK/sim.line")
  fi
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# run NAME MODE CONNS ROUND -> appends a JSON line to results (run once more if others were busy)
run() {
  local name=$1 mode=$2 conns=$3 round=${4:-1} scheme=http
  [ "$mode" = tls ] && scheme=https
  local before after b0 b1 t0 t1 attempt
  for attempt in 1 2; do
    before=$(cpu_ticks "$SPID"); b0=$(bench_busy); t0=$(bench_now)
    /usr/bin/time -f '%U %S' -o "$WORK/time" timeout "$RUN_TIMEOUT" h2load -c"$conns" -m100 -n"$N" \
      -d "$WORK/payload.json" \
      -H "authorization: bearer $JWT" -H 'apns-topic: com.example.app' -H 'apns-push-type: alert' \
      -H 'apns-priority: 10' -H 'apns-id: 3f2b6c1e-8d4a-4e7b-9c0d-1a2b3c4d5e6f' "$scheme://127.0.0.1:$PORT/3/device/$TOKEN" > "$WORK/out" 2>&1 || true
    after=$(cpu_ticks "$SPID"); b1=$(bench_busy); t1=$(bench_now)
    python3 - "$WORK/out" "$WORK/time" "$name" "$mode" "$conns" "$N" "$before" "$after" "$b0" "$b1" "$t0" "$t1" > "$WORK/row" <<'PY'
import json, re, sys, os
sys.path.insert(0, "bench")
from parse_runs import parse_h2load
out, tm, name, mode, conns, n, before, after, b0, b1, t0, t1 = sys.argv[1:]
text = open(out).read()
h2load = parse_h2load(text)
u, s = (float(x) for x in open(tm).read().split()[-2:])
hz = os.sysconf("SC_CLK_TCK")
server_s = (int(after) - int(before)) / hz
wall = max(float(t1) - float(t0), 1e-3)
others = max(0.0, (int(b1) - int(b0)) / hz - server_s - (u + s)) / wall
failures = {k: h2load[k] for k in ("failed", "errored", "timeout", "error") if h2load.get(k)}
print(json.dumps({"server": name, "mode": mode, "conns": int(conns), "n": int(n),
  "req_s": h2load["per_s"], "2xx": h2load["ok"], **failures,
  "server_cpu_us_per_req": round(server_s * 1e6 / int(n), 2),
  "h2load_cpu_us_per_req": round((u + s) * 1e6 / int(n), 2), "others_share": round(others, 3)}))
PY
    bench_keep "$WORK/row" "$attempt" "$WORK/results" "$round" && break
  done
}

for mode in h2c tls; do
  for name in bare sim nghttpd; do
    start "$name" "$mode"; eval "PID_$name=$SPID PORT_$name=$PORT"
    [ "$name" = sim ] && SIM_JWT=$JWT
  done
  for conns in 1 4; do
    for round in $(seq "$ROUNDS"); do
      for name in bare sim nghttpd; do
        eval "SPID=\$PID_$name PORT=\$PORT_$name"
        JWT=${SIM_JWT}
        run "$name" "$mode" "$conns" "$round"
      done
    done
  done
  for name in bare sim nghttpd; do eval "kill \$PID_$name"; done
done

# Exit 3 when a kept run of the simulator or the bare server had failures (nghttpd is for scale).
python3 - "$WORK/results" <<'PY'
import json, sys, statistics
sys.path.insert(0, "bench")
from parse_runs import run_failures
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(server, mode, conns, key):
    v = [r[key] for r in rows if (r["server"], r["mode"], r["conns"]) == (server, mode, conns)]
    return statistics.median(v) if v else 0
print("\nmedians of %d rounds (req/s; server CPU µs/req; h2load CPU µs/req); all runs must be 100%% 2xx" % max(1, len(rows) // 12))
print("%-5s %-2s %10s %10s %10s %8s %8s | cpu sim/bare/nghttpd" % ("mode", "c", "bare", "sim", "nghttpd", "sim/bare", "sim/ngh"))
for mode in ("h2c", "tls"):
    for c in (1, 4):
        b, s, g = (med(x, mode, c, "req_s") for x in ("bare", "sim", "nghttpd"))
        cpu = "/".join("%.1f" % med(x, mode, c, "server_cpu_us_per_req") for x in ("sim", "bare", "nghttpd"))
        void = lambda *names: any(run_failures(r) for r in rows if r["server"] in names and (r["mode"], r["conns"]) == (mode, c))
        ratio = lambda x, y, names: "invalid" if void(*names) else "%.2f" % (x / y if y else 0)
        print("%-5s %-2d %10.0f %10.0f %10.0f %8s %8s | %s" % (mode, c, b, s, g, ratio(s, b, ("sim", "bare")),
                                                              ratio(s, g, ("sim", "nghttpd")), cpu))
bad = [r for r in rows if run_failures(r)]
print("runs with failures (their figures are invalid):", len(bad),
      [(r["server"], r["mode"], r["conns"], run_failures(r)) for r in bad][:6])
sys.exit(3 if any(r["server"] != "nghttpd" for r in bad) else 0)
PY
echo "raw results: $WORK/results"
