// bench/notify: the notification service's delivery rate. A burst of N events (default 1,000,
// recorded in one transaction) about a usager one rest-hook subscription follows is dispatched
// and delivered to a local webhook; the figure is events delivered per second from the burst's
// commit to the last webhook call, and every event must arrive exactly once (the run fails
// otherwise). The anchor, measured in the same run, interleaved: the same number of bare HTTP
// POSTs of the same bodies to the same webhook with the same concurrency (what the delivery
// could do with no database, no dispatch and no journal). Median of --rounds rounds.
// Embedded PGlite in memory; --postgres adds a fresh PostgreSQL database.
//
//   node dist/bench/notify.js [--n=1000] [--rounds=3] [--postgres]
import { performance } from 'node:perf_hooks';
import { openRepository } from '../src/storage/index.js';
import type { Repository } from '../src/storage/types.js';
import { createTestDatabase } from '../src/storage/testing.js';
import { EVENT_TYPES } from '../src/rest/events.js';
import { NotificationService } from '../src/notification/service.js';
import { subscription, Webhook } from '../src/notification/testing.js';

function intFlag(name: string, dflt: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg ? Number(arg.slice(name.length + 3)) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const N = intFlag('n', 1000);
const ROUNDS = intFlag('rounds', 3);
const CONCURRENCY = 16;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function ours(repo: Repository, hook: Webhook): Promise<{ rate: number; sample: string }> {
  hook.received = [];
  await repo.create(subscription({ criteria: 'CommunicationRequest?event-type=SOR', channel: { type: 'rest-hook', endpoint: hook.url } }));
  const svc = new NotificationService(repo, { concurrency: CONCURRENCY, pollMs: 60_000 });
  const t = EVENT_TYPES.sortie;
  const events = Array.from({ length: N }, (_, i) => ({ type: { system: t.system, code: t.code, display: t.display }, detail: { subjectKey: 'robert|langdon|1960-03-20', title: `événement ${i}` } }));
  const t0 = performance.now();
  await repo.recordEvents(events);
  await svc.drain(1000);
  const ms = performance.now() - t0;
  await svc.stop();
  const titles = new Set(hook.received.map((r) => String(r.json.payload[0].contentString).split(' — ')[1]));
  if (hook.received.length !== N || titles.size !== N) throw new Error(`lost or duplicated: ${hook.received.length} calls, ${titles.size} distinct events, ${N} expected`);
  return { rate: N / (ms / 1000), sample: hook.received[0]!.body };
}

async function anchor(hook: Webhook, body: string): Promise<number> {
  hook.received = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        next++;
        const r = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
        await r.arrayBuffer();
      }
    }),
  );
  const ms = performance.now() - t0;
  if (hook.received.length !== N) throw new Error('anchor lost calls');
  return N / (ms / 1000);
}

async function run(label: string, open: () => Promise<{ repo: Repository; close: () => Promise<void> }>): Promise<void> {
  const hook = await new Webhook().start();
  const rates: number[] = [];
  const anchors: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const { repo, close } = await open();
      try {
        const r = await ours(repo, hook);
        rates.push(r.rate);
        anchors.push(await anchor(hook, r.sample));
      } finally {
        await close();
      }
    }
  } finally {
    await hook.stop();
  }
  const ratio = median(rates.map((r, i) => r / anchors[i]!));
  console.log(`${label}: ${N} events, rest-hook, concurrency ${CONCURRENCY}: ${median(rates).toFixed(0)} events/s delivered (rounds: ${rates.map((r) => r.toFixed(0)).join(', ')}), none lost, none twice`);
  console.log(`${label}: anchor, bare HTTP POSTs of the same bodies: ${median(anchors).toFixed(0)} POST/s; ratio ours/anchor ${ratio.toFixed(2)}`);
}

await run('pglite', async () => {
  const repo = await openRepository({ dataDir: 'memory://' });
  return { repo, close: () => repo.close() };
});
if (process.argv.includes('--postgres')) {
  await run('postgres', async () => {
    const db = await createTestDatabase();
    const repo = await openRepository({ url: db.url });
    return {
      repo,
      close: async () => {
        await repo.close();
        await db.drop();
      },
    };
  });
}
