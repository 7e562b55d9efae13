// The server's limits (issue 21): what one client, one connection or one request may cost
// before anything expensive is done. Every limit is configurable (StartOptions.limits) and
// listed with its default and the answer a client gets in docs/security.md.
import type { Server, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { FhirError, HTTP_ERRORS } from './outcome.js';

export interface Limits {
  /** Bytes of a transaction / batch Bundle (POST /fhir). */
  transactionBody: number;
  /** Bytes of a $validate body. */
  validateBody: number;
  /** Bytes of any other write (create, update, PATCH) and of POST _search. */
  writeBody: number;
  /** Entries of a Bundle. */
  bundleEntries: number;
  /** Elements of any other JSON array. */
  arrayLength: number;
  /** Characters of a JSON string (a base64 document included). */
  stringLength: number;
  /** Milliseconds to receive a whole request (headers and body); slow clients are dropped (408). */
  requestTimeoutMs: number;
  /** Milliseconds to receive the headers. */
  headersTimeoutMs: number;
  /** Milliseconds an idle keep-alive connection stays open (advertised in `Keep-Alive: timeout=`; Node adds 1 s of grace). */
  keepAliveTimeoutMs: number;
  /** Requests served on one keep-alive connection before it is closed (0 = no limit). */
  requestsPerConnection: number;
  /** Open connections from one client address; past it, new ones are closed at once. */
  connectionsPerAddress: number;
  /** Writes per client (token subject, else address) per rate window; 0 = no limit. */
  writeRate: number;
  /** Expensive reads (searches, history, $validate, UI pages) per client per rate window; 0 = no limit. */
  readRate: number;
  /** The rate window, in milliseconds (default one minute). */
  rateWindowMs: number;
  /** Days a rejected submission keeps its document (the record stays); 0 = forever (D-85). */
  rejectedRetentionDays: number;
  /** Bytes of rejected submissions' documents kept in all; the oldest beyond are dropped (0 = no quota). */
  rejectedTotalBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  transactionBody: 50 * 1024 * 1024,
  validateBody: 50 * 1024 * 1024,
  writeBody: 20 * 1024 * 1024,
  bundleEntries: 20_000,
  arrayLength: 100_000,
  stringLength: 40 * 1024 * 1024,
  requestTimeoutMs: 120_000,
  headersTimeoutMs: 20_000,
  keepAliveTimeoutMs: 10_000,
  requestsPerConnection: 1_000,
  connectionsPerAddress: 256,
  writeRate: 1_200,
  readRate: 3_000,
  rateWindowMs: 60_000,
  rejectedRetentionDays: 30,
  rejectedTotalBytes: 1024 * 1024 * 1024,
});

export function limitsOf(partial: Partial<Limits> | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...(partial ?? {}) };
}

/** `52428800` -> `50 MiB`. */
export function bytesText(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * 413 at the first array or string over its limit (Bundle.entry has its own limit), walked
 * without recursion. Run on a parsed body before validation or storage. The walk builds no path:
 * the path of the value at fault is rebuilt from the walk's stack only when a limit is exceeded
 * (a path string per value, ~2,000 of them for a 25-resource Bundle, was ~130 KB of garbage per
 * Bundle on the main thread, D-334). Order of the walk — hence which fault is reported first — as
 * it always was: depth first, a value before what it holds, an array's elements in order, an
 * object's keys from the last to the first.
 */
export function checkValueLimits(value: unknown, limits: Pick<Limits, 'bundleEntries' | 'arrayLength' | 'stringLength'>, root: string): void {
  // The containers being walked, outermost first; per container its keys (an object; undefined
  // for an array) and its cursor: an array's next index (going up), an object's next key's index (going down).
  const containers: unknown[] = [];
  const keyLists: (string[] | undefined)[] = [];
  const cursors: number[] = [];
  /** The path of the value being checked: each container's cursor has just passed it. */
  const pathHere = (): string => {
    let path = root;
    for (let d = 0; d < containers.length; d++) {
      const keys = keyLists[d];
      path += keys ? `.${keys[cursors[d]! + 1]}` : `[${cursors[d]! - 1}]`;
    }
    return path;
  };
  let v: unknown = value;
  // The key the value is under ('' for an array's element and for the root).
  let name = '';
  for (;;) {
    if (typeof v === 'string') {
      if (v.length > limits.stringLength) {
        const path = pathHere();
        throw new FhirError(HTTP_ERRORS.VALUE_TOO_LONG, { what: 'A string', whatFr: 'Une chaîne', expression: path, limit: `${limits.stringLength} characters` }, { expression: path });
      }
    } else if (Array.isArray(v)) {
      const isEntry = name === 'entry';
      const max = isEntry ? limits.bundleEntries : limits.arrayLength;
      if (v.length > max) {
        const path = pathHere();
        if (isEntry) throw new FhirError(HTTP_ERRORS.TOO_MANY_ENTRIES, { count: v.length, limit: max }, { expression: path });
        throw new FhirError(HTTP_ERRORS.VALUE_TOO_LONG, { what: 'An array', whatFr: 'Un tableau', expression: path, limit: `${max} elements` }, { expression: path });
      }
      if (v.length > 0) {
        containers.push(v);
        keyLists.push(undefined);
        cursors.push(0);
      }
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      if (keys.length > 0) {
        containers.push(v);
        keyLists.push(keys);
        cursors.push(keys.length - 1);
      }
    }
    // The next value: in the innermost container that has one left.
    let d = containers.length - 1;
    for (; d >= 0; d--) {
      const keys = keyLists[d];
      if (keys ? cursors[d]! >= 0 : cursors[d]! < (containers[d] as unknown[]).length) break;
      containers.pop();
      keyLists.pop();
      cursors.pop();
    }
    if (d < 0) return;
    const keys = keyLists[d];
    if (keys) {
      name = keys[cursors[d]!]!;
      v = (containers[d] as Record<string, unknown>)[name];
      cursors[d] = cursors[d]! - 1;
    } else {
      name = '';
      v = (containers[d] as unknown[])[cursors[d]!];
      cursors[d] = cursors[d]! + 1;
    }
  }
}

/**
 * The cap on connections per client address, on the HTTP server: with the time-outs (a slow
 * client is dropped when its time is up), held connections cannot exhaust the descriptors,
 * and one address cannot hold more than its share.
 */
export function applyConnectionLimits(server: Server, limits: Limits): void {
  // (The time-outs are the server's options, set where it is created: buildServer.)
  const open = new Map<string, number>();
  const firstRequest = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('request', (req: IncomingMessage) => {
    const t = firstRequest.get(req.socket);
    if (t) {
      clearTimeout(t);
      firstRequest.delete(req.socket);
    }
  });
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > limits.connectionsPerAddress) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    // Node's header time-out leaves a connection whose first request line never ends open:
    // the first request's headers must arrive within the time-out, or the connection is closed.
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    timer.unref();
    firstRequest.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
  closeIdleConnectionsSafely(server);
}

/**
 * An idle kept-alive connection is closed when its time-out fires only if no request came in
 * meanwhile. Node destroys it in its timers phase, which runs before the I/O phase that would
 * read a request already sitting in the socket's buffer: when the event loop was busy as the
 * time ran out (a large Bundle parsed, validation on the main thread, a GC pause), a client that
 * reused the connection well within the advertised `Keep-Alive: timeout` got ECONNRESET (8 of
 * 10,040 requests in bench/ingest-growth, issue 19). A `timeout` listener on the server takes
 * the decision from Node (node:_http_server socketOnTimeout); the socket is looked at again after
 * the next I/O phase (setImmediate), and closed only if it read nothing.
 */
function closeIdleConnectionsSafely(server: Server): void {
  server.on('timeout', (socket: Socket) => {
    const s = socket as Socket & { _httpMessage?: unknown; parser?: { incoming?: IncomingMessage | null } | null };
    const incoming = s.parser?.incoming;
    // A time-out during a request or a response (no keep-alive wait): closed at once, as Node does.
    if (s._httpMessage || (incoming && !incoming.complete)) {
      socket.destroy();
      return;
    }
    const read = socket.bytesRead;
    setImmediate(() => {
      // Bytes read since: a request began (Node reset the idle time-out when its headers ended;
      // headers that never end are the header time-out's business).
      if (!socket.destroyed && socket.bytesRead === read) socket.destroy();
    });
  });
}

/** Whether a request is a write (its own rate limit). */
export function isWrite(req: Pick<IncomingMessage, 'method'>): boolean {
  return req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' || req.method === 'DELETE';
}
