#!/usr/bin/env node
// Drives @parse/node-apn (8.x) against the APNs simulator for bench/apns.sh (adapted from
// shared/bench-peers/drive_node_apn.js): W single-recipient sends in flight over one TLS
// connection, the same payload bytes as the other clients; prints one JSON line with the rate and
// the process's CPU per notification during the timed phase (process.cpuUsage()).
// Usage: node apns_node_apn.js MODULES_DIR PAYLOAD KEY_PATH KEY_ID TEAM_ID TOPIC PORT N W
'use strict';
const path = require('path');
const fs = require('fs');
const [modules, payloadPath, keyPath, keyId, teamId, topic, port, n, w] = process.argv.slice(2);
const apn = require(path.join(modules, '@parse/node-apn'));
const N = parseInt(n, 10), W = parseInt(w, 10);
const provider = new apn.Provider({
  token: { key: fs.readFileSync(keyPath), keyId, teamId },
  address: '127.0.0.1', port: parseInt(port, 10), rejectUnauthorized: false,
  production: false, requestTimeout: 30000, heartBeat: 600000,
});
const note = new apn.Notification();
note.rawPayload = JSON.parse(fs.readFileSync(payloadPath, 'utf8'));
note.topic = topic; note.pushType = 'alert'; note.priority = 10;
const tokens = [];
for (let i = 0; i < N; i++) tokens.push(i.toString(16).padStart(64, '0'));
(async () => {
  await provider.send(note, ['f'.repeat(64)]);   // warm-up: connect + JWT (not timed)
  let ok = 0, failed = 0, next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (next < N) {
      const r = await provider.send(note, tokens[next++]);
      ok += r.sent.length; failed += r.failed.length;
    }
  }
  await Promise.all(Array.from({ length: Math.min(W, N) }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ client: '@parse/node-apn', inflight: W, n: N, ok, failed,
    seconds: +secs.toFixed(3), per_s: Math.round(N / secs),
    cpu_us_per_notification: +((cpu.user + cpu.system) / N).toFixed(2) }));
  await provider.shutdown();
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
