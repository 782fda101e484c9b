# Helpers shared by the bench scripts (sourced, not run). See bench/run.sh.
#
# Every measured run records the CPU used by everything else on the machine while it ran
# ("others": machine busy time from /proc/stat minus the measured processes, as a share of one
# core). A run where others used more than BENCH_MAX_OTHERS (default 0.15) of a core is run once
# more; the rerun is kept whatever it measures (bounded: at most one rerun per run).
#
# Kept rows go to the script's own results file and, when BENCH_RESULTS is set, to that file too
# with "section" (BENCH_SECTION), "round" and "attempt" added, for bench/report.py.

# Busy jiffies of the whole machine: user + nice + system + irq + softirq.
bench_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

# Seconds since the epoch, with nanoseconds.
bench_now() { date +%s.%N; }

# bench_others BUSY0 BUSY1 T0 T1 MEASURED_CPU_SECONDS -> share of one core used by the others.
bench_others() {
  python3 -c 'import os,sys
b0,b1,t0,t1,m = (float(x) for x in sys.argv[1:])
hz = os.sysconf("SC_CLK_TCK"); wall = max(t1 - t0, 1e-3)
print(round(max(0.0, (b1 - b0) / hz - m) / wall, 3))' "$@"
}

# bench_keep ROWFILE ATTEMPT RESULTS ROUND: 0 = the rows of one run (JSON objects, one a line, each
# with "others_share") are kept; 1 = the run was noisy and this was its first attempt (the caller
# runs it again).
bench_keep() {
  python3 - "$1" "$2" "$3" "$4" "${BENCH_MAX_OTHERS:-0.15}" <<'PY'
import json, os, sys
rowfile, attempt, results, rnd, limit = sys.argv[1:]
rows = [json.loads(l) for l in open(rowfile) if l.strip().startswith("{")]
share = max((r["others_share"] for r in rows if r.get("others_share") is not None), default=None)
if int(attempt) < 2 and share is not None and share > float(limit):
    with open(results + ".noisy", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"  others used {share:.0%} of a core (> {float(limit):.0%}): running it again", file=sys.stderr)
    sys.exit(1)
for row in rows:
    row["attempt"] = int(attempt)
    row["round"] = int(rnd)
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    if os.environ.get("BENCH_RESULTS") and os.path.abspath(os.environ["BENCH_RESULTS"]) != os.path.abspath(results):
        row["section"] = os.environ.get("BENCH_SECTION", "")
        with open(os.environ["BENCH_RESULTS"], "a") as f:
            f.write(json.dumps(row) + "\n")
    print(json.dumps(row))
PY
}
