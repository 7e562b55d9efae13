// Validation off the event loop (issue 21): a pool of worker threads, one per core by default,
// each with its own validator (src/server/validation-worker.ts). The main thread keeps HTTP,
// reads, `/healthz`, the UI and storage; a transaction Bundle is validated in a worker (sent as
// the request's text, parsed there), and a large `$validate` body is not even parsed on the
// main thread. Tasks wait in order for a free worker. Until a worker has loaded its packages
// (start-up) — or when none can run — `ready` is false and callers validate on the main thread
// as before, so the pool never makes a request fail or wait for start-up.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CheckedElsewhere, RejectionRecord } from '../ingest/index.js';
import { JsonText } from '../storage/submissions.js';
import type { ValidationReport } from '../tddui/validator.js';
import type { Limits } from './limits.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { bytesText } from './limits.js';

export interface ValidationWorkerSetup {
  packages?: string[];
  igs?: string[];
  /** The worker thread's nice value (ValidationPoolOptions.nice). */
  nice: number;
  limits: Pick<Limits, 'bundleEntries' | 'arrayLength' | 'stringLength'>;
}

/** The text format of a body a worker reads. */
export type BodyFormat = 'json' | 'xml';

export type ToValidationWorker =
  | { id: number; kind: 'transaction'; bytes?: Uint8Array; resource?: unknown; now: number }
  | { id: number; kind: 'validate'; bytes: Uint8Array; format: BodyFormat; profile?: string; type?: string }
  | { id: number; kind: 'parse'; bytes: Uint8Array; format: BodyFormat; keepJson: boolean }
  | { id: number; kind: 'page'; bytes: Uint8Array }
  | {
      id: number;
      kind: 'bundle';
      bytes: Uint8Array;
      format: BodyFormat;
      now: number;
      /** Per module with transaction Bundles: whether it is the only IG that writes (its `claims` context). */
      alone: Record<string, boolean>;
      /** The FINESS mentions of the data (the access checks of a token). */
      mentions: boolean;
      /** The tree even when the claiming IG's checks refuse it. */
      treeOnRefusal: boolean;
      /** Characters of the body sent back when it cannot be read (leadingText). */
      unreadableChars: number;
    };

/**
 * A transaction body read by a worker (D-286): what the route's access checks need (the entries'
 * types, the types their requests write, the owner FINESS and the FINESS mentions), which module
 * claims it, that module's checks (TDDUI: ingest's checkTransaction, a refusal built whole), and
 * the tree in pieces — absent when those checks refused it (the main thread never builds it).
 * `resourceType` absent: the body is not a resource.
 */
export interface ReadBundle {
  resourceType?: string;
  /** `resourceType`, `type` and `meta` of the body. */
  stub?: Record<string, unknown>;
  types: string[];
  writeTypes: string[];
  owner?: string;
  mentions?: { finess: string; expression: string }[];
  claimer?: string;
  checked?: CheckedInWorker;
  pieces?: ParsedPieces;
  /** The body's bytes given back with `pieces` when it was JSON (the submission log's text, D-315). */
  bytes?: Uint8Array;
}

/**
 * A body read by a worker, in pieces the main thread rebuilds without holding the event loop:
 * the value's JSON with its large top-level arrays left empty (`head`), and those arrays'
 * elements as JSON texts of about PIECE_CHARS each, parsed one per turn of the loop.
 */
export interface ParsedPieces {
  head: string;
  arrays: [key: string, chunks: string[]][];
  /** The body as JSON (UTF-8) when it was XML and the caller keeps the bytes (a transaction). */
  json?: Uint8Array;
}

/** The size of a piece of a parsed body sent back to the main thread (one parse of this costs a few ms). */
export const PIECE_CHARS = 256 * 1024;

/** Rebuilds a body a worker parsed, one piece per turn of the event loop (see ParsedPieces). */
export async function rebuildPieces(p: ParsedPieces): Promise<unknown> {
  const value = JSON.parse(p.head) as Record<string, unknown[]>;
  for (const [key, chunks] of p.arrays) {
    // An own property from JSON.parse (even `__proto__`): read, never assigned.
    const target = value[key]!;
    for (const chunk of chunks) {
      await new Promise((r) => setImmediate(r));
      for (const x of JSON.parse(chunk) as unknown[]) target.push(x);
    }
  }
  return value;
}

/**
 * A transaction's checks before storing, run by a worker (ingest's checkTransaction): the report,
 * or a refusal whose record's bounded Bundle and report come as JSON text (JsonText crosses
 * threads as a string) and whose OperationOutcome comes as UTF-8 JSON (moved, not copied).
 */
export type CheckedInWorker =
  /** Accepted: `reportJson` is the whole report (its OperationOutcome, UTF-8 JSON, moved); `report.issues` its issues other than information (D-336). */
  | { report: ValidationReport; ifMatch: [number, number][]; reportJson?: Uint8Array }
  | {
      refused: {
        status: number;
        body: Uint8Array;
        record: Omit<RejectionRecord, 'bundle' | 'report'>;
        bundle: { text: string; resourceType?: string } | null;
        report: string;
      };
    };

/** The answer of the web UI's "Valider un fichier" built by a worker (its HTML page). */
export interface ValidatedPage {
  status: number;
  html: string;
}

/** What a worker found in a `$validate` body it read itself. */
export interface ValidatedText {
  /** The OperationOutcome as UTF-8 JSON (serialised in the worker and moved here without a copy: a report of 40,000 issues is not rebuilt here). */
  outcome: Uint8Array;
  resourceType: string;
  /** The resource's `meta.profile`: which IG claims it. */
  claims: string[];
  /** Validated as a volet's resource (its IG's engine and module rules: FhirService.validateAsCreate), not by the TDDUI validator. */
  volet: boolean;
  /** The profile asked for (query or Parameters). */
  profile?: string;
}

export type FromValidationWorker =
  | { type: 'ready'; bundleModules: string[]; modules: string[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; checked?: CheckedInWorker; validated?: ValidatedText; parsed?: ParsedPieces; page?: ValidatedPage; bundle?: ReadBundle; error?: { def: FhirError['def']; args: FhirError['args']; options: FhirError['options'] }; unreadable?: string; failure?: string };

/** ReadBundle as the main thread gets it: the checks' refusal record with its JSON texts (JsonText). */
export type ReadTransaction = Omit<ReadBundle, 'checked'> & { checked?: CheckedElsewhere };

/** A worker's CheckedInWorker as ingest takes it (CheckedElsewhere). */
function checkedHere(c: CheckedInWorker): CheckedElsewhere {
  if ('report' in c) return c;
  const { bundle, report, record, ...rest } = c.refused;
  return { refused: { ...rest, record: { ...record, bundle: bundle ? new JsonText(bundle.text, bundle.resourceType) : null, report: new JsonText(report) } } };
}

/** A body a worker could not read (syntax, depth, value limits): the route logs it as unreadable. */
export class UnreadableBody extends Error {
  constructor(
    readonly error: FhirError,
    /** The body's first characters (leadingText: what the submission log keeps of it). */
    readonly text: string,
  ) {
    super(error.message);
  }
}

/** The first `chars` UTF-16 units of a UTF-8 body (and maybe a few more), decoding no more than needed (3 bytes at most per unit). */
export function leadingText(bytes: Uint8Array, chars: number): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (b.length > chars * 3 + 3 ? b.subarray(0, chars * 3 + 3) : b).toString('utf8');
}

export interface ValidationPoolOptions {
  /** Worker threads (default: the cores, os.availableParallelism()). */
  size?: number;
  /** FHIR package locations and TDDUI versions: the same as the main thread's validator. */
  packages?: string[];
  igs?: string[];
  limits: ValidationWorkerSetup['limits'];
  /** Heap of each worker (MiB): a body that needs more is answered 413, the worker replaced. Default 2,048. */
  maxHeapMb?: number;
  /**
   * The workers' scheduling priority, a nice value (D-287; Linux: per thread): on busy cores the
   * main thread — HTTP, `/healthz`, reads, storing — runs before validation. Default WORKER_NICE.
   */
  nice?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Pending;
}

interface Pending {
  message: ToValidationWorker;
  resolve(v: FromValidationWorker & { type: 'result' }): void;
  reject(e: Error): void;
}

/** Bytes whose buffer can be moved to another thread: they must own it whole (small Buffers share a pool). */
export function movable(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && !(bytes.buffer instanceof SharedArrayBuffer) ? bytes : new Uint8Array(bytes);
}

/**
 * The validation workers' nice value (D-287): with the cores busy (a 40 MB Bundle validated while
 * other work runs), the scheduler gives the main thread (nice 0) about ten times a worker's share,
 * so it answers within a few milliseconds instead of waiting its turn behind validation.
 */
export const WORKER_NICE = 10;

/** After this many workers failing in a row before being ready, the pool stops replacing them. */
const MAX_FAILED_STARTS = 3;

export class ValidationPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private failedStarts = 0;
  /** Tasks the workers have answered (tests, metrics). */
  completed = 0;
  /** The modules with transaction Bundles the workers know (ReadBundle.claimer is one of them). */
  bundleModules: readonly string[] = [];
  /** Every module the workers know (a volet's resource in `$validate` is validated by them). */
  modules: readonly string[] = [];
  readonly size: number;
  private readonly maxHeapMb: number;

  private constructor(private readonly opts: ValidationPoolOptions) {
    this.size = Math.max(1, opts.size ?? availableParallelism());
    this.maxHeapMb = opts.maxHeapMb ?? 2048;
    for (let i = 0; i < this.size; i++) this.spawn();
  }

  /** Starts the workers; they load their packages in the background (see `ready`). */
  static start(opts: ValidationPoolOptions): ValidationPool {
    return new ValidationPool(opts);
  }

  /** Whether at least one worker can take a task (else: validate on the main thread). */
  get ready(): boolean {
    return !this.closed && this.slots.some((s) => s.ready);
  }

  /** Resolves when every worker is ready (or the pool gave up on some): tests and benchmarks. */
  async whenReady(timeoutMs = 120_000): Promise<void> {
    const t0 = Date.now();
    while (!this.closed && this.slots.some((s) => !s.ready) && this.failedStarts < MAX_FAILED_STARTS) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`validation workers not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * The checks of a TDDUI transaction before storing (ingest's checkTransaction), in a worker,
   * from the request's text when it has it: the report — or a refusal built there whole (the
   * scan for unstorable text, the bounded copy for the submission log, the OperationOutcome and
   * its serialisation), so that this thread only writes the record and sends the bytes.
   * `undefined` when no worker is ready: the caller checks on this thread.
   */
  async checkTransaction(input: { bytes: Buffer } | { resource: unknown }, now: Date): Promise<CheckedElsewhere | undefined> {
    if (!this.ready) return undefined;
    const r = await this.run({ id: 0, kind: 'transaction', ...('bytes' in input ? { bytes: new Uint8Array(input.bytes) } : input), now: now.getTime() });
    return checkedHere(r.checked!);
  }

  /**
   * Reads a transaction body in a worker (D-286): see ReadBundle. Rejects with UnreadableBody
   * when the body cannot be read (the 400 / 413 of the body parser), with a FhirError for a body
   * too costly to check; `undefined` when no worker is ready.
   */
  async readTransaction(
    bytes: Buffer,
    format: BodyFormat,
    options: { now: Date; alone: Record<string, boolean>; mentions: boolean; treeOnRefusal: boolean; move: boolean; unreadableChars: number },
  ): Promise<ReadTransaction | undefined> {
    if (!this.ready) return undefined;
    // `move`: the request's bytes go to the worker as they are (no 40 MB copy on this thread; they are detached here).
    const r = await this.run({ id: 0, kind: 'bundle', bytes: options.move ? movable(bytes) : new Uint8Array(bytes), format, now: options.now.getTime(), alone: options.alone, mentions: options.mentions, treeOnRefusal: options.treeOnRefusal, unreadableChars: options.unreadableChars }, true);
    if (r.error) {
      const e = new FhirError(r.error.def, r.error.args, r.error.options);
      throw r.unreadable !== undefined ? new UnreadableBody(e, r.unreadable) : e;
    }
    const { checked, ...read } = r.bundle!;
    return { ...read, ...(checked ? { checked: checkedHere(checked) } : {}) };
  }

  /**
   * Reads and validates a `$validate` body from its text in a worker (parse, limits, the
   * Parameters wrapper, type and profile checks). Rejects with the FhirError a route would
   * throw; `undefined` when no worker is ready.
   */
  async validateText(bytes: Buffer, options: { profile?: string; type?: string; format?: BodyFormat; move?: boolean }): Promise<ValidatedText | undefined> {
    if (!this.ready) return undefined;
    // `move`: the request's bytes go to the worker as they are (detached here); else a copy goes
    // (a memory copy, no decoding) and the request keeps its bytes.
    const r = await this.run({ id: 0, kind: 'validate', bytes: options.move ? movable(bytes) : new Uint8Array(bytes), format: options.format ?? 'json', ...(options.profile !== undefined ? { profile: options.profile } : {}), ...(options.type !== undefined ? { type: options.type } : {}) });
    return r.validated!;
  }

  /**
   * Reads a large request body (JSON or FHIR XML) in a worker: depth, syntax, the value limits,
   * XML to JSON; the tree comes back in pieces rebuilt here a piece per turn of the loop. Rejects
   * with the FhirError the body parser would raise; `undefined` when no worker is ready.
   */
  async parseBody(bytes: Buffer, format: BodyFormat, options: { keepJson?: boolean } = {}): Promise<{ value: unknown; json?: Buffer } | undefined> {
    if (!this.ready) return undefined;
    const r = await this.run({ id: 0, kind: 'parse', bytes: new Uint8Array(bytes), format, keepJson: options.keepJson === true });
    const p = r.parsed!;
    const value = await rebuildPieces(p);
    return { value, ...(p.json ? { json: Buffer.from(p.json.buffer, p.json.byteOffset, p.json.byteLength) } : {}) };
  }

  /**
   * The web UI's "Valider un fichier" answered by a worker from the form's raw bytes (decoding
   * the form, reading the file, validating, rendering the report). `undefined` when no worker is ready.
   */
  async validatePage(formBytes: Buffer): Promise<ValidatedPage | undefined> {
    if (!this.ready) return undefined;
    const r = await this.run({ id: 0, kind: 'page', bytes: new Uint8Array(formBytes) });
    return r.page!;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new FhirError(HTTP_ERRORS.UNAVAILABLE));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private run(message: ToValidationWorker, keepError = false): Promise<FromValidationWorker & { type: 'result' }> {
    return new Promise<FromValidationWorker & { type: 'result' }>((resolve, reject) => {
      this.queue.push({ message: { ...message, id: this.nextId++ }, resolve, reject });
      this.pump();
    }).then((r) => {
      if (r.error && !keepError) throw new FhirError(r.error.def, r.error.args, r.error.options);
      if (r.failure !== undefined) throw new Error(`validation worker: ${r.failure}`);
      return r;
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      const m = task.message;
      // The bytes move to the worker (their buffer is detached here), they are not copied.
      const bytes = 'bytes' in m ? m.bytes : undefined;
      slot.worker.postMessage(m, bytes ? [bytes.buffer as ArrayBuffer] : []);
    }
    // No worker left that could ever take them (every one failed to start): fail what waits.
    if (this.queue.length && !this.slots.length) for (const p of this.queue.splice(0)) p.reject(new Error('no validation worker'));
  }

  private spawn(): void {
    const setup: ValidationWorkerSetup = {
      nice: this.opts.nice ?? WORKER_NICE,
      ...(this.opts.packages ? { packages: this.opts.packages } : {}),
      ...(this.opts.igs ? { igs: this.opts.igs } : {}),
      limits: this.opts.limits,
    };
    const worker = new Worker(new URL('./validation-worker.js', import.meta.url), {
      workerData: setup,
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb },
    });
    const slot: Slot = { worker, ready: false };
    this.slots.push(slot);
    worker.on('message', (m: FromValidationWorker) => {
      if (m.type === 'ready') {
        slot.ready = true;
        this.bundleModules = m.bundleModules;
        this.modules = m.modules;
        this.failedStarts = 0;
        if (this.slots.every((s) => s.ready)) this.opts.log?.info({ workers: this.slots.length }, 'validation workers ready');
        this.pump();
      } else if (m.type === 'failed') {
        this.opts.log?.error({ worker: worker.threadId, reason: m.message }, 'a validation worker could not load the packages');
        void worker.terminate();
      } else if (m.type === 'result' && slot.task && slot.task.message.id === m.id) {
        const t = slot.task;
        slot.task = undefined;
        this.completed++;
        t.resolve(m);
        this.pump();
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const t = slot.task;
      slot.task = undefined;
      if (t) {
        // Out of memory on this body: the body's cost, answered 413; anything else is ours (500).
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') t.reject(new FhirError(HTTP_ERRORS.VALIDATION_TOO_COSTLY, { limit: bytesText(this.maxHeapMb * 1024 * 1024) }));
        else t.reject(err);
      }
      this.opts.log?.warn({ worker: worker.threadId, code: err.code }, 'a validation worker stopped: replaced');
    });
    worker.once('exit', () => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (slot.task) slot.task.reject(new Error('validation worker exited'));
      if (!slot.ready && !this.closed) this.failedStarts++;
      if (!this.closed && this.failedStarts < MAX_FAILED_STARTS) this.spawn();
      this.pump();
    });
  }
}
