#!/usr/bin/env python3
"""The independent check of pushway-fcm against firebase-admin (run.sh runs it).

Starts `pushway-mock fcm` (TLS), sends the cases of cases.json through pushway-fcm
(examples/fcm_compare.rs) and through firebase-admin (send.js), reads back the request bodies
the simulator recorded (`/_control/received?simulator=fcm&body=1`) and compares them field by
field. Fails on any difference it does not explain; the explained ones are listed with the
reason. Then shows what the simulator does with the SDK's HTTP/2 `sendEach` (`:scheme` `https:`)
and with the same requests when only `:scheme` is corrected.

  check.py MOCK_BIN FCM_COMPARE_BIN
  check.py --self-test     the comparison flags what it must (a check that cannot fail is none)
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../../.."))
KEY_FILE = os.path.join(REPO, "crates/mock/fixtures/fcm/test-service-account.json")
CASES = os.path.join(HERE, "cases.json")
MAX_MESSAGE_BYTES = 4096  # pushway_fcm::MAX_MESSAGE_BYTES, fcm.md §4

failures = []
quiet = False  # the self-test provokes failures on purpose


def fail(text):
    failures.append(text)
    if not quiet:
        print("FAIL: " + text)


def received(line):
    with urllib.request.urlopen(line["received_url"] + "&body=1", timeout=10) as answer:
        return json.load(answer)


def run(cmd, timeout=120):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE)
    lines = [json.loads(l) for l in done.stdout.splitlines() if l.startswith("{")]
    if done.stderr.strip():
        print("  stderr: " + done.stderr.strip()[-600:])
    return done.returncode, lines


def flatten(value, prefix=""):
    """{dotted path: leaf value}; objects are walked, everything else is a leaf."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: value}


def message_bytes(body):
    """The message without its target, serialized compactly: what the 4096 bytes budget."""
    message = dict(body["message"])
    message.pop("token", None)
    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


def explain(path, ours, theirs, ours_body, theirs_body):
    """Why pushway's value differs from firebase-admin's at PATH, or None (unexplained)."""
    if path == "message.android.priority" and isinstance(ours, str) and isinstance(theirs, str) \
            and ours == "HIGH" and theirs == "high":
        return ("enum case: FCM reads AndroidMessagePriority case-insensitively (fcm.md §8 S6); the SDK's "
                "typings take 'high' and send it as given, pushway sends the enum's name HIGH")
    if path == "message.android.notification.body" and isinstance(ours, str) and isinstance(theirs, str) \
            and ours.endswith("…") and theirs.startswith(ours[:-1]) \
            and message_bytes(ours_body) <= MAX_MESSAGE_BYTES < message_bytes(theirs_body):
        return (f"body shortened: pushway cuts the body to fit FCM's {MAX_MESSAGE_BYTES}-byte message budget "
                f"(fcm.md §4) and marks the cut with '…' ({message_bytes(ours_body)} bytes); firebase-admin "
                f"sends what it is given ({message_bytes(theirs_body)} bytes), over that budget (FCM answers "
                "'Android message is too big' if it counts the whole message, fcm.md §4, §10 q1); the "
                "simulator's default (data-only) size rule accepts it")
    return None


def compare(cases, ours, theirs, label):
    """Field-by-field comparison of two {token: body} maps; returns the explained differences."""
    explained = []
    for case in cases:
        token, name = case["token"], case["name"]
        a, b = ours.get(token), theirs.get(token)
        if a is None or b is None:
            fail(f"{label} {name}: no recorded request (pushway {a is not None}, other {b is not None})")
            continue
        fa, fb = flatten(a), flatten(b)
        for path in sorted(set(fa) | set(fb)):
            if path not in fb:
                fail(f"{label} {name}: {path} only in pushway's body ({fa[path]!r})")
            elif path not in fa:
                fail(f"{label} {name}: {path} only in the other body ({fb[path]!r})")
            elif fa[path] != fb[path] or type(fa[path]) is not type(fb[path]):
                why = explain(path, fa[path], fb[path], a, b)
                if why is None:
                    fail(f"{label} {name}: {path}: pushway {short(fa[path])} != {short(fb[path])}")
                else:
                    explained.append((name, path, why))
        if not quiet:
            print(f"  {label} {name}: {len(fa)} fields compared")
    return explained


def short(value):
    return json.dumps(value, ensure_ascii=False)[:80]


def bodies(entries):
    return {e["token"]: e["body"] for e in entries}


def self_test():
    """compare() must flag a changed value, a changed type, a missing and an extra field, and
    explain only the two known differences."""
    case = {"name": "t", "token": "T"}
    ours = {"message": {"android": {"priority": "HIGH", "notification": {"body": "abc…", "n": 1}},
                        "data": {"k": "v"}, "token": "T"}}
    long_body = "abcd" * 2000
    theirs = json.loads(json.dumps(ours))
    theirs["message"]["android"]["priority"] = "high"
    theirs["message"]["android"]["notification"]["body"] = long_body
    explained = compare([case], {"T": ours}, {"T": theirs}, "self-test")
    assert [p for _, p, _ in explained] == ["message.android.notification.body", "message.android.priority"], explained
    assert not failures, failures
    for mutate in (lambda m: m["data"].update(k="w"), lambda m: m["android"]["notification"].update(n="1"),
                   lambda m: m["data"].pop("k"), lambda m: m["data"].update(extra="x"),
                   lambda m: m["android"].update(priority="NORMAL"),
                   lambda m: m["android"]["notification"].update(body="abd" + long_body)):
        other = json.loads(json.dumps(theirs))
        mutate(other["message"])
        compare([case], {"T": ours}, {"T": other}, "self-test (must fail)")
        assert len(failures) == 1, failures
        failures.clear()
    print("self-test ok: changed values, types, missing and extra fields are flagged")


def main():
    if sys.argv[1:] == ["--self-test"]:
        global quiet
        quiet = True
        self_test()
        return
    mock_bin, compare_bin = sys.argv[1:3]
    spec = json.load(open(CASES))
    cases = spec["cases"]
    tmp = tempfile.mkdtemp(prefix="fcm_firebase_admin.")
    ca = os.path.join(tmp, "sim.pem")
    sim = subprocess.Popen([mock_bin, "fcm", "--recording", "1000", "--fcm-ca-out", ca],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = json.loads(sim.stdout.readline())
        port = line["addr"].rsplit(":", 1)[1]
        node = ["node", "send.js", CASES, KEY_FILE, port, ca]
        phases = {}

        def phase(name, cmd, want_rc):
            before = received(line)
            rc, out = run(cmd)
            after = received(line)
            print(f"== {name}: exit {rc}, {after['requests'] - before['requests']} request(s) reached the send "
                  f"side, {after['total'] - before['total']} recorded")
            if rc != want_rc:
                fail(f"{name}: exit {rc}, expected {want_rc}: {out}")
            if not after["complete"]:
                fail(f"{name}: the simulator's recording dropped requests")
            phases[name] = (out, after["received"][before["total"]:], after["requests"] - before["requests"])
            return phases[name]

        phase("pushway-fcm", [compare_bin, "--cases", CASES, "--key-file", KEY_FILE, "--base-url",
                              line["base_url"], "--token-url", line["token_url"], "--ca-cert", ca], 0)
        phase("firebase-admin send()", node + ["send"], 0)
        out, entries, reached = phase("firebase-admin sendEach, HTTP/2", node + ["sendEach-h2"], 1)
        scheme = [o["scheme_sent"] for o in out if "scheme_sent" in o]
        results = [o for o in out if "case" in o]
        print(f"  :scheme sent by the SDK: {scheme}; answers: {sorted({o.get('error') for o in results})}")
        if scheme != [["https:"]]:
            fail(f"sendEach HTTP/2: expected the SDK to send :scheme 'https:', saw {scheme}")
        if len(results) != len(cases) or any(o["ok"] or "PROTOCOL_ERROR" not in (o.get("error") or "")
                                             for o in results):
            fail(f"sendEach HTTP/2: expected every stream reset with PROTOCOL_ERROR, got {results}")
        if reached or entries:
            fail(f"sendEach HTTP/2: {reached} request(s) reached the simulator's handler; expected none")
        out, fixed, _ = phase("firebase-admin sendEach, HTTP/2, only :scheme corrected", node + ["sendEach-h2-scheme-fixed"], 0)
        out, legacy, _ = phase("firebase-admin sendEach, HTTP/1.1 (enableLegacyHttpTransport)", node + ["sendEach-h1"], 0)

        print("== field by field")
        ours = bodies(phases["pushway-fcm"][1])
        sdk = bodies(phases["firebase-admin send()"][1])
        explained = compare(cases, ours, sdk, "pushway vs send()")
        # The SDK's other transports send the same bodies as its send().
        for label, entries in (("sendEach h2 (scheme corrected) vs send()", fixed),
                               ("sendEach h1 vs send()", legacy)):
            if compare(cases, bodies(entries), sdk, label):
                fail(f"{label}: the SDK's bodies differ between its own transports")
        print("== explained differences (pushway vs firebase-admin send())")
        for name, path, why in explained:
            print(f"  {name}: {path}: {why}")
        print("== equal, with a conversion the SDK needs (not differences)")
        print("  android.ttl: the SDK takes milliseconds (AndroidConfig.ttl = 3600000) and sends '3600s', as pushway")
        print("  field names: the SDK's camelCase options (channelId, defaultSound, clickAction, notificationCount) "
              "are sent snake_case, as pushway sends them")
        print("  field order: compared as parsed JSON (object member order carries no meaning, RFC 8259 §4)")
        expected = {(c["name"], "message.android.priority") for c in cases} | \
                   {(c["name"], "message.android.notification.body") for c in cases if "body_repeat" in c}
        got = {(name, path) for name, path, _ in explained}
        if got != expected:
            fail(f"explained differences {sorted(got)} are not the expected {sorted(expected)}")
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    if failures:
        print(f"\n{len(failures)} unexplained difference(s) or failure(s)")
        sys.exit(1)
    print(f"\nok: {len(cases)} cases, pushway's bodies equal firebase-admin's but for the explained differences")


if __name__ == "__main__":
    main()
