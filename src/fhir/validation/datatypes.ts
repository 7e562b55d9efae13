// Datatype checks beyond their elements: Attachment.size and .hash against the inline data.
import { createHash } from 'node:crypto';
import { CODES } from '../outcome/codes.js';
import { checkPrimitive } from './primitives.js';
import type { Json } from './paths.js';
import type { Run } from './run.js';

export function checkAttachment(run: Run, att: Json, path: string): void {
  const data = att.data as string;
  if (checkPrimitive('base64Binary', data)) return; // the data's own error says it
  const bytes = Buffer.from(data, 'base64');
  if (typeof att.size === 'number' && att.size !== bytes.length) {
    run.out.push(CODES.ATTACHMENT_SIZE, `${path}.size`, { stated: String(att.size), actual: String(bytes.length) });
  }
  if (typeof att.hash === 'string' && !checkPrimitive('base64Binary', att.hash)) {
    const actual = createHash('sha1').update(bytes).digest('base64');
    if (att.hash.replace(/\s+/g, '') !== actual) run.out.push(CODES.ATTACHMENT_HASH, `${path}.hash`, { stated: att.hash, actual });
  }
}
