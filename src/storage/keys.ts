// Business keys in the database: advisory locks on the keys, lookup of the objects they name.
// Shared by the ingest pipeline (a whole Bundle) and Repository.create/update (one resource),
// so that both take the same locks and a plain create and a transaction never race.
import { createHash } from 'node:crypto';
import { TextArray, type FhirResource, type Queryable } from './types.js';

export interface KeyOf {
  system: string;
  value: string;
}

export interface FoundKey {
  id: string;
  versionId: number;
  lastUpdated: string;
  /** `lookupKeysLockNew` only: the current content and whether it is a tombstone. */
  content?: FhirResource;
  deleted?: boolean;
}

/** 64-bit advisory lock key of a business key (text so that pg passes it as bigint). */
export function lockKey(owner: string, type: string, k: KeyOf): string {
  return createHash('sha256').update(`${owner}\u0000${type}\u0000${k.system}\u0000${k.value}`).digest().readBigInt64BE(0).toString();
}

/** Map key of a (type, business key) pair in `lockAndLookupKeys`'s answer. */
export function keyId(type: string, k: KeyOf): string {
  return `${type}\u0000${k.system}\u0000${k.value}`;
}

/** The parallel arrays both lookup functions pass to SQL: one element per key, with its advisory lock. */
function keyArguments(owner: string, items: { resourceType: string; keys: readonly KeyOf[] }[]) {
  const types: string[] = [];
  const systems: string[] = [];
  const values: string[] = [];
  const locks: string[] = [];
  for (const it of items) {
    for (const k of it.keys) {
      types.push(it.resourceType);
      systems.push(k.system);
      values.push(k.value);
      locks.push(lockKey(owner, it.resourceType, k));
    }
  }
  return { types, systems, values, locks };
}

interface KeyRow {
  k_type: string;
  k_system: string;
  k_value: string;
  k_id: string;
  k_version: number;
  k_updated: Date | string;
}

/** The map key of a found business key: type, system and value. */
function foundKeyId(r: KeyRow): string {
  return `${r.k_type}\u0000${r.k_system}\u0000${r.k_value}`;
}

function foundKey(r: KeyRow): FoundKey {
  return {
    id: r.k_id,
    versionId: Number(r.k_version),
    lastUpdated: (r.k_updated instanceof Date ? r.k_updated : new Date(r.k_updated)).toISOString(),
  };
}

/**
 * Locks the keys (advisory transaction locks on their 64-bit hashes, sorted so that concurrent
 * transactions take them in one order), then looks them up with the current version of the
 * objects they name, row-locked until commit: one round trip, one index probe per key (migration 0005).
 */
export async function lockAndLookupKeys(
  tx: Queryable,
  owner: string,
  items: { resourceType: string; keys: readonly KeyOf[] }[],
  /** More advisory locks to take in the same sorted pass (conditional criteria, `criteriaLock`). */
  extraLocks: readonly string[] = [],
): Promise<Map<string, FoundKey>> {
  const found = new Map<string, FoundKey>();
  const { types, systems, values, locks } = keyArguments(owner, items);
  locks.push(...extraLocks);
  if (locks.length === 0) return found;
  const res = await tx.query<KeyRow>(
    'SELECT * FROM tddui_lock_and_lookup_keys($1::text, $2::bigint[], $3::text[], $4::text[], $5::text[])',
    [owner, locks, types, systems, values],
  );
  for (const r of res.rows) found.set(foundKeyId(r), foundKey(r));
  return found;
}

/**
 * The optimistic lookup of the no-op rule (migration 0040): every key with the current version
 * AND content of the object it names, without locking those objects; only the keys that name
 * nothing yet are locked (advisory, sorted) and looked up again. The caller row-locks the found
 * objects it will write and checks that their version has not moved.
 */
export async function lookupKeysLockNew(tx: Queryable, owner: string, items: { resourceType: string; keys: readonly KeyOf[] }[]): Promise<Map<string, FoundKey>> {
  const found = new Map<string, FoundKey>();
  const { types, systems, values, locks } = keyArguments(owner, items);
  if (locks.length === 0) return found;
  const res = await tx.query<KeyRow & { k_deleted: boolean; k_content: FhirResource | string }>(
    // Not a named statement (D-331): `SELECT *` of a function whose columns a later migration may
    // change, which a prepared statement refuses ("cached plan must not change result type") on a
    // server still running the old version; its parsing and planning cost little.
    'SELECT * FROM tddui_lookup_keys_lock_new($1::text, $2::bigint[], $3::text[], $4::text[], $5::text[])',
    // The text arrays in the binary array form (D-332).
    [owner, locks, new TextArray(types), new TextArray(systems), new TextArray(values)],
  );
  for (const r of res.rows) {
    found.set(foundKeyId(r), {
      ...foundKey(r),
      deleted: r.k_deleted,
      content: typeof r.k_content === 'string' ? (JSON.parse(r.k_content) as FhirResource) : r.k_content,
    });
  }
  return found;
}

/**
 * The advisory lock of conditional criteria (If-None-Exist, conditional update): two requests
 * with the same criteria serialise, so that "create unless it exists" makes one resource even
 * when raced. Criteria on `identifier` lock each identifier value (so `identifier=s|v` and
 * `identifier=s|v&active=true` exclude each other); other criteria lock their canonical form.
 */
export function criteriaLocks(resourceType: string, criteria: readonly { name: string; modifier?: string; values: readonly string[] }[]): string[] {
  const ids = criteria.filter((c) => c.name === 'identifier' && (c.modifier === undefined || c.modifier === ''));
  if (ids.length) return ids.flatMap((c) => c.values.map((v) => lockKey('', resourceType, { system: 'urn:tddui:lock:identifier', value: v })));
  const canonical = criteria
    .map((c) => `${c.name}${c.modifier ? ':' + c.modifier : ''}=${[...c.values].sort().join(',')}`)
    .sort()
    .join('&');
  return [lockKey('', resourceType, { system: 'urn:tddui:lock:criteria', value: canonical })];
}
