// `tddui publish`: a PDSm / IHE MHD Producteur — posts documents (a PPA PDF or any file) to a
// Gestionnaire de partage de documents by ITI-105, with the retries and the report of `send`.
import { writeFileSync } from 'node:fs';
import { publishDocuments, type Coding } from '../producer/publish/index.js';
import type { SendReport } from '../producer/send/index.js';
import { SourceError } from '../producer/send/sources.js';
import { Command } from './args.js';
import { Progress, summary } from './send.js';

export const PUBLISH_HELP = `Usage: tddui publish --url BASE --patient REF --author REF [options] FILE...

Publishes each FILE to a PDSm 3.1.1 / IHE MHD Gestionnaire de partage de documents by ITI-105
(simplified publish): POST [base]/DocumentReference, profile pdsm-simplified-publish, the document
inline (base64) with its size and SHA-1 hash. The Gestionnaire stores it and answers where it is
(ITI-67 finds it, ITI-68 reads it at attachment.url).

Network errors, HTTP 5xx, 408 and 429 are retried with exponential backoff and jitter, honouring
Retry-After; a 4xx is the server's verdict and is never retried. Publishing again is safe: the
masterIdentifier is derived from the patient and the bytes, so the Gestionnaire answers with the
document it already holds.

Options:
  --url BASE           FHIR base URL of the Gestionnaire, e.g. https://dmp.example/fhir (required).
  --patient REF        The patient: Patient/123 or its absolute URL (required).
  --author REF         An author: Organization/…, PractitionerRole/…, Device/… (required; repeat).
  --title TEXT         Document title (default: the file name).
  --content-type TYPE  MIME type (default: from the extension: .pdf, .xml, .txt, .json, .html, .png, .jpg).
  --type SYS|CODE|TEXT DocumentReference.type (XDS typeCode), e.g. http://loinc.org|11488-4|Note de consultation.
  --category SYS|CODE|TEXT  DocumentReference.category (XDS classCode).
  --description TEXT   A comment on the document.
  --token TOKEN        OAuth2 bearer token (default: $TDDUI_TOKEN).
  --concurrency N      Documents in flight at once (default 2).
  --retries N          Retries after the first attempt (default 5).
  --timeout SECONDS    Per-request timeout (default 120).
  --report FILE        Write the JSON report (every document: outcome, status, attempts, location, errors).
  --quiet              No progress output, only the summary.
  -h, --help           Show this help.

Exit status: 0 every document published, 1 one was rejected or could not be delivered,
2 usage error or unreadable file.
`;

const cli = new Command('publish', PUBLISH_HELP);

/** `system|code|display` → a Coding (system and display optional: `code`, `system|code`). */
export function parseCoding(v: string): Coding | undefined {
  const parts = v.split('|');
  if (parts.length === 1) return parts[0] ? { code: parts[0] } : undefined;
  const [system, code, ...rest] = parts;
  if (!code) return undefined;
  return { ...(system ? { system } : {}), code, ...(rest.length ? { display: rest.join('|') } : {}) };
}

export async function runPublish(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    url: { type: 'string' },
    patient: { type: 'string' },
    author: { type: 'string', multiple: true },
    title: { type: 'string' },
    'content-type': { type: 'string' },
    type: { type: 'string' },
    category: { type: 'string' },
    description: { type: 'string' },
    token: { type: 'string' },
    concurrency: { type: 'string', default: '2' },
    retries: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '120' },
    report: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  if (!values.url) return cli.usage('--url BASE is required');
  if (!/^https?:\/\/[^/]/.test(values.url)) return cli.usage(`--url must be an http(s) URL, not "${values.url}"`);
  if (!values.patient) return cli.usage('--patient REF is required (Patient/123)');
  if (!/^(https?:\/\/\S+\/)?Patient\/[A-Za-z0-9\-.]{1,64}$/.test(values.patient)) return cli.usage(`--patient must be Patient/id or its absolute URL, not "${values.patient}"`);
  const authors = (values.author ?? []) as string[];
  if (authors.length === 0) return cli.usage('--author REF is required (PDSm requires an author: Organization/…, PractitionerRole/…)');
  for (const a of authors) if (!/^(https?:\/\/\S+\/)?[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(a)) return cli.usage(`--author must be Type/id, not "${a}"`);
  const type = values.type !== undefined ? parseCoding(values.type) : undefined;
  const category = values.category !== undefined ? parseCoding(values.category) : undefined;
  if (values.type !== undefined && !type) return cli.usage(`--type must be SYSTEM|CODE|DISPLAY, not "${values.type}"`);
  if (values.category !== undefined && !category) return cli.usage(`--category must be SYSTEM|CODE|DISPLAY, not "${values.category}"`);
  const concurrency = Number(values.concurrency);
  const retries = Number(values.retries);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(concurrency) || concurrency < 1) return cli.usage(`--concurrency must be a whole number ≥ 1 (got "${values.concurrency}")`);
  if (!Number.isInteger(retries) || retries < 0) return cli.usage(`--retries must be a whole number ≥ 0 (got "${values.retries}")`);
  if (!(timeout > 0)) return cli.usage(`--timeout must be a positive number of seconds (got "${values.timeout}")`);
  if (positionals.length === 0) return cli.usage('no FILE given');

  const tty = process.stderr.isTTY === true && !values.quiet;
  const progress = new Progress(positionals.length, tty, values.quiet);
  let report: SendReport;
  try {
    report = await publishDocuments(
      positionals,
      {
        patient: values.patient,
        authors,
        ...(values.title ? { title: values.title } : {}),
        ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
        ...(type ? { type } : {}),
        ...(category ? { category } : {}),
        ...(values.description ? { description: values.description } : {}),
      },
      { baseUrl: values.url, token: values.token ?? process.env.TDDUI_TOKEN, concurrency, retries, timeoutMs: timeout * 1000, onEvent: (e) => progress.event(e) },
    );
  } catch (e) {
    progress.end();
    if (e instanceof SourceError) return cli.fail(e.message);
    throw e;
  }
  progress.end();
  // The report keeps where each document is, not the whole stored resource.
  for (const i of report.items) delete i.resource;
  if (values.report) writeFileSync(values.report, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(summary(report, 'document(s)'));
  for (const i of report.items) if (i.outcome === 'accepted') process.stdout.write(`  ${i.name} → ${i.locations?.[0] ?? '(no location)'}\n`);
  return report.rejected || report.failed ? 1 : 0;
}
