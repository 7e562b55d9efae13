// The one write path. Every write of the server — create, update (and create-on-update),
// conditional create / update / delete / patch, patch, delete, the entries of batch and
// transaction Bundles, TDDUI ingestion — is a WritePlan executed here: in ONE database
// transaction, versioned (a delete is a tombstone version), indexed with the repository's
// search parameters, business keys maintained, in as few round trips as the plan allows:
//
//   BEGIN · locks + business-key lookup (one call) · [conditional searches] · [row locks of the
//   targets named by id] · the write (one statement of CTEs) · COMMIT
//
// A TDDUI Bundle (creates with business keys only) costs the same four round trips as before.
// Deadlocks, serialisation failures and unique violations retry the whole plan.
import { randomFillSync } from 'node:crypto';
import { ID_PATTERN, isObject, TYPE_PATTERN, type FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import type { SearchParameterSet } from '../fhir/search/parameters.js';
import { sameContent } from '../fhir/same-content.js';
import { criteriaLocks, keyId, lockAndLookupKeys, lookupKeysLockNew, type FoundKey, type KeyOf } from './keys.js';
import { matchIds, type Overlay } from './search.js';
import { changeFeedInsert } from './changes.js';
import { outboxInsert, type EventDeclaration, type EventSource, type WrittenChange } from './outbox.js';
import type { Database, Queryable, ResourceRecord, SearchParam } from './types.js';
import { inScope, type ReadScope } from './scope.js';
import { lockCurrent, nextInstant, stamp, WRITE_CHUNK, writeVersions, type CurrentRow, type KeysToWrite, type VersionToWrite } from './writer.js';

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** Random bytes drawn 2 KiB at a time (as `randomUUID` does), 10 per id. */
const POOL = Buffer.alloc(2048);
let poolAt = POOL.length;

/**
 * A fresh server id (FHIR id syntax: a UUID fits in 64 characters of [A-Za-z0-9-.]): a UUID of
 * version 7 (RFC 9562) — the Unix time in milliseconds in its first 48 bits, then 74 random bits —
 * so that ids made one after the other sort together (D-339). Every B-tree keyed by
 * `(resource_type, id)` (the resources, their index rows, keys, references to them) then takes a
 * new object's rows at the end of its type's range, on pages just written, instead of on a random
 * leaf of the whole index: measured, a quarter less PostgreSQL CPU to insert a Bundle's resource
 * and search rows. Unique as before (74 random bits within one millisecond; v4 has 122 in all).
 */
export function newId(): string {
  if (poolAt + 10 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const r = POOL;
  const i = poolAt;
  poolAt += 10;
  const ms = Date.now().toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-${HEX[0x70 | (r[i]! & 0x0f)]}${HEX[r[i + 1]!]}-${HEX[0x80 | (r[i + 2]! & 0x3f)]}${HEX[r[i + 3]!]}-` +
    `${HEX[r[i + 4]!]}${HEX[r[i + 5]!]}${HEX[r[i + 6]!]}${HEX[r[i + 7]!]}${HEX[r[i + 8]!]}${HEX[r[i + 9]!]}`;
}

export type WriteMethod = 'create' | 'update' | 'delete' | 'patch';

export interface WriteOp {
  method: WriteMethod;
  resourceType: string;
  /** update / delete / patch: the target (unless `criteria` name it). create: ignored (the server assigns it). */
  id?: string;
  /** create, update: the content; id and meta.versionId/lastUpdated are set by the write. */
  resource?: FhirResource;
  /** patch: the new content from the current one (called inside the transaction, on a copy). */
  patch?: (current: FhirResource) => FhirResource;
  /**
   * The last check of what will be stored (validation, IG rules), inside the transaction once
   * the content is final; throw (a FhirError) to abort the whole plan. `tx` is the plan's
   * transaction (after its locks), for checks that read other resources (GAP: no double booking).
   */
  check?: (resource: FhirResource, current: ResourceRecord | undefined, tx: Queryable) => void | Promise<void>;
  /** Expected current version (If-Match). */
  ifMatch?: number;
  /**
   * A conditional create whose content is still checked when the resource is found (nothing is
   * written): the server's own identity matching (IgModule.identity), where bad input must be
   * refused whether or not the usager is known.
   */
  checkWhenFound?: boolean;
  /** Conditional create (If-None-Exist): no write when exactly one resource matches; 412 when several. */
  ifNoneExist?: SearchParam[];
  /** Conditional update / delete / patch: the target is what these criteria match. */
  criteria?: SearchParam[];
  /** Business keys (resend matching): a create whose key names a stored object of the owner becomes a new version of it. */
  keys?: readonly KeyOf[];
  /** An update of an unknown id creates it with that id (update-as-create). */
  createOnUpdate?: boolean;
  /** Owner (submitting organisation) of the keys and of a new resource; default: the plan's, else the stored one. */
  owner?: string;
}

export type WriteOutcome = 'created' | 'updated' | 'deleted' | 'unchanged';

export interface OpResult {
  index: number;
  outcome: WriteOutcome;
  /** HTTP status as FHIR answers the interaction: 201, 200, 204. */
  status: number;
  resourceType: string;
  /** The target (absent for a conditional delete that matched nothing). */
  id?: string;
  /** The version written — or, for a conditional create that matched, the existing one. */
  record?: ResourceRecord;
}

/** What the plan's `resolve` hook may do once every target id is known (reference rewriting). */
export interface ResolveContext {
  readonly tx: Queryable;
  /** The target of each op (`undefined` for a no-op), with the version it will get. */
  readonly targets: readonly (Readonly<{ resourceType: string; id: string; versionId: number; existed: boolean }> | undefined)[];
  /**
   * The resource each conditional create found (If-None-Exist matched: nothing written), else
   * undefined: references to that entry point at it (FHIR http#trules).
   */
  readonly found: readonly (Readonly<{ resourceType: string; id: string }> | undefined)[];
  /** Ids of current resources matching criteria (conditional references); at most 2. */
  match(resourceType: string, criteria: SearchParam[]): Promise<string[]>;
  /** Replaces the content an op will store. */
  setResource(index: number, resource: FhirResource): void;
  /** The content an op will store (after patches, before checks): for rewriting. */
  resourceOf(index: number): FhirResource | undefined;
}

export interface WritePlan {
  ops: WriteOp[];
  /** Default owner of the ops. */
  owner?: string;
  /** "Now" for lastUpdated (tests); default the clock. */
  now?: Date;
  /** Called inside the transaction once every op's target is known, before checks and the write. */
  resolve?: (ctx: ResolveContext) => void | Promise<void>;
  /**
   * More data-modifying statements to run in the writing statement (e.g. the submission log),
   * given the results; placeholders from `p`.
   */
  extra?: (p: (v: unknown) => string, results: OpResult[]) => string[];
  /**
   * Statements to run in the transaction after the write, given the results: the submission log's
   * large values in pieces, one statement each (D-343), which `extra` set aside.
   */
  after?: (tx: Queryable, results: OpResult[]) => Promise<void>;
  /**
   * Events this plan declares itself (beyond those of the repository's event sources), recorded
   * in the outbox by the writing statement (storage/outbox.ts). A plan with no ops and only
   * events records them alone (an event that no write causes: a review falling due).
   */
  events?: (results: OpResult[], changes: readonly WrittenChange[]) => EventDeclaration[];
  /** Attempts on deadlocks / serialisation failures / unique violations (default 5). */
  attempts?: number;
  /**
   * Write a new version even when the content equals the current one (default false: the no-op
   * rule — an update, patch or keyed create that changes nothing is answered 200 with the
   * current version, `outcome: 'unchanged'`, and writes nothing).
   */
  versionUnchanged?: boolean;
  /**
   * The writer's read scope (a token restricted to some organisations, issue 21): conditional
   * criteria (If-None-Exist, conditional update / delete / patch, conditional references) match
   * only resources in it, and a target named by id that exists outside it is "not found" — so
   * a write can neither change nor reveal what its author may not read (decisions.md D-280).
   */
  scope?: ReadScope;
}

/**
 * A write about to replace a stored version, as a ChangeGuard sees it (D-150: a validated
 * projet personnalisé is frozen). Only real changes reach a guard: what the no-op rule leaves
 * unchanged does not.
 */
export interface GuardedWrite {
  /** The op's index in the plan. */
  index: number;
  method: WriteMethod;
  resourceType: string;
  id: string;
  /** The version replaced; its content is absent when the plan did not read it (the guard reads it if it needs it). */
  current: { versionId: number; lastUpdated: string; content?: FhirResource };
  /** The content to store (references resolved); absent for a delete. */
  next?: FhirResource;
  /** The op's If-Match, already checked equal to `current.versionId`. */
  ifMatch?: number;
}

/**
 * A rule on replacing stored versions, run by every plan inside its transaction (after the
 * row locks and the no-op rule, before the write): throw a FhirError to refuse the whole plan.
 */
export type ChangeGuard = (writes: readonly GuardedWrite[], tx: Queryable) => Promise<void>;

/** Transient database errors on which the whole plan is retried. */
export const RETRY_CODES = new Set(['40P01', '40001', '23505']);

function criteriaText(c: SearchParam[]): string {
  return c.map((p) => `${p.name}${p.modifier ? ':' + p.modifier : ''}=${p.values.join(',')}`).join('&');
}

function checkOp(op: WriteOp, index: number): void {
  if (!TYPE_PATTERN.test(op.resourceType)) throw new FhirError(HTTP_ERRORS.NOT_A_RESOURCE, {}, { expression: `entry[${index}]` });
  if ((op.method === 'create' || op.method === 'update') && (!isObject(op.resource) || op.resource.resourceType !== op.resourceType)) {
    throw new FhirError(HTTP_ERRORS.NOT_A_RESOURCE);
  }
  if (op.id !== undefined && !ID_PATTERN.test(op.id)) throw new FhirError(HTTP_ERRORS.INVALID_ID, { id: op.id }, { expression: `${op.resourceType}.id` });
  if (op.method !== 'create' && op.id === undefined && !op.criteria) throw new FhirError(HTTP_ERRORS.INVALID_ID, { id: '' });
  if (op.method === 'patch' && !op.patch) throw new FhirError(HTTP_ERRORS.PATCH_MEDIA_TYPE);
  for (const c of [op.ifNoneExist, op.criteria]) {
    if (c && c.length === 0) throw new FhirError(HTTP_ERRORS.CONDITIONAL_CRITERIA, { criteria: '', detail: 'no criteria', detailFr: 'aucun critère' });
  }
}

interface Target {
  resourceType: string;
  id: string;
  /** The stored current version (locked), if any. */
  current?: CurrentRow;
  /** Matched through a business key (with the content when looked up without a lock). */
  viaKey?: { versionId: number; lastUpdated: string; content?: FhirResource; deleted?: boolean };
}

/** A transient conflict: the whole plan is retried (RETRY_CODES). */
function retry(why: string): Error {
  return Object.assign(new Error(why), { code: '40001' });
}

/** Executes a plan atomically; retried on transient conflicts. */
export async function executePlan(db: Database, searchParams: SearchParameterSet, plan: WritePlan, eventSource?: EventSource, guard?: ChangeGuard): Promise<OpResult[]> {
  plan.ops.forEach(checkOp);
  const attempts = plan.attempts ?? 5;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await db.transaction((tx) => run(tx, searchParams, plan, attempt, eventSource, guard));
    } catch (err) {
      lastError = err;
      const code = (err as { code?: string }).code;
      if (!code || !RETRY_CODES.has(code)) throw err;
    }
  }
  const code = (lastError as { code?: string }).code;
  if (code && RETRY_CODES.has(code)) throw new FhirError(HTTP_ERRORS.CONFLICT_RETRY);
  throw lastError;
}

async function run(tx: Queryable, searchParams: SearchParameterSet, plan: WritePlan, attempt = 1, eventSource?: EventSource, guard?: ChangeGuard): Promise<OpResult[]> {
  const ops = plan.ops;
  const now = plan.now ?? new Date();
  const defaultOwner = plan.owner;

  // 1. Owners of updates that carry keys and name no owner: the stored one (read first, so that
  //    key locks are taken under the right owner, in the same order as ingestion's).
  const ownerOf = new Map<number, string>();
  const needOwner = ops.map((op, i) => ({ op, i })).filter(({ op }) => op.keys?.length && op.owner === undefined && defaultOwner === undefined && op.method === 'update' && op.id);
  if (needOwner.length) {
    const res = await tx.query<{ resource_type: string; id: string; owner: string }>(
      `SELECT r.resource_type, r.id, r.owner FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i`,
      [needOwner.map(({ op }) => op.resourceType), needOwner.map(({ op }) => op.id)],
    );
    const byKey = new Map(res.rows.map((r) => [`${r.resource_type}/${r.id}`, r.owner]));
    for (const { op, i } of needOwner) ownerOf.set(i, byKey.get(`${op.resourceType}/${op.id}`) ?? '');
  }
  const owner = (i: number) => ops[i]!.owner ?? ownerOf.get(i) ?? defaultOwner ?? '';

  // 2. Advisory locks (business keys and conditional criteria) and business-key lookup, per owner.
  //    Under the no-op rule, a plan whose only locks are the keys of creates (TDDUI Bundles,
  //    v1 creates) looks its keys up with their content WITHOUT locking what exists (migration
  //    0040): what turns out unchanged is never locked; what changes is row-locked in step 5b.
  //    A retry (a concurrent write moved a version in between) locks first, as every other plan.
  const optimistic =
    attempt === 1 && !plan.versionUnchanged && ops.some((op) => op.keys?.length) && ops.every((op) => !op.ifNoneExist && !op.criteria && (op.method === 'create' || !op.keys?.length));
  const found = new Map<string, Map<string, FoundKey>>();
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (!op.keys?.length && !op.ifNoneExist && !op.criteria) return;
    const o = owner(i);
    // (pushed, not copied: a copy per op was quadratic — 1.4 s of event loop for 14,000 entries)
    const g = groups.get(o);
    if (g) g.push(i);
    else groups.set(o, [i]);
  });
  for (const [o, idx] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const items = idx.filter((i) => ops[i]!.keys?.length).map((i) => ({ resourceType: ops[i]!.resourceType, keys: ops[i]!.keys! }));
    const locks = idx.flatMap((i) => {
      const c = ops[i]!.ifNoneExist ?? ops[i]!.criteria;
      return c ? criteriaLocks(ops[i]!.resourceType, c) : [];
    });
    found.set(o, optimistic ? await lookupKeysLockNew(tx, o, items) : await lockAndLookupKeys(tx, o, items, locks));
  }
  if (!optimistic && !plan.versionUnchanged) await withContents(tx, found);

  // 3. Targets.
  const targets: (Target | undefined)[] = new Array(ops.length).fill(undefined);
  const unchanged = new Map<number, 'exists' | 'nothing' | 'deleted' | 'same'>();
  /** Ops whose content equals the current version (no-op rule): that version. */
  const sameAs = new Map<number, ResourceRecord>();
  const chosen = new Map<string, string>(); // owner + key -> id (two creates with one key are one object)
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const o = owner(i);
    if (op.method === 'create') {
      if (op.ifNoneExist) {
        const ids = await matchIds(tx, op.resourceType, op.ifNoneExist, searchParams, 2, undefined, plan.scope);
        if (ids.length > 1) {
          throw new FhirError(HTTP_ERRORS.CONDITIONAL_MULTIPLE, { criteria: criteriaText(op.ifNoneExist), count: 'several', type: op.resourceType, interaction: 'conditional create' });
        }
        if (ids.length === 1) {
          targets[i] = { resourceType: op.resourceType, id: ids[0]! };
          unchanged.set(i, 'exists');
          continue;
        }
      }
      let id: string | undefined;
      let viaKey: Target['viaKey'];
      for (const k of op.keys ?? []) {
        const kk = `${o}\u0000${keyId(op.resourceType, k)}`;
        id = chosen.get(kk);
        if (id) break;
        const stored = found.get(o)?.get(keyId(op.resourceType, k));
        if (stored) {
          id = stored.id;
          viaKey = { versionId: stored.versionId, lastUpdated: stored.lastUpdated };
          if (stored.content) viaKey.content = stored.content;
          if (stored.deleted !== undefined) viaKey.deleted = stored.deleted;
          break;
        }
      }
      const t: Target = { resourceType: op.resourceType, id: id ?? newId() };
      if (viaKey) t.viaKey = viaKey;
      targets[i] = t;
      for (const k of op.keys ?? []) chosen.set(`${o}\u0000${keyId(op.resourceType, k)}`, t.id);
      continue;
    }
    let id = op.id;
    if (op.criteria) {
      const ids = await matchIds(tx, op.resourceType, op.criteria, searchParams, 2, undefined, plan.scope);
      const interaction = op.method === 'update' ? 'conditional update' : op.method === 'delete' ? 'conditional delete' : 'conditional patch';
      if (ids.length > 1) throw new FhirError(HTTP_ERRORS.CONDITIONAL_MULTIPLE, { criteria: criteriaText(op.criteria), count: 'several', type: op.resourceType, interaction });
      if (ids.length === 0) {
        if (op.method === 'delete') {
          unchanged.set(i, 'nothing');
          continue;
        }
        if (op.method === 'patch') throw new FhirError(HTTP_ERRORS.CONDITIONAL_NO_MATCH, { criteria: criteriaText(op.criteria), type: op.resourceType });
        // Conditional update, no match: a create (with the body's id when update-as-create is allowed).
        const own = op.resource?.id;
        id = own && op.createOnUpdate ? own : newId();
      } else {
        const own = op.resource?.id;
        if (op.method === 'update' && own !== undefined && own !== ids[0]) {
          throw new FhirError(HTTP_ERRORS.CONDITIONAL_ID_MISMATCH, { found: own, id: ids[0]! });
        }
        id = ids[0]!;
      }
    }
    targets[i] = { resourceType: op.resourceType, id: id! };
  }

  // 4. Row locks of the targets named by id (updates, deletes, patches; creates matched by key are
  //    already locked by the lookup), with their content for patches.
  const byId = ops.map((op, i) => ({ op, i })).filter(({ op, i }) => op.method !== 'create' && targets[i]);
  if (byId.length) {
    const rows = await lockCurrent(
      tx,
      byId.map(({ i }) => ({ resourceType: targets[i]!.resourceType, id: targets[i]!.id })),
      // (a delete's content too when events are declared: what was deleted is what they are about)
      byId.some(({ op }) => op.method === 'patch' || op.check !== undefined || (!plan.versionUnchanged && op.method === 'update') || (eventSource !== undefined && op.method === 'delete')),
    );
    for (const { i } of byId) {
      const t = targets[i]!;
      const row = rows.get(`${t.resourceType}/${t.id}`);
      // Outside the writer's scope: as a read would answer, not found (never updated, patched,
      // deleted, nor its existence confirmed by a 200 against a 201).
      if (row && plan.scope && !inScope(plan.scope, row.owner)) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: t.resourceType, id: t.id });
      if (row) t.current = row;
    }
  }

  // 5. Versions, contents and checks.
  const versions = new Map<string, { versionId: number; lastUpdated: string; deleted: boolean }>();
  const contents: (FhirResource | undefined)[] = new Array(ops.length).fill(undefined);
  const plannedVersion: (number | undefined)[] = new Array(ops.length).fill(undefined);
  const plannedUpdated: string[] = new Array(ops.length).fill('');
  const existed: boolean[] = new Array(ops.length).fill(false);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const t = targets[i];
    // A found conditional create still checked: its content, for the resolve hook and the check.
    if (t && unchanged.get(i) === 'exists' && op.checkWhenFound && op.resource) contents[i] = op.resource;
    if (!t || unchanged.has(i)) continue;
    const k = `${t.resourceType}/${t.id}`;
    const prev = versions.get(k) ?? (t.current ? { ...t.current } : t.viaKey ? { ...t.viaKey, deleted: false } : undefined);
    if (op.ifMatch !== undefined) {
      if (!prev) throw new FhirError(HTTP_ERRORS.IF_MATCH_ON_CREATE, { expected: op.ifMatch, type: t.resourceType, id: t.id });
      if (prev.versionId !== op.ifMatch) {
        throw new FhirError(HTTP_ERRORS.VERSION_CONFLICT, { type: t.resourceType, id: t.id, expected: op.ifMatch, current: prev.versionId });
      }
    }
    if (op.method === 'update' && !prev && !op.criteria && !op.createOnUpdate) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: t.resourceType, id: t.id });
    if (op.method === 'delete') {
      if (!prev) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: t.resourceType, id: t.id });
      if (prev.deleted) {
        unchanged.set(i, 'deleted');
        continue;
      }
    }
    if (op.method === 'patch') {
      if (!prev) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: t.resourceType, id: t.id });
      if (prev.deleted) throw new FhirError(HTTP_ERRORS.GONE, { type: t.resourceType, id: t.id });
      const base = contents.find((c, j) => j < i && c && targets[j]?.id === t.id && targets[j]?.resourceType === t.resourceType) ?? t.current?.content;
      const patched = op.patch!(structuredClone(base ?? { resourceType: t.resourceType, id: t.id }));
      if (!isObject(patched) || patched.resourceType !== t.resourceType || (patched.id !== undefined && patched.id !== t.id)) {
        throw new FhirError(HTTP_ERRORS.PATCH_CHANGES_IDENTITY);
      }
      contents[i] = patched;
    } else if (op.method !== 'delete') contents[i] = op.resource;
    const versionId = (prev?.versionId ?? 0) + 1;
    const lastUpdated = nextInstant(now, prev?.lastUpdated);
    versions.set(k, { versionId, lastUpdated, deleted: op.method === 'delete' });
    plannedVersion[i] = versionId;
    plannedUpdated[i] = lastUpdated;
    existed[i] = prev !== undefined;
  }

  if (plan.resolve) {
    await plan.resolve({
      tx,
      targets: targets.map((t, i) => (t && plannedVersion[i] !== undefined ? { resourceType: t.resourceType, id: t.id, versionId: plannedVersion[i]!, existed: existed[i]! } : undefined)),
      found: targets.map((t, i) => (t && unchanged.get(i) === 'exists' ? { resourceType: t.resourceType, id: t.id } : undefined)),
      match: (resourceType, criteria) => matchWithPlan(tx, searchParams, resourceType, criteria, ops, targets, contents, unchanged, now.toISOString(), owner, plan.scope),
      setResource: (index, resource) => {
        contents[index] = resource;
      },
      resourceOf: (index) => contents[index],
    });
  }

  // 5b. The no-op rule: an update, patch or keyed create whose final content equals the current
  //     version writes nothing (a target written twice in the plan is always written).
  if (!plan.versionUnchanged) {
    const written = new Map<string, number>();
    targets.forEach((t, i) => {
      if (t && !unchanged.has(i)) written.set(`${t.resourceType}/${t.id}`, (written.get(`${t.resourceType}/${t.id}`) ?? 0) + 1);
    });
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const t = targets[i];
      const content = contents[i];
      if (!t || !content || unchanged.has(i) || op.method === 'delete' || written.get(`${t.resourceType}/${t.id}`) !== 1) continue;
      let current: { versionId: number; lastUpdated: string; content?: FhirResource; deleted?: boolean } | undefined;
      if (op.method === 'create') {
        // Every key of the op must already name this object (else a key row is to be written).
        const o = owner(i);
        if (!t.viaKey || !op.keys?.every((k) => found.get(o)?.get(keyId(op.resourceType, k))?.id === t.id)) continue;
        current = t.viaKey;
      } else current = t.current;
      if (!current?.content || current.deleted || !sameContent(content, current.content)) continue;
      unchanged.set(i, 'same');
      sameAs.set(i, { resourceType: t.resourceType, id: t.id, versionId: current.versionId, lastUpdated: current.lastUpdated, deleted: false, resource: current.content });
    }
  }
  if (optimistic) {
    // The objects found by key that will be written: row-locked now, their version unchanged
    // since the unlocked lookup (else a concurrent write came in between: the plan is retried).
    const lockNow = ops.map((op, i) => ({ op, i })).filter(({ op, i }) => op.method === 'create' && targets[i]?.viaKey && !unchanged.has(i));
    if (lockNow.length) {
      const rows = await lockCurrent(tx, lockNow.map(({ i }) => ({ resourceType: targets[i]!.resourceType, id: targets[i]!.id })));
      for (const { i } of lockNow) {
        const t = targets[i]!;
        const row = rows.get(`${t.resourceType}/${t.id}`);
        if (!row || row.versionId !== t.viaKey!.versionId) throw retry(`${t.resourceType}/${t.id} changed during the resend`);
      }
    }
  }

  // 5c. The guard (D-150): the writes that replace a stored version, once they are known to change it.
  if (guard) {
    const guarded: GuardedWrite[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const t = targets[i];
      if (!t || unchanged.has(i)) continue;
      const cur = t.current ?? (t.viaKey ? { ...t.viaKey, deleted: t.viaKey.deleted ?? false } : undefined);
      if (!cur || cur.deleted) continue;
      guarded.push({
        index: i,
        method: op.method,
        resourceType: t.resourceType,
        id: t.id,
        current: { versionId: cur.versionId, lastUpdated: cur.lastUpdated, ...(cur.content ? { content: cur.content } : {}) },
        ...(op.method !== 'delete' && contents[i] ? { next: contents[i]! } : {}),
        ...(op.ifMatch !== undefined ? { ifMatch: op.ifMatch } : {}),
      });
    }
    if (guarded.length) await guard(guarded, tx);
  }

  // 6. What to write.
  const writes: VersionToWrite[] = [];
  const results: OpResult[] = [];
  const keyOwner = new Map<string, KeysToWrite['rows']>();
  const seenKeys = new Set<string>();
  const changes: WrittenChange[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const t = targets[i];
    const u = unchanged.get(i);
    if (u || !t) {
      const r: OpResult = { index: i, outcome: 'unchanged', status: u === 'exists' || u === 'same' ? 200 : 204, resourceType: op.resourceType };
      if (t) r.id = t.id;
      if (u === 'exists' && op.checkWhenFound && op.check && contents[i]) await op.check(contents[i]!, undefined, tx);
      const same = sameAs.get(i);
      if (same) {
        r.record = same;
        // The checks still run (a guard may refuse this client the resource, whatever its content).
        if (op.check) await op.check(same.resource, same, tx);
      }
      results.push(r);
      continue;
    }
    const versionId = plannedVersion[i]!;
    const lastUpdated = plannedUpdated[i]!;
    const deleted = op.method === 'delete';
    const content = deleted ? { resourceType: t.resourceType } : contents[i]!;
    const stored = stamp(deleted ? content : withoutId(content), t.id, versionId, lastUpdated);
    const currentRecord: ResourceRecord | undefined =
      t.current?.content && !t.current.deleted
        ? { resourceType: t.resourceType, id: t.id, versionId: t.current.versionId, lastUpdated: t.current.lastUpdated, deleted: false, resource: t.current.content }
        : undefined;
    if (!deleted && op.check) await op.check(stored, currentRecord, tx);
    const o = op.owner ?? ownerOf.get(i) ?? defaultOwner ?? t.current?.owner ?? '';
    const previous = !t.current?.deleted ? (t.current?.content ?? t.viaKey?.content) : undefined;
    const change: WrittenChange = {
      method: op.method,
      outcome: deleted ? 'deleted' : existed[i] && !t.current?.deleted ? 'updated' : 'created',
      resourceType: t.resourceType,
      id: t.id,
      versionId,
      lastUpdated,
    };
    if (!deleted) change.resource = stored;
    if (previous) change.previous = previous;
    changes.push(change);
    writes.push({ resourceType: t.resourceType, id: t.id, versionId, lastUpdated, owner: o, existed: existed[i]!, resource: stored, deleted });
    results.push({
      index: i,
      outcome: deleted ? 'deleted' : existed[i] && !t.current?.deleted ? 'updated' : 'created',
      status: deleted ? 204 : existed[i] && !t.current?.deleted ? 200 : 201,
      resourceType: t.resourceType,
      id: t.id,
      record: { resourceType: t.resourceType, id: t.id, versionId, lastUpdated, deleted, resource: stored },
    });
    for (const key of op.keys ?? []) {
      const kk = `${o}\u0000${keyId(t.resourceType, key)}`;
      if (seenKeys.has(kk)) continue;
      seenKeys.add(kk);
      const rows = keyOwner.get(o) ?? [];
      rows.push({ resourceType: t.resourceType, system: key.system, value: key.value, id: t.id });
      keyOwner.set(o, rows);
    }
  }
  // Existing versions for conditional creates that matched (FHIR answers them with the resource).
  const existing = results.filter((r) => r.outcome === 'unchanged' && r.status === 200 && r.id && !r.record);
  if (existing.length) {
    const rows = await tx.query<{ resource_type: string; id: string; version_id: number; last_updated: Date | string; content: FhirResource | string }>(
      `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i`,
      [existing.map((r) => r.resourceType), existing.map((r) => r.id)],
    );
    const byKey = new Map(rows.rows.map((r) => [`${r.resource_type}/${r.id}`, r]));
    for (const r of existing) {
      const row = byKey.get(`${r.resourceType}/${r.id}`);
      if (!row) continue;
      const content = typeof row.content === 'string' ? (JSON.parse(row.content) as FhirResource) : row.content;
      const lu = (row.last_updated instanceof Date ? row.last_updated : new Date(row.last_updated)).toISOString();
      r.record = { resourceType: r.resourceType, id: r.id!, versionId: Number(row.version_id), lastUpdated: lu, deleted: false, resource: content };
    }
  }

  // 7. The write: versions, index, keys and the plan's extra statements, in one statement per
  //    batch (one upsert cannot touch a row twice: an object written twice goes in two batches;
  //    a batch of more than WRITE_CHUNK versions goes in several statements, D-296).
  const keyGroups = [...keyOwner.entries()];
  const batches = occurrences(writes);
  if (batches.length === 0) batches.push([]);
  //    The outbox rows of the events this write means (storage/outbox.ts) go in the first one.
  const declared = [...(changes.length && eventSource ? eventSource(changes) : []), ...(plan.events?.(results, changes) ?? [])];
  //    And the change feed's rows (storage/changes.ts): every version written.
  //    More than WRITE_CHUNK of either (a 40 MB Bundle: 13,070 versions) go in statements of
  //    WRITE_CHUNK rows after the write's, in order (D-351): in one statement they held the
  //    embedded server's event loop; an ordinary Bundle keeps them in the write's statement.
  const events = declared.length > WRITE_CHUNK ? [] : declared;
  const fed = writes.length > WRITE_CHUNK ? [] : writes;
  const extra =
    events.length === 0 && fed.length === 0
      ? plan.extra
      : (p: (v: unknown) => string, r: OpResult[]) => [
          ...(plan.extra?.(p, r) ?? []),
          ...(events.length ? [outboxInsert(events, now.toISOString(), p)!] : []),
          ...(fed.length ? [changeFeedInsert(fed, p)] : []),
        ];
  for (const [n, batch] of batches.entries()) {
    const keys = n === 0 && keyGroups[0] ? { owner: keyGroups[0][0], rows: keyGroups[0][1] } : undefined;
    await writeVersions(tx, searchParams, batch, keys, n === 0 && extra ? (p) => extra(p, results) : undefined);
  }
  // Keys of other owners (a batch or transaction across organisations): one statement each.
  for (const [o, rows] of keyGroups.slice(1)) await writeVersions(tx, searchParams, [], { owner: o, rows });
  if (events !== declared) await inChunks(tx, declared, (part, p) => outboxInsert(part, now.toISOString(), p)!);
  if (fed !== writes) await inChunks(tx, writes, changeFeedInsert);
  // 8. The plan's statements after the write (the record's pieces, D-343).
  if (plan.after) await plan.after(tx, results);
  return results;
}

/**
 * Conditional references inside a plan (FHIR http#trules): the criteria evaluated by the search
 * SQL itself on the state the plan will leave — the stored resources it does not rewrite or
 * delete, plus its own resources with their planned content (a Patient created by an earlier
 * entry of the transaction) and index rows (`matchIds` with an overlay, D-203). So every type,
 * modifier, chain and `_has` means what it means in a search. At most 2 ids (the caller only
 * needs to tell 0, 1 and several).
 */
async function matchWithPlan(
  tx: Queryable,
  searchParams: SearchParameterSet,
  resourceType: string,
  criteria: SearchParam[],
  ops: WriteOp[],
  targets: (Target | undefined)[],
  contents: (FhirResource | undefined)[],
  unchanged: Map<number, unknown>,
  now: string,
  owners: (index: number) => string,
  scope?: ReadScope,
): Promise<string[]> {
  const planned = new Map<string, Overlay['resources'][number]>();
  ops.forEach((op, i) => {
    const t = targets[i];
    if (!t || unchanged.has(i)) return;
    const content = op.method === 'delete' ? undefined : contents[i];
    const r: Overlay['resources'][number] = { resourceType: t.resourceType, id: t.id, lastUpdated: now, owner: t.current?.owner ?? owners(i) };
    if (content) r.content = { ...content, id: t.id };
    // A create, update or patch whose content is not known yet is left to the stored state.
    if (content || op.method === 'delete') planned.set(`${t.resourceType}/${t.id}`, r);
  });
  return matchIds(tx, resourceType, criteria, searchParams, 2, { resources: [...planned.values()] }, scope);
}

/** The current contents of the objects found by key (locked already), for the no-op rule. */
async function withContents(tx: Queryable, found: Map<string, Map<string, FoundKey>>): Promise<void> {
  const all = [...found.values()].flatMap((m) => [...m.entries()]);
  if (all.length === 0) return;
  const keyOf = (k: string) => k.slice(0, k.indexOf('\u0000'));
  const res = await tx.query<{ resource_type: string; id: string; deleted: boolean; content: FhirResource | string }>(
    `SELECT r.resource_type, r.id, r.deleted, r.content FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i`,
    [all.map(([k]) => keyOf(k)), all.map(([, f]) => f.id)],
  );
  const byId = new Map(res.rows.map((r) => [`${r.resource_type}/${r.id}`, r]));
  for (const [k, f] of all) {
    const row = byId.get(`${keyOf(k)}/${f.id}`);
    if (!row) continue;
    f.deleted = row.deleted;
    f.content = typeof row.content === 'string' ? (JSON.parse(row.content) as FhirResource) : row.content;
  }
}

/** The content without a client id (the target's id is stamped). */
function withoutId(r: FhirResource): FhirResource {
  if (r.id === undefined) return r;
  const { id: _id, ...rest } = r;
  return rest as FhirResource;
}

/** `rows` inserted WRITE_CHUNK at a time, one statement each, in order (D-351). */
async function inChunks<T>(tx: Queryable, rows: readonly T[], insert: (part: readonly T[], p: (v: unknown) => string) => string): Promise<void> {
  for (let k = 0; k < rows.length; k += WRITE_CHUNK) {
    const params: unknown[] = [];
    await tx.query(insert(rows.slice(k, k + WRITE_CHUNK), (v) => (params.push(v), `$${params.length}`)), params);
  }
}

/** Splits writes so that each batch holds at most one version of each resource, in order. */
function occurrences(writes: VersionToWrite[]): VersionToWrite[][] {
  const batches: VersionToWrite[][] = [];
  const seen = new Map<string, number>();
  for (const w of writes) {
    const k = `${w.resourceType}/${w.id}`;
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    (batches[n] ??= []).push(w);
  }
  return batches;
}
