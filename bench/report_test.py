"""Tests of the bench parsers and of how the report treats failed runs: `bench/report.py --self-test`
(also run by .ci/run). A figure computed from a run with any failed request must read "invalid",
never a ratio with pass or fail (issue 13 §5: a wrk "limit" of 44.8 M tokens/s made of refusals)."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
from parse_runs import parse_bench, parse_h2load, parse_wrk, run_failures  # noqa: E402

# What wrk printed when its POST script did not load: plain GETs, each refused with 405.
WRK_REFUSED = """Running 5s test @ http://127.0.0.1:41949/v1/12345/messages:send
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    86.00us   21.00us   1.20ms   90.00%
    Req/Sec    45.10k     1.36k    48.67k    60.00%
  228343 requests in 5.10s, 19.85MB read
  Non-2xx or 3xx responses: 228343
Requests/sec:  44773.14
Transfer/sec:      3.89MB
"""
WRK_NO_SCRIPT_ERR = "/work/shared/bench-peers/wrk_post.lua: cannot open /work/shared/bench-peers/wrk_post.lua\n"
WRK_OK = """Running 2s test @ http://127.0.0.1:38005/v1/12345/messages:send
  1 threads and 4 connections
  4700 requests in 1.00s, 835.00KB read
Requests/sec:   4700.00
Transfer/sec:    835.00KB
Rejected answers: 0 of 4700
"""
H2LOAD_OK = """finished in 1.23s, 16260.16 req/s, 5.03MB/s
requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 20000 2xx, 0 3xx, 0 4xx, 0 5xx
"""
H2LOAD_403 = """finished in 0.53s, 37735.85 req/s, 2.10MB/s
requests: 20000 total, 20000 started, 20000 done, 0 succeeded, 20000 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 20000 4xx, 0 5xx
"""


def vendor_row(label, per_s, cpu, round_=1, **extra):
    return dict({"label": label, "batch": 1000, "n": 1000000, "per_s": per_s, "cpu_us_per_token": cpu,
                 "others_share": 0.01, "round": round_, "section": "huawei"}, **extra)


class WrkTest(unittest.TestCase):
    def test_refused_run_is_invalid(self):
        row = parse_wrk(WRK_REFUSED, "", 1000, 1.2)
        self.assertEqual(row["requests"], 228343)
        self.assertEqual(row["non_2xx"], 228343)
        why = run_failures(row)
        self.assertIn("228,343 non-2xx answers", why)
        # No "Rejected answers" line: bench/wrk_post.lua did not run.
        self.assertTrue(any("wrk script" in w for w in why))

    def test_script_that_did_not_load_is_invalid(self):
        row = parse_wrk(WRK_OK, WRK_NO_SCRIPT_ERR, 1000, 1.0)
        self.assertIn("cannot open", row["script_error"])
        self.assertTrue(run_failures(row))

    def test_clean_run_is_valid(self):
        row = parse_wrk(WRK_OK, "", 1000, 0.16)
        self.assertEqual((row["n"], row["per_s"], row["rejected"]), (4700000, 4700000, 0))
        self.assertEqual(run_failures(row), [])

    def test_answers_rejected_by_body_are_invalid(self):
        row = parse_wrk(WRK_OK.replace("Rejected answers: 0 of", "Rejected answers: 12 of"), "", 1000, 0.16)
        self.assertEqual(run_failures(row), ["12 answers rejected (status or body)"])

    def test_socket_errors_are_invalid(self):
        out = WRK_OK.replace("Requests/sec", "  Socket errors: connect 0, read 2, write 0, timeout 1\nRequests/sec")
        self.assertEqual(run_failures(parse_wrk(out, "", 1000, 0.1)), ["socket errors read 2, timeout 1"])


class H2loadTest(unittest.TestCase):
    def test_clean(self):
        row = dict(parse_h2load(H2LOAD_OK), n=20000)
        self.assertEqual((row["ok"], row["failed"], row["per_s"]), (20000, 0, 16260.16))
        self.assertEqual(run_failures(row), [])

    def test_refused(self):
        row = dict(parse_h2load(H2LOAD_403), n=20000)
        self.assertEqual(run_failures(row), ["20,000 failed"])

    def test_unparsed_output_is_invalid(self):
        self.assertTrue(run_failures(dict(parse_h2load("connect: Connection refused"), n=10)))


class BenchTest(unittest.TestCase):
    def test_exit_status_and_undelivered(self):
        text = ("latency at 10000/s for 5 s: 50000 pushes, p50 200µs, p99 440µs, p99.9 780µs, max 2ms; "
                "not delivered: 3\n")
        (row,) = parse_bench("roundtrip", text, {"exit_status": 101})
        self.assertEqual(run_failures(row), ["exit status 101", "3 not delivered"])

    def test_router_outcome_failure(self):
        (row,) = parse_bench("router", '{"bench":"router_e2e","mode":"by-badge","ok":false}\n', {})
        self.assertEqual(run_failures(row), ["an outcome was neither delivered nor queued"])


class ReportTest(unittest.TestCase):
    def table(self, rows):
        out = []
        report.section_vendor(rows, out, "hpa")
        return out[0]

    def test_invalid_limit_gives_no_ratio_and_no_verdict(self):
        bad = vendor_row("limit", 44_773_140, 0.005, non_2xx=228343, requests=228343)
        rows = [bad, vendor_row("pushway", 2_900_000, 0.16), vendor_row("peer", 333_000, 2.5)]
        t = self.table(rows)
        ratio = t.rows[0]
        self.assertEqual(ratio[1:5], ("invalid", "≥ 0.50×", "—", "**invalid**"))
        self.assertIn("limit round 1: 228,343 non-2xx answers", ratio[6])
        self.assertNotIn("44", ratio[6])
        # The CPU figure is pushway's own and stays; the limit's CPU in its note does not.
        self.assertEqual(t.rows[1][4], "pass")
        self.assertIn("wrk invalid", t.rows[1][6])
        self.assertEqual(t.rows[2][4], "pass")
        self.assertEqual((t.passed, t.failed, t.invalid), (2, 0, 1))

    def test_failed_peer_voids_the_peer_ratio_only(self):
        rows = [vendor_row("limit", 4_700_000, 0.03, rejected=0), vendor_row("pushway", 2_900_000, 0.16),
                vendor_row("peer", 333_000, 2.5, failed=1000)]
        t = self.table(rows)
        self.assertEqual([r[4] for r in t.rows], ["pass", "pass", "**invalid**"])

    def test_valid_runs_give_ratios(self):
        rows = [vendor_row("limit", 4_000_000, 0.03, rejected=0), vendor_row("pushway", 2_000_000, 0.6),
                vendor_row("peer", 100_000, 2.5, failed=0)]
        t = self.table(rows)
        self.assertEqual([r[3] for r in t.rows], ["1.00×", "1.20×", "10.00×"])
        self.assertEqual([r[4] for r in t.rows], ["pass", "**FAIL**", "pass"])

    def test_apns_memory_rows_are_figures_of_their_own(self):
        # A memory run has no limit or peer rows beside it: its figure is checked against itself.
        rows = [{"client": "memory", "inflight": 1000, "bytes_per_inflight_send": 2757, "round": 1}]
        out = []
        report.section_apns(rows, out)
        memory = [(r[0], r[1], r[4]) for r in out[0].rows if r[0].startswith("memory")]
        self.assertEqual(memory, [("memory per in-flight send (1000 in flight)", "2,757 B", "—")])

    def test_fcm_ratios_and_a_failed_peer(self):
        def row(client, w, per_s, **extra):
            return dict({"client": client, "mode": "tls", "inflight": w, "n": 20000, "per_s": per_s,
                         "ok": 20000, "phase_cpu_us": 20.0, "process_cpu_us": 25.0, "others_share": 0.05,
                         "round": 1}, **extra)
        rows = [row("h2load", 100, 20000, failed=0, errored=0, timeout=0, phase_cpu_us=None),
                row("pushway-fcm", 100, 12000), row("pushway-fcm", 1000, 9000),
                row("firebase-admin", 100, 2000)]
        out = []
        report.section_fcm(rows, out)
        self.assertEqual([(r[3], r[4]) for r in out[0].rows],
                         [("1.20×", "pass"), ("—", "—"), ("1.20×", "pass"),
                          ("0.90×", "**FAIL**"), ("—", "—"), ("0.90×", "**FAIL**")])
        # One failed send of the peer voids both peer ratios and nothing else.
        rows[3] = row("firebase-admin", 100, 2000, ok=19999, failed=1)
        out = []
        report.section_fcm(rows, out)
        self.assertEqual([r[4] for r in out[0].rows],
                         ["pass", "—", "**invalid**", "**FAIL**", "—", "**invalid**"])
        # A refused h2load run voids the limit ratios; pushway's CPU stays, h2load's CPU does not.
        rows[0] = row("h2load", 100, 37735, ok=0, failed=20000, errored=0, timeout=0, phase_cpu_us=None)
        out = []
        report.section_fcm(rows, out)
        self.assertEqual([r[4] for r in out[0].rows][:2], ["**invalid**", "—"])
        self.assertIn("h2load invalid", out[0].rows[1][6])

    def test_router_failure_is_a_fail_and_its_timings_invalid(self):
        rows = [{"mode": "by-badge", "ok": False, "seconds": 0.2, "per_s": 50000, "notifications": 100,
                 "dispatches": 3, "outcomes": {}, "round": 1}]
        out = []
        report.section_router(rows, out)
        self.assertEqual([r[4] for r in out[0].rows], ["**invalid**"] * 3 + ["**FAIL**"])

    def test_written_report_counts_invalid_figures(self):
        rows = [vendor_row("limit", 44_773_140, 0.005, non_2xx=5), vendor_row("pushway", 2_900_000, 0.16),
                vendor_row("peer", 333_000, 2.5)]
        with tempfile.TemporaryDirectory() as d:
            results, meta, out = (os.path.join(d, f) for f in ("r.jsonl", "m.json", "B.md"))
            with open(results, "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in rows))
            with open(meta, "w") as f:
                json.dump({"args": "huawei", "date": "d", "rounds": 1, "sections": ["huawei"]}, f)
            report.write(results, meta, out)
            text = open(out).read()
        self.assertIn("- Huawei Push Kit provider: 2 pass, 0 fail, 1 invalid (re-run the section)", text)
        self.assertIn("- Targets: 2 met, 0 missed or missing, 1 figures invalid", text)


def gateway_lines(gateway_wrk=WRK_OK, e2e_ok=True, growth_kib=2048, drained_ok=True):
    """What examples/gateway_bench.rs prints for one round, and router_e2e's line."""
    accept = lambda label, out, cpu: json.dumps({  # noqa: E731
        "bench": "gateway_accept", "label": label, "connections": 64, "duration_s": 2, "server_cpu_s": cpu,
        "wrk_cpu_s": 0.5, "wrk_out": out, "wrk_err": ""})
    held = lambda out, cpu, ok: json.dumps({  # noqa: E731
        "bench": "gateway_accept", "label": "pushway_held", "connections": 64, "duration_s": 2,
        "server_cpu_s": cpu, "wrk_cpu_s": 0.5, "wrk_out": out, "wrk_err": "", "ok": ok,
        "drain": {"rows": 18802, "per_s": 15000.0, "seconds": 1.25, "server_cpu_s": 1.1,
                  "states": {"delivered": 18802}}})
    limit_out = WRK_OK.replace("4700 requests in 1.00s", "47000 requests in 1.00s")
    return "\n".join([
        accept("limit", limit_out, 0.94), accept("pushway", gateway_wrk, 1.41),
        held(WRK_OK.replace("4700 requests in 1.00s", "9400 requests in 1.00s"), 0.94, drained_ok),
        json.dumps({"bench": "router_e2e", "mode": "by-badge", "per_s": 20000.0, "ok": True}),
        json.dumps({"bench": "router_e2e", "mode": "per-recipient", "per_s": 8000.0, "ok": True}),
        json.dumps({"bench": "gateway_e2e", "deliveries": 25000, "n": 25000, "per_s": 12000.0, "seconds": 2.1,
                    "accept_ms": 300, "ok": e2e_ok, "outcomes": {"apns": {"delivered": 7500}}}),
        json.dumps({"bench": "gateway_memory", "idle_rss_kib": 18 * 1024, "small_rss_kib": 20 * 1024,
                    "large_rss_kib": 20 * 1024 + growth_kib, "rss_growth_kib": growth_kib,
                    "large_pending": 1000000, "sample_secs": 10}),
    ]) + "\n"


class GatewayTest(unittest.TestCase):
    def rows(self, text):
        rows = []
        for kind in ("gateway_accept", "router", "gateway_e2e", "gateway_memory"):
            rows += [dict(r, round=1) for r in parse_bench(kind, text, {"others_share": 0.01})]
        return rows

    def table(self, text):
        out = []
        report.section_gateway(self.rows(text), out)
        return out[0]

    def test_accept_rows_are_read_from_wrk_with_cpu_per_request(self):
        rows = [r for r in self.rows(gateway_lines()) if r.get("bench") == "gateway_accept"]
        got = [(r["label"], r["per_s"], r["server_cpu_us_per_request"], "wrk_out" in r) for r in rows]
        self.assertEqual(got, [("limit", 47000, 20.0, False), ("pushway", 4700, 300.0, False),
                               ("pushway_held", 9400, 100.0, False)])
        self.assertEqual([run_failures(r) for r in rows], [[], [], []])

    def test_figures_targets_and_verdicts(self):
        t = self.table(gateway_lines())
        got = [(r[1], r[2], r[4]) for r in t.rows]
        self.assertEqual(got, [("0.10×", "≥ 0.30×", "**FAIL**"), ("300 µs", "—", "—"), ("0.20×", "—", "—"),
                               ("0.60×", "≥ 0.50×", "pass"), ("2.10 s", "—", "—"),
                               ("18.0 MiB", "≤ 30.0 MiB", "pass"), ("2.00 MiB", "≤ 12.0 MiB", "pass")])

    def test_a_gateway_answer_that_is_not_2xx_voids_the_accept_ratio(self):
        refused = WRK_OK.replace("Rejected answers: 0 of", "Rejected answers: 3 of")
        t = self.table(gateway_lines(gateway_wrk=refused))
        self.assertEqual(t.rows[0][1:5], ("invalid", "≥ 0.30×", "—", "**invalid**"))
        self.assertIn("3 answers rejected", t.rows[0][6])

    def test_an_undelivered_outcome_voids_the_end_to_end_ratio(self):
        t = self.table(gateway_lines(e2e_ok=False))
        self.assertEqual(t.rows[3][4], "**invalid**")
        self.assertIn("an outcome was neither delivered nor queued", t.rows[3][6])

    def test_held_rows_not_all_delivered_void_the_accept_path_figure(self):
        t = self.table(gateway_lines(drained_ok=False))
        self.assertEqual(t.rows[2][1:5], ("invalid", "—", "—", "**invalid**"))
        self.assertEqual(t.rows[0][4], "**FAIL**")

    def test_memory_growing_past_the_bound_fails(self):
        t = self.table(gateway_lines(growth_kib=40 * 1024))
        self.assertEqual((t.rows[6][1], t.rows[6][4]), ("40.0 MiB", "**FAIL**"))

    def test_each_ratio_is_of_runs_in_one_round_and_the_median_is_over_rounds(self):
        # A run of 2026-12-07 (rates per s): the host slowed down 3× in rounds 2 and 5, during
        # router_e2e but not during the gateway's runs. The medians of each side (25,202 and
        # 44,090) would give 0.57×, a pass; the rounds' own ratios give 0.41, 0.72, 0.46, 0.38
        # and 1.16, whose median fails.
        pairs = [(74083, 30637), (31727, 22915), (77695, 35613), (44090, 16556), (21668, 25202)]
        rows = []
        for k, (router, gateway) in enumerate(pairs, start=1):
            rows += [{"bench": "router_e2e", "mode": "by-badge", "per_s": float(router), "ok": True, "round": k},
                     {"bench": "gateway_e2e", "deliveries": 25000, "per_s": float(gateway), "ok": True,
                      "round": k}]
        out = []
        report.section_gateway(rows, out)
        e2e = next(r for r in out[0].rows if r[0].startswith("end to end: deliveries/s"))
        self.assertEqual(e2e[1:5], ("0.46×", "≥ 0.50×", "0.92×", "**FAIL**"))
        self.assertIn("gateway 25,202/s, router_e2e by-badge 44,090/s (medians); "
                      "per round 0.41×, 0.72×, 0.46×, 0.38×, 1.16×", e2e[6])
        # A round one side did not run in gives no ratio.
        self.assertEqual(report.by_round([rows[1], dict(rows[3], round=9)], [rows[0]]), [30637 / 74083])


def cluster_e2e_lines(pg3_ok=True):
    """What examples/gateway_bench.rs e2e prints in one round of the cluster_e2e section."""
    def run(store, nodes, per_s, ok=True, pg=None):
        return json.dumps({"bench": "gateway_e2e", "store": store, "nodes": nodes, "deliveries": 25000,
                           "n": 25000, "per_s": per_s, "seconds": 25000 / per_s, "accept_ms": 300,
                           "server_cpu_us_per_delivery": 40.0, "postgres_cpu_us_per_delivery": pg,
                           "postgres_run_cpu_s": pg and 4.0, "ok": ok})
    return "\n".join([run("sqlite", 1, 10000.0), run("postgres", 1, 5000.0, pg=30.0),
                      run("postgres", 3, 4000.0, ok=pg3_ok, pg=35.0)]) + "\n"


class ClusterE2eTest(unittest.TestCase):
    def table(self, text):
        rows = [dict(r, round=1) for r in parse_bench("gateway_e2e", text, {"others_share": 0.5, "wall_s": 10.0})]
        out = []
        report.section_cluster_e2e(rows, out)
        return rows, out[0]

    def test_rates_by_setup_with_the_ratio_to_sqlite_and_postgres_cpu_out_of_others(self):
        rows, t = self.table(cluster_e2e_lines())
        self.assertEqual([r["others_share"] for r in rows], [0.5, 0.1, 0.1])
        self.assertEqual([(r[0], r[1], r[4]) for r in t.rows], [
            ("end to end deliveries/s, SQLite, 1 node (25,000 deliveries)", "10,000/s", "—"),
            ("end to end deliveries/s, Postgres, 1 node (25,000 deliveries)", "5,000/s", "—"),
            ("end to end deliveries/s, Postgres, 3 nodes (25,000 deliveries)", "4,000/s", "—"),
            ("every delivery delivered or queued, every daemon client got its push (all setups)", "3/3 runs",
             "pass")])
        self.assertIn("÷ SQLite 1 node: 0.50×", t.rows[1][6])
        self.assertIn("Postgres CPU 35.0 µs per delivery; ÷ SQLite 1 node: 0.40×", t.rows[2][6])

    def test_an_undelivered_outcome_voids_its_figure_and_fails_the_check(self):
        _, t = self.table(cluster_e2e_lines(pg3_ok=False))
        self.assertEqual((t.rows[2][1], t.rows[2][4]), ("invalid", "**invalid**"))
        self.assertEqual((t.rows[3][1], t.rows[3][4]), ("2/3 runs", "**FAIL**"))


def cluster_lines(pgbench_exit=None, ran_out=False):
    """What examples/cluster_bench prints for one round: pgbench then pushway, plain then with
    the open transaction."""
    def run(label, open_tx, per_s, cpu):
        row = {"bench": "cluster", "label": label, "open_tx": open_tx, "workers": 4, "batch": 100,
               "per_s": per_s, "server_cpu_us_per_row": cpu, "failed": 0, "others_share": 0.02,
               "ran_out": ran_out and label == "pushway" and open_tx,
               "open_tx_held_s": 10.2 if open_tx else None}
        if pgbench_exit is not None and label == "pgbench" and not open_tx:
            row["pgbench_exit"] = pgbench_exit
        return json.dumps(row)
    return "\n".join([run("pgbench", False, 20000.0, 50.0), run("pushway", False, 12000.0, 60.0),
                      run("pgbench", True, 10000.0, 90.0), run("pushway", True, 4000.0, 120.0)]) + "\n"


class ClusterTest(unittest.TestCase):
    def table(self, text):
        rows = [dict(r, round=1) for r in parse_bench("cluster", text, {"others_share": 0.9})]
        out = []
        report.section_cluster(rows, out)
        return rows, out[0]

    def test_each_run_keeps_its_own_others_share(self):
        rows, _ = self.table(cluster_lines())
        self.assertEqual([(r["label"], r["open_tx"], r["others_share"]) for r in rows],
                         [("pgbench", False, 0.02), ("pushway", False, 0.02),
                          ("pgbench", True, 0.02), ("pushway", True, 0.02)])

    def test_ratios_against_pgbench_and_the_slowdown(self):
        _, t = self.table(cluster_lines())
        got = [(r[1], r[2], r[4]) for r in t.rows]
        self.assertEqual(got, [("0.60×", "≥ 0.50×", "pass"), ("0.40×", "≥ 0.50×", "**FAIL**"),
                               ("0.33×", "—", "—")])
        self.assertIn("pushway 12,000 rows/s, pgbench 20,000 rows/s", t.rows[0][6])
        self.assertEqual(t.rows[2][6], "pgbench: 0.50×")

    def test_a_pgbench_abort_voids_its_ratio_and_its_slowdown(self):
        _, t = self.table(cluster_lines(pgbench_exit=2))
        self.assertEqual(t.rows[0][4], "**invalid**")
        self.assertIn("pgbench exit status 2", t.rows[0][6])
        self.assertEqual(t.rows[1][4], "**FAIL**")
        self.assertEqual(t.rows[2][6], "pgbench: invalid")

    def test_a_run_that_ran_out_of_rows_is_invalid(self):
        _, t = self.table(cluster_lines(ran_out=True))
        self.assertEqual([r[4] for r in t.rows], ["pass", "**invalid**", "**invalid**"])
        self.assertIn("run out of due rows", t.rows[1][6])


def cross_node_line(p99_ms, acked=10000, left=0):
    """What crates/daemon/benches/cross_node.rs prints last (its text lines before it)."""
    return ("cross-node push->ack, 100 devices on node A, 10000 pushes sent through node B at 1000/s\n" +
            json.dumps({"bench": "cross_node", "devices": 100, "rate": 1000, "seconds": 10, "pushes": 10000,
                        "acked": acked, "left_queued": left, "p50_ms": 5.4, "p99_ms": p99_ms, "p999_ms": 19.5,
                        "max_ms": 29.5, "postgres_run_cpu_s": 4.0}) + "\n")


class CrossNodeTest(unittest.TestCase):
    def table(self, *texts):
        rows = [dict(r, round=i + 1) for i, text in enumerate(texts)
                for r in parse_bench("cross_node", text, {"others_share": 0.5, "wall_s": 10.0})]
        out = []
        report.section_cluster(rows, out)
        return rows, out[0].rows[-1]

    def test_median_p99_against_the_target_with_postgres_out_of_others(self):
        rows, row = self.table(cross_node_line(11.9), cross_node_line(41.9), cross_node_line(17.1))
        self.assertEqual([r["others_share"] for r in rows], [0.1, 0.1, 0.1])
        self.assertEqual((row[0], row[1], row[2], row[4]),
                         ("cross-node daemon push→ack p99 at 1,000 pushes/s (node B queues, node A's device acks)",
                          "17.1 ms", "≤ 20.0 ms", "pass"))
        self.assertIn("p50 5.40 ms", row[6])

    def test_a_slow_median_fails(self):
        _, row = self.table(cross_node_line(25.0))
        self.assertEqual(row[4], "**FAIL**")

    def test_a_push_not_acked_or_left_queued_voids_the_figure(self):
        for text in (cross_node_line(10.0, acked=9999), cross_node_line(10.0, left=3)):
            _, row = self.table(text)
            self.assertEqual((row[1], row[4]), ("invalid", "**invalid**"))


if __name__ == "__main__":
    unittest.main()
