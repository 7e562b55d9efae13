// The storage contract: what the HTTP server, the ingestion pipeline and the web UI may ask of
// the data layer. Two drivers implement the same SQL (PostgreSQL via `pg`, embedded PGlite),
// so nothing above this file knows which one is in use.

import type { FhirResource } from '../fhir/json.js';
import type { SearchParameterSet } from '../fhir/search/parameters.js';
import type { IndexState, ReindexReport } from './reindex.js';
import type { ChangeGuard, OpResult, WritePlan } from './unit-of-work.js';
import type { EventDeclaration, EventSource } from './outbox.js';
export type { EventDeclaration, EventSource, WrittenChange, OutboxEvent, EventCursor } from './outbox.js';

export type { OpResult, WritePlan, WriteOp, WriteMethod, WriteOutcome, ResolveContext, ChangeGuard, GuardedWrite } from './unit-of-work.js';
export type { IndexState, ReindexReport } from './reindex.js';

export type { FhirResource };
import type { ReadScope } from './scope.js';
export type { ReadScope } from './scope.js';

/** One stored version of a resource. `resource.meta.versionId/lastUpdated` equal the columns. */
export interface ResourceRecord {
  resourceType: string;
  id: string;
  /** 1, 2, 3… per (resourceType, id). */
  versionId: number;
  /** ISO instant with milliseconds and `Z`. */
  lastUpdated: string;
  deleted: boolean;
  resource: FhirResource;
}

/**
 * A text parameter given as its UTF-8 bytes (valid UTF-8), for a large text the server received as
 * bytes (an accepted Bundle's request, D-328): the PostgreSQL driver sends the bytes as they are (a
 * binary-format parameter: for `json` and `text` the binary form is the text's bytes), with no
 * decoding into a string nor encoding back on the event loop; PGlite gets the decoded string.
 * Use it only where the placeholder is cast to `json` or `text` (`$n::json`).
 */
export class Utf8Text {
  constructor(readonly bytes: Buffer) {}
}

/**
 * An array parameter of text values (`$n::text[]`) or of JSON texts (`$n::jsonb[]`), D-332: the
 * PostgreSQL driver sends it in PostgreSQL's binary array format — each element's UTF-8 bytes
 * after its length, no quoting nor escaping on this side, no literal to parse on the server's (the
 * write statement's arrays: `array_in` was ~5 % of its backends' CPU) — and PGlite gets the plain
 * array. Only where the placeholder is cast to exactly that array type (the binary form names its
 * element type; PostgreSQL refuses another). Elements: strings, or null/undefined for NULL.
 */
export class TextArray {
  constructor(
    readonly values: readonly unknown[],
    readonly type: 'text' | 'jsonb' = 'text',
  ) {}
}

/** How a statement is sent (a hint: a driver may ignore it, the result is the same). */
export interface QueryOptions {
  /**
   * The text is one of a few sent again and again (the write statement of a Bundle shape, D-331):
   * PostgreSQL keeps it as a named prepared statement on each connection, so it is parsed and
   * planned once per connection instead of once per call. Only for statements whose plan does not
   * depend on their parameters' values (a generic plan is as good as a custom one).
   */
  reuse?: boolean;
}

/** Minimal SQL seam shared by both drivers (PostgreSQL SQL dialect, `$1` placeholders). */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<{ rows: R[]; rowCount: number }>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one database transaction: commit when it resolves, rollback when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` URL; when absent the embedded database is used. */
  url?: string;
  /** Folder of the embedded database (default `./.tddui-data`); `memory://` for an in-memory one. */
  dataDir?: string;
  /** Business keys of plain creates/updates (default: the TDDUI resend-matching keys). */
  keys?: BusinessKeyPolicy;
  /** Search parameters indexed and searched (default: the base R4 ones). */
  searchParams?: SearchParameterSet;
  /**
   * Write a new version even when a write changes nothing (turns the no-op rule off, D-60):
   * for benchmarks that measure what the rule saves. Default false.
   */
  versionUnchanged?: boolean;
  /**
   * Read replicas (`postgres://…` of streaming standbys of `url`): reads of reading requests go
   * there (round robin, read-your-writes, health-checked). PostgreSQL only.
   */
  readUrls?: string[];
  /**
   * PostgreSQL: the write statements sent as named prepared statements (default true, D-331); false
   * for a connection pooler in transaction mode that does not carry them across connections.
   */
  namedStatements?: boolean;
  /** Their health probe period, connection time-out, pool size (src/storage/read-replicas.ts). */
  replicaOptions?: import('./read-replicas.js').ReadReplicaOptions;
}

/**
 * How `Repository.create`/`update` find the business keys of one resource (the ingest pipeline
 * computes those of a Bundle itself), so that an object first sent by a plain create is matched
 * by a later transaction, and the other way round.
 */
export interface BusinessKeyPolicy {
  /** The submitting organisation (FINESS) named by the resource, when it names one. */
  ownerOf(resource: FhirResource): string | undefined;
  /** Its keys in priority order (references are server ids here); may be empty. */
  keysOf(resource: FhirResource): { system: string; value: string }[];
}

/** One search parameter of a query: AND across parameters, OR across `values`. */
export interface SearchParam {
  name: string;
  /** `exact`, `contains`, `missing`, `not`, `text`, or a resource type for references. */
  modifier?: string;
  /** Raw values as in the URL (`ge2024-01-01`, `system|code`, `Patient/123`). */
  values: string[];
}

export interface IncludeSpec {
  /** Source resource type (`Encounter` in `Encounter:subject`). */
  sourceType: string;
  /** Reference search parameter name, or `*`. */
  param: string;
  targetType?: string;
  iterate?: boolean;
}

export interface SearchQuery {
  /** Resource type, or undefined for a system-level search. */
  resourceType?: string;
  params: SearchParam[];
  include?: IncludeSpec[];
  revinclude?: IncludeSpec[];
  /** `_sort`: parameter names; a leading `-` means descending. */
  sort?: string[];
  /** Page size (`_count`), already bounded by the caller. */
  count: number;
  /** Offset of the page (the server turns it into paging links). */
  offset: number;
  /** Whether to compute the total (`_total=accurate`, default) or not. */
  total?: 'accurate' | 'none';
  /** `Prefer: handling=`: unknown parameters are a 400 (`strict`, the default of this API) or ignored and reported in `ignored` (`lenient`, the HTTP default). */
  handling?: 'strict' | 'lenient';
  /**
   * The reader's organisations or territories (src/storage/scope.ts): the matches, the total,
   * every chain and `_has` hop, and the includes hold only resources of an owner in scope.
   */
  scope?: ReadScope;
}

export interface SearchResult {
  total?: number;
  matches: ResourceRecord[];
  included: ResourceRecord[];
  /** Parameters ignored under lenient handling, with why (English and French). */
  ignored?: { name: string; message: string; text: string }[];
}

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** `_since` (ISO instant). */
  since?: string;
  count: number;
  offset: number;
  /** Only versions of resources whose owner is in scope (src/storage/scope.ts). */
  scope?: ReadScope;
}

/** A submission as the receiver saw it — accepted or rejected — kept for the web UI. */
export interface SubmissionRecord {
  id: string;
  receivedAt: string;
  /** FINESS of the submitting organisation (from the Bundle), when known. */
  organizationFiness?: string;
  organizationName?: string;
  /** Usagers concerned: local ids / INS and display names found in the Bundle. */
  usagers: {
    /** Server id of the Patient (accepted submissions). */
    id?: string;
    /** Local id (PI) when present, else the INS. */
    identifier?: string;
    name?: string;
    /** Local usager identifier (PI, `3<FINESS>/<local id>`). */
    localId?: string;
    /** INS (NIR/NIA) when sent. */
    ins?: string;
  }[];
  resourceCount: number;
  outcome: 'accepted' | 'rejected';
  /**
   * The resourceType of what was sent (read back from the log, migration 0007; set from the
   * document when recorded): absent for a body that is not a resource — unreadable text (kept
   * as a string in `bundle`) or JSON that is not a resource.
   */
  submittedType?: string;
  httpStatus: number;
  errorCount: number;
  /** Warnings about the data (since migration 0020; before it, every warning). */
  warningCount: number;
  /** "Could not check" notices and IG-defect warnings, counted apart from the data warnings (migration 0020). */
  noticeCount?: number;
  /**
   * Entries that changed nothing (the no-op rule: same content as the current version, no new
   * version written; migration 0040). The others of an accepted submission were written.
   */
  unchangedCount?: number;
  /** The IG version the submission was validated under (`ans.fhir.fr.tddui#2.3.0`; migration 0020). */
  ig?: string;
  /** Who sent it, as the token says: its subject, and its client id when it differs (migration 0060); absent on an open server. */
  client?: string;
  /** The submitted Bundle exactly as parsed (JSON) — kept for rejected ones too (within a quota and a retention period: `bundleDropped`). */
  bundle?: unknown;
  /**
   * Why a rejected submission no longer holds its document (migration 0061, D-85): `retention`
   * (older than the retention period), `quota` (the oldest beyond the total kept), `size` (larger
   * than the limit of one document). The record, its report and counts stay.
   */
  bundleDropped?: 'retention' | 'quota' | 'size';
  /** The validation report (OperationOutcome). */
  report?: unknown;
  /** The transaction-response Bundle for accepted submissions. */
  response?: unknown;
}

export interface SubmissionFilter {
  organizationFiness?: string;
  outcome?: 'accepted' | 'rejected';
  /** The resourceType of what was submitted (`Bundle` for transactions, `DocumentReference` for v1 creates). */
  submittedType?: string;
  /** ISO dates, inclusive range on receivedAt. */
  from?: string;
  to?: string;
  count: number;
  offset: number;
  /** Only submissions of an organisation in scope (src/storage/scope.ts). */
  scope?: ReadScope;
}

/** Thrown by the data layer: the one error class of the catalogue (src/fhir/outcome/http-errors.ts). */
export { FhirError as StorageError } from '../fhir/outcome/http-errors.js';

/** The repository's background work (Repository.onBackgroundError). */
export type BackgroundTask = 'statistics' | 'derived-refresh';

/**
 * The data layer (implemented in `src/storage/repository.ts`). Reads never see a half-written
 * transaction; every write of one call is one database transaction.
 */
export interface Repository {
  /** The primary: every write, and every read outside a reading request. */
  readonly db: Database;
  /**
   * Where a read-only query of the request being served goes: a read replica when some are
   * configured, one is healthy and it has replayed the client's last write; else `db`
   * (src/storage/read-replicas.ts). Pick once per page or operation, so its queries see one copy.
   */
  reader(): Promise<Database>;
  /**
   * `reader()` for a query of the derived tables (usager_sort, pilotage_*, ppa_*): there when it
   * has no write left to refresh, else the primary once the pending refresh is drained (D-356,
   * storage/derived.ts). Every read of those tables goes through it (or drainDerived on the primary).
   */
  derivedReader(): Promise<Database>;
  /** Refreshes the derived tables of every write committed so far (D-356); the keys refreshed. */
  drainDerived(): Promise<number>;
  /** The read replicas in use (OpenDatabaseOptions.readUrls), if any. */
  readonly readReplicas?: import('./read-replicas.js').ReadReplicas;
  /** The search parameters this repository indexes and searches. */
  readonly searchParams: SearchParameterSet;
  /** Indexes and searches with `params` from now on (the server's, once its IGs are loaded). */
  useSearchParams(params: SearchParameterSet): void;
  /** Applies pending migrations (idempotent; safe when several servers start together). */
  migrate(): Promise<void>;
  /**
   * Before `db.close()` (D-325): no background work (the statistics pass, storage/statistics.ts)
   * starts any more; resolves once the one in flight has ended.
   */
  stopBackgroundWork(): Promise<void>;
  /**
   * Where the errors of the background work go (the statistics keeper's passes, the derived
   * tables' drains): by default nowhere — the work is retried (a drain's keys stay pending and
   * the next reader drains them, or fails with the error) — the server logs them.
   */
  onBackgroundError(handler: (task: BackgroundTask, err: unknown) => void): void;
  /**
   * Closes the repository: stopBackgroundWork(), then the database (D-325's order, D-337). What
   * every holder of a repository calls (server, CLI, benchmarks) rather than `db.close()`, which
   * would end the database under a statistics pass in flight.
   */
  close(): Promise<void>;

  /** Current version; StorageError 404 when unknown — or out of `scope`, which is the same to the reader —, 410 when deleted. */
  read(resourceType: string, id: string, options?: { scope?: ReadScope }): Promise<ResourceRecord>;
  /** One version; StorageError 404 when unknown or out of `scope`. */
  vread(resourceType: string, id: string, versionId: number, options?: { scope?: ReadScope }): Promise<ResourceRecord>;
  /** Instance, type or system history, newest first. */
  history(query: HistoryQuery): Promise<{ total: number; entries: ResourceRecord[] }>;
  search(query: SearchQuery): Promise<SearchResult>;

  /**
   * Plain create (v1 flow: POST /DocumentReference). The server assigns the id. The resource's
   * business keys (e.g. a DocumentReference's masterIdentifier) are registered for its owner
   * (`options.owner`, else the one the resource names, else `''`). A create whose key is already
   * known for that owner is a resend: it becomes a new version of the existing object (same id,
   * `versionId` > 1), as a transaction entry would; `versionId === 1` means a new object.
   */
  create(resource: FhirResource, options?: { owner?: string }): Promise<ResourceRecord>;
  /**
   * New version of an existing resource; `ifMatch` = expected current versionId (412 otherwise).
   * Its business keys are (re-)pointed at it, under the owner stored with the resource.
   */
  update(resource: FhirResource & { id: string }, options?: { ifMatch?: number }): Promise<ResourceRecord>;

  /**
   * THE write path: creates / updates / deletes / patches (with business keys, If-Match,
   * conditional criteria) executed atomically, versioned and indexed (src/storage/unit-of-work.ts).
   */
  execute(plan: WritePlan): Promise<OpResult[]>;
  /**
   * The event sources every plan is evaluated by (the IG modules' `events`, composed by the
   * server): their events are written to the outbox in the same statement as the write.
   */
  useEvents(source: EventSource | undefined): void;
  /**
   * The rule every plan asks before replacing stored versions (the IG modules' `guard`s,
   * composed by the server; D-150: a validated projet personnalisé is frozen).
   */
  useGuard(guard: ChangeGuard | undefined): void;
  /** Records events that no write causes (a review falling due), in their own transaction. */
  recordEvents(events: EventDeclaration[]): Promise<void>;
  /** Deletes a resource: a tombstone version (history keeps it; read answers 410). */
  delete(resourceType: string, id: string, options?: { ifMatch?: number }): Promise<OpResult>;

  /** Which parameter set wrote the index rows (undefined before the first record). */
  indexState(): Promise<IndexState | undefined>;
  /** Rebuilds the index rows of every current resource with `searchParams`, and records it. */
  reindex(options?: { batchSize?: number; onProgress?: (done: number, total: number) => void }): Promise<ReindexReport>;

  recordSubmission(submission: Omit<SubmissionRecord, 'id'>): Promise<SubmissionRecord>;
  listSubmissions(filter: SubmissionFilter): Promise<{ total: number; items: SubmissionRecord[] }>;
  /** With bundle, report and response. */
  getSubmission(id: string, options?: { scope?: ReadScope }): Promise<SubmissionRecord | undefined>;
  /**
   * Drops the documents of rejected submissions older than `retentionDays`, then the oldest ones
   * beyond `maxTotalBytes` in all (the records stay; accepted submissions are never touched).
   */
  pruneRejectedSubmissions(policy: RejectedRetention): Promise<{ retention: number; quota: number }>;
}

/** How long, and how much of, the rejected submissions' documents are kept (D-85). */
export interface RejectedRetention {
  retentionDays: number;
  maxTotalBytes: number;
  now?: Date;
}
