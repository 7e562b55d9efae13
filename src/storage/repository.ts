// The Repository of types.ts over either driver (same SQL on PostgreSQL and PGlite).
import { randomUUID } from 'node:crypto';
import { keyId, lockAndLookupKeys } from './keys.js';
import { migrate } from './migrate.js';
import { pageNumber, RESOURCE_COLUMNS, toRecord, type ResourceRow } from './rows.js';
import { search } from './search.js';
import { getSubmission, insertSubmission, listSubmissions } from './submissions.js';
import {
  StorageError,
  type BusinessKeyPolicy,
  type Database,
  type FhirResource,
  type HistoryQuery,
  type Repository,
  type ResourceRecord,
  type SearchQuery,
  type SearchResult,
  type SubmissionFilter,
  type SubmissionRecord,
} from './types.js';
import { lockCurrent, nextInstant, stamp, writeVersions, type KeysToWrite } from './writer.js';

const RE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A fresh server id (FHIR id syntax: a UUID fits in 64 characters of [A-Za-z0-9-.]). */
export function newId(): string {
  return randomUUID();
}

export class SqlRepository implements Repository {
  /** `keys`: business keys maintained by create/update (none without a policy). */
  constructor(
    readonly db: Database,
    private readonly keys?: BusinessKeyPolicy,
  ) {}

  async migrate(): Promise<void> {
    await migrate(this.db);
  }

  async read(resourceType: string, id: string): Promise<ResourceRecord> {
    const res = await this.db.query<ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} FROM resource WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    const row = res.rows[0];
    if (!row) throw new StorageError(404, 'not-found', `${resourceType}/${id} is not known`);
    if (row.deleted) throw new StorageError(410, 'deleted', `${resourceType}/${id} has been deleted`);
    return toRecord(row);
  }

  async vread(resourceType: string, id: string, versionId: number): Promise<ResourceRecord> {
    const res = await this.db.query<ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} FROM resource WHERE resource_type = $1 AND id = $2 AND version_id = $3
       UNION ALL
       SELECT ${RESOURCE_COLUMNS} FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
      [resourceType, id, versionId],
    );
    const row = res.rows[0];
    if (!row) throw new StorageError(404, 'not-found', `${resourceType}/${id}/_history/${versionId} is not known`);
    return toRecord(row);
  }

  async history(q: HistoryQuery): Promise<{ total: number; entries: ResourceRecord[] }> {
    if (q.id && !q.resourceType) throw new StorageError(400, 'invalid', 'Instance history needs a resource type');
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    if (q.resourceType) where.push(`resource_type = ${p(q.resourceType)}`);
    if (q.id) where.push(`id = ${p(q.id)}`);
    if (q.since) {
      if (Number.isNaN(Date.parse(q.since))) throw new StorageError(400, 'invalid', `Invalid _since "${q.since}"`, '_since');
      where.push(`last_updated >= ${p(q.since)}::timestamptz`);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // Versions = the history (previous versions) + the current rows.
    const versions = `(SELECT ${RESOURCE_COLUMNS} FROM resource_history ${w} UNION ALL SELECT ${RESOURCE_COLUMNS} FROM resource ${w}) v`;
    const total = Number((await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${versions}`, params)).rows[0].n);
    if (q.id && total === 0 && !q.since) {
      throw new StorageError(404, 'not-found', `${q.resourceType}/${q.id} is not known`);
    }
    const count = pageNumber(q.count, 'count');
    const offset = pageNumber(q.offset, 'offset');
    const rows = await this.db.query<ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} FROM ${versions}
        ORDER BY last_updated DESC, version_id DESC, resource_type, id LIMIT ${count} OFFSET ${offset}`,
      params,
    );
    return { total, entries: rows.rows.map(toRecord) };
  }

  search(query: SearchQuery): Promise<SearchResult> {
    return search(this.db, query);
  }

  async create(resource: FhirResource, options: { owner?: string } = {}): Promise<ResourceRecord> {
    checkResource(resource);
    const type = resource.resourceType;
    const owner = options.owner ?? this.keys?.ownerOf(resource) ?? '';
    const keys = this.keys?.keysOf(resource) ?? [];
    return this.db.transaction(async (tx) => {
      // A known key (same owner) names the object this create resends: a new version of it,
      // as a transaction entry would be ("the last data sent replaces what was sent before").
      const found = await lockAndLookupKeys(tx, owner, [{ resourceType: type, keys }]);
      const match = keys.map((k) => found.get(keyId(type, k))).find((f) => f !== undefined);
      const id = match?.id ?? newId();
      const versionId = (match?.versionId ?? 0) + 1;
      const lastUpdated = nextInstant(new Date(), match?.lastUpdated);
      const stored = stamp(resource, id, versionId, lastUpdated);
      await writeVersions(
        tx,
        [{ resourceType: type, id, versionId, lastUpdated, owner, existed: match !== undefined, resource: stored }],
        keyRows(owner, type, id, keys),
      );
      return { resourceType: type, id, versionId, lastUpdated, deleted: false, resource: stored };
    });
  }

  async update(resource: FhirResource & { id: string }, options: { ifMatch?: number } = {}): Promise<ResourceRecord> {
    checkResource(resource);
    if (!RE_ID.test(resource.id)) throw new StorageError(400, 'invalid', `Invalid resource id "${resource.id}"`, `${resource.resourceType}.id`);
    const type = resource.resourceType;
    const keys = this.keys?.keysOf(resource) ?? [];
    return this.db.transaction(async (tx) => {
      // The owner never changes once stored; read first so that the key locks (advisory, then
      // row locks) are taken in the same order as the ingest pipeline's: no deadlock with it.
      const owner = (await tx.query<{ owner: string }>('SELECT owner FROM resource WHERE resource_type = $1 AND id = $2', [type, resource.id])).rows[0]?.owner ?? '';
      if (keys.length) await lockAndLookupKeys(tx, owner, [{ resourceType: type, keys }]);
      const current = (await lockCurrent(tx, [{ resourceType: type, id: resource.id }])).get(`${type}/${resource.id}`);
      if (!current) throw new StorageError(404, 'not-found', `${type}/${resource.id} is not known`);
      if (options.ifMatch !== undefined && options.ifMatch !== current.versionId) {
        throw new StorageError(
          412,
          'conflict',
          `Version mismatch on ${type}/${resource.id}: If-Match asks for version ${options.ifMatch}, the current version is ${current.versionId}`,
        );
      }
      const versionId = current.versionId + 1;
      const lastUpdated = nextInstant(new Date(), current.lastUpdated);
      const stored = stamp(resource, resource.id, versionId, lastUpdated);
      // Its keys name this object from now on, even one that named another object before
      // (the last data sent wins, as when a transaction re-points a key).
      await writeVersions(
        tx,
        [{ resourceType: type, id: resource.id, versionId, lastUpdated, owner, existed: true, resource: stored }],
        keyRows(owner, type, resource.id, keys),
      );
      return { resourceType: type, id: resource.id, versionId, lastUpdated, deleted: false, resource: stored };
    });
  }

  recordSubmission(submission: Omit<SubmissionRecord, 'id'>): Promise<SubmissionRecord> {
    return insertSubmission(this.db, submission);
  }

  listSubmissions(filter: SubmissionFilter): Promise<{ total: number; items: SubmissionRecord[] }> {
    return listSubmissions(this.db, filter);
  }

  getSubmission(id: string): Promise<SubmissionRecord | undefined> {
    return getSubmission(this.db, id);
  }
}

function keyRows(owner: string, type: string, id: string, keys: { system: string; value: string }[]): KeysToWrite | undefined {
  const seen = new Set<string>();
  const rows = keys.filter((k) => !seen.has(keyId(type, k)) && seen.add(keyId(type, k))).map((k) => ({ resourceType: type, system: k.system, value: k.value, id }));
  return rows.length ? { owner, rows } : undefined;
}

function checkResource(resource: FhirResource): void {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string' || !RE_TYPE.test(resource.resourceType)) {
    throw new StorageError(400, 'invalid', 'Not a FHIR resource (resourceType missing or invalid)');
  }
}
