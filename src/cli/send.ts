// `tddui send`: posts TDDUI transaction Bundles to a FHIR server, with retries and a report.
import { readFileSync } from 'node:fs';
import { listFiles, readItems, sendBundles } from '../producer/send/index.js';
import { Command } from './args.js';
import { deliver, deliveryHelp, deliveryOptions, parseDelivery } from './delivery.js';

export const SEND_HELP = `Usage: tddui send --url BASE [options] PATH...

Posts TDDUI transaction Bundles (POST [base]) to a FHIR server. PATH is a Bundle .json file, an
.ndjson file (one Bundle per line) or a folder of them (walked recursively).

Network errors, HTTP 5xx, 408 and 429 are retried with exponential backoff and jitter, honouring
Retry-After. A 4xx is the server's verdict on the Bundle and is never retried. Resending a Bundle
is safe: a TDDUI receiver matches business identifiers, so it makes a new version of the same
objects, not duplicates.

Options:
  --url BASE           FHIR base URL, e.g. https://receiver.example/fhir (required).
${deliveryHelp(4, 'Bundles', 'Bundle')}  -h, --help           Show this help.

Progress: a progress bar on a terminal, one line per Bundle otherwise (stderr).
Exit status: 0 every Bundle accepted, 1 a Bundle was rejected or could not be delivered,
2 usage error or unreadable input.
`;

const cli = new Command('send', SEND_HELP);

export async function runSend(argv: string[]): Promise<number> {
  const args = cli.parse(argv, deliveryOptions(4));
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const d = parseDelivery(cli, values);
  if (typeof d === 'number') return d;
  if (positionals.length === 0) return cli.usage('no PATH given');
  let total: number;
  try {
    total = countBundles(listFiles(positionals));
  } catch (e) {
    return cli.fail((e as Error).message);
  }
  return deliver(cli, d, total, (onEvent) => sendBundles(readItems(positionals), { ...d.options, onEvent }));
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
