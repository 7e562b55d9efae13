// `tddui publish` as a library: a PDSm / IHE MHD *Producteur* publishing documents (a PPA PDF or
// any file) to a Gestionnaire de partage de documents by ITI-105 (simplified publish: `POST
// [base]/DocumentReference` with the document inline), with the retries and the report of
// `tddui send` (src/producer/send). A retry is safe: the masterIdentifier is derived from the
// patient and the bytes, so a Gestionnaire that received the document already answers with the
// stored one instead of publishing it twice.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { isObject, type FhirResource } from '../../fhir/json.js';
import { sendBundles, type SendOptions, type SendReport } from '../send/index.js';
import { SourceError, type SendItem } from '../send/sources.js';

export const SIMPLIFIED_PUBLISH_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-simplified-publish';

export interface Coding {
  system?: string;
  code: string;
  display?: string;
}

export interface DocumentMetadata {
  /** The patient the document is about: `Patient/123` or an absolute URL on the Gestionnaire. */
  patient: string;
  /** Authors (at least one for PDSm): `Organization/…`, `PractitionerRole/…`, `Device/…`. */
  authors: string[];
  /** Document title (default: the file name). */
  title?: string;
  /** MIME type (default: from the file extension). */
  contentType?: string;
  /** DocumentReference.type (XDS typeCode). */
  type?: Coding;
  /** DocumentReference.category (XDS classCode). */
  category?: Coding;
  description?: string;
  /** Language of the document (default `fr-FR`). */
  language?: string;
  /** DocumentReference.date (default: now). */
  date?: string;
}

const TYPES: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.xml': 'text/xml',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

/** The MIME type of a file name by its extension (application/octet-stream when unknown). */
export function contentTypeOf(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * A stable `urn:uuid:` for one document of one patient (name-based, RFC 9562 version 8 layout
 * over SHA-256): the same file published twice for the same patient has the same
 * masterIdentifier, so the Gestionnaire recognises the resend.
 */
export function documentUuid(patient: string, bytes: Uint8Array): string {
  const h = createHash('sha256').update(patient).update('\u0000').update(bytes).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const coding = (c: Coding) => ({ coding: [{ ...(c.system ? { system: c.system } : {}), code: c.code, ...(c.display ? { display: c.display } : {}) }] });

/** The ITI-105 DocumentReference (pdsm-simplified-publish) of one document. */
export function simplifiedPublishDocument(bytes: Uint8Array, fileName: string, m: DocumentMetadata): FhirResource {
  const data = Buffer.from(bytes);
  return {
    resourceType: 'DocumentReference',
    meta: { profile: [SIMPLIFIED_PUBLISH_PROFILE] },
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: documentUuid(m.patient, data) },
    status: 'current',
    ...(m.type ? { type: coding(m.type) } : {}),
    ...(m.category ? { category: [coding(m.category)] } : {}),
    subject: { reference: m.patient },
    date: m.date ?? new Date().toISOString(),
    author: m.authors.map((reference) => ({ reference })),
    ...(m.description ? { description: m.description } : {}),
    content: [
      {
        attachment: {
          contentType: m.contentType ?? contentTypeOf(fileName),
          language: m.language ?? 'fr-FR',
          data: data.toString('base64'),
          size: data.length,
          hash: createHash('sha1').update(data).digest('base64'),
          title: m.title ?? basename(fileName),
        },
      },
    ],
  };
}

/** The documents of `files` as ITI-105 requests (read one at a time, when a sender is free). */
export function* publishItems(files: string[], m: DocumentMetadata): Generator<SendItem> {
  for (const f of files) {
    let bytes: Buffer;
    try {
      if (!statSync(f).isFile()) throw new Error('not a file');
      bytes = readFileSync(f);
    } catch (e) {
      throw new SourceError(`${f}: cannot read the document (${(e as Error).message})`);
    }
    yield { name: f, body: JSON.stringify(simplifiedPublishDocument(bytes, f, m)) };
  }
}

/** Publishes each file by ITI-105, with `send`'s retries, concurrency and report. */
export async function publishDocuments(files: string[], m: DocumentMetadata, options: Omit<SendOptions, 'path'>): Promise<SendReport> {
  return withLocations(await sendBundles(publishItems(files, m), { ...options, path: 'DocumentReference' }));
}

/** Who a republished document is about and by whom (xdm read --url). */
export interface RepublishMetadata {
  /** The patient on the Gestionnaire (`Patient/123`); default: each document's own `Patient/…` subject. */
  patient?: string;
  /** Authors (PDSm requires one): `Organization/…`, `PractitionerRole/…`, `Device/…`. */
  authors: string[];
  /** DocumentReference.date when the document has none (default: now). */
  date?: string;
}

/**
 * The ITI-105 request of a DocumentReference that already carries its document inline (what
 * `xdm read` gives): its metadata kept (masterIdentifier — so a republish is recognised —, type,
 * category, title, size, hash…), the simplified-publish profile claimed, the patient and the
 * authors given. A SourceError when no patient is known for it.
 */
export function asSimplifiedPublish(doc: FhirResource, m: RepublishMetadata): FhirResource {
  const own = isObject(doc.subject) && typeof doc.subject.reference === 'string' && /(^|\/)Patient\/[^/]+$/.test(doc.subject.reference) ? doc.subject.reference : undefined;
  const patient = m.patient ?? own;
  if (!patient) throw new SourceError(`${nameOf(doc)}: the document names no Patient/… subject (its XDS patientId is not one of ours): give --patient Patient/<id>`);
  const att = Array.isArray(doc.content) && isObject(doc.content[0]) && isObject(doc.content[0].attachment) ? doc.content[0].attachment : undefined;
  if (!att || typeof att.data !== 'string') throw new SourceError(`${nameOf(doc)}: no document inline (content[0].attachment.data)`);
  const { id: _id, meta: _meta, ...rest } = doc;
  return {
    ...rest,
    resourceType: 'DocumentReference',
    meta: { profile: [SIMPLIFIED_PUBLISH_PROFILE] },
    status: typeof doc.status === 'string' ? doc.status : 'current',
    subject: { reference: patient },
    date: typeof doc.date === 'string' ? doc.date : (m.date ?? new Date().toISOString()),
    author: m.authors.map((reference) => ({ reference })),
  };
}

/** A document's name in the report: its title, else its masterIdentifier. */
function nameOf(doc: FhirResource): string {
  const att = Array.isArray(doc.content) && isObject(doc.content[0]) && isObject(doc.content[0].attachment) ? doc.content[0].attachment : undefined;
  const master = isObject(doc.masterIdentifier) && typeof doc.masterIdentifier.value === 'string' ? doc.masterIdentifier.value : undefined;
  return [typeof att?.title === 'string' ? att.title : undefined, master].filter(Boolean).join(' ') || 'document';
}

/** Publishes DocumentReferences carrying their documents inline by ITI-105, with `send`'s retries, concurrency and report. */
export async function publishReferences(docs: FhirResource[], m: RepublishMetadata, options: Omit<SendOptions, 'path'>): Promise<SendReport> {
  const items = function* (): Generator<SendItem> {
    for (const doc of docs) yield { name: nameOf(doc), body: JSON.stringify(asSimplifiedPublish(doc, m)) };
  };
  return withLocations(await sendBundles(items(), { ...options, path: 'DocumentReference' }));
}

/** A resend answered with the stored document (200) has no Location: its id says where it is. */
function withLocations(report: SendReport): SendReport {
  for (const item of report.items) {
    const r = item.resource as { resourceType?: string; id?: string } | undefined;
    if (item.outcome === 'accepted' && !item.locations?.length && r?.resourceType && r.id) item.locations = [`${r.resourceType}/${r.id}`];
  }
  return report;
}
