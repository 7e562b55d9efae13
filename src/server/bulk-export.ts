// FHIR Bulk Data Access `$export` (issue 18), the async pattern: a kick-off at system level
// (`/fhir/$export`), for every Patient (`/fhir/Patient/$export`) or for a Group's members
// (`/fhir/Group/<id>/$export`) with `Prefer: respond-async` answers 202 and a Content-Location
// to poll; polling answers 202 with X-Progress until the manifest (200); the NDJSON files, one
// per type, are served to the same token subject until they expire; DELETE cancels a job and
// removes its files. Parameters: `_type`, `_since`, `_typeFilter` (any search of the type —
// an organisation, a date —, OR between several for one type), `_outputFormat` (NDJSON).
//
// The runner exports one job at a time in this process, a page of 1,000 resources after
// another (keyset on the id: constant memory), appending to the type's file and saving a
// checkpoint (last id, bytes written) in export_job after each page. A server restarted
// mid-export truncates the file to its checkpoint and goes on: every resource once.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isObject } from '../fhir/json.js';
import {
  checkpointExportJob,
  deleteExportJob,
  expiredExportJobs,
  exportPage,
  getExportJob,
  insertExportJob,
  pendingExportJobs,
  setExportJobStatus,
  storedTypes,
  type ExportJob,
  type ExportParams,
} from '../storage/export-jobs.js';
import type { Database, Repository, SearchParam } from '../storage/types.js';
import { runInReadContext } from '../storage/index.js';
import { actorOf } from './audit.js';
import { forbidden, type Authenticator } from './auth.js';
import { FhirError, HTTP_ERRORS, operationOutcome } from './outcome.js';
import { queryPairs } from './search.js';
import { PeriodicJob } from './periodic.js';

export interface BulkExportOptions {
  /** Folder of the NDJSON files (default `./.tddui-exports`). */
  dir: string;
  /** Hours the files of a completed export are kept (default 24). */
  retentionHours?: number;
  /** Resources per page (and per checkpoint); default 1,000. */
  pageSize?: number;
  /** Running jobs without a checkpoint for this long belong to a stopped server (default 60 s). */
  staleSeconds?: number;
}

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const ID = /^[A-Za-z0-9\-]{1,64}$/;

function badRequest(en: string, fr: string, expression?: string): FhirError {
  return new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: en, detailFr: fr }, expression ? { expression } : {});
}

/** `_typeFilter` entries → a search query's parameters (`Encounter?date=ge2024-01-01&…`). */
export function parseTypeFilter(value: string): { type: string; query: string } {
  const m = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(value);
  if (!m) throw badRequest(`_typeFilter "${value}" is not Type?search`, `_typeFilter « ${value} » n’est pas de la forme Type?recherche`, '_typeFilter');
  return { type: m[1]!, query: m[2]! };
}

function searchParamsOf(query: string): SearchParam[] {
  const out: SearchParam[] = [];
  for (const [k, v] of new URLSearchParams(query)) {
    const [name, modifier] = k.split(':') as [string, string?];
    out.push({ name, ...(modifier ? { modifier } : {}), values: v.split(',') });
  }
  return out;
}

/** Exports the jobs of this server, one at a time. */
export class ExportRunner {
  private queue: string[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private sweeper: PeriodicJob | undefined;

  constructor(
    private readonly repo: Repository,
    readonly options: BulkExportOptions,
    private readonly log: { warn(o: object, m: string): void; error(o: object, m: string): void },
  ) {}

  get db(): Database {
    return this.repo.db;
  }

  /** Picks up what a stopped server left (accepted or interrupted jobs), and sweeps expired files hourly. */
  async start(): Promise<void> {
    for (const job of await pendingExportJobs(this.db, this.options.staleSeconds ?? 60)) this.enqueue(job.id);
    // The hourly sweep of expired files: stopped, and its run in flight awaited, by stop() (D-325).
    this.sweeper = new PeriodicJob({ name: 'bulk export', failed: 'bulk export: sweeping expired files failed', failureLevel: 'warn', intervalMs: 3_600_000, log: this.log, run: () => this.sweep() });
    await this.sweeper.start({ now: true });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.sweeper?.stop();
    await this.running;
  }

  enqueue(id: string): void {
    if (!this.queue.includes(id)) this.queue.push(id);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length && !this.stopped) {
      const id = this.queue.shift()!;
      try {
        await this.run(id);
      } catch (err) {
        this.log.error({ err, job: id }, 'bulk export failed');
        await setExportJobStatus(this.db, id, 'failed', (err as Error).message.slice(0, 500)).catch(() => undefined);
      }
    }
    this.running = undefined;
  }

  fileOf(id: string, type: string): string {
    return join(this.options.dir, id, `${type}.ndjson`);
  }

  /**
   * With read replicas (D-224), the job's pages are read from a replica that has replayed every
   * write committed before the job started (waiting up to 2 s for one, else from the primary):
   * the job is a client whose "last write" is the primary's position now. Its own bookkeeping is written to the primary.
   */
  private async run(id: string): Promise<void> {
    const replicas = this.repo.readReplicas;
    if (!replicas) return this.export(id);
    const client = `export:${id}`;
    await replicas.noteWrite(client);
    // A replica is usually a few milliseconds behind: wait for it rather than read the primary.
    await replicas.waitForReplay(client, 2000);
    return runInReadContext({ client: () => client, readOnly: true, open: true }, () => this.export(id));
  }

  private async export(id: string): Promise<void> {
    const job = await getExportJob(this.db, id);
    if (!job || (job.status !== 'accepted' && job.status !== 'running')) return;
    const { params } = job;
    const progress = job.progress;
    await mkdir(join(this.options.dir, id), { recursive: true });
    if (!(await checkpointExportJob(this.db, id, progress))) return;
    const pageSize = this.options.pageSize ?? 1000;
    const patients = params.level === 'system' ? undefined : params.level === 'group' ? (params.patients ?? []) : ('all' as const);
    for (; progress.typeIndex < params.types.length; progress.typeIndex++, progress.lastId = '') {
      const type = params.types[progress.typeIndex]!;
      const file = this.fileOf(id, type);
      const done = progress.files[type] ?? { count: 0, bytes: 0 };
      progress.files[type] = done;
      // Resume: what was written after the last checkpoint is cut off.
      const fh = await open(file, 'a+');
      try {
        await fh.truncate(done.bytes);
        const filters = (params.typeFilters[type] ?? []).map(searchParamsOf);
        for (;;) {
          if (this.stopped) return;
          const page = await exportPage(await this.repo.reader(), { type, afterId: progress.lastId, limit: pageSize, ...(params.since ? { since: params.since } : {}), ...(patients ? { patients } : {}), ...(params.scope ? { scope: params.scope } : {}) });
          if (page.length === 0) break;
          let kept = page;
          if (filters.length) {
            const ids = page.map((r) => r.id);
            const match = new Set<string>();
            for (const f of filters) {
              const found = await this.repo.search({ resourceType: type, params: [...f, { name: '_id', values: ids }], count: ids.length, offset: 0, total: 'none', handling: 'strict' });
              for (const m of found.matches) match.add(m.id);
            }
            kept = page.filter((r) => match.has(r.id));
          }
          if (kept.length) {
            const text = kept.map((r) => JSON.stringify(r.resource)).join('\n') + '\n';
            const buf = Buffer.from(text, 'utf8');
            await fh.write(buf, 0, buf.length, done.bytes);
            await fh.datasync();
            done.bytes += buf.length;
            done.count += kept.length;
          }
          progress.lastId = page[page.length - 1]!.id;
          if (!(await checkpointExportJob(this.db, id, progress))) return; // deleted meanwhile
        }
      } finally {
        await fh.close();
      }
    }
    const expires = new Date(Date.now() + (this.options.retentionHours ?? 24) * 3_600_000).toISOString();
    await checkpointExportJob(this.db, id, progress, 'completed', expires);
  }

  /** Removes the files and rows of expired jobs. */
  async sweep(): Promise<void> {
    for (const id of await expiredExportJobs(this.db)) {
      await rm(join(this.options.dir, id), { recursive: true, force: true });
      await deleteExportJob(this.db, id);
    }
  }

  async remove(id: string): Promise<void> {
    await setExportJobStatus(this.db, id, 'deleted');
    await rm(join(this.options.dir, id), { recursive: true, force: true });
  }
}

function requireSameSubject(req: FastifyRequest, job: ExportJob, auth: Authenticator | undefined): void {
  if (!auth) return;
  const p = actorOf(req);
  if (!p || p.subject !== job.params.subject) {
    throw forbidden('This export job belongs to another client', 'Cet export appartient à un autre client');
  }
}

function jobNotFound(id: string): FhirError {
  return new FhirError(HTTP_ERRORS.NOT_FOUND, { type: 'export job', id });
}

/** The kick-off, status and file routes, in the FHIR API's plugin (its token check applies). */
export function bulkExportRoutes(app: FastifyInstance, deps: { runner: ExportRunner; repo: Repository; auth?: Authenticator; servedTypes: () => Iterable<string> }): void {
  const { runner, repo, auth } = deps;
  const base = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir`;

  const kickOff = async (req: FastifyRequest, reply: FastifyReply, level: ExportParams['level'], groupId?: string) => {
    const prefer = String(req.headers.prefer ?? '');
    if (!/respond-async/.test(prefer)) throw badRequest('$export needs the header Prefer: respond-async', '$export demande l’en-tête Prefer: respond-async', 'Prefer');
    const pairs = queryPairs(req.url);
    if (req.method === 'POST' && isObject(req.body) && req.body.resourceType === 'Parameters' && Array.isArray(req.body.parameter)) {
      for (const p of req.body.parameter as Record<string, unknown>[]) {
        const v = p.valueString ?? p.valueInstant ?? p.valueCode ?? p.valueUri;
        if (typeof p.name === 'string' && typeof v === 'string') pairs.push([p.name, v]);
      }
    }
    let types: string[] | undefined;
    let since: string | undefined;
    const typeFilters: Record<string, string[]> = {};
    for (const [k, v] of pairs) {
      if (k === '_type') types = [...(types ?? []), ...v.split(',').map((t) => t.trim()).filter(Boolean)];
      else if (k === '_since') {
        if (Number.isNaN(Date.parse(v)) || !/^\d{4}-\d{2}-\d{2}/.test(v)) throw badRequest(`_since "${v}" is not an instant`, `_since « ${v} » n’est pas un instant`, '_since');
        since = new Date(v).toISOString();
      } else if (k === '_typeFilter') {
        for (const one of v.split(/,(?=[A-Z][A-Za-z]+\?)/)) {
          const f = parseTypeFilter(one);
          (typeFilters[f.type] ??= []).push(f.query);
        }
      } else if (k === '_outputFormat') {
        if (!NDJSON_FORMATS.has(v)) throw badRequest(`_outputFormat ${v} is not supported (application/fhir+ndjson)`, `_outputFormat ${v} n’est pas pris en charge (application/fhir+ndjson)`, '_outputFormat');
      } else if (k !== '_format' && k !== '_pretty') {
        throw new FhirError(HTTP_ERRORS.SEARCH_UNKNOWN_PARAM, { name: k, where: ' for $export', whereFr: ' pour $export' }, { expression: k });
      }
    }
    const served = new Set(deps.servedTypes());
    for (const t of [...(types ?? []), ...Object.keys(typeFilters)]) {
      if (!served.has(t)) throw badRequest(`${t} is not a type this server serves`, `${t} n’est pas un type servi par ce serveur`, '_type');
    }
    // Validate the filters now: an unknown parameter is a 400 at the kick-off, not a failed job.
    for (const [t, qs] of Object.entries(typeFilters)) for (const q of qs) await repo.search({ resourceType: t, params: searchParamsOf(q), count: 0, offset: 0, total: 'none', handling: 'strict' });
    // A token restricted to some organisations exports theirs only (rest/access.ts, D-170).
    const p = actorOf(req);
    const scope = p?.readScope;
    let list = types ?? (await storedTypes(repo.db, scope)).filter((t) => served.has(t));
    if (types && Object.keys(typeFilters).length) list = [...new Set([...list, ...Object.keys(typeFilters)])];
    let patients: string[] | undefined;
    if (level === 'group') {
      const group = (await repo.read('Group', groupId!, scope ? { scope } : {})).resource as Record<string, unknown>;
      patients = (Array.isArray(group.member) ? group.member : [])
        .map((m) => (isObject(m) && isObject(m.entity) && typeof m.entity.reference === 'string' ? /(?:^|\/)Patient\/([^/]+)$/.exec(m.entity.reference)?.[1] : undefined))
        .filter((x): x is string => !!x);
    }
    // Every type exported must be readable by the token.
    // A person's token (fhirUser) is bound by the circle-of-care rules per resource (rest/access.ts, D-53): a bulk export would bypass them.
    if (auth && p?.fhirUser) throw forbidden('Bulk export is not open to a person’s token (fhirUser): its access is decided resource by resource', 'L’export en masse n’est pas ouvert au jeton d’une personne (fhirUser) : ses accès sont décidés ressource par ressource', '_type');
    if (auth) for (const t of list) if (!p?.can(t, 'read')) throw forbidden(`The token does not allow reading ${t} (scope system/${t}.read needed)`, `Le jeton ne permet pas la lecture de ${t} (portée system/${t}.read nécessaire)`, '_type');
    const id = randomUUID();
    const params: ExportParams = { level, types: list, typeFilters, ...(since ? { since } : {}), ...(patients ? { patients } : {}), ...(p ? { subject: p.subject } : {}), ...(scope ? { scope } : {}) };
    await insertExportJob(repo.db, { id, transactionTime: new Date().toISOString(), request: `${base(req)}${req.url.replace(/^\/fhir/, '')}`, params });
    runner.enqueue(id);
    return reply.code(202).header('content-location', `${base(req)}/$export-poll-status/${id}`).send(operationOutcome({ severity: 'information', code: 'informational', diagnostics: `Export ${id} accepted`, text: `Export ${id} accepté` }));
  };
  app.get('/$export', (req, reply) => kickOff(req, reply, 'system'));
  app.post('/$export', (req, reply) => kickOff(req, reply, 'system'));
  app.get('/Patient/$export', (req, reply) => kickOff(req, reply, 'patient'));
  app.post('/Patient/$export', (req, reply) => kickOff(req, reply, 'patient'));
  app.get<{ Params: { id: string } }>('/Group/:id/$export', (req, reply) => kickOff(req, reply, 'group', req.params.id));
  app.post<{ Params: { id: string } }>('/Group/:id/$export', (req, reply) => kickOff(req, reply, 'group', req.params.id));

  app.get<{ Params: { id: string } }>('/$export-poll-status/:id', async (req, reply) => {
    const job = ID.test(req.params.id) ? await getExportJob(repo.db, req.params.id) : undefined;
    if (!job || job.status === 'deleted') throw jobNotFound(req.params.id);
    requireSameSubject(req, job, auth);
    if (job.status === 'failed') {
      return reply.code(500).type('application/fhir+json').send(operationOutcome({ code: 'exception', diagnostics: `Export failed: ${job.error ?? ''}`, text: `L’export a échoué : ${job.error ?? ''}` }));
    }
    if (job.status !== 'completed') {
      const t = job.params.types[job.progress.typeIndex];
      const written = Object.values(job.progress.files).reduce((s, f) => s + f.count, 0);
      const progress = `${written} resources written; type ${Math.min(job.progress.typeIndex + 1, job.params.types.length)}/${job.params.types.length}${t ? ` (${t})` : ''}`;
      return reply.code(202).header('x-progress', progress).header('retry-after', '2').send();
    }
    const b = base(req);
    const output = job.params.types
      .filter((t) => (job.progress.files[t]?.count ?? 0) > 0)
      .map((t) => ({ type: t, url: `${b}/$export-file/${job.id}/${t}.ndjson`, count: job.progress.files[t]!.count }));
    reply.header('content-type', 'application/json');
    if (job.expires) reply.header('expires', new Date(job.expires).toUTCString());
    return reply.code(200).send({ transactionTime: job.transactionTime, request: job.request, requiresAccessToken: auth !== undefined, output, error: [] });
  });

  app.delete<{ Params: { id: string } }>('/$export-poll-status/:id', async (req, reply) => {
    const job = ID.test(req.params.id) ? await getExportJob(repo.db, req.params.id) : undefined;
    if (!job || job.status === 'deleted') throw jobNotFound(req.params.id);
    requireSameSubject(req, job, auth);
    await runner.remove(job.id);
    return reply.code(202).send();
  });

  app.get<{ Params: { id: string; file: string } }>('/$export-file/:id/:file', async (req, reply) => {
    const m = /^([A-Z][A-Za-z]+)\.ndjson$/.exec(req.params.file);
    const job = ID.test(req.params.id) && m ? await getExportJob(repo.db, req.params.id) : undefined;
    if (!job || job.status !== 'completed' || !job.params.types.includes(m![1]!)) throw jobNotFound(`${req.params.id}/${req.params.file}`);
    requireSameSubject(req, job, auth);
    const path = runner.fileOf(job.id, m![1]!);
    const size = (await stat(path).catch(() => undefined))?.size;
    if (size === undefined) throw jobNotFound(`${req.params.id}/${req.params.file}`);
    return reply.type('application/fhir+ndjson').header('content-length', String(size)).send(createReadStream(path));
  });
}
