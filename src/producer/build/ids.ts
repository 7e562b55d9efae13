// Identifiers the builder derives: business identifier values and deterministic urn:uuid fullUrls.
import { createHash } from 'node:crypto';

/** `3` + FINESS + `/` + local usager id (identifier PI of the usager). */
export function localUsagerValue(finess: string, idLocal: string): string {
  return `3${finess}/${idLocal}`;
}

/**
 * Business identifier value `3+FINESS/idLocalUsager-<TAG>-<id>`. A pivot id that already holds
 * a `/` is taken as the full value (identifiers assigned elsewhere are sent unchanged).
 */
export function businessValue(pi: string, tag: string, id: string): string {
  return id.includes('/') ? id : `${pi}-${tag}-${id}`;
}

/** Inverse of businessValue: the pivot id carried by a business identifier value. */
export function localIdOf(pi: string | undefined, tag: string, value: string): string {
  const prefix = pi ? `${pi}-${tag}-` : undefined;
  if (prefix && value.startsWith(prefix) && value.length > prefix.length && !value.slice(prefix.length).includes('/')) {
    return value.slice(prefix.length);
  }
  return value;
}

/**
 * A name-based UUID (RFC 4122 version 5 layout, SHA-1) from a stable key: the same pivot always
 * gives the same Bundle (deterministic generator output, reproducible diffs).
 */
export function uuidFor(key: string): string {
  const h = createHash('sha1').update('tddui-producer\u0000').update(key).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
