// `tddui send` as a library: post TDDUI transaction Bundles to a FHIR base URL (`POST [base]`).
// Network errors, 5xx and 429 are retried with exponential backoff and jitter, honouring
// Retry-After; a 4xx is the receiver's verdict on the Bundle and is never retried. Resending is
// safe: the receiver matches business identifiers, so a Bundle processed twice (response lost)
// makes a new version of the same objects, never duplicates.
import type { SendItem } from './sources.js';

export interface SendOptions {
  /** FHIR base URL, e.g. https://receiver.example/fhir. */
  baseUrl: string;
  /** Where to POST under the base (default: the base itself, a transaction); `DocumentReference` for ITI-105 (tddui publish). */
  path?: string;
  /** OAuth2 bearer token (Authorization: Bearer …). */
  token?: string;
  /** Bundles in flight at once (default 4). */
  concurrency?: number;
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** First backoff delay (default 500 ms); doubles each retry, with jitter. */
  baseDelayMs?: number;
  /** Ceiling of one backoff delay (default 30 s). */
  maxDelayMs?: number;
  /** Longest Retry-After honoured (default 120 s); a longer one is capped. */
  maxRetryAfterMs?: number;
  /** Per-request timeout (default 120 s); a timeout counts as a network error. */
  timeoutMs?: number;
  /** Extra headers (e.g. a correlation id). */
  headers?: Record<string, string>;
  /** Jitter source, [0, 1) (tests make it deterministic). */
  random?: () => number;
  /** Progress callback: one event per attempt outcome. */
  onEvent?: (e: SendEvent) => void;
}

export type SendEvent =
  | { type: 'retry'; item: string; attempt: number; reason: string; delayMs: number }
  | { type: 'done'; result: SendItemResult };

export interface SendItemResult {
  name: string;
  outcome: 'accepted' | 'rejected' | 'failed';
  /** Last HTTP status (absent when the last attempt failed at network level). */
  httpStatus?: number;
  attempts: number;
  durationMs: number;
  /** Rejected / failed: the first errors (OperationOutcome issues or the network error). */
  errors?: string[];
  /** Accepted: number of entries in the transaction-response, and the first locations (a single resource: its Location). */
  entries?: number;
  locations?: string[];
  /** Accepted single resource (tddui publish): the resource the server answered. */
  resource?: unknown;
}

export interface SendReport {
  baseUrl: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
  /** Attempts beyond the first, all items together. */
  retries: number;
  items: SendItemResult[];
}

const RETRIABLE_STATUS = (s: number) => s >= 500 || s === 429 || s === 408;

/** Retry-After as a delay in ms: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Exponential backoff with "equal jitter": half the ceiling fixed, half random. */
export function backoffDelay(retry: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The first error lines of an OperationOutcome (or of whatever the receiver answered). */
export function firstErrors(body: unknown, raw: string, max = 3): string[] {
  const oo = body as { resourceType?: string; issue?: { severity?: string; expression?: string[]; diagnostics?: string; details?: { text?: string } }[] };
  if (oo?.resourceType === 'OperationOutcome' && Array.isArray(oo.issue)) {
    const errs = oo.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    const list = (errs.length ? errs : oo.issue).slice(0, max);
    return list.map((i) => `${i.expression?.[0] ? `${i.expression[0]}: ` : ''}${i.diagnostics ?? i.details?.text ?? 'error'}`);
  }
  const text = raw.trim().replace(/\s+/g, ' ');
  return [text ? text.slice(0, 300) : 'empty response'];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describeNetworkError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timeout';
  // undici wraps the socket error in `cause` (an AggregateError for refused dual-stack connects).
  const cause = err?.cause as { code?: string; message?: string; errors?: { code?: string; message?: string }[] } | undefined;
  const inner = cause?.code ? cause : cause?.errors?.find((x) => x?.code);
  return inner?.code ? `${inner.code}${inner.message ? ` (${inner.message})` : ''}` : err?.message ?? String(e);
}

async function sendOne(item: SendItem, o: Required<Omit<SendOptions, 'token' | 'headers' | 'onEvent' | 'path'>> & SendOptions): Promise<SendItemResult> {
  const started = Date.now();
  const url = o.baseUrl.replace(/\/+$/, '') + (o.path ? `/${o.path.replace(/^\/+/, '')}` : '');
  const headers: Record<string, string> = {
    'content-type': 'application/fhir+json; charset=utf-8',
    accept: 'application/fhir+json',
    ...o.headers,
  };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let attempts = 0;
  for (;;) {
    attempts++;
    let status: number | undefined;
    let reason: string;
    let retryAfter: number | undefined;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: item.body, signal: AbortSignal.timeout(o.timeoutMs) });
      status = res.status;
      const raw = await res.text();
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      if (status >= 200 && status < 300) {
        const b = body as { resourceType?: string; entry?: { response?: { location?: string } }[] };
        if (b?.resourceType !== 'Bundle') {
          // A single resource (ITI-105): its Location, and the resource.
          const location = res.headers.get('location') ?? res.headers.get('content-location');
          return { name: item.name, outcome: 'accepted', httpStatus: status, attempts, durationMs: Date.now() - started, ...(location ? { locations: [location] } : {}), ...(body !== undefined ? { resource: body } : {}) };
        }
        return {
          name: item.name,
          outcome: 'accepted',
          httpStatus: status,
          attempts,
          durationMs: Date.now() - started,
          entries: Array.isArray(b?.entry) ? b.entry.length : undefined,
          locations: Array.isArray(b?.entry) ? b.entry.slice(0, 3).map((e) => e.response?.location ?? '').filter(Boolean) : undefined,
        };
      }
      if (!RETRIABLE_STATUS(status)) {
        return { name: item.name, outcome: 'rejected', httpStatus: status, attempts, durationMs: Date.now() - started, errors: firstErrors(body, raw) };
      }
      reason = `HTTP ${status}`;
      retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      if (attempts > o.retries) {
        return { name: item.name, outcome: 'failed', httpStatus: status, attempts, durationMs: Date.now() - started, errors: firstErrors(body, raw) };
      }
    } catch (e) {
      reason = describeNetworkError(e);
      if (attempts > o.retries) {
        return { name: item.name, outcome: 'failed', httpStatus: status, attempts, durationMs: Date.now() - started, errors: [`network error: ${reason}`] };
      }
    }
    const delayMs = retryAfter !== undefined ? Math.min(retryAfter, o.maxRetryAfterMs) : backoffDelay(attempts, o.baseDelayMs, o.maxDelayMs, o.random);
    o.onEvent?.({ type: 'retry', item: item.name, attempt: attempts, reason, delayMs });
    await sleep(delayMs);
  }
}

/** Posts every item, `concurrency` at a time; the report lists the items in input order. */
export async function sendBundles(items: Iterable<SendItem> | AsyncIterable<SendItem>, options: SendOptions): Promise<SendReport> {
  const o = {
    concurrency: 4,
    retries: 5,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    maxRetryAfterMs: 120_000,
    timeoutMs: 120_000,
    random: Math.random,
    ...options,
  };
  if (!/^https?:\/\//.test(o.baseUrl)) throw new Error(`the FHIR base URL must start with http:// or https://, not "${o.baseUrl}"`);
  if (!(o.concurrency >= 1)) throw new Error('concurrency must be at least 1');
  const startedAt = new Date();
  const results: SendItemResult[] = [];
  const iterator = (Symbol.asyncIterator in items ? (items as AsyncIterable<SendItem>)[Symbol.asyncIterator]() : (items as Iterable<SendItem>)[Symbol.iterator]()) as AsyncIterator<SendItem> | Iterator<SendItem>;
  let index = 0;
  // One shared iterator pulled by N workers: items are read (from disk) only when a worker is free.
  let pulling: Promise<unknown> = Promise.resolve();
  const next = async (): Promise<{ item: SendItem; i: number } | undefined> => {
    const p = pulling.then(() => iterator.next());
    pulling = p.catch(() => undefined);
    const r = await p;
    return r.done ? undefined : { item: r.value, i: index++ };
  };
  const worker = async () => {
    for (let n = await next(); n; n = await next()) {
      const result = await sendOne(n.item, o);
      results[n.i] = result;
      o.onEvent?.({ type: 'done', result });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const finishedAt = new Date();
  const count = (k: SendItemResult['outcome']) => results.filter((r) => r.outcome === k).length;
  return {
    baseUrl: o.baseUrl,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    sent: results.length,
    accepted: count('accepted'),
    rejected: count('rejected'),
    failed: count('failed'),
    retries: results.reduce((s, r) => s + r.attempts - 1, 0),
    items: results,
  };
}

export { readItems, listFiles, type SendItem } from './sources.js';
