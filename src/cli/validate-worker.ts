// A worker thread of `tddui validate`: builds its own validator (engines are not shared between
// threads), then validates the batches of files the main thread hands it, one message per file.
import { parentPort, workerData } from 'node:worker_threads';
import { validateFile, type DocumentValidator, type JobOptions } from './validate-job.js';
import { createValidator, type ValidatorDescription } from './validate-setup.js';

export interface WorkerSetup {
  packages?: string[];
  igs?: string[];
  job: JobOptions;
}

export type ToWorker = { type: 'files'; batch: { i: number; file: string }[] } | { type: 'end' };
export type FromWorker =
  | { type: 'ready'; description: ValidatorDescription }
  | { type: 'failed'; message: string }
  | { type: 'result'; i: number; result: import('./validate-job.js').FileResult }
  | { type: 'read-error'; i: number; message: string }
  | { type: 'idle' };

async function main(): Promise<void> {
  const port = parentPort!;
  const setup = workerData as WorkerSetup;
  let validator: DocumentValidator;
  try {
    const built = await createValidator(setup);
    validator = built.validator;
    port.postMessage({ type: 'ready', description: built.describe(setup.job.profile) } satisfies FromWorker);
  } catch (e) {
    port.postMessage({ type: 'failed', message: (e as Error).message } satisfies FromWorker);
    return;
  }
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'end') {
      port.close();
      return;
    }
    for (const { i, file } of m.batch) {
      try {
        port.postMessage({ type: 'result', i, result: await validateFile(validator, file, setup.job) } satisfies FromWorker);
      } catch (e) {
        port.postMessage({ type: 'read-error', i, message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` } satisfies FromWorker);
      }
    }
    port.postMessage({ type: 'idle' } satisfies FromWorker);
  });
}

void main();
