// The outbox is durable: a real server process (`tddui serve`, embedded database on disk) killed
// with SIGKILL between the writes and their delivery (the webhook is down, nothing delivered
// yet) delivers every notification after it is started again, exactly once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { http } from '../server/test-support.js';
import { NOTIFICATION_ID_HEADER } from './channels.js';
import { ndeExample, subscription, until, Webhook } from './testing.js';

const MAIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'tddui-sigkill-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<{ child: ChildProcess; base: string; log: () => string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--data', join(dir, 'data'), '--packages', SHARED_FHIR, '--ig', 'ans.fhir.fr.nde#3.0.0-ballot', '--log-level', 'warn', '--notify-retry', '100,300,1000', '--notify-poll', '100'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening: ${out}`)), 120_000);
    child.stdout!.on('data', () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`exited (${code}): ${out}`)));
  });
  return { child, base: `http://127.0.0.1:${port}/fhir`, log: () => out };
}

test('SIGKILL between the writes and the delivery: everything is delivered after the restart, once', { timeout: 300_000 }, async () => {
  const hook = new Webhook();
  await hook.start();
  const port = hook.port;
  await hook.stop(); // down: nothing can be delivered before the kill

  const a = await serve();
  const c = await http(`${a.base}/Subscription`, { body: subscription({ channel: { type: 'rest-hook', endpoint: `http://127.0.0.1:${port}/hook` } }) });
  assert.equal(c.status, 201, c.text);
  const n = 12;
  const declaration = ndeExample('CommunicationRequest-com2.json');
  delete declaration.id;
  for (let i = 0; i < n; i++) {
    const d = structuredClone(declaration);
    d.payload[0].contentAttachment.title = `événement ${i}`;
    const r = await http(`${a.base}/CommunicationRequest`, { body: d });
    assert.equal(r.status, 201, r.text);
  }
  a.child.kill('SIGKILL');
  await new Promise((r) => a.child.once('exit', r));

  await hook.start(port);
  const b = await serve();
  try {
    await until(() => hook.received.length >= n, 60_000, `${n} notifications after the restart (got ${hook.received.length})`);
    await new Promise((r) => setTimeout(r, 1500));
    const titles = hook.received.map((r) => String(r.json.payload[0].contentString).split(' — ')[1]);
    assert.equal(hook.received.length, n, `exactly once: ${titles.join(', ')}`);
    assert.deepEqual(titles.sort(), Array.from({ length: n }, (_, i) => `événement ${i}`).sort());
    assert.equal(new Set(hook.received.map((r) => r.headers[NOTIFICATION_ID_HEADER])).size, n);
    const j = await http(`${b.base}/Subscription/${c.json.id}/$journal?status=sent&_count=0`);
    assert.equal(j.json.total, n);
  } finally {
    b.child.kill('SIGTERM');
    await new Promise((r) => b.child.once('exit', r));
    await hook.stop();
  }
});
