// 5,000 slow connections (issue 21), on loopback, bounded in time: clients that never finish
// their headers, that trickle a body, or that connect and say nothing, spread over 40 loopback
// addresses (under the per-address cap). While they are held, /healthz keeps answering from
// another address; once the time-outs pass, the server holds none of them. (A client that
// connects and sends nothing may still wait in the kernel's accept queue, never seen by the
// server: what counts is what the server holds, `server.getConnections`.)
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './test-support.js';

const CONNECTIONS = Number(process.env.TDDUI_SLOW_CLIENTS ?? 5_000);
const ADDRESSES = 40;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

describe('5,000 slow connections', () => {
  let s: TestServer;
  let port: number;
  before(async () => {
    // Short time-outs so that the test is bounded: headers 8 s, whole request 12 s.
    s = await startTestServer('embedded', { limits: { headersTimeoutMs: 8_000, requestTimeoutMs: 12_000, keepAliveTimeoutMs: 2_000 } });
    port = Number(new URL(s.url).port);
  });
  after(async () => s?.stop());

  it('/healthz keeps answering while 5,000 slow clients are held; every slow client is dropped by the time-outs', async () => {
    const held: Socket[] = [];
    let connected = 0;
    let closed = 0;
    const trickles: NodeJS.Timeout[] = [];
    const t0 = performance.now();
    for (let i = 0; i < CONNECTIONS; i++) {
      const sock = connect({ host: '127.0.0.1', port, localAddress: `127.0.1.${1 + (i % ADDRESSES)}` });
      sock.on('error', () => undefined);
      sock.on('close', () => closed++);
      // (Read what the server answers — a 408 — so that its close is seen.)
      sock.resume();
      sock.on('connect', () => {
        connected++;
        const kind = i % 3;
        // Headers that never end; a body that trickles a byte a second; nothing at all.
        if (kind === 0) sock.write('GET /fhir/Patient HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        else if (kind === 1) {
          sock.write('POST /fhir/Patient HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\nContent-Length: 100000\r\n\r\n{');
          const t = setInterval(() => sock.writable && sock.write(' '), 1_000);
          trickles.push(t);
        }
      });
      held.push(sock);
      // (Connect in batches: the kernel's accept queue is finite.)
      if (i % 250 === 249) await new Promise((r) => setTimeout(r, 100));
    }
    for (let t = 0; t < 100 && connected + closed < CONNECTIONS; t++) await new Promise((r) => setTimeout(r, 50));
    const openedIn = performance.now() - t0;
    const heldAtPeak = held.filter((x) => !x.destroyed && !x.closed).length;
    const serverConnections = () => new Promise<number>((resolve, reject) => s.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    const serverHeld = await serverConnections();

    // /healthz from 127.0.0.1 while they are held (4 s, before any time-out).
    const latencies: number[] = [];
    const failures: string[] = [];
    const until = performance.now() + 4_000;
    while (performance.now() < until) {
      const t = performance.now();
      try {
        const r = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await r.arrayBuffer();
        if (r.status !== 200) failures.push(String(r.status));
      } catch (e) {
        failures.push((e as Error).message);
      }
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Every slow client is closed by the server: the header time-out (8 s), the request time-out
    // (12 s), checked every 2 s; at most 30 s.
    const tDrop = performance.now();
    while ((await serverConnections()) > 0 && performance.now() - tDrop < 30_000) await new Promise((r) => setTimeout(r, 200));
    const stillHeld = await serverConnections();
    const droppedIn = performance.now() - t0;
    const open = held.map((x, i) => (!x.destroyed && !x.closed ? i % 3 : -1)).filter((k) => k >= 0);
    const clientOpen = `${open.length} (headers, body, nothing: ${[0, 1, 2].map((k) => open.filter((x) => x === k).length).join(', ')})`;
    for (const t of trickles) clearInterval(t);
    for (const x of held) x.destroy();
    console.log(
      `${CONNECTIONS} slow connections from ${ADDRESSES} addresses: ${connected} connected in ${(openedIn / 1000).toFixed(1)} s, ${heldAtPeak} open at once (${serverHeld} held by the server); ` +
        `/healthz ${latencies.length} probes, ${failures.length} failed, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ` +
        `${stillHeld} held by the server ${(droppedIn / 1000).toFixed(1)} s after the first connection; open on the client side: ${clientOpen}`,
    );
    assert.ok(connected >= CONNECTIONS * 0.95, `${connected} of ${CONNECTIONS} connected`);
    assert.ok(heldAtPeak >= CONNECTIONS * 0.9, `${heldAtPeak} held at once`);
    assert.deepEqual(failures, [], '/healthz answered every probe');
    assert.ok(latencies.length >= 20);
    // (The others wait in the kernel's accept queue — loopback, a loaded machine — and are dropped once accepted.)
    assert.ok(serverHeld >= CONNECTIONS * 0.5, `the server held ${serverHeld} at once`);
    assert.equal(stillHeld, 0, 'every slow client the server held was dropped by the time-outs');
    // And the server still serves once they are gone.
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });
});
