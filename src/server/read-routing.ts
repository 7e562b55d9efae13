// Reads on replicas, on the HTTP side (storage/read-replicas.ts does the routing): each request
// runs in a read context that names its client and says whether a replica may serve it; after a
// request that may have written, the primary's WAL position is remembered for its client before
// the answer leaves (read-your-writes, D-221).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { runInReadContext, type ReadContext, type ReadReplicas } from '../storage/index.js';
import { actorOf } from './audit.js';

/**
 * Reading requests: GET and HEAD, and the FHIR searches by POST (`…/_search`). Every other
 * request reads the primary and counts as a write of its client.
 */
export function isReadingRequest(req: Pick<FastifyRequest, 'method' | 'url'>): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  return req.method === 'POST' && /\/_search$/.test(req.url.split('?')[0]!);
}

/**
 * The key under which a client's last write is remembered: the token's subject (FHIR API or web
 * UI), else its address (`req.ip`: the forwarded one behind a proxy with --trust-proxy). One
 * address shared by many clients (a proxy without --trust-proxy, a NAT) only sends more reads
 * to the primary.
 */
export function readClientOf(req: FastifyRequest): string {
  const subject = actorOf(req)?.subject ?? req.tdduiClient;
  return subject !== undefined ? `sub:${subject}` : `ip:${req.ip}`;
}

/** Installs the read context hooks; call before any other hook is added. */
export function installReadRouting(app: FastifyInstance, replicas: ReadReplicas): void {
  const contexts = new WeakMap<FastifyRequest, ReadContext>();
  app.addHook('onRequest', (req, _reply, done) => {
    const ctx: ReadContext = { client: () => readClientOf(req), readOnly: isReadingRequest(req), open: true };
    contexts.set(req, ctx);
    // The rest of the request (hooks, handler) runs inside this context.
    runInReadContext(ctx, done);
  });
  app.addHook('onSend', async (req, _reply, payload) => {
    const ctx = contexts.get(req);
    if (ctx && !ctx.readOnly) {
      try {
        await replicas.noteWrite(ctx.client());
      } catch (err) {
        // The primary answered the write a moment ago; if it cannot say its position now, the
        // client's next reads may see a copy a little behind: logged, the answer still leaves.
        req.log.warn({ err }, 'read replicas: could not read the primary WAL position after a write');
      }
    }
    return payload;
  });
  // Work a request leaves running (a worker it woke up) reads the primary.
  app.addHook('onResponse', async (req) => {
    const ctx = contexts.get(req);
    if (ctx) ctx.open = false;
  });
}
