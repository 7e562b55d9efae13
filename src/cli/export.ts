// `tddui export`: drives a FHIR Bulk Data $export on a server (this one or any other): the
// kick-off, polling with a progress line, the download of the NDJSON files (streamed to disk),
// then the deletion of the job on the server.
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Command } from './args.js';
import { pluralEn } from '../fhir/outcome/plural.js';

export const EXPORT_HELP = `Usage: tddui export --url BASE [options]

Runs a FHIR Bulk Data export (asynchronous $export) and downloads its NDJSON files, one per
resource type, into a folder; then deletes the job on the server (unless --keep).

Options:
  --url BASE              FHIR base URL, e.g. https://receiver.example/fhir (required).
  --token TOKEN           OAuth2 bearer token (default: $TDDUI_TOKEN).
  --patient               Patient level (/Patient/$export): the usagers and what refers to them.
  --group ID              Group level (/Group/ID/$export): the Group's members.
  --type T1,T2            Resource types (_type).
  --since INSTANT         Only resources changed after (_since), e.g. 2026-01-01T00:00:00Z.
  --type-filter QUERY     A search per type (_typeFilter), e.g. "Encounter?date=ge2026-01-01";
                          repeat it for several.
  --out DIR               Folder of the files (default ./export-<date>).
  --keep                  Leave the job (and its files) on the server.
  --interval SECONDS      Polling interval when the server gives no Retry-After (default 2).
  -h, --help              Show this help.

Progress: the server's X-Progress on stderr (a line that updates itself on a terminal).
Exit status: 0 exported, 1 the server refused or failed the export, 2 usage error.
`;

const cli = new Command('export', EXPORT_HELP);

export async function runExport(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    url: { type: 'string' },
    token: { type: 'string' },
    patient: { type: 'boolean', default: false },
    group: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    'type-filter': { type: 'string', multiple: true },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    interval: { type: 'string', default: '2' },
  });
  if (typeof args === 'number') return args;
  const v = args.values;
  if (!v.url) return cli.usage('--url BASE is required');
  if (!/^https?:\/\/[^/]/.test(v.url)) return cli.usage(`--url must be an http(s) URL, not "${v.url}"`);
  if (v.patient && v.group) return cli.usage('--patient and --group exclude each other');
  const interval = Number(v.interval);
  if (!(interval > 0)) return cli.usage(`--interval must be a positive number of seconds (got "${v.interval}")`);
  const base = v.url.replace(/\/+$/, '');
  const token = v.token ?? process.env.TDDUI_TOKEN;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const query = new URLSearchParams();
  if (v.type) query.set('_type', v.type);
  if (v.since) query.set('_since', v.since);
  for (const f of v['type-filter'] ?? []) query.append('_typeFilter', f);
  const path = v.group ? `/Group/${encodeURIComponent(v.group)}/$export` : v.patient ? '/Patient/$export' : '/$export';
  const out = v.out ?? `export-${new Date().toISOString().slice(0, 10)}`;
  const tty = process.stderr.isTTY === true;

  const kick = await fetch(`${base}${path}${query.size ? `?${query}` : ''}`, { headers: { ...auth, prefer: 'respond-async', accept: 'application/fhir+json' } });
  if (kick.status !== 202) return refused('kick-off', kick);
  const poll = kick.headers.get('content-location');
  if (!poll) {
    cli.fail('the server accepted the export without a Content-Location to poll');
    return 1;
  }
  process.stderr.write(`export accepted: ${poll}\n`);
  let manifest: { output?: { type: string; url: string; count?: number }[]; transactionTime?: string };
  const spinner = '|/-\\';
  for (let i = 0; ; i++) {
    const r = await fetch(poll, { headers: { ...auth, accept: 'application/json' } });
    if (r.status === 200) {
      manifest = (await r.json()) as typeof manifest;
      break;
    }
    if (r.status !== 202) return refused('status', r);
    const progress = r.headers.get('x-progress') ?? 'in progress';
    if (tty) process.stderr.write(`\r${spinner[i % 4]} ${progress}\x1b[K`);
    else process.stderr.write(`${progress}\n`);
    const retry = Number(r.headers.get('retry-after'));
    await new Promise((res) => setTimeout(res, (retry > 0 ? Math.min(retry, 60) : interval) * 1000));
  }
  if (tty) process.stderr.write('\r\x1b[K');
  mkdirSync(out, { recursive: true });
  let total = 0;
  for (const o of manifest.output ?? []) {
    const r = await fetch(o.url, { headers: { ...auth, accept: 'application/fhir+ndjson' } });
    if (r.status !== 200 || !r.body) return refused(`file ${o.type}`, r);
    const file = join(out, `${o.type}.ndjson`);
    await pipeline(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), createWriteStream(file));
    total += o.count ?? 0;
    process.stderr.write(`${o.type}: ${o.count ?? '?'} resources → ${file}\n`);
  }
  if (!v.keep) await fetch(poll, { method: 'DELETE', headers: auth }).catch(() => undefined);
  process.stdout.write(`${pluralEn(total, 'resource', 'resources')} in ${pluralEn((manifest.output ?? []).length, 'file', 'files')} in ${out} (transaction time ${manifest.transactionTime ?? '?'})\n`);
  return 0;
}

async function refused(step: string, r: Response): Promise<number> {
  const text = await r.text().catch(() => '');
  let detail = text.slice(0, 500);
  try {
    const oo = JSON.parse(text) as { issue?: { diagnostics?: string; details?: { text?: string } }[] };
    if (oo.issue?.length) detail = oo.issue.map((i) => i.details?.text ?? i.diagnostics ?? '').join('; ');
  } catch {
    // not JSON: the text as it came
  }
  process.stderr.write(`tddui export: ${step} answered HTTP ${r.status}${detail ? `: ${detail}` : ''}\n`);
  return 1;
}
