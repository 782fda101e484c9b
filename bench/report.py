#!/usr/bin/env python3
"""bench/run.sh's helper: parses the output of the benches run.sh runs itself, and writes
BENCHMARKS.md from the JSON lines every section appended to the results file.

  report.py parse KIND OUT TIME B0 B1 T0 T1 [EXIT] -> JSON rows on stdout (render, idle_rss, roundtrip, router)
  report.py wrk BATCH OUT ERR TIME                  -> one JSON row for a wrk run (bench/xiaomi.sh, huawei.sh)
  report.py write RESULTS META OUT.md               -> BENCHMARKS.md
  report.py --self-test                             -> the parsers' and the report's tests (bench/report_test.py)

Every figure in BENCHMARKS.md is a median over the kept runs of the rounds (a run where everything
else used > 15% of a core was run once more; the rerun is kept); a ratio is the median over rounds
of the ratio measured within each round (`by_round`). Nothing here invents a figure: a
section with no rows says so, and a figure computed from any run with a failed request (a non-2xx
answer, an error, a failed or undelivered send: bench/parse_runs.py run_failures) is shown as
**invalid** with the reason, never as a ratio with pass or fail (shared/BENCHMARKING.md rule 6).
"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parse_runs import failures_text, others_share, parse_bench, parse_wrk  # noqa: E402


# ---------------------------------------------------------------- parsing


def parse(kind, out, timefile, b0, b1, t0, t1, exit_status="0"):
    text = open(out, encoding="utf-8", errors="replace").read()
    u, s = (float(x) for x in open(timefile).read().split()[-2:])
    process = u + s
    base = {"process_cpu_s": round(process, 3), "others_share": others_share(b0, b1, t0, t1, process),
            "wall_s": round(float(t1) - float(t0), 2)}
    if int(exit_status):
        base["exit_status"] = int(exit_status)
    for row in parse_bench(kind, text, base):
        print(json.dumps(row))


def wrk(batch, out, err, timefile):
    """One wrk run as a JSON row: tokens = requests x BATCH; CPU = wrk's whole process."""
    times = open(timefile).read().split()[-2:]
    row = parse_wrk(open(out, errors="replace").read(), open(err, errors="replace").read(), int(batch),
                    float(times[0]) + float(times[1]))
    print(json.dumps(row))


# ---------------------------------------------------------------- report


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def by_round(num, den, key="per_s"):
    """NUM's value ÷ DEN's for each round both ran in (each side's median within the round), in
    round order. A ratio is of two runs close in time (rule 2: in each round the limit tool, then
    pushway, then the peers), which the host's speed, drifting over minutes, moves alike; the
    median of medians of each side would pair one round's fast run with another's slow one. Rows
    without a round count as one round."""
    ratios = []
    for k in sorted({r.get("round") for r in num} & {r.get("round") for r in den}, key=lambda k: (k is None, k)):
        a = med(r.get(key) for r in num if r.get("round") == k)
        b = med(r.get(key) for r in den if r.get("round") == k)
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def paired(num, den, key="per_s"):
    """The median over rounds of NUM ÷ DEN measured in the same round (see by_round)."""
    return med(by_round(num, den, key))


def rounds_text(ratios):
    """"; per round 0.41, 0.46, …" for a note, when there was more than one round."""
    return "; per round " + ", ".join(f"{x:.2f}×" for x in ratios) if len(ratios) > 1 else ""


def fmt(x, digits=None):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


class Table:
    """Rows of: figure, measured, target, ratio, pass/fail/invalid, others."""

    def __init__(self):
        self.rows = []
        self.failed = 0
        self.passed = 0
        self.invalid = 0

    def add(self, figure, value, unit="", at_least=None, at_most=None, others=None, note="", runs=None):
        """RUNS: the rows the figure was computed from (default OTHERS); any failed run among them
        makes the figure invalid: no value, no ratio, no verdict but "invalid", and the reason."""
        target, ratio, verdict = "—", "—", "—"
        if at_least is not None:
            target = f"≥ {fmt(at_least)}{unit}"
        elif at_most is not None:
            target = f"≤ {fmt(at_most)}{unit}"
        why = failures_text(others if runs is None else runs)
        if why:
            self.invalid += 1
            self.rows.append((figure, "invalid", target, "—", "**invalid**", others_text(others),
                              f"runs with failures: {why}"))
            return
        if value is None:
            verdict = "**missing**"
            self.failed += 1
        elif at_least is not None:
            ratio = f"{value / at_least:.2f}×"
            ok = value >= at_least
            verdict = "pass" if ok else "**FAIL**"
            self.passed += ok
            self.failed += not ok
        elif at_most is not None:
            ratio = f"{value / at_most:.2f}×"
            ok = value <= at_most
            verdict = "pass" if ok else "**FAIL**"
            self.passed += ok
            self.failed += not ok
        shown = "—" if value is None else f"{fmt(value)}{unit}"
        self.rows.append((figure, shown, target, ratio, verdict, others_text(others), note))

    def check(self, figure, ok, shown, others=None, note=""):
        """A yes/no requirement of pushway itself (such as: every outcome delivered): a failed run
        is a fail here, not an invalid figure."""
        self.passed += ok
        self.failed += not ok
        self.rows.append((figure, shown, "all", "—", "pass" if ok else "**FAIL**", others_text(others), note))

    def markdown(self):
        lines = ["| figure | measured (median) | target | ratio to target | verdict | others' CPU (max of runs) | notes |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append("| " + " | ".join(r) + " |")
        return "\n".join(lines)


def others_text(rows):
    if not rows:
        return "—"
    shares = [r.get("others_share") for r in rows if r.get("others_share") is not None]
    reran = sum(1 for r in rows if r.get("attempt", 1) > 1)
    if not shares:
        return "—"
    text = f"{max(shares):.0%}"
    if reran:
        text += f" ({reran} rerun{'s' if reran > 1 else ''})"
    return text


def pick(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def section_render(rows, out):
    t = Table()
    render = pick(rows, bench="render/group_text_3_elements")
    floor = pick(rows, bench="render/floor_clone_strings")
    r = med(x.get("per_s") for x in render)
    f = med(x.get("per_s") for x in floor)
    t.add("renders/s, one core (group text message, 3 elements)", r, "/s", at_least=1_000_000, others=render,
          note=f"{fmt(med(x['ns_per_iter'] for x in render), 1)} ns per render; {len(render)} round(s)")
    t.add("limit: clone the notification's strings only", f, "/s", others=floor,
          note=f"render costs {f / r:.1f}× the floor" if r and f else "")
    out.append(t)


def section_apns_sim(rows, out):
    t = Table()
    for mode in ("h2c", "tls"):
        for conns in (1, 4):
            def m(server, key):
                return med(r[key] for r in pick(rows, server=server, mode=mode, conns=conns))
            sim, bare, ngh = m("sim", "req_s"), m("bare", "req_s"), m("nghttpd", "req_s")
            runs = pick(rows, mode=mode, conns=conns)
            # nghttpd is only for scale: its failures void its figure in the note, not the ratio.
            ngh_bad = failures_text(pick(runs, server="nghttpd"))
            t.add(f"{mode} -c{conns}: simulator ÷ bare hyper (req/s)",
                  paired(pick(runs, server="sim"), pick(runs, server="bare"), "req_s"), "×",
                  at_least=0.8, others=runs, runs=[r for r in runs if r.get("server") != "nghttpd"],
                  note=f"sim {fmt(sim)}/s, bare {fmt(bare)}/s, nghttpd {'invalid' if ngh_bad else fmt(ngh) + '/s'}; "
                       f"sim CPU {fmt(m('sim', 'server_cpu_us_per_req'))} µs/req"
                       + (f"; nghttpd runs with failures: {ngh_bad}" if ngh_bad else ""))
    out.append(t)


def section_apns(rows, out):
    t = Table()
    runs = [r for r in rows if r.get("client") in ("h2load", "pushway-apns", "node-apn")]
    for mode in ("tls", "h2c"):
        h = med(r["per_s"] for r in pick(runs, client="h2load", mode=mode))
        h_cpu = med(r.get("process_cpu_us") for r in pick(runs, client="h2load", mode=mode))
        nd = med(r["per_s"] for r in pick(runs, client="node-apn", mode=mode))
        nd_cpu = med(r.get("process_cpu_us") for r in pick(runs, client="node-apn", mode=mode))
        for w in (100, 1000):
            p_rows = pick(runs, client="pushway-apns", mode=mode, inflight=w)
            p = med(r["per_s"] for r in p_rows)
            cpu = med(r.get("phase_cpu_us") for r in p_rows)
            cpu_proc = med(r.get("process_cpu_us") for r in p_rows)
            h_rows = pick(runs, client="h2load", mode=mode)
            nd_rows = pick(runs, client="node-apn", mode=mode)
            t.add(f"{mode}, {w} in flight: provider ÷ h2load -c1 -m100 (notif/s)",
                  paired(p_rows, h_rows), "×", at_least=0.5, others=p_rows + h_rows,
                  note=f"provider {fmt(p)}/s, h2load {fmt(h)}/s")
            t.add(f"{mode}, {w} in flight: provider client CPU per notification", cpu, " µs", at_most=10,
                  others=p_rows, note=f"whole process {fmt(cpu_proc)} µs (setup included); h2load "
                  f"{'invalid' if failures_text(h_rows) else fmt(h_cpu) + ' µs'} per request (whole process, same run)")
            if nd:
                t.add(f"{mode}, {w} in flight: provider ÷ @parse/node-apn (notif/s)", paired(p_rows, nd_rows), "×",
                      at_least=5, others=nd_rows, runs=p_rows + nd_rows,
                      note=f"node-apn {fmt(nd)}/s, {fmt(nd_cpu)} µs CPU/notification (whole process)")
    for r in rows:
        if r.get("client") == "memory":
            t.add(f"memory per in-flight send ({r['inflight']} in flight)", r["bytes_per_inflight_send"], " B",
                  runs=[r], note="against a server that never answers")
    out.append(t)


def section_fcm(rows, out):
    t = Table()
    runs = [r for r in rows if r.get("client") in ("h2load", "pushway-fcm", "firebase-admin")]
    h_rows, fa_rows = pick(runs, client="h2load"), pick(runs, client="firebase-admin")
    h = med(r["per_s"] for r in h_rows)
    h_cpu = med(r.get("process_cpu_us") for r in h_rows)
    fa = med(r["per_s"] for r in fa_rows)
    fa_cpu = med(r.get("process_cpu_us") for r in fa_rows)
    for w in (100, 1000):
        p_rows = pick(runs, client="pushway-fcm", inflight=w)
        p = med(r["per_s"] for r in p_rows)
        t.add(f"{w} in flight: pushway-fcm ÷ h2load -c1 -m100 (notif/s)", paired(p_rows, h_rows), "×",
              at_least=0.5, others=p_rows + h_rows,
              note=f"pushway-fcm {fmt(p)}/s, h2load {fmt(h)}/s (identical body and headers, valid token)")
        # No target was set for FCM's client CPU: reported beside h2load's, as the issue asks.
        t.add(f"{w} in flight: pushway-fcm client CPU per notification",
              med(r.get("phase_cpu_us") for r in p_rows), " µs", others=p_rows,
              note=f"whole process {fmt(med(r.get('process_cpu_us') for r in p_rows))} µs (setup included); h2load "
                   f"{'invalid' if failures_text(h_rows) else fmt(h_cpu) + ' µs'} per request (whole process, same run)")
        t.add(f"{w} in flight: pushway-fcm ÷ firebase-admin send() (notif/s)", paired(p_rows, fa_rows), "×",
              at_least=5, others=fa_rows, runs=p_rows + fa_rows,
              note=f"firebase-admin {fmt(fa)}/s, {fmt(fa_cpu)} µs CPU/notification (whole process)")
    out.append(t)


def section_vendor(rows, out, peer_name):
    t = Table()
    for batch in sorted({r.get("batch", 1000) for r in rows}, reverse=True):
        rs = [r for r in rows if r.get("batch", 1000) == batch]
        m = {label: {k: med(r.get(k) for r in pick(rs, label=label))
                     for k in ("per_s", "cpu_us_per_token")} for label in ("limit", "pushway", "peer")}
        p, lim, peer = m["pushway"]["per_s"], m["limit"]["per_s"], m["peer"]["per_s"]
        runs = {label: pick(rs, label=label) for label in ("limit", "pushway", "peer")}
        # A figure of an invalid run is never shown, not even in a note.
        cpu = {label: "invalid" if failures_text(runs[label]) else fmt(m[label]["cpu_us_per_token"], 3) + " µs"
               for label in runs}
        label = f"{batch:,}-token requests" if batch > 1 else "single-token requests"
        if batch > 1:
            t.add(f"{label}: pushway ÷ wrk limit (tokens/s)", paired(runs["pushway"], runs["limit"]), "×", at_least=0.5,
                  others=rs, runs=runs["pushway"] + runs["limit"], note=f"pushway {fmt(p)}/s, wrk {fmt(lim)}/s")
            t.add(f"{label}: pushway client CPU per token", m["pushway"]["cpu_us_per_token"], " µs", at_most=0.5,
                  others=runs["pushway"], note=f"wrk {cpu['limit']}, {peer_name} {cpu['peer']}")
            t.add(f"{label}: pushway ÷ {peer_name} (tokens/s)", paired(runs["pushway"], runs["peer"]), "×", at_least=2,
                  others=runs["peer"], runs=runs["pushway"] + runs["peer"], note=f"{peer_name} {fmt(peer)}/s")
        else:
            peer_text = "invalid" if failures_text(runs["peer"]) else f"{fmt(peer)}/s"
            t.add(f"{label}: pushway ÷ wrk limit (requests/s, no target)", paired(runs["pushway"], runs["limit"]), "×",
                  others=rs, runs=runs["pushway"] + runs["limit"],
                  note=f"pushway {fmt(p)}/s ({fmt(m['pushway']['cpu_us_per_token'])} µs CPU each), "
                       f"wrk {fmt(lim)}/s, {peer_name} {peer_text}")
    out.append(t)


def section_daemon(rows, out):
    t = Table()
    rss = pick(rows, bench="idle_rss")
    rt = pick(rows, bench="roundtrip")
    per = med(r.get("bytes_per_connection") for r in rss)
    conns = med(r.get("connections") for r in rss)
    t.add(f"server memory per idle connection ({fmt(conns)} connections)", per / 1024 if per else None, " KiB",
          at_most=16, others=rss)
    t.add("push→ack round trips to 1,000 devices", med(r.get("per_s") for r in rt), "/s", at_least=100_000,
          others=rt, note=f"{fmt(med(r.get('cpu_us_per_round_trip') for r in rt))} µs process CPU per round trip "
                          f"(server and devices in one process; server "
                          f"{fmt(med(r.get('server_cpu_us_per_round_trip') for r in rt))} µs, devices "
                          f"{fmt(med(r.get('devices_cpu_us_per_round_trip') for r in rt))} µs)")
    t.add("p99 push→ack at a steady 10,000/s", med(r.get("p99_ms") for r in rt), " ms", at_most=5, others=rt,
          note=f"p50 {fmt(med(r.get('p50_ms') for r in rt), 2)} ms, p99.9 {fmt(med(r.get('p999_ms') for r in rt), 2)} ms")
    out.append(t)


def section_router(rows, out):
    t = Table()
    for mode in ("per-recipient", "by-badge"):
        rs = pick(rows, mode=mode)
        if not rs:
            continue
        ok = all(r.get("ok") for r in rs)
        n = int(med(r.get("notifications") for r in rs) or 0)
        d = int(med(r.get("dispatches") for r in rs) or 0)
        outcomes = {}
        for ch, counts in rs[-1].get("outcomes", {}).items():
            outcomes[ch] = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        p50 = med(r.get("dispatch_report_ms", {}).get("p50") for r in rs)
        p99 = med(r.get("dispatch_report_ms", {}).get("p99") for r in rs)
        t.add(f"{mode}: first dispatch → last outcome ({n:,} notifications, {d:,} dispatches)",
              med(r.get("seconds") for r in rs), " s", others=rs,
              note=f"each dispatch's report after p50 {fmt(p50)} ms, p99 {fmt(p99)} ms")
        t.add(f"{mode}: notifications/s", med(r.get("per_s") for r in rs), "/s", others=rs)
        t.add(f"{mode}: client CPU per notification", med(r.get("client_cpu_us_per_notification") for r in rs),
              " µs", others=rs, note=f"simulators {fmt(med(r.get('simulators_cpu_s') for r in rs), 2)} s CPU; "
                                     f"render {fmt(med(r.get('render_us_per_recipient') for r in rs), 2)} µs/recipient")
        t.check(f"{mode}: every outcome delivered or queued", ok,
                "yes" if ok else "no", others=rs,
                note="; ".join(f"{k}: {v}" for k, v in outcomes.items()) + ("" if ok else " — some run failed"))
    out.append(t)


# The memory figure's bound (MiB) on RSS growth between 1,000 and PENDING pending deliveries: the
# SQLite page caches, which are bounded by `cache_size` (SQLite's default -2000: 2,000 KiB per
# connection; the gateway's store has 5: sqlx's writer and 2 readers for the cold paths, and the hot
# paths' own writer and reader (store/sqlite/raw.rs), 9.8 MiB), plus 2 MiB for
# the allocator's retained free memory and the WAL index. Rows are never held in memory: the
# workers claim `claim_batch` rows at a time with at most `max_in_flight` dispatches, whatever the
# store holds.
GATEWAY_RSS_GROWTH_MIB = 12


def section_gateway(rows, out):
    t = Table()
    acc = pick(rows, bench="gateway_accept")
    lim, gw = pick(acc, label="limit"), pick(acc, label="pushway")
    lim_rate, gw_rate = med(r.get("per_s") for r in lim), med(r.get("per_s") for r in gw)
    lim_cpu = med(r.get("server_cpu_us_per_request") for r in lim)
    gw_cpu = med(r.get("server_cpu_us_per_request") for r in gw)
    conns = med(r.get("connections") for r in acc)
    t.add(f"durable accepts/s ÷ axum 202 limit (wrk -c{int(conns or 0)}, requests/s)",
          paired(gw, lim), "×", at_least=0.3, others=acc, runs=lim + gw,
          note=f"gateway {fmt(gw_rate)}/s, limit {fmt(lim_rate)}/s (medians){rounds_text(by_round(gw, lim))}; "
               f"server CPU per request: gateway {fmt(gw_cpu)} µs (its deliveries included), limit "
               f"{fmt(lim_cpu)} µs")
    t.add("gateway server CPU per accepted message (2 deliveries each)", gw_cpu, " µs", others=gw,
          note=f"limit server {fmt(lim_cpu)} µs per request; simulators "
               f"{fmt(med(r.get('simulators_cpu_s') for r in gw), 2)} s CPU meanwhile")
    # The accept path alone: the same wrk with the workers off ([worker] enabled = false); every
    # row then drained by a gateway with workers on (a run whose rows were not all delivered is
    # invalid).
    held = pick(acc, label="pushway_held")
    if held:
        held_rate = med(r.get("per_s") for r in held)
        held_cpu = med(r.get("server_cpu_us_per_request") for r in held)
        drain = med((r.get("drain") or {}).get("per_s") for r in held)
        t.add("accept path alone: accepts/s with deliveries held ÷ limit (workers off, then drained)",
              paired(held, lim), "×", others=held, runs=lim + held,
              note=f"gateway {fmt(held_rate)}/s{rounds_text(by_round(held, lim))}; server CPU {fmt(held_cpu)} µs per message (its 2 "
                   f"delivery rows committed, none sent meanwhile); then drained at {fmt(drain)} "
                   f"deliveries/s, every one delivered")

    e2e = pick(rows, bench="gateway_e2e")
    router = {mode: pick(rows, bench="router_e2e", mode=mode) for mode in ("by-badge", "per-recipient")}
    rate = med(r.get("per_s") for r in e2e)
    lib = {mode: med(r.get("per_s") for r in rs) for mode, rs in router.items()}
    n = int(med(r.get("deliveries") for r in e2e) or 0)
    outcomes = {}
    for kind, counts in (e2e[-1].get("outcomes", {}) if e2e else {}).items():
        outcomes[kind] = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    t.add(f"end to end: deliveries/s ÷ router_e2e by-badge notifications/s ({n:,} deliveries)",
          paired(e2e, router["by-badge"]), "×", at_least=0.5,
          others=e2e + router["by-badge"], runs=e2e + router["by-badge"],
          note=f"gateway {fmt(rate)}/s, router_e2e by-badge {fmt(lib['by-badge'])}/s (medians)"
               f"{rounds_text(by_round(e2e, router['by-badge']))}; per-recipient {fmt(lib['per-recipient'])}/s ("
               + (f"{x:.2f}×" if (x := paired(e2e, router["per-recipient"])) else "—") + ")")
    t.add("end to end: POST → last outcome recorded", med(r.get("seconds") for r in e2e), " s", others=e2e,
          note=f"202 after {fmt(med(r.get('accept_ms') for r in e2e))} ms; server CPU "
               f"{fmt(med(r.get('server_cpu_us_per_delivery') for r in e2e))} µs per delivery; "
               + "; ".join(f"{k}: {v}" for k, v in outcomes.items()))

    mem = pick(rows, bench="gateway_memory")
    idle = med(r.get("idle_rss_kib") for r in mem)
    growth = med(r.get("rss_growth_kib") for r in mem)
    small, large = med(r.get("small_rss_kib") for r in mem), med(r.get("large_rss_kib") for r in mem)
    pending = int(med(r.get("large_pending") for r in mem) or 0)
    t.add("idle RSS of pushway serve (one app, after one message)", idle / 1024 if idle else None, " MiB",
          at_most=30, others=mem)
    t.add(f"RSS growth, 1,000 → {pending:,} pending deliveries (workers sweeping)",
          growth / 1024 if growth is not None else None, " MiB", at_most=GATEWAY_RSS_GROWTH_MIB, others=mem,
          note=f"largest VmRSS sample over {fmt(med(r.get('sample_secs') for r in mem))} s: "
               f"{fmt(small / 1024 if small else None, 1)} MiB at 1,000, "
               f"{fmt(large / 1024 if large else None, 1)} MiB at {pending:,}; bound: SQLite page caches "
               "(cache_size 2,000 KiB × 5 connections) + 2 MiB")
    out.append(t)


def section_cluster(rows, out):
    t = Table()
    runs = pick(rows, bench="cluster")
    side = {(label, open_tx): pick(runs, label=label, open_tx=open_tx)
            for label in ("pushway", "pgbench") for open_tx in (False, True)}
    rate = {k: med(r.get("per_s") for r in rs) for k, rs in side.items()}
    cpu = {k: med(r.get("server_cpu_us_per_row") for r in rs) for k, rs in side.items()}
    workers = int(med(r.get("workers") for r in runs) or 0)
    batch = int(med(r.get("batch") for r in runs) or 0)
    held = med(r.get("open_tx_held_s") for r in runs if r.get("open_tx"))
    for open_tx, name in ((False, "nothing else open"), (True, f"a transaction held open {fmt(held, 0)} s")):
        gw, pg = rate[("pushway", open_tx)], rate[("pgbench", open_tx)]
        both = side[("pushway", open_tx)] + side[("pgbench", open_tx)]
        t.add(f"outbox claim-and-complete rows/s ÷ pgbench, same SQL ({name}; {workers} workers, {batch} rows "
              "per claim)", paired(side[("pushway", open_tx)], side[("pgbench", open_tx)]), "×", at_least=0.5,
              others=both,
              note=f"pushway {fmt(gw)} rows/s, pgbench {fmt(pg)} rows/s; Postgres CPU per row: pushway "
                   f"{fmt(cpu[('pushway', open_tx)])} µs, pgbench {fmt(cpu[('pgbench', open_tx)])} µs")
    slow = {label: paired(side[(label, True)], side[(label, False)]) for label in ("pushway", "pgbench")}
    pg_runs = side[("pgbench", False)] + side[("pgbench", True)]
    pg_slow = "invalid" if failures_text(pg_runs) else (f"{slow['pgbench']:.2f}×" if slow["pgbench"] else "—")
    t.add("rows/s with the open transaction ÷ without (pushway)", slow["pushway"], "×",
          others=side[("pushway", False)] + side[("pushway", True)], note=f"pgbench: {pg_slow}")
    cross = pick(rows, bench="cross_node")
    if cross:
        rate = int(med(r.get("rate") for r in cross) or 0)
        # A run with a push not acked or left queued is invalid (run_failures).
        t.add(f"cross-node daemon push→ack p99 at {rate:,} pushes/s (node B queues, node A's device acks)",
              med(r.get("p99_ms") for r in cross), " ms", at_most=20, others=cross,
              runs=cross,
              note=f"p50 {fmt(med(r.get('p50_ms') for r in cross), 2)} ms, p99.9 "
                   f"{fmt(med(r.get('p999_ms') for r in cross), 2)} ms, max {fmt(med(r.get('max_ms') for r in cross), 1)} ms; "
                   f"{fmt(med(r.get('pushes') for r in cross))} pushes to {fmt(med(r.get('devices') for r in cross))} "
                   f"devices per run; Postgres CPU {fmt(med(r.get('postgres_run_cpu_s') for r in cross), 2)} s per run")
    out.append(t)


def section_cluster_e2e(rows, out):
    t = Table()
    e2e = pick(rows, bench="gateway_e2e")
    setups = [("sqlite", 1), ("postgres", 1), ("postgres", 3)]
    runs = {(store, nodes): [r for r in e2e if r.get("store", "sqlite") == store and r.get("nodes", 1) == nodes]
            for store, nodes in setups}
    rate = {k: med(r.get("per_s") for r in rs) for k, rs in runs.items()}
    n = int(med(r.get("deliveries") for r in e2e) or 0)
    for store, nodes in setups:
        rs = runs[(store, nodes)]
        name = f"{'SQLite' if store == 'sqlite' else 'Postgres'}, {nodes} node{'s' if nodes > 1 else ''}"
        r = rate[(store, nodes)]
        pg = med(x.get("postgres_cpu_us_per_delivery") for x in rs)
        note = (f"POST → last outcome {fmt(med(x.get('seconds') for x in rs))} s; 202 after "
                f"{fmt(med(x.get('accept_ms') for x in rs))} ms; gateway CPU "
                f"{fmt(med(x.get('server_cpu_us_per_delivery') for x in rs))} µs per delivery (all nodes)")
        if pg is not None:
            note += f", Postgres CPU {fmt(pg)} µs per delivery"
        if store != "sqlite":
            ratio = paired(rs, runs[("sqlite", 1)])
            note += "; ÷ SQLite 1 node: " + (f"{ratio:.2f}×" if ratio else "—")
        t.add(f"end to end deliveries/s, {name} ({n:,} deliveries)", r, "/s", others=rs, note=note)
    # Correctness on every setup: every delivery delivered or queued, every daemon client reached.
    ok = all(r.get("ok") for r in e2e) and all(runs.values())
    t.check("every delivery delivered or queued, every daemon client got its push (all setups)", ok,
            f"{sum(1 for r in e2e if r.get('ok'))}/{len(e2e)} runs", others=e2e)
    out.append(t)


SECTIONS = {
    "render": ("Render micro-benchmark", section_render, """\
`cargo bench -p pushway-core --bench render` (criterion; the bench executable run directly, once per round):
the median time of one `render()` of a group text message with three elements, and of a limit case that only
clones the strings a notification is made of. Renders/s = 1 s ÷ median time; criterion runs on one thread."""),
    "apns_sim": ("APNs simulator vs a bare HTTP/2 server", section_apns_sim, """\
`bench/apns_sim.sh`: h2load (`-m100`, 300-byte POST with pushway's headers) against pushway-mock's APNs
simulator (every request checked: JWT, headers, token; recording off), a bare hyper HTTP/2 server that reads
the body and answers 200, and nghttpd (C) for scale; h2c and TLS, 1 and 4 connections. Rounds alternate the
servers (bare, simulator, nghttpd). Server CPU from `/proc/<pid>/stat`."""),
    "apns": ("APNs provider", section_apns, """\
`bench/apns.sh`: against one simulator process (recording off, playing production like the provider) and one
~300-byte payload (the provider's own, fed byte for byte to the others), per round: h2load `-c1 -m100` (the limit), pushway-apns on one connection
with 100 and 1,000 sends in flight (`crates/apns/examples/apns_bench.rs`), and `@parse/node-apn` 8 (TLS, 1,000
in flight). Client CPU per notification = user+sys of the sending process over its timed phase ÷ notifications
(the whole process is in the notes). Memory per in-flight send against a server that never answers."""),
    "xiaomi": ("Xiaomi MiPush provider", section_vendor, """\
`bench/xiaomi.sh`: against one simulator process, 1,000-token requests: wrk (one connection per in-flight
request) posting the identical body the provider sends, pushway-xiaomi (`bench_client`, 16 in flight) and npm
`push-xiaomi` 0.1.6. Tokens/s; client CPU per token over the sending phase (wrk: the whole process). Plus
single-token requests (no target)."""),
    "huawei": ("Huawei Push Kit provider", section_vendor, """\
`bench/huawei.sh`: against `pushway-mock huawei` (recording off), 1,000-token requests: wrk posting the
identical body (written by the provider's `build_request`), pushway-huawei (`crates/huawei/benches/throughput.rs`
`send`, 4 in flight) and PyPI `hpa` 1.0 (Huawei's Push Kit demo, packaged). Tokens/s; client CPU per token over
the sending phase."""),
    "fcm": ("FCM provider", section_fcm, """\
`bench/fcm.sh`: against one `pushway-mock fcm` process (TLS, recording off) and one ~440-byte body (the
provider's own for the bench notification), per round: h2load `-c1 -m100` posting the identical body with the
provider's headers and a valid Bearer token obtained first (the limit), pushway-fcm on one HTTP/2 connection
with 100 and 1,000 sends in flight (`crates/fcm/examples/fcm_bench.rs`; the simulator allows 100 streams, as
FCM), and Google's `firebase-admin` 13.10 `messaging.send()` with 100 in flight (`bench/fcm_firebase_admin.js`;
HTTP/1.1 through its `httpAgent`, one connection per send in flight: its HTTP/2 `sendEach` sends `:scheme`
`https:`, which the simulator refuses). Client CPU per notification = user+sys of the sending process over its
timed phase ÷ notifications (the whole process is in the notes)."""),
    "daemon": ("Daemon channel", section_daemon, """\
`cargo bench -p pushway-daemon --bench idle_rss` (a hub in a child process; 10,000 authenticated idle device
connections opened in steps; RSS growth ÷ connections) and `--bench roundtrip` (hub + 1,000 connected devices in
one process on 2 worker threads: 200 notifications × 1,000 devices, 8 sends in flight, every outcome must be
Delivered; then a steady 10,000 pushes/s for 5 s, time of each send to Delivered). Each bench executable is run
directly, once per round."""),
    "router": ("Router end to end", section_router, """\
`target/release/examples/router_e2e` (`examples/router_e2e.rs`): one group message to 10,000 recipients (fewer in
quick mode), one device each, spread evenly over APNs (TLS), Xiaomi, Huawei and the daemon channel. The three simulators run in a
separate process (`pushway-mock all --recording off`) so this process's CPU is pushway's; the daemon hub runs
in-process with a connected `DeviceClient` per daemon recipient (2,500) (real WebSocket connections that ack each push; their CPU counts
as client CPU, so it is an upper bound). Every provider is wrapped in the delivery layers. Each recipient's
notification is rendered for them (badge = unread count, 1–99), then dispatched through one `Router`, all at
once. `per-recipient`: one `dispatch` per recipient; `by-badge`: recipients with equal rendered notifications
share one dispatch, which the router batches per channel. Time from the first dispatch to the last outcome;
every outcome must be delivered or queued (the program fails otherwise). No target was set: the figures are
reported, the pass/fail is on the outcomes."""),
    "gateway": ("Gateway (`pushway serve`)", section_gateway, """\
`target/release/examples/gateway_bench` (`examples/gateway_bench/main.rs`, method in full at its top) against
the release `pushway serve` (SQLite in a temporary directory on the run's disk, WAL, `synchronous=FULL` for
every acknowledged write) with one app whose APNs/Xiaomi/Huawei credentials point at `pushway-mock all
--recording off` in another process. **Accept**: one recipient with two devices (APNs, Xiaomi) registered
through the API; wrk (`-t1 -c64`, `bench/wrk_post.lua`, a unique `Idempotency-Key` per request) POSTs one
~300-byte C2C message for the run's duration, each 202 answered once the message and its two delivery rows are
committed (the deliveries run meanwhile); then the same wrk against `examples/accept_limit.rs` (axum, the
gateway's version and features, answering 202 and storing nothing). Server CPU per request = utime+stime of
the server from `/proc/<pid>/stat` ÷ requests. The accept path alone: the same wrk against a gateway on a new
file with its delivery workers off (`[worker] enabled = false`: each 202 still after the commit of the message
and its two rows, none sent meanwhile); that process is then killed, a gateway with its workers on is started on
the same file, and the run counts only if every row it holds ends `delivered` (the drain's rate is in the
note). **End to end**: 10,000 recipients (fewer in quick mode), user
`i` with `1 + i % 4` devices over APNs, Xiaomi, Huawei and the daemon channel (25,000 deliveries); every daemon
device is a connected WebSocket client of the gateway that acks (so `delivered`); one group message (99
renderings); time from just before the POST to the largest `updated_at_ms` of its deliveries in `GET
/v1/apps/{app}/messages/{id}`, read once `GET .../{id}/summary` (polled every second) says every delivery is
final; every one must be delivered or queued.
Compared with `router_e2e` (the library alone, one device per recipient) run in the same round; the gateway
groups claimed rows by rendered notification, like router_e2e's `by-badge` mode, which is the target's
reference. **Memory**: VmRSS after startup and one message; then stores filled through the gateway's own
`Store::accept` with 1,000 and with 1,000,000 (100,000 in quick mode) pending deliveries to the simulators,
the largest VmRSS sample (every 100 ms, 10 s) while the workers sweep them."""),
    "cluster": ("Outbox on Postgres (cluster)", section_cluster, """\
`target/release/examples/cluster_bench` (`examples/cluster_bench/main.rs`, method in full at its top): a private
Postgres from the machine's binaries with default durability (fsync, `synchronous_commit` on); before every run
the outbox is refilled through the gateway's own `Store::accept` (100,000 pending deliveries and runs of 3 s
in quick mode, 400,000 and 10 s otherwise), vacuumed, analyzed and checkpointed. **pgbench** (the limit;
`-M prepared`, 4 clients, 100 rows per claim) runs a script made from the statement texts `PgStore::claim` and
`PgStore::record` run (`postgres::CLAIM_SQL` as is, from the start key the store would use (its cursor or
`now` − 2 s, a sweep every 5 s), its final SELECT handing the ids to `\\gset`; BEGIN,
`OUTCOMES_SQL`, which moves the delivered rows to `outbox_finished`, COMMIT); then
**pushway**: 4 tasks looping `PgStore::claim` + `PgStore::record` (every row `delivered`) on one
`PgStore`. Rows/s = rows delivered ÷ the run's time; Postgres CPU per row from `/proc` (the postmaster and its
children). Both again in runs of 60 s (10 s in quick mode) on 2,000,000 rows (400,000) while another session
holds `BEGIN; SELECT txid_current()` open for the whole run (the SKIP LOCKED / dead-tuple case). A run that may
have run out of due rows is invalid. One round unless `CLUSTER_ROUNDS` is set.
**Cross-node daemon** (`cargo bench -p pushway-daemon --bench cross_node`, every round): a private Postgres
with default durability, two hubs (nodes A and B) in one process, each with its own pool and `LISTEN`
connection; 100 devices (the real client, acking every push) connected to A; 1,000 single-token pushes a
second for 10 s (3 s in quick mode) sent through B's provider, which queues them in Postgres and notifies A.
Latency from each push's scheduled tick to A's `on_acked`; the target is on the median of the rounds' p99. A
run with a push not acked or left queued is invalid; Postgres's CPU is taken out of the others' share."""),
    "cluster_e2e": ("End to end on Postgres vs SQLite (cluster)", section_cluster_e2e, """\
`target/release/examples/gateway_bench e2e` (the gateway section's end-to-end workload: 10,000 recipients,
fewer in quick mode, 25,000 deliveries over APNs, Xiaomi, Huawei and connected daemon clients, one group message)
three times per round: on SQLite (one `pushway serve`), on a private Postgres started from the machine's
binaries with default durability (fsync and `synchronous_commit` on) with one node, and with three nodes on the
same database (`examples/gateway_bench/cluster.rs`; registrations and the POST go to node 0, every node's
workers claim and deliver, daemon client `k` connects to node `k % 3`). Same clock for every node; time from
just before the POST to the last `updated_at_ms`. Gateway CPU is the sum of the nodes'; Postgres CPU is the
postmaster and its children (`/proc`), over the same interval, and is taken out of the others' share. No target
was set: on a 2-core machine three nodes cannot add CPU; the figures show the overhead of Postgres and of
sharing one outbox, and the check is that every delivery is made."""),
}
PEERS = {"xiaomi": "push-xiaomi", "huawei": "hpa"}


def write(results, meta_path, out_path):
    rows = [json.loads(l) for l in open(results) if l.strip()] if os.path.exists(results) else []
    meta = json.load(open(meta_path))
    lines = ["# pushway benchmarks", ""]
    lines.append(f"Written by `bench/run.sh{(' ' + meta['args']) if meta['args'] else ''}` on {meta['date']}. "
                 "Machines are shared and noisy: what counts is the ratios measured in one run and the client "
                 "CPU per notification (see `shared/BENCHMARKING.md`).")
    lines += ["", "## Machine", ""]
    for k in ("cpu", "nproc", "memory", "kernel", "rustc"):
        lines.append(f"- {k}: {meta.get(k, '?')}")
    lines.append(f"- load average (1/5/15 min) before the run: {meta.get('load_before', '?')}; after: "
                 f"{meta.get('load_after', '?')}")
    lines += ["", "## Method", "",
              f"- Rounds: {meta['rounds']} per comparison, in order limit tool, pushway, peer; every figure is the "
              "median of the rounds, and a ratio the median of the ratios measured within each round (both sides "
              "minutes apart at most, so the host's drifting speed moves them alike)." + (" **Quick mode: 1 round, smaller N — a smoke test, not a result.**"
                                         if meta.get("quick") else ""),
              "- Loopback only; every server a script starts is stopped by PID; every step is bounded by count and "
              "`timeout`.",
              "- Others' CPU: for each run, the machine's busy time (`/proc/stat`) minus the CPU of the measured "
              "processes (client and server), as a share of one core. A run where others used more than 15% of a "
              "core was run once more and the rerun kept (at most one rerun per run); the table shows the largest "
              "share among the kept runs of each figure and how many were reruns.",
              "- Ratio to target = measured ÷ target (for a ceiling such as CPU per notification, below 1× passes).",
              "- Client CPU per notification is reported beside throughput: it still means something when the "
              "server saturates.",
              "- A run counts only if every request succeeded: a figure computed from a run with any non-2xx "
              "answer, error, failed or undelivered send is shown as **invalid** with the reason, never as a "
              "ratio or a verdict."]
    if meta.get("notes"):
        lines += [f"- {n}" for n in meta["notes"]]
    total_fail = total_pass = total_invalid = 0
    summary = []
    for key in meta["sections"]:
        title, fn, method = SECTIONS[key]
        rs = [r for r in rows if r.get("section") == key]
        lines += ["", f"## {title}", "", method, ""]
        status = meta.get("status", {}).get(key)
        if status:
            lines += [f"Section status: {status}", ""]
        if not rs:
            lines.append("**Not measured in this run** (no results; see the section status).")
            summary.append((title, "missing"))
            continue
        out = []
        if key in PEERS:
            fn(rs, out, PEERS[key])
        else:
            fn(rs, out)
        for t in out:
            lines.append(t.markdown())
            total_fail += t.failed
            total_pass += t.passed
            total_invalid += t.invalid
            summary.append((title, f"{t.passed} pass, {t.failed} fail"
                                   + (f", {t.invalid} invalid (re-run the section)" if t.invalid else "")))
        loads = meta.get("loads", {}).get(key)
        if loads:
            lines += ["", f"Load average (1/5/15 min) at the start of the section: {loads} (it includes this suite's own "
                      "earlier sections; others' CPU per run is in the table)."]
    skipped = [SECTIONS[k][0] for k in SECTIONS if k not in meta["sections"]]
    lines += ["", "## Summary", ""]
    for title, s in summary:
        lines.append(f"- {title}: {s}")
    if skipped:
        lines.append(f"- Not run (not selected): {', '.join(skipped)}")
    lines.append(f"- Targets: {total_pass} met, {total_fail} missed or missing"
                 + (f", {total_invalid} figures invalid (a run with failed requests)." if total_invalid else "."))
    lines += ["", f"Raw rows (JSON lines): `{os.path.relpath(results)}` (not committed).", ""]
    open(out_path, "w").write("\n".join(lines))
    print(f"wrote {out_path}: {total_pass} targets met, {total_fail} missed or missing, {total_invalid} invalid")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "parse":
        parse(*sys.argv[2:10])
    elif command == "wrk":
        wrk(*sys.argv[2:6])
    elif command == "write":
        write(*sys.argv[2:5])
    elif command == "--self-test":
        import unittest
        suite = unittest.defaultTestLoader.discover(os.path.dirname(os.path.abspath(__file__)), "report_test.py")
        sys.exit(0 if unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful() else 1)
    else:
        sys.exit("usage: report.py parse|wrk|write ... | --self-test")
