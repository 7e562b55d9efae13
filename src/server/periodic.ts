// A server job run every interval (the rejected submissions' sweep, the history's partitions, the
// projet personnalisé reviews, bulk exports' expired files): runs never overlap, and stop() clears
// the timer THEN waits for the run in flight, so the server closes its storage only once no job
// is using it (D-325). Before, shutdown only cleared the timer: a run in flight went on after the
// database had closed, failed, and was logged as an error at every such shutdown.

/** The log calls a job needs (a pino/Fastify logger fits). */
export interface JobLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PeriodicJobOptions {
  /** Named in the log lines: `<name>: ...`. */
  name: string;
  /** The message of a failed run (default `<name>: the run failed`). */
  failed?: string;
  /** Level of a failed run's line while the server runs (default error). */
  failureLevel?: 'error' | 'warn';
  intervalMs: number;
  /** One run; its rejection is logged (error), or (warn) when it ended after stop() was called. */
  run: () => Promise<void>;
  log: JobLog;
  /** What of the error is logged (default the whole error). */
  describeError?: (err: unknown) => object;
}

export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly opts: PeriodicJobOptions) {}

  /** Starts the timer; with `now`, runs once at once and resolves when that run ends. */
  start(options: { now?: boolean } = {}): Promise<void> {
    if (!this.stopped) return Promise.resolve();
    this.stopped = false;
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
    return options.now ? this.runOnce() : Promise.resolve();
  }

  /** A run now (or the one in flight); never rejects: failures are logged. Nothing once stopped. */
  runOnce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.opts
      .run()
      .catch((err: unknown) => {
        const described = { err: this.opts.describeError ? this.opts.describeError(err) : err };
        // Stopping does not close the storage before the run ends (stop() waits for it), but a
        // run that fails while the server shuts down is not an alarm for operators.
        if (this.stopped) this.opts.log.warn(described, `${this.opts.name}: the run in progress at shutdown failed`);
        else this.opts.log[this.opts.failureLevel ?? 'error'](described, this.opts.failed ?? `${this.opts.name}: the run failed`);
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Whether a run is in flight (tests). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** No new run; resolves once the run in flight (if any) has ended. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
