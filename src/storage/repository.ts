// The Repository of types.ts over either driver (same SQL on PostgreSQL and PGlite).
import { randomUUID } from 'node:crypto';
import { migrate } from './migrate.js';
import { pageNumber, RESOURCE_COLUMNS, toRecord, type ResourceRow } from './rows.js';
import { search } from './search.js';
import { getSubmission, insertSubmission, listSubmissions } from './submissions.js';
import {
  StorageError,
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
import { lockCurrent, nextInstant, stamp, writeVersions } from './writer.js';

const RE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A fresh server id (FHIR id syntax: a UUID fits in 64 characters of [A-Za-z0-9-.]). */
export function newId(): string {
  return randomUUID();
}

export class SqlRepository implements Repository {
  constructor(readonly db: Database) {}

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
    const id = newId();
    const lastUpdated = new Date().toISOString();
    const stored = stamp(resource, id, 1, lastUpdated);
    await this.db.transaction((tx) =>
      writeVersions(tx, [
        { resourceType: resource.resourceType, id, versionId: 1, lastUpdated, owner: options.owner ?? '', existed: false, resource: stored },
      ]),
    );
    return { resourceType: resource.resourceType, id, versionId: 1, lastUpdated, deleted: false, resource: stored };
  }

  async update(resource: FhirResource & { id: string }, options: { ifMatch?: number } = {}): Promise<ResourceRecord> {
    checkResource(resource);
    if (!RE_ID.test(resource.id)) throw new StorageError(400, 'invalid', `Invalid resource id "${resource.id}"`, `${resource.resourceType}.id`);
    const type = resource.resourceType;
    return this.db.transaction(async (tx) => {
      const current = (await lockCurrent(tx, [{ resourceType: type, id: resource.id }])).get(`${type}/${resource.id}`);
      if (!current) throw new StorageError(404, 'not-found', `${type}/${resource.id} is not known`);
      if (options.ifMatch !== undefined && options.ifMatch !== current.versionId) {
        throw new StorageError(
          412,
          'conflict',
          `Version mismatch on ${type}/${resource.id}: If-Match asks for version ${options.ifMatch}, the current version is ${current.versionId}`,
        );
      }
      const owner = (await tx.query<{ owner: string }>('SELECT owner FROM resource WHERE resource_type = $1 AND id = $2', [type, resource.id])).rows[0]?.owner ?? '';
      const versionId = current.versionId + 1;
      const lastUpdated = nextInstant(new Date(), current.lastUpdated);
      const stored = stamp(resource, resource.id, versionId, lastUpdated);
      await writeVersions(tx, [{ resourceType: type, id: resource.id, versionId, lastUpdated, owner, existed: true, resource: stored }]);
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

function checkResource(resource: FhirResource): void {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string' || !RE_TYPE.test(resource.resourceType)) {
    throw new StorageError(400, 'invalid', 'Not a FHIR resource (resourceType missing or invalid)');
  }
}
