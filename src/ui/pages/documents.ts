// The attached documents of a usager (DocumentReference, `content.attachment.data`): served as
// their own bytes so that a PDF of the projet personnalisé opens in the browser or downloads.
//
// A document is data a facility sent, so it must never run in this site's origin: only types a
// browser displays without running anything of the document's (PDF, raster images, plain text)
// are offered inline; anything else (HTML, SVG, XML, office files…) is an attachment to save,
// and every response is `nosniff` with a Content-Security-Policy that allows no script.
import { Buffer } from 'node:buffer';
import type { Repository } from '../../storage/types.js';
import { arr, isObj, str, type Json } from '../fhir-util.js';

/** Types shown inline: the browser renders them itself; nothing of theirs runs in our origin. */
const INLINE_TYPES = new Set(['application/pdf', 'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'text/plain']);

/** File name extensions of the common types (a title without one gets it on download). */
const EXTENSIONS: Record<string, string> = {
  'application/pdf': '.pdf',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'text/plain': '.txt',
  'application/xml': '.xml',
  'text/xml': '.xml',
  'application/hl7-v3+xml': '.xml',
  'text/html': '.html',
  'application/msword': '.doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': '.docx',
  'application/vnd.oasis.opendocument.text': '.odt',
};

/**
 * CSP of a document shown inline. The UI's policy (`default-src 'none'`) would block Chrome's
 * PDF viewer (`object-src`) and the inline styles of the page the browser builds around a PDF
 * or an image; this one allows those and still no script, frame, form or base.
 */
export const DOCUMENT_CSP = "default-src 'none'; object-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export interface ServedDocument {
  bytes: Buffer;
  /** The Content-Type header: the declared type when it is a well-formed media type, else application/octet-stream. */
  contentType: string;
  /** Inline (shown by the browser) or attachment (saved). */
  disposition: 'inline' | 'attachment';
  /** The Content-Disposition header, with an ASCII file name and the UTF-8 one (RFC 6266 / 5987). */
  contentDisposition: string;
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** The media type a document is served with, from `attachment.contentType`. */
export function servedType(declared: unknown): { base: string; header: string } {
  const parts = (str(declared) ?? '').split(';');
  const base = parts[0]!.trim().toLowerCase();
  if (!MEDIA_TYPE.test(base)) return { base: 'application/octet-stream', header: 'application/octet-stream' };
  const charset = parts
    .slice(1)
    .map((p) => /^\s*charset\s*=\s*"?([A-Za-z0-9._-]{1,40})"?\s*$/i.exec(p)?.[1])
    .find(Boolean);
  if (base.startsWith('text/')) return { base, header: `${base}; charset=${charset ?? 'utf-8'}` };
  return { base, header: base };
}

/** A file name for Content-Disposition: the attachment's title (or `document`), with the type's extension. */
export function fileName(title: string | undefined, base: string): string {
  let name = (title ?? '').replace(/[\u0000-\u001f\u007f/\\]+/g, ' ').trim().slice(0, 150) || 'document';
  const ext = EXTENSIONS[base];
  if (ext && !name.toLowerCase().endsWith(ext) && !(ext === '.jpg' && name.toLowerCase().endsWith('.jpeg'))) name += ext;
  return name;
}

export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const utf8 = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

/**
 * The bytes of attachment `index` of the stored DocumentReference `id`, or why there are none:
 * `not-found` (no such document or attachment) or `no-data` (the attachment is a link, or empty).
 */
export async function documentAttachment(repo: Repository, id: string, index: number, download: boolean): Promise<ServedDocument | 'not-found' | 'no-data'> {
  let doc: Json;
  try {
    doc = (await repo.read('DocumentReference', id)).resource as Json;
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status === 404 || status === 410 || status === 400) return 'not-found';
    throw e;
  }
  const content = arr(doc.content)[index];
  const att = content && isObj(content.attachment) ? content.attachment : undefined;
  if (!att) return 'not-found';
  if (typeof att.data !== 'string' || att.data.length === 0) return 'no-data';
  const bytes = Buffer.from(att.data, 'base64');
  const type = servedType(att.contentType);
  const disposition = !download && INLINE_TYPES.has(type.base) ? 'inline' : 'attachment';
  return { bytes, contentType: type.header, disposition, contentDisposition: contentDisposition(disposition, fileName(str(att.title), type.base)) };
}
