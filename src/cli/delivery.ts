// What `send`, `publish` and `xdm read --url` share: the delivery options (URL, token,
// concurrency, retries, timeout, report, quiet), their help lines and checks, the progress
// output, the JSON report and the summary — one place, so the three commands behave alike.
import { writeFileSync } from 'node:fs';
import type { SendEvent, SendItemResult, SendOptions, SendReport } from '../producer/send/index.js';
import { SourceError } from '../producer/send/sources.js';
import type { Command } from './args.js';
import { pluralEn } from '../fhir/outcome/plural.js';

/** The delivery options, for `Command.parse` (`concurrency` default per command). */
export function deliveryOptions(concurrency: number) {
  return {
    url: { type: 'string' },
    token: { type: 'string' },
    concurrency: { type: 'string', default: String(concurrency) },
    retries: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '120' },
    report: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  } as const;
}

/** Their help lines (`what`: "Bundles", "Documents"; `item`: "Bundle", "document"). */
export function deliveryHelp(concurrency: number, what: string, item: string): string {
  return `  --token TOKEN        OAuth2 bearer token (default: $TDDUI_TOKEN).
  --concurrency N      ${what} in flight at once (default ${concurrency}).
  --retries N          Retries after the first attempt (default 5).
  --timeout SECONDS    Per-request timeout (default 120).
  --report FILE        Write the JSON report (every ${item}: outcome, status, attempts, location, errors).
  --quiet              No progress output, only the summary.
`;
}

export interface Delivery {
  options: Omit<SendOptions, 'path' | 'onEvent'>;
  report?: string;
  quiet: boolean;
}

type DeliveryValues = { url?: string; token?: string; concurrency: string; retries: string; timeout: string; report?: string; quiet: boolean };

/** The checked delivery options, or the exit status of a usage error. */
export function parseDelivery(cli: Command, values: DeliveryValues): Delivery | 2 {
  if (!values.url) return cli.usage('--url BASE is required');
  if (!/^https?:\/\/[^/]/.test(values.url)) return cli.usage(`--url must be an http(s) URL, not "${values.url}"`);
  const concurrency = Number(values.concurrency);
  const retries = Number(values.retries);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(concurrency) || concurrency < 1) return cli.usage(`--concurrency must be a whole number ≥ 1 (got "${values.concurrency}")`);
  if (!Number.isInteger(retries) || retries < 0) return cli.usage(`--retries must be a whole number ≥ 0 (got "${values.retries}")`);
  if (!(timeout > 0)) return cli.usage(`--timeout must be a positive number of seconds (got "${values.timeout}")`);
  const token = values.token ?? process.env.TDDUI_TOKEN;
  return {
    options: { baseUrl: values.url, ...(token !== undefined ? { token } : {}), concurrency, retries, timeoutMs: timeout * 1000 },
    ...(values.report !== undefined ? { report: values.report } : {}),
    quiet: values.quiet,
  };
}

/**
 * Runs a delivery of `total` items with the progress output, writes the report and prints the
 * summary; exit status 0 when every item was accepted, 1 otherwise, 2 on unreadable input.
 * `done` may print more after the summary (e.g. where each document now is).
 */
export async function deliver(
  cli: Command,
  d: Delivery,
  total: number,
  run: (onEvent: (e: SendEvent) => void) => Promise<SendReport>,
  noun: [string, string] = ['Bundle', 'Bundles'],
  done?: (report: SendReport) => void,
): Promise<number> {
  const tty = process.stderr.isTTY === true && !d.quiet;
  const progress = new Progress(total, tty, d.quiet);
  let report: SendReport;
  try {
    report = await run((e) => progress.event(e));
  } catch (e) {
    progress.end();
    if (e instanceof SourceError) return cli.fail(e.message);
    throw e;
  }
  progress.end();
  // The report keeps where each item went, not the whole resource a server answered.
  for (const i of report.items) delete i.resource;
  if (d.report) writeFileSync(d.report, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(summary(report, noun));
  done?.(report);
  return report.rejected || report.failed ? 1 : 0;
}

/** Where accepted documents now are (publish, xdm read --url). */
export function printLocations(report: SendReport): void {
  for (const i of report.items) if (i.outcome === 'accepted') process.stdout.write(`  ${i.name} → ${i.locations?.[0] ?? '(no location)'}\n`);
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

export function summary(r: SendReport, noun: [string, string] = ['Bundle', 'Bundles']): string {
  let s = `Sent ${pluralEn(r.sent, noun[0], noun[1])} to ${r.baseUrl} in ${(r.durationMs / 1000).toFixed(1)} s: ${r.accepted} accepted, ${r.rejected} rejected, ${r.failed} failed; ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}\n`;
  for (const kind of ['rejected', 'failed'] as const) {
    const items = r.items.filter((i) => i.outcome === kind);
    if (!items.length) continue;
    s += `${kind === 'rejected' ? 'Rejected' : 'Failed (not delivered)'}:\n`;
    for (const i of items.slice(0, 20)) {
      s += `  ${i.name} (${i.httpStatus ? `HTTP ${i.httpStatus}` : 'no response'}, ${pluralEn(i.attempts, 'attempt', 'attempts')})\n`;
      for (const e of i.errors ?? []) s += `    ${e}\n`;
    }
    if (items.length > 20) s += `  … and ${items.length - 20} more (see --report)\n`;
  }
  return s;
}
