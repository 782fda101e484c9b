#!/usr/bin/env node
// firebase-admin's side of the independent check (run.sh): builds, for each case of cases.json,
// the Message an app developer would write with the SDK for what pushway sends (DESIGN.md §5,
// crates/fcm/src/request.rs), and sends it to the FCM simulator. Prints one JSON line per case.
//
//   node send.js CASES KEY_FILE SIM_PORT CA_PEM MODE
//   MODE: send          messaging.send() per case, one after the other (HTTP/1.1)
//         sendEach-h2   messaging.sendEach(all) on the SDK's default HTTP/2 transport
//         sendEach-h1   messaging.sendEach(all) after enableLegacyHttpTransport() (HTTP/1.1)
//         sendEach-h2-scheme-fixed   as sendEach-h2, with only the `:scheme` pseudo-header the SDK
//                       sets (`https:`) replaced by `https`: the control experiment showing that
//                       the scheme alone makes the simulator refuse the SDK's HTTP/2 requests
//
// Redirection, with the SDK's documented `httpAgent` option: the agent connects every request
// (the token request to the key file's `token_uri`, https://oauth2.googleapis.com/token, and the
// sends to fcm.googleapis.com) to the simulator on 127.0.0.1 whatever the host, and trusts only
// the simulator's certificate (valid for both names). The service account is given as a FILE
// PATH: given as an object, the SDK builds its token client without the agent. The HTTP/2
// transport ignores `httpAgent`; for sendEach-h2 `http2.connect` is wrapped to connect to the
// simulator the same way (the requests, their headers and `:scheme`, are the SDK's own).
'use strict';
const fs = require('fs');
const http2 = require('http2');
const https = require('https');
const tls = require('tls');

const [casesPath, keyFile, port, caPath, mode] = process.argv.slice(2);
if (!mode) {
  console.error('usage: node send.js CASES KEY_FILE SIM_PORT CA_PEM send|sendEach-h2|sendEach-h1');
  process.exit(2);
}
// Installed next to this script by run.sh (package.json, package-lock.json).
const { initializeApp, cert } = require('firebase-admin/app');
const { getMessaging } = require('firebase-admin/messaging');

const ca = fs.readFileSync(caPath);
const connect = (options, alpn) => tls.connect({
  ...options, host: '127.0.0.1', port: Number(port), ca,
  servername: options.servername || options.host, ALPNProtocols: alpn,
});

class SimulatorAgent extends https.Agent {
  createConnection(options, callback) {
    const socket = connect(options, ['http/1.1']);
    if (callback) socket.once('secureConnect', () => callback(null, socket));
    return socket;
  }
}
const httpAgent = new SimulatorAgent({ keepAlive: true, ca });

const schemes = new Set();
const originalConnect = http2.connect;
http2.connect = (authority, options, listener) => {
  const session = originalConnect(authority, {
    ...options,
    createConnection: (url) => connect({ host: url.hostname, servername: url.hostname }, ['h2']),
  }, listener);
  const request = session.request.bind(session);
  session.request = (headers, ...rest) => {
    schemes.add(headers[':scheme']);
    if (mode === 'sendEach-h2-scheme-fixed') headers = { ...headers, ':scheme': 'https' };
    return request(headers, ...rest);
  };
  return session;
};

/// The Message for a case: the mapping of crates/fcm/src/request.rs, in the SDK's own terms.
function message(c, spec) {
  const body = Array.isArray(c.body_repeat) ? c.body_repeat[0].repeat(c.body_repeat[1]) : c.body;
  const data = {
    conversation_id: c.conversation_id,
    conversation_type: c.conversation_type,
    sender_id: c.sender_id,
  };
  if (c.sender_nickname !== undefined) data.sender_nickname = c.sender_nickname;
  if (c.group_name !== undefined) data.group_name = c.group_name;
  if (c.ext !== undefined) data.ext = c.ext;
  const notification = {
    title: c.android_title !== undefined ? c.android_title : c.title,
    body,
    channelId: spec.channel_id,
    tag: `${c.conversation_type}:${c.conversation_id}`,
  };
  // FCM plays a res/raw resource by name: the last segment of android.resource://pkg/raw/NAME.
  if (c.sound !== undefined) notification.sound = c.sound.split('/').pop();
  else notification.defaultSound = true;
  if (c.mode === 'custom') notification.clickAction = spec.click_action;
  if (c.badge !== undefined) notification.notificationCount = c.badge;
  const android = { priority: 'high', notification };
  // The SDK's AndroidConfig.ttl is in milliseconds.
  if (c.ttl_secs !== undefined) android.ttl = c.ttl_secs * 1000;
  return { token: c.token, data, android };
}

(async () => {
  const spec = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const app = initializeApp({ credential: cert(keyFile, httpAgent), httpAgent }, `check-${mode}`);
  const messaging = getMessaging(app);
  const messages = spec.cases.map((c) => message(c, spec));
  let failed = 0;
  if (mode === 'send') {
    for (let i = 0; i < messages.length; i++) {
      try {
        const name = await messaging.send(messages[i]);
        console.log(JSON.stringify({ case: spec.cases[i].name, ok: true, name }));
      } catch (e) {
        failed++;
        console.log(JSON.stringify({ case: spec.cases[i].name, ok: false, code: e.code, error: e.message }));
      }
    }
  } else if (mode.startsWith('sendEach-')) {
    if (mode === 'sendEach-h1') messaging.enableLegacyHttpTransport();
    const batch = await messaging.sendEach(messages);
    batch.responses.forEach((r, i) => {
      if (!r.success) failed++;
      console.log(JSON.stringify({ case: spec.cases[i].name, ok: r.success, name: r.messageId,
        code: r.error && r.error.code, error: r.error && r.error.message }));
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  // What the SDK put in `:scheme` on its HTTP/2 requests (none on HTTP/1.1).
  if (schemes.size) console.log(JSON.stringify({ scheme_sent: [...schemes] }));
  await app.delete();
  httpAgent.destroy();
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
