#!/usr/bin/env bash
# The independent check of pushway-fcm with Google's firebase-admin Node SDK (issue 18), in one
# command: installs firebase-admin (package-lock.json) next to this script when missing, builds
# pushway-mock and the fcm_compare example (debug), then check.py starts `pushway-mock fcm` (TLS),
# sends the cases of cases.json through both clients, compares the recorded request bodies field
# by field (failing on any difference it does not explain) and shows what the simulator does with
# the SDK's HTTP/2 `sendEach` (`:scheme: https:`). Needs Node 20+, npm, python3, cargo.
#
#   crates/fcm/tests/firebase_admin/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../../.."
if [ ! -f "$here/node_modules/firebase-admin/package.json" ]; then
  echo "== npm ci (firebase-admin, into $here/node_modules)"
  (cd "$here" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
fi
echo "== building pushway-mock and the fcm_compare example"
bin=$(mktemp -d "${TMPDIR:-/tmp}/fcm_firebase_admin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
# Copied at once: a target directory shared with other checkouts may get another build of them.
cargo build -q --message-format=json -p pushway-mock -p pushway-fcm --bin pushway-mock --example fcm_compare |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | xargs -I{} cp {} "$bin/"
python3 "$here/check.py" --self-test
timeout 300 python3 "$here/check.py" "$bin/pushway-mock" "$bin/fcm_compare"
