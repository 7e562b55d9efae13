// `tddui send`: posts TDDUI transaction Bundles to a FHIR server, with retries and a report.
import { readFileSync, writeFileSync } from 'node:fs';
import { listFiles, readItems, sendBundles, type SendEvent, type SendItemResult, type SendReport } from '../producer/send/index.js';
import { SourceError } from '../producer/send/sources.js';
import { Command } from './args.js';

export const SEND_HELP = `Usage: tddui send --url BASE [options] PATH...

Posts TDDUI transaction Bundles (POST [base]) to a FHIR server. PATH is a Bundle .json file, an
.ndjson file (one Bundle per line) or a folder of them (walked recursively).

Network errors, HTTP 5xx, 408 and 429 are retried with exponential backoff and jitter, honouring
Retry-After. A 4xx is the server's verdict on the Bundle and is never retried. Resending a Bundle
is safe: a TDDUI receiver matches business identifiers, so it makes a new version of the same
objects, not duplicates.

Options:
  --url BASE           FHIR base URL, e.g. https://receiver.example/fhir (required).
  --token TOKEN        OAuth2 bearer token (default: $TDDUI_TOKEN).
  --concurrency N      Bundles in flight at once (default 4).
  --retries N          Retries after the first attempt (default 5).
  --timeout SECONDS    Per-request timeout (default 120).
  --report FILE        Write the JSON report (every Bundle: outcome, status, attempts, errors).
  --quiet              No progress output, only the summary.
  -h, --help           Show this help.

Progress: a progress bar on a terminal, one line per Bundle otherwise (stderr).
Exit status: 0 every Bundle accepted, 1 a Bundle was rejected or could not be delivered,
2 usage error or unreadable input.
`;

const cli = new Command('send', SEND_HELP);

export async function runSend(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    url: { type: 'string' },
    token: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    retries: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '120' },
    report: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  if (!values.url) return cli.usage('--url BASE is required');
  if (!/^https?:\/\/[^/]/.test(values.url)) return cli.usage(`--url must be an http(s) URL, not "${values.url}"`);
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    return Number.isInteger(n) && n >= min ? n : undefined;
  };
  const concurrency = int('concurrency', values.concurrency, 1);
  const retries = int('retries', values.retries, 0);
  const timeout = Number(values.timeout);
  if (concurrency === undefined) return cli.usage(`--concurrency must be a whole number ≥ 1 (got "${values.concurrency}")`);
  if (retries === undefined) return cli.usage(`--retries must be a whole number ≥ 0 (got "${values.retries}")`);
  if (!(timeout > 0)) return cli.usage(`--timeout must be a positive number of seconds (got "${values.timeout}")`);
  if (positionals.length === 0) return cli.usage('no PATH given');

  let total: number;
  try {
    total = countBundles(listFiles(positionals));
  } catch (e) {
    return cli.fail((e as Error).message);
  }
  const tty = process.stderr.isTTY === true && !values.quiet;
  const progress = new Progress(total, tty, values.quiet);
  let report: SendReport;
  try {
    report = await sendBundles(readItems(positionals), {
      baseUrl: values.url,
      token: values.token ?? process.env.TDDUI_TOKEN,
      concurrency,
      retries,
      timeoutMs: timeout * 1000,
      onEvent: (e) => progress.event(e),
    });
  } catch (e) {
    progress.end();
    if (e instanceof SourceError) return cli.fail(e.message);
    throw e;
  }
  progress.end();
  if (values.report) writeFileSync(values.report, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(summary(report));
  return report.rejected || report.failed ? 1 : 0;
}

/** Bundles behind the paths: one per .json file, one per non-empty line of an .ndjson file. */
function countBundles(files: string[]): number {
  let n = 0;
  for (const f of files) {
    if (/\.ndjson$/i.test(f)) n += readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).length;
    else n++;
  }
  return n;
}

export class Progress {
  private done = 0;
  private accepted = 0;
  private rejected = 0;
  private failed = 0;
  private retries = 0;
  private readonly started = Date.now();
  private last = 0;

  constructor(private readonly total: number, private readonly tty: boolean, private readonly quiet: boolean) {}

  event(e: SendEvent): void {
    if (e.type === 'retry') {
      this.retries++;
      if (!this.tty && !this.quiet) process.stderr.write(`retry     ${e.item}: ${e.reason}, attempt ${e.attempt + 1} in ${e.delayMs} ms\n`);
    } else {
      this.done++;
      this[e.result.outcome]++;
      if (!this.tty && !this.quiet) process.stderr.write(line(e.result));
    }
    if (this.tty) this.draw(e.type === 'done' && this.done === this.total);
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const ratio = this.total ? this.done / this.total : 1;
    const full = Math.round(ratio * width);
    const rate = this.done / Math.max(0.001, (now - this.started) / 1000);
    const bar = '█'.repeat(full) + '░'.repeat(width - full);
    process.stderr.write(`\r${bar} ${this.done}/${this.total}  accepted ${this.accepted}  rejected ${this.rejected}  failed ${this.failed}  retries ${this.retries}  ${rate.toFixed(1)}/s\x1b[K`);
  }

  end(): void {
    if (this.tty && this.done > 0) process.stderr.write('\n');
  }
}

function line(r: SendItemResult): string {
  const status = r.httpStatus ? `HTTP ${r.httpStatus}` : 'no response';
  const tries = `${r.attempts} attempt${r.attempts > 1 ? 's' : ''}`;
  const head = `${r.outcome.padEnd(9)} ${r.name} (${status}, ${tries}, ${r.durationMs} ms)`;
  return r.errors?.length ? `${head}: ${r.errors[0]}\n` : `${head}\n`;
}

export function summary(r: SendReport, noun = 'Bundle(s)'): string {
  let s = `Sent ${r.sent} ${noun} to ${r.baseUrl} in ${(r.durationMs / 1000).toFixed(1)} s: ${r.accepted} accepted, ${r.rejected} rejected, ${r.failed} failed; ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}\n`;
  for (const kind of ['rejected', 'failed'] as const) {
    const items = r.items.filter((i) => i.outcome === kind);
    if (!items.length) continue;
    s += `${kind === 'rejected' ? 'Rejected' : 'Failed (not delivered)'}:\n`;
    for (const i of items.slice(0, 20)) {
      s += `  ${i.name} (${i.httpStatus ? `HTTP ${i.httpStatus}` : 'no response'}, ${i.attempts} attempt(s))\n`;
      for (const e of i.errors ?? []) s += `    ${e}\n`;
    }
    if (items.length > 20) s += `  … and ${items.length - 20} more (see --report)\n`;
  }
  return s;
}
