// Runs the files of `tddui validate` through one validator in this thread, or through worker
// threads when there are many files and cores: each worker builds its validator once, then
// takes small batches of files as it becomes free, so a slow file never holds up the others.
// Results come back per file index; the caller prints them in input order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { validateFile, type DocumentValidator, type FileResult, type JobOptions } from './validate-job.js';
import { createValidator, type ValidatorDescription } from './validate-setup.js';
import type { FromWorker, ToWorker, WorkerSetup } from './validate-worker.js';

export interface RunOptions {
  packages?: string[];
  igs?: string[];
  job: JobOptions;
  /** Worker threads: 0 validates in this thread. */
  workers: number;
}

export interface RunCallbacks {
  /** The validator is built: a message here stops the run (e.g. an unknown --profile). */
  ready(d: ValidatorDescription): string | undefined;
  result(i: number, r: FileResult): void;
  /** A file that could not be read (missing, no permission): the run goes on. */
  readError(i: number, message: string): void;
}

export class SetupError extends Error {}

/** Files per worker below which a worker does not pay for its start-up (building the engines). */
export const FILES_PER_WORKER = 40;

/** How many workers for `count` files when --workers is `auto`: 0 (this thread) for a few files. */
export function autoWorkers(count: number): number {
  const n = Math.min(availableParallelism(), Math.floor(count / FILES_PER_WORKER), 8);
  return n >= 2 ? n : 0;
}

export async function runFiles(files: readonly string[], opts: RunOptions, cb: RunCallbacks): Promise<void> {
  if (opts.workers <= 0) return runHere(files, opts, cb);
  return runWorkers(files, opts, cb);
}

async function runHere(files: readonly string[], opts: RunOptions, cb: RunCallbacks): Promise<void> {
  let validator: DocumentValidator;
  let description: ValidatorDescription;
  try {
    const built = await createValidator(opts);
    validator = built.validator;
    description = built.describe(opts.job.profile);
  } catch (e) {
    throw new SetupError((e as Error).message);
  }
  const stop = cb.ready(description);
  if (stop) throw new SetupError(stop);
  for (let i = 0; i < files.length; i++) {
    let r: FileResult;
    try {
      r = await validateFile(validator, files[i]!, opts.job);
    } catch (e) {
      cb.readError(i, `cannot read ${files[i]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    cb.result(i, r);
  }
}

async function runWorkers(files: readonly string[], opts: RunOptions, cb: RunCallbacks): Promise<void> {
  const count = Math.min(opts.workers, files.length);
  const setup: WorkerSetup = { packages: opts.packages, igs: opts.igs, job: opts.job };
  const url = new URL('./validate-worker.js', import.meta.url);
  // Small batches: little messaging, and the last files spread over every worker.
  const batchSize = Math.max(1, Math.min(8, Math.floor(files.length / (count * 8))));
  let next = 0;
  let readySeen = false;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = count;
      const fail = (e: Error) => {
        for (const w of workers) void w.terminate();
        reject(e);
      };
      const give = (w: Worker) => {
        if (next >= files.length) {
          w.postMessage({ type: 'end' } satisfies ToWorker);
          return;
        }
        const batch = files.slice(next, next + batchSize).map((file, k) => ({ i: next + k, file }));
        next += batch.length;
        w.postMessage({ type: 'files', batch } satisfies ToWorker);
      };
      for (let k = 0; k < count; k++) {
        const w = new Worker(url, { workerData: setup });
        workers.push(w);
        w.on('message', (m: FromWorker) => {
          switch (m.type) {
            case 'failed':
              return fail(new SetupError(m.message));
            case 'ready': {
              // The first worker ready speaks for all: they are built from the same options.
              if (!readySeen) {
                readySeen = true;
                const stop = cb.ready(m.description);
                if (stop) return fail(new SetupError(stop));
              }
              return give(w);
            }
            case 'result':
              return cb.result(m.i, m.result);
            case 'read-error':
              return cb.readError(m.i, m.message);
            case 'idle':
              return give(w);
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0) return fail(new Error(`a validation worker stopped (exit code ${code})`));
          if (--running === 0) resolve();
        });
      }
    });
  } finally {
    for (const w of workers) void w.terminate();
  }
}
