"""The bench suite's parsers: what one run of a tool or bench printed, as a JSON row, and whether
that run is valid (shared/BENCHMARKING.md rule 6: a run counts only if every request succeeded).

Used by bench/report.py (BENCHMARKS.md) and by the section scripts (bench/*.sh), which import it
from their inline Python, so every section judges its runs the same way.
"""

import json
import os
import re

HZ = os.sysconf("SC_CLK_TCK")


def others_share(b0, b1, t0, t1, measured_s):
    """The share of one core everything else used while a run took T0..T1 (busy jiffies B0..B1)."""
    wall = max(float(t1) - float(t0), 1e-3)
    return round(max(0.0, (int(b1) - int(b0)) / HZ - measured_s) / wall, 3)


def to_ns(value, unit):
    unit = unit.replace("µ", "u").replace("μ", "u")
    return float(value) * {"ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def duration_ms(text):
    """A Rust `Duration` Debug string (`812.5µs`, `1.2ms`, `2s`) in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(ns|µs|us|ms|s)", text.strip())
    if not m:
        return None
    return to_ns(m.group(1), m.group(2)) / 1e6


# ---------------------------------------------------------------- limit tools


def parse_wrk(out, err, batch, cpu_s):
    """wrk's stdout (with bench/wrk_post.lua's "Rejected answers" line) and stderr, for requests of
    BATCH tokens; CPU_S is wrk's whole-process user+sys."""
    row = {"tool": "wrk", "batch": batch, "cpu_s": round(cpu_s, 2)}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if not m:
        row["error"] = (err + out)[-300:]
        return row
    reqs = int(m.group(1))
    secs = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[m.group(3)]
    n = reqs * batch
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rejected = re.search(r"Rejected answers: (\d+) of (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    row.update(n=n, requests=reqs, seconds=round(secs, 3), per_s=round(n / secs) if secs else 0,
               cpu_us_per_token=round(cpu_s * 1e6 / n, 4) if n else None,
               non_2xx=int(bad.group(1)) if bad else 0)
    if rejected:
        row["rejected"] = int(rejected.group(1))
    else:
        # Without its count the run cannot show that its answers were accepted.
        row["script_error"] = "no 'Rejected answers' line (bench/wrk_post.lua did not run)"
    if errors:
        row["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups())))
    if err.strip():
        # wrk only warns when its script fails to load, then sends GETs: any stderr is fatal here.
        row["script_error"] = err.strip()[-300:]
    return row


def parse_h2load(text):
    """h2load's summary: rate, 2xx answers and the failed / errored / timed-out request counts."""
    row = {}
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    row["per_s"] = float(m.group(3)) if m else 0.0
    ok = re.search(r"status codes: (\d+) 2xx", text)
    row["ok"] = int(ok.group(1)) if ok else 0
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        row.update(failed=int(m.group(5)), errored=int(m.group(6)), timeout=int(m.group(7)))
    else:
        row["error"] = text[-300:]
    return row


# ---------------------------------------------------------------- the benches run.sh runs itself


def parse_bench(kind, text, base):
    """Rows from the output of a bench executable run.sh runs itself (render, idle_rss,
    roundtrip, router, cross_node, ...); BASE holds the run's process CPU, others' share, wall time, exit status."""
    rows = []
    if kind == "render":
        for name, lo, lu, mid, mu in re.findall(
                r"(render/\S+)\s+time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+)", text):
            ns = to_ns(mid, mu)
            rows.append(dict(base, bench=name, ns_per_iter=round(ns, 2), per_s=round(1e9 / ns)))
    elif kind == "idle_rss":
        found = re.findall(r"(\d+) authenticated idle connections: server RSS (\d+) KiB, (\d+) bytes", text)
        if found:
            n, rss, per = found[-1]
            rows.append(dict(base, bench="idle_rss", connections=int(n), server_rss_kib=int(rss),
                             bytes_per_connection=int(per)))
    elif kind == "roundtrip":
        row = dict(base, bench="roundtrip")
        m = re.search(r"throughput: (\d+) round trips to (\d+) devices in ([\d.]+) s = (\d+)/s; "
                      r"process CPU ([\d.]+) s = ([\d.]+) µs per round trip", text)
        if m:
            row.update(round_trips=int(m.group(1)), devices=int(m.group(2)), per_s=int(m.group(4)),
                       cpu_us_per_round_trip=float(m.group(6)))
        m = re.search(r"cpu per round trip: server ([\d.]+) µs .*?devices ([\d.]+) µs", text)
        if m:
            row.update(server_cpu_us_per_round_trip=float(m.group(1)), devices_cpu_us_per_round_trip=float(m.group(2)))
        m = re.search(r"latency at (\d+)/s for (\d+) s: (\d+) pushes, p50 (\S+), p99 (\S+), p99\.9 (\S+), "
                      r"max (\S+); not delivered: (\d+)", text)
        if m:
            row.update(steady_rate=int(m.group(1)), pushes=int(m.group(3)), p50_ms=duration_ms(m.group(4)),
                       p99_ms=duration_ms(m.group(5)), p999_ms=duration_ms(m.group(6).rstrip(",")),
                       max_ms=duration_ms(m.group(7).rstrip(";")), not_delivered=int(m.group(8)))
        if "per_s" in row or "p99_ms" in row:
            rows.append(row)
    elif kind == "router":
        for line in text.splitlines():
            if line.startswith("{") and '"router_e2e"' in line:
                rows.append(dict(base, **json.loads(line)))
    elif kind == "cross_node":
        # crates/daemon/benches/cross_node.rs: one JSON line; its Postgres server's CPU is taken
        # out of the others' share as for a gateway run on Postgres.
        for line in text.splitlines():
            if line.startswith("{") and '"cross_node"' in line:
                rows.append(gateway_row(base, json.loads(line)))
    elif kind in ("gateway_accept", "gateway_e2e", "gateway_memory"):
        for line in text.splitlines():
            if line.startswith("{") and f'"{kind}"' in line:
                rows.append(gateway_row(base, json.loads(line)))
    elif kind == "cluster":
        # examples/cluster_bench: one line per run, each with its own others' share (the
        # Postgres server is no child of the bench, so the process's CPU leaves it out).
        for line in text.splitlines():
            if line.startswith("{") and '"cluster"' in line:
                rows.append(dict(base, **json.loads(line)))
    if not rows:
        rows.append(dict(base, error=text[-600:]))
    return rows


def gateway_row(base, found):
    """One row of examples/gateway_bench.rs. An accept run carries wrk's output, judged here by the
    same rules as every wrk run (parse_wrk); the server's CPU per request comes from its count."""
    row = dict(base, **{k: v for k, v in found.items() if k not in ("wrk_out", "wrk_err")})
    # An e2e run on Postgres: the server is no child of the bench (pg_ctl detaches it), so its CPU
    # over the run, measured by the bench, is the run's own and not others'.
    if found.get("postgres_run_cpu_s") and base.get("others_share") is not None and base.get("wall_s"):
        row["others_share"] = round(max(0.0, base["others_share"] - found["postgres_run_cpu_s"] / base["wall_s"]), 3)
    if "wrk_out" in found:
        wrk = parse_wrk(found["wrk_out"], found.get("wrk_err", ""), 1, found.get("wrk_cpu_s", 0.0))
        wrk.pop("tool", None)
        wrk.pop("batch", None)
        row.update(wrk)
        if row.get("requests"):
            row["server_cpu_us_per_request"] = round(found["server_cpu_s"] * 1e6 / row["requests"], 1)
    return row


# ---------------------------------------------------------------- validity


def run_failures(row):
    """Why a run's figures cannot be used: a list of reasons, empty when the run is valid."""
    reasons = []
    if row.get("error"):
        reasons.append("no result parsed from its output")
    if row.get("exit_status"):
        reasons.append(f"exit status {row['exit_status']}")
    if row.get("script_error"):
        reasons.append(f"wrk script: {row['script_error'][:120]}")
    if row.get("requests") == 0:
        reasons.append("no request completed")
    for key, what in (("non_2xx", "non-2xx answers"), ("rejected", "answers rejected (status or body)"),
                      ("failed", "failed"), ("errored", "errored"), ("timeout", "timed out"),
                      ("not_delivered", "not delivered")):
        if row.get(key):
            reasons.append(f"{row[key]:,} {what}")
    if row.get("pgbench_exit"):
        reasons.append(f"pgbench exit status {row['pgbench_exit']}")
    if row.get("left_queued"):
        reasons.append(f"{row['left_queued']:,} pushes left queued")
    if "acked" in row and "pushes" in row and row["acked"] != row["pushes"]:
        reasons.append(f"{row['pushes'] - row['acked']:,} pushes not acked")
    if row.get("ran_out"):
        reasons.append("the outbox may have run out of due rows before the time was up (raise --rows)")
    errors = row.get("socket_errors")
    if isinstance(errors, dict) and any(errors.values()):
        reasons.append("socket errors " + ", ".join(f"{k} {v}" for k, v in errors.items() if v))
    n = row.get("n")
    if "2xx" in row and n is not None and row["2xx"] != n:
        reasons.append(f"{n - row['2xx']:,} of {n:,} requests not answered 2xx")
    ok = row.get("ok")
    if isinstance(ok, bool):
        if not ok:
            reasons.append("an outcome was neither delivered nor queued")
    elif isinstance(ok, int) and isinstance(n, int) and ok < n and n - ok != row.get("failed"):
        reasons.append(f"{n - ok:,} of {n:,} not accepted")
    return reasons


def run_name(row):
    name = row.get("label") or row.get("client") or row.get("server") or row.get("bench") or row.get("tool") or "run"
    if row.get("mode") and not row.get("label"):
        name = f"{name} {row['mode']}"
    if row.get("round"):
        name += f" round {row['round']}"
    return name


def failures_text(rows, limit=3):
    """One line naming each invalid run among ROWS and why; "" when all are valid."""
    parts = [f"{run_name(r)}: {', '.join(why)}" for r in rows or [] for why in [run_failures(r)] if why]
    if len(parts) > limit:
        parts = parts[:limit] + [f"and {len(parts) - limit} more"]
    return "; ".join(parts)
