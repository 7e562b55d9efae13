// `tddui publish`: a PDSm / IHE MHD Producteur — posts documents (a PPA PDF or any file) to a
// Gestionnaire de partage de documents by ITI-105, with the retries and the report of `send`.
import { publishDocuments, type Coding } from '../producer/publish/index.js';
import { Command } from './args.js';
import { deliver, deliveryHelp, deliveryOptions, parseDelivery, printLocations } from './delivery.js';

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
${deliveryHelp(2, 'Documents', 'document')}  -h, --help           Show this help.

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
    ...deliveryOptions(2),
    patient: { type: 'string' },
    author: { type: 'string', multiple: true },
    title: { type: 'string' },
    'content-type': { type: 'string' },
    type: { type: 'string' },
    category: { type: 'string' },
    description: { type: 'string' },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const d = parseDelivery(cli, values);
  if (typeof d === 'number') return d;
  const who = patientAndAuthors(cli, values.patient, values.author as string[] | undefined);
  if (typeof who === 'number') return who;
  const type = values.type !== undefined ? parseCoding(values.type) : undefined;
  const category = values.category !== undefined ? parseCoding(values.category) : undefined;
  if (values.type !== undefined && !type) return cli.usage(`--type must be SYSTEM|CODE|DISPLAY, not "${values.type}"`);
  if (values.category !== undefined && !category) return cli.usage(`--category must be SYSTEM|CODE|DISPLAY, not "${values.category}"`);
  if (positionals.length === 0) return cli.usage('no FILE given');
  const metadata = {
    patient: who.patient!,
    authors: who.authors,
    ...(values.title ? { title: values.title } : {}),
    ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
    ...(type ? { type } : {}),
    ...(category ? { category } : {}),
    ...(values.description ? { description: values.description } : {}),
  };
  return deliver(cli, d, positionals.length, (onEvent) => publishDocuments(positionals, metadata, { ...d.options, onEvent }), ['document', 'documents'], printLocations);
}

/**
 * `--patient` (required unless `optional`) and `--author` (at least one: PDSm requires an
 * author), checked; or the exit status of a usage error.
 */
export function patientAndAuthors(cli: Command, patient: string | undefined, author: string[] | undefined, optional = false): { patient?: string; authors: string[] } | 2 {
  if (!patient && !optional) return cli.usage('--patient REF is required (Patient/123)');
  if (patient && !/^(https?:\/\/\S+\/)?Patient\/[A-Za-z0-9\-.]{1,64}$/.test(patient)) return cli.usage(`--patient must be Patient/id or its absolute URL, not "${patient}"`);
  const authors = author ?? [];
  if (authors.length === 0) return cli.usage('--author REF is required (PDSm requires an author: Organization/…, PractitionerRole/…)');
  for (const a of authors) if (!/^(https?:\/\/\S+\/)?[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(a)) return cli.usage(`--author must be Type/id, not "${a}"`);
  return { ...(patient ? { patient } : {}), authors };
}
