#!/usr/bin/env node
// Drives Google's firebase-admin (13.x) `messaging.send()` against the FCM simulator for
// bench/fcm.sh: N single-token sends, W in flight, the same notification pushway-fcm sends (its
// body, from `fcm_bench --print-body`, written as the SDK's Message); prints one JSON line with
// the rate and the process's CPU per notification during the timed phase (process.cpuUsage()).
// send() is HTTP/1.1 through the SDK's documented `httpAgent` option (a keep-alive agent that
// connects to the simulator whatever the host, trusting its certificate; as many connections as
// sends in flight). Its HTTP/2 `sendEach` cannot be measured here: the simulator refuses its
// `:scheme: https:` (crates/mock/src/fcm/mod.rs; crates/fcm/tests/firebase_admin shows it).
// Usage: node fcm_firebase_admin.js MODULES_DIR KEY_FILE PORT CA_PEM BODY_JSON N W
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const tls = require('tls');
const { createRequire } = require('module');

const [modules, keyFile, port, caPath, bodyPath, n, w] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(modules), 'noop.js'));
const { initializeApp, cert } = load('firebase-admin/app');
const { getMessaging } = load('firebase-admin/messaging');
const N = parseInt(n, 10), W = parseInt(w, 10);
const ca = fs.readFileSync(caPath);

class SimulatorAgent extends https.Agent {
  createConnection(options, callback) {
    const socket = tls.connect({ ...options, host: '127.0.0.1', port: Number(port), ca,
      servername: options.servername || options.host, ALPNProtocols: ['http/1.1'] });
    if (callback) socket.once('secureConnect', () => callback(null, socket));
    return socket;
  }
}
const httpAgent = new SimulatorAgent({ keepAlive: true, ca });
// The service account as a file path: as an object, the SDK's token client ignores httpAgent.
const app = initializeApp({ credential: cert(keyFile, httpAgent), httpAgent });
const messaging = getMessaging(app);

// pushway's body, as the SDK's Message (its camelCase options; priority as its typings spell it).
const m = JSON.parse(fs.readFileSync(bodyPath, 'utf8')).message;
const nt = m.android.notification;
const message = (token) => ({ token, data: m.data, android: { priority: 'high', notification: {
  title: nt.title, body: nt.body, channelId: nt.channel_id, defaultSound: nt.default_sound, tag: nt.tag,
  notificationCount: nt.notification_count } } });
// The token format of fcm_bench (every body the same size).
const token = (i) => `bench${String(i).padStart(8, '0')}:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-bench`;

(async () => {
  await messaging.send(message(token(N)));   // warm-up: access token, TLS (not timed)
  let ok = 0, failed = 0, next = 0, firstError;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (next < N) {
      const t = token(next++);
      try { await messaging.send(message(t)); ok++; } catch (e) { failed++; firstError = firstError || e.message; }
    }
  }
  await Promise.all(Array.from({ length: Math.min(W, N) }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ client: 'firebase-admin', inflight: W, n: N, ok, failed, first_error: firstError,
    seconds: +secs.toFixed(3), per_s: Math.round(N / secs),
    cpu_us_per_notification: +((cpu.user + cpu.system) / N).toFixed(2) }));
  await app.delete();
  httpAgent.destroy();
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
