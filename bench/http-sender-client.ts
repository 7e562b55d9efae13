// The client side of bench/http-sender (the benchmarks' HTTP client, in a process of its own so
// that its CPU is not taken from the server measured): fork it, hand it the bodies, send them.
// Used by bench/ingest-growth and bench/cpu-budget.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Sender {
  /** Hands the child the bodies to send (JSON texts); resolves once it holds them all (IPC done). */
  load(bodies: string[]): Promise<void>;
  /** Sends every loaded body, `concurrency` in flight; resolves when the last answer is read (ms: the child's own time; retries: requests sent again after a network error). */
  go(concurrency: number): Promise<{ ms: number; retries: number }>;
  /** The child's pid (its CPU is the client's). */
  readonly pid: number;
  close(): Promise<void>;
}

type SenderReply = { type: 'loaded'; n: number } | { type: 'done'; ms: number; retries: number } | { type: 'error'; message: string };

/** bench/http-sender for the server at `url`, at most `maxSockets` connections. */
export function startSender(url: string, maxSockets: number): Sender {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'http-sender.js'), [url, `--max-sockets=${maxSockets}`], {
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let pending: { ok: (m: SenderReply) => void; ko: (e: Error) => void } | undefined;
  let exited: Error | undefined;
  child.on('message', (m: SenderReply) => {
    const p = pending;
    pending = undefined;
    if (m.type === 'error') p?.ko(new Error(m.message));
    else p?.ok(m);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`bench/http-sender exited (${code ?? signal})`);
    pending?.ko(exited);
    pending = undefined;
  });
  const ask = (msg: unknown) =>
    new Promise<SenderReply>((ok, ko) => {
      if (exited) return ko(exited);
      pending = { ok, ko };
      child.send(msg as object);
    });
  return {
    pid: child.pid!,
    async load(bodies) {
      const r = await ask({ type: 'load', bodies });
      if (r.type !== 'loaded' || r.n !== bodies.length) throw new Error(`bench/http-sender: ${JSON.stringify(r)} for ${bodies.length} bodies`);
    },
    async go(concurrency) {
      const r = await ask({ type: 'go', concurrency });
      if (r.type !== 'done') throw new Error(`bench/http-sender: ${JSON.stringify(r)}`);
      return r;
    },
    async close() {
      if (exited) return;
      const gone = new Promise((ok) => child.once('exit', ok));
      child.send('close');
      await gone;
    },
  };
}
