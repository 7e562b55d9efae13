// bench/http-sender: the HTTP client of bench/ingest-growth in a process of its own, so that the
// client's CPU is not taken from the server's event loop (the server runs in the benchmark's
// process). Started by `fork`; talks by IPC:
//
//   fork('http-sender.js', [url, '--max-sockets=K'])
//
//   → { type: 'load', bodies: string[] }   the Bundles to send, already JSON texts (not timed:
//                                          made into Buffers here, answered { type: 'loaded' })
//   → { type: 'go', concurrency: k }       POST every loaded body to `${url}/fhir`, k in flight;
//                                          answered { type: 'done', ms, retries } (ms: this
//                                          process's own time from 'go' to the last answer) or
//                                          { type: 'error', message } at the first non-200
//   → 'close'                              exits
//
// node:http with a keep-alive Agent (maxSockets = K); every answer read to its end; a status
// other than 200 fails the run with the first 600 characters of the answer. A request that fails
// on the network (a kept-alive connection the server closed as it was reused: ECONNRESET) is sent
// again, up to 3 attempts in all, as `tddui send` does: a resend of the same Bundle is harmless
// (the no-op rule); the retries are counted and reported.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const [base] = args.filter((a) => !a.startsWith('--'));
const maxSockets = Number(args.find((a) => a.startsWith('--max-sockets='))?.slice('--max-sockets='.length) ?? 4);
const target = new URL(`${base!}/fhir`);
const agent = new http.Agent({ keepAlive: true, maxSockets });

let bodies: Buffer[] = [];
let retries = 0;

function once(body: Buffer): Promise<{ status: number; text: () => string }> {
  return new Promise((ok, ko) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', ko);
        res.on('end', () => ok({ status: res.statusCode ?? 0, text: () => Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', ko);
    req.end(body);
  });
}

async function post(body: Buffer): Promise<void> {
  let res: Awaited<ReturnType<typeof once>>;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await once(body);
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
      retries++;
    }
  }
  if (res.status !== 200) throw new Error(`rejected ${res.status}: ${res.text().slice(0, 600)}`);
}

async function go(concurrency: number): Promise<void> {
  retries = 0;
  let next = 0;
  let failed = false;
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!failed && next < bodies.length) {
          try {
            await post(bodies[next++]!);
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      }),
    );
    process.send!({ type: 'done', ms: performance.now() - t0, retries });
  } catch (e) {
    process.send!({ type: 'error', message: (e as Error).message });
  }
  bodies = [];
}

process.on('message', (m: 'close' | { type: 'load'; bodies: string[] } | { type: 'go'; concurrency: number }) => {
  if (m === 'close') {
    agent.destroy();
    process.exit(0);
  } else if (m.type === 'load') {
    bodies = m.bodies.map((b) => Buffer.from(b, 'utf8'));
    process.send!({ type: 'loaded', n: bodies.length });
  } else if (m.type === 'go') {
    void go(m.concurrency);
  }
});
// The benchmark gone (its IPC channel closed): nothing left to send for.
process.on('disconnect', () => process.exit(0));
