// The Repository of types.ts over either driver (same SQL on PostgreSQL and PGlite).
// Every write goes through the unit of work (unit-of-work.ts).
import { TYPE_PATTERN, ID_PATTERN, type FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { baseParameterSet, type SearchParameterSet } from '../fhir/search/parameters.js';
import { migrate } from './migrate.js';
import { reindex, indexState, type IndexState, type ReindexReport } from './reindex.js';
import { pageNumber, RESOURCE_COLUMNS, STORED_TYPES, toRecord, type ResourceRow } from './rows.js';
import { search } from './search.js';
import type { ReadReplicas } from './read-replicas.js';
import { scopeSql, type ReadScope } from './scope.js';
import { StatisticsKeeper } from './statistics.js';
import { DerivedDrainer, hasPendingDerived } from './derived.js';
import { getSubmission, insertSubmission, listSubmissions, pruneRejectedSubmissions } from './submissions.js';
import type {
  BackgroundTask,
  BusinessKeyPolicy,
  Database,
  HistoryQuery,
  Repository,
  ResourceRecord,
  SearchQuery,
  SearchResult,
  SubmissionFilter,
  SubmissionRecord,
  RejectedRetention,
} from './types.js';
import type { EventDeclaration, EventSource } from './outbox.js';
import { executePlan, newId, type ChangeGuard, type OpResult, type WritePlan } from './unit-of-work.js';

export { newId };

export class SqlRepository implements Repository {
  /** `keys`: business keys maintained by create/update (none without a policy). */
  constructor(
    readonly db: Database,
    private readonly keys?: BusinessKeyPolicy,
    private params: SearchParameterSet = baseParameterSet(),
    /** Turns the no-op rule off for every plan (OpenDatabaseOptions.versionUnchanged). */
    private readonly versionUnchanged = false,
  ) {
    this.statistics = new StatisticsKeeper(db);
    this.derived = new DerivedDrainer(db);
  }

  /** Keeps the planner's statistics current where nothing else does (storage/statistics.ts). */
  readonly statistics: StatisticsKeeper;

  /** Refreshes the derived tables after the writes (storage/derived.ts, D-356). */
  readonly derived: DerivedDrainer;

  onBackgroundError(handler: (task: BackgroundTask, err: unknown) => void): void {
    this.statistics.onError((err) => handler('statistics', err));
    this.derived.onError((err) => handler('derived-refresh', err));
  }

  async stopBackgroundWork(): Promise<void> {
    await Promise.all([this.statistics.stop(), this.derived.stop()]);
  }

  async close(): Promise<void> {
    try {
      await this.stopBackgroundWork();
    } finally {
      await this.db.close();
    }
  }

  get searchParams(): SearchParameterSet {
    return this.params;
  }

  useSearchParams(params: SearchParameterSet): void {
    this.params = params;
  }

  async migrate(): Promise<void> {
    await migrate(this.db);
  }

  private replicas: ReadReplicas | undefined;

  /** Sends reads to these replicas from now on (openRepository's `readUrls`). */
  useReplicas(replicas: ReadReplicas | undefined): void {
    this.replicas = replicas;
  }

  /** The read replicas in use, if any (their health for /healthz). */
  get readReplicas(): ReadReplicas | undefined {
    return this.replicas;
  }

  reader(): Promise<Database> {
    return this.replicas ? this.replicas.reader() : Promise.resolve(this.db);
  }

  async derivedReader(): Promise<Database> {
    const db = await this.reader();
    // Nothing pending where it reads: every write it has seen is refreshed there (derived.ts).
    if (!(await hasPendingDerived(db))) return db;
    await this.derived.drain();
    return this.db;
  }

  drainDerived(): Promise<number> {
    return this.derived.drain();
  }

  async read(resourceType: string, id: string, options: { scope?: ReadScope } = {}): Promise<ResourceRecord> {
    const db = await this.reader();
    const params: unknown[] = [resourceType, id];
    // Out of the reader's scope is "not found": the id of another organisation's resource says nothing.
    const inScope = options.scope ? ` AND ${scopeSql(options.scope, 'owner', (v) => (params.push(v), `$${params.length}`))}` : '';
    const res = await db.query<ResourceRow>(`SELECT ${RESOURCE_COLUMNS} FROM resource WHERE resource_type = $1 AND id = $2${inScope}`, params);
    const row = res.rows[0];
    if (!row) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: resourceType, id });
    if (row.deleted) throw new FhirError(HTTP_ERRORS.GONE, { type: resourceType, id });
    return toRecord(row);
  }

  async vread(resourceType: string, id: string, versionId: number, options: { scope?: ReadScope } = {}): Promise<ResourceRecord> {
    const db = await this.reader();
    const params: unknown[] = [resourceType, id, versionId];
    // The owner of every version is the current row's (an update keeps it).
    const inScope = options.scope
      ? ` AND EXISTS (SELECT 1 FROM resource o WHERE o.resource_type = $1 AND o.id = $2 AND ${scopeSql(options.scope, 'o.owner', (v) => (params.push(v), `$${params.length}`))})`
      : '';
    const res = await db.query<ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} FROM resource WHERE resource_type = $1 AND id = $2 AND version_id = $3${inScope}
       UNION ALL
       SELECT ${RESOURCE_COLUMNS} FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3${inScope}`,
      params,
    );
    const row = res.rows[0];
    if (!row) throw new FhirError(HTTP_ERRORS.VERSION_NOT_FOUND, { type: resourceType, id, version: versionId });
    // A tombstone version: the resource was deleted at that version (FHIR: 410).
    if (row.deleted) throw new FhirError(HTTP_ERRORS.GONE, { type: resourceType, id });
    return toRecord(row);
  }

  async history(q: HistoryQuery): Promise<{ total: number; entries: ResourceRecord[] }> {
    const db = await this.reader();
    if (q.id && !q.resourceType) throw new FhirError(HTTP_ERRORS.HISTORY_NEEDS_TYPE);
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    if (q.resourceType) where.push(`resource_type = ${p(q.resourceType)}`);
    if (q.id) where.push(`id = ${p(q.id)}`);
    if (q.since) {
      if (Number.isNaN(Date.parse(q.since))) throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name: '_since', value: q.since }, { expression: '_since' });
      where.push(`last_updated >= ${p(q.since)}::timestamptz`);
    }
    // Versions of resources in the reader's scope only (the owner is the current row's).
    if (q.scope) where.push(`(resource_type, id) IN (SELECT o.resource_type, o.id FROM resource o WHERE ${scopeSql(q.scope, 'o.owner', p)})`);
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const ORDER = 'last_updated DESC, version_id DESC, resource_type, id';
    // The current rows of every type by time: one range of resource_type_updated_idx per stored
    // type (there is no index on last_updated alone, D-354), the first `limit` of each when a page
    // is asked (the page's rows are among them: the order within a type is the page's order).
    // `OFFSET 0` keeps the count's subquery per type: pulled up, the planner joins the types to
    // one scan of the whole index with last_updated as a filter.
    const current = (limit?: number) =>
      q.resourceType || (limit === undefined && !q.since)
        ? `SELECT ${RESOURCE_COLUMNS} FROM resource ${w}`
        : `SELECT c.* FROM stored_types st CROSS JOIN LATERAL (
             SELECT ${RESOURCE_COLUMNS} FROM resource WHERE resource_type = st.t${where.length ? ` AND ${where.join(' AND ')}` : ''}
             ${limit === undefined ? 'OFFSET 0' : `ORDER BY ${ORDER} LIMIT ${limit}`}) c WHERE st.t IS NOT NULL`;
    const withTypes = (sql: string) => (sql.includes('stored_types') ? `WITH RECURSIVE ${STORED_TYPES}\n${sql}` : sql);
    // Versions = the history (previous versions) + the current rows.
    const versions = (limit?: number) => `(SELECT ${RESOURCE_COLUMNS} FROM resource_history ${w} UNION ALL ${current(limit)}) v`;
    const total = Number((await db.query<{ n: number }>(withTypes(`SELECT count(*)::int AS n FROM ${versions()}`), params)).rows[0]!.n);
    if (q.id && total === 0 && !q.since) {
      throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: q.resourceType!, id: q.id });
    }
    const count = pageNumber(q.count, 'count');
    const offset = pageNumber(q.offset, 'offset');
    const rows = await db.query<ResourceRow>(
      withTypes(`SELECT ${RESOURCE_COLUMNS} FROM ${versions(offset + count)}
        ORDER BY ${ORDER} LIMIT ${count} OFFSET ${offset}`),
      params,
    );
    return { total, entries: rows.rows.map(toRecord) };
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    return search(await this.reader(), query, this.searchParams);
  }

  private eventSource: EventSource | undefined;

  useEvents(source: EventSource | undefined): void {
    this.eventSource = source;
  }

  private guard: ChangeGuard | undefined;

  useGuard(guard: ChangeGuard | undefined): void {
    this.guard = guard;
  }

  async recordEvents(events: EventDeclaration[]): Promise<void> {
    if (events.length) await this.execute({ ops: [], events: () => events });
  }

  async execute(plan: WritePlan): Promise<OpResult[]> {
    const results = await executePlan(this.db, this.searchParams, this.versionUnchanged && plan.versionUnchanged === undefined ? { ...plan, versionUnchanged: true } : plan, this.eventSource, this.guard);
    // Index rows grow with the versions: counting versions is enough to tell growth.
    const written = results.reduce((n, r) => n + (r.record && r.outcome !== 'unchanged' ? 1 : 0), 0);
    this.statistics.noteWrites(written);
    // (A write of versions may have left keys for the derived refresh: drained a little later.)
    if (written) this.derived.noteWrite();
    return results;
  }

  async create(resource: FhirResource, options: { owner?: string } = {}): Promise<ResourceRecord> {
    checkResource(resource);
    const owner = options.owner ?? this.keys?.ownerOf(resource) ?? '';
    const keys = this.keys?.keysOf(resource) ?? [];
    // A known key (same owner) names the object this create resends: a new version of it,
    // as a transaction entry would be ("the last data sent replaces what was sent before").
    const [r] = await this.execute({ owner, ops: [{ method: 'create', resourceType: resource.resourceType, resource, keys }] });
    return r!.record!;
  }

  async update(resource: FhirResource & { id: string }, options: { ifMatch?: number } = {}): Promise<ResourceRecord> {
    checkResource(resource);
    if (!ID_PATTERN.test(resource.id)) throw new FhirError(HTTP_ERRORS.INVALID_ID, { id: resource.id }, { expression: `${resource.resourceType}.id` });
    const keys = this.keys?.keysOf(resource) ?? [];
    // Its keys name this object from now on, even one that named another object before (the
    // last data sent wins, as when a transaction re-points a key); under the stored owner.
    const [r] = await this.execute({
      ops: [{ method: 'update', resourceType: resource.resourceType, id: resource.id, resource, keys, ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}) }],
    });
    return r!.record!;
  }

  async delete(resourceType: string, id: string, options: { ifMatch?: number } = {}): Promise<OpResult> {
    if (!TYPE_PATTERN.test(resourceType)) throw new FhirError(HTTP_ERRORS.NOT_A_RESOURCE);
    const [r] = await this.execute({ ops: [{ method: 'delete', resourceType, id, ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}) }] });
    return r!;
  }

  indexState(): Promise<IndexState | undefined> {
    return indexState(this.db);
  }

  async reindex(options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<ReindexReport> {
    const report = await reindex(this.db, this.searchParams, options);
    // (The re-indexed resources' keys are pending for the derived refresh, D-356.)
    this.derived.noteWrite();
    return report;
  }

  recordSubmission(submission: Omit<SubmissionRecord, 'id'>): Promise<SubmissionRecord> {
    return insertSubmission(this.db, submission);
  }

  async listSubmissions(filter: SubmissionFilter): Promise<{ total: number; items: SubmissionRecord[] }> {
    return listSubmissions(await this.reader(), filter);
  }

  async getSubmission(id: string, options: { scope?: ReadScope } = {}): Promise<SubmissionRecord | undefined> {
    return getSubmission(await this.reader(), id, options.scope);
  }

  pruneRejectedSubmissions(policy: RejectedRetention): Promise<{ retention: number; quota: number }> {
    return pruneRejectedSubmissions(this.db, policy);
  }
}

function checkResource(resource: FhirResource): void {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string' || !TYPE_PATTERN.test(resource.resourceType)) {
    throw new FhirError(HTTP_ERRORS.NOT_A_RESOURCE);
  }
}
